"""The shipped hashtag table is what the offline regeneration derives from the HARRISON data (no hand edits)."""

from __future__ import annotations

from pathlib import Path

from scripts.harrison_table import derive_table, write_table
from workers.language.harrison import TABLE_PATH


def test_given_the_harrison_data_when_the_table_is_regenerated_then_it_equals_the_shipped_one(
    shared_dir: Path, tmp_path: Path
) -> None:
    rows = derive_table(shared_dir / "data" / "harrison")
    write_table(rows, tmp_path / "harrison_tags.tsv")
    assert len(rows) == 997
    assert (tmp_path / "harrison_tags.tsv").read_text() == TABLE_PATH.read_text()
