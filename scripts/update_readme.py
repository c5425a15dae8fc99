"""Regenerate README's settings table and `.env.example` from shared/settings.py."""

from __future__ import annotations

import re
from pathlib import Path

from scripts.settings_doc import env_example, markdown_table

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- SETTINGS -->", "<!-- /SETTINGS -->"


def readme_with_table(text: str) -> str:
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _: f"{START}\n{markdown_table()}\n{END}", text)


if __name__ == "__main__":
    readme = ROOT / "README.md"
    readme.write_text(readme_with_table(readme.read_text()))
    (ROOT / ".env.example").write_text(env_example())
