"""`pixels2posts caption` and `pixels2posts eval captions` as real subprocesses against the fake endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pixels2posts.evaluation.language_only import hm_packs, split_of
from shared.ports import free_port
from shared.schemas import CaptionResult, EvidencePack
from tests.support.fake_openai import FakeOpenAI, answer


def _run(args: list[str], llm_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "P2P_LLM_BASE_URL": llm_url, "P2P_LLM_MAX_RETRIES": "0", "P2P_LLM_TIMEOUT_S": "5"}
    return subprocess.run([str(Path(sys.executable).parent / "pixels2posts"), *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_given_an_evidence_pack_when_captioned_with_json_then_a_valid_result_is_printed(
    fake_llm: FakeOpenAI, office_pack: EvidencePack, tmp_path: Path
) -> None:
    fake_llm.default = answer("A navy jacket, white shirt, beige trousers and black shoes in cotton, for women.",
                              ["#navyjacket"])
    pack_file = tmp_path / "pack.json"
    pack_file.write_text(office_pack.model_dump_json())
    done = _run(["caption", "--evidence", str(pack_file), "--json", "--brand", "Acme", "--max-hashtags", "7"],
                fake_llm.url)
    assert done.returncode == 0, done.stderr
    result = CaptionResult.model_validate_json(done.stdout)
    assert result.caption.startswith("A navy jacket") and len(result.hashtags) == 7
    assert result.provenance.llm == "fake-model" and result.grounding.unsupported == []


def test_given_a_broken_pack_when_captioned_then_it_fails_clearly(fake_llm: FakeOpenAI, tmp_path: Path) -> None:
    pack_file = tmp_path / "pack.json"
    pack_file.write_text('{"garments": "no"}')
    done = _run(["caption", "--evidence", str(pack_file)], fake_llm.url)
    assert done.returncode == 2
    assert "invalid_evidence" in done.stderr and "is not an evidence pack" in done.stderr


def test_given_llm_none_when_captioned_then_stderr_and_provenance_say_templates(
    fake_llm: FakeOpenAI, office_pack: EvidencePack, tmp_path: Path
) -> None:
    pack_file = tmp_path / "pack.json"
    pack_file.write_text(office_pack.model_dump_json())
    done = _run(["caption", "--evidence", str(pack_file), "--json", "--llm", "none"], fake_llm.url)
    assert done.returncode == 0, done.stderr
    result = CaptionResult.model_validate_json(done.stdout)
    assert result.provenance.llm == "deterministic" and result.provenance.fallback_reason == "no_llm"
    assert "publishing template captions" in done.stderr and fake_llm.requests == []


def test_given_a_configured_endpoint_that_is_down_when_captioned_then_it_says_so_before_publishing_templates(
    office_pack: EvidencePack, tmp_path: Path
) -> None:
    pack_file = tmp_path / "pack.json"
    pack_file.write_text(office_pack.model_dump_json())
    dead = f"http://127.0.0.1:{free_port()}/v1"
    done = _run(["caption", "--evidence", str(pack_file)], dead)
    assert done.returncode == 0, done.stderr
    assert f"the LLM endpoint {dead} does not answer" in done.stderr
    assert "written by deterministic (fallback: endpoint_unavailable)" in done.stdout


def test_given_a_photo_that_is_no_image_when_captioned_then_it_fails_clearly(
    fake_llm: FakeOpenAI, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"not a jpeg")
    done = _run(["caption", str(photo)], fake_llm.url)
    assert done.returncode == 2 and "error [" in done.stderr and "Traceback" not in done.stderr


def test_given_a_bad_language_tag_when_captioned_then_the_option_is_refused(fake_llm: FakeOpenAI,
                                                                          office_pack: EvidencePack,
                                                                          tmp_path: Path) -> None:
    pack_file = tmp_path / "pack.json"
    pack_file.write_text(office_pack.model_dump_json())
    done = _run(["caption", "--evidence", str(pack_file), "--language", "not a language!"], fake_llm.url)
    assert done.returncode == 2 and "language" in done.stderr


def test_given_the_hm_catalogue_when_packs_are_built_then_they_are_100_test_split_garments(shared_dir: Path) -> None:
    packs = hm_packs(shared_dir / "data" / "hm-catalog" / "articles.csv", 100)
    assert len(packs) == 100
    assert all(len(pack.garments) == 1 for _, pack in packs)
    assert all(split_of(item[:-3].lstrip("0")) == "test" for item, _ in packs)
    assert sum(pack.attributes.fabric.value is not None for _, pack in packs) > 50
    assert sum(pack.attributes.gender.value is not None for _, pack in packs) > 80
    assert all(pack.style_examples for _, pack in packs)


def test_given_the_fake_llm_when_evaluating_five_products_then_the_summary_is_printed(
    fake_llm: FakeOpenAI, shared_dir: Path
) -> None:
    fake_llm.default = answer("A lovely piece.")  # grounded but covers nothing: the fallback must publish
    done = _run(["eval", "captions", "-n", "5", "--no-samples", "--json",
                 "--catalog", str(shared_dir / "data" / "hm-catalog")], fake_llm.url)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)["summary"]
    assert summary["items"] == 5 and summary["published_unsupported_claims"] == 0
    assert summary["published_by_deterministic_fallback"] == 5
    assert summary["mean_attribute_coverage"] == 1.0
