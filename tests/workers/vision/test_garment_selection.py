"""Which detections an evidence pack reports: confident ones, one garment per region."""

from __future__ import annotations

from workers.vision.detector import Detection
from workers.vision.pipeline import select_garments


def det(label: str, score: float, box: tuple[float, float, float, float]) -> Detection:
    return Detection(label=label, class_id=0, score=score, box=box)


def test_given_a_shirt_on_the_box_of_a_jacket_then_only_the_jacket_is_kept() -> None:
    jacket = det("jacket", 0.73, (47, 466, 206, 708))
    shirt = det("shirt", 0.40, (51, 456, 204, 705))
    assert select_garments([shirt, jacket], min_score=0.35) == [jacket]


def test_given_a_shoe_inside_a_two_shoe_box_then_the_inner_one_is_dropped() -> None:
    both = det("shoe", 0.60, (46, 834, 270, 906))
    one = det("shoe", 0.45, (49, 848, 110, 903))
    assert select_garments([one, both], min_score=0.35) == [both]


def test_given_layered_garments_of_different_regions_then_both_are_kept() -> None:
    jacket = det("jacket", 0.9, (0, 0, 100, 120))
    pants = det("pants", 0.8, (10, 110, 90, 250))
    bag_inside_jacket_box = det("bag", 0.7, (60, 60, 90, 100))  # a different label inside is not a duplicate
    assert select_garments([pants, jacket, bag_inside_jacket_box], min_score=0.35) == [jacket, pants,
                                                                                        bag_inside_jacket_box]


def test_given_low_scores_then_they_stay_out() -> None:
    assert select_garments([det("hat", 0.3, (0, 0, 10, 10))], min_score=0.35) == []
