"""The shop's own product copy, as style examples: the descriptions of the catalogue products nearest to the photo.

The vision stage names the nearest catalogue products (`EvidencePack.neighbours`), but its index keeps labels only,
never catalogue text. The copy comes from the shop, by `P2P_STYLE_COPY_PATH`: a JSONL file of {"id", "description"}
or a catalogue CSV (`id`/`article_id` and `description`/`detail_desc` columns: the generic catalogue schema or an
H&M articles.csv), keyed by the ids its index was built with. Without it the packs keep the label phrases the
vision stage puts there ("beige blazer"), which the prompt does not turn into demonstrations (too short to
imitate), so captions are written as with no style examples.

Measured (bench/style_examples.py, H&M test products; workers/language/README.md, caption-v7): with the copy the
published captions' overlap with the product's own description rises (pooled over 108 paired captions ROUGE-L
+0.016 [0.003, 0.028], METEOR +0.012 [0.001, 0.023]; the two samples not used in development alone +0.007
[-0.006, 0.022]); the deterministic writer alone +0.041 [0.033, 0.050]; the LLM share falls (0.67 -> 0.58).
Opt-in for that reason.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from shared.schemas import EvidencePack
from shared.settings import Settings

MAX_EXAMPLES = 3
MAX_CHARS = 400


class ShopCopy:
    """Product id -> the shop's description of it."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        self._texts = {key: " ".join(text.split())[:MAX_CHARS] for key, text in texts.items() if text.strip()}

    def __len__(self) -> int:
        return len(self._texts)

    @classmethod
    def load(cls, path: Path) -> ShopCopy:
        """JSONL ({"id", "description"} per line) or CSV with a header (id or article_id; description or
        detail_desc)."""
        if path.suffix.lower() == ".csv":
            with path.open(newline="", encoding="utf-8") as handle:
                rows: list[dict[str, str]] = list(csv.DictReader(handle))
        else:
            with path.open(encoding="utf-8") as handle:
                rows = [json.loads(line) for line in handle if line.strip()]
        texts = {}
        for row in rows:
            key = str(row.get("id") or row.get("article_id") or "").strip()
            if key:
                texts[key.zfill(10) if "article_id" in row else key] = str(
                    row.get("description") or row.get("detail_desc") or "")
        return cls(texts)

    @classmethod
    def for_settings(cls, settings: Settings) -> ShopCopy | None:
        """The shop's copy named by `style_copy_path`; None when none is configured."""
        return cls.load(settings.style_copy_path) if settings.style_copy_path else None

    def without(self, ids: Iterable[str], texts: Iterable[str] = ()) -> ShopCopy:
        """A copy that cannot leak: the given products, and any description equal to one of `texts` (a colour
        variant shares its product's description), left out. For evaluation against those descriptions."""
        banned_ids, banned_texts = set(ids), {" ".join(t.split()) for t in texts}
        return ShopCopy({key: text for key, text in self._texts.items()
                         if key not in banned_ids and text not in banned_texts})

    def examples(self, pack: EvidencePack, limit: int = MAX_EXAMPLES) -> list[str]:
        """The nearest neighbours' descriptions, best first, each once."""
        found: list[str] = []
        for neighbour in pack.neighbours:
            text = self._texts.get(neighbour.product_id)
            if text and text not in found:
                found.append(text)
            if len(found) == limit:
                break
        return found

    def styled(self, pack: EvidencePack) -> EvidencePack:
        """The pack with the neighbours' copy as its style examples (unchanged when none is known)."""
        examples = self.examples(pack)
        return pack.model_copy(update={"style_examples": examples}) if examples else pack
