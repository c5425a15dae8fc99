"""Lexical overlap of captions with the reference descriptions: BLEU-1..4, METEOR, ROUGE-1/2/L, CIDEr-D.

Maintained implementations only: sacrebleu (BLEU, corpus level, 13a tokenisation, lower-cased, 'exp' smoothing),
rouge-score (F1, Porter stemmer), NLTK (METEOR), pycocoevalcap (CIDEr-D, sigma 6, x10; its document frequencies
come from the references of the items scored together). pycocoevalcap's PTB tokeniser needs Java, so captions are
tokenised here (lower-case alphanumeric words) before CIDEr and METEOR.

METEOR's synonym stage needs WordNet, which cannot be downloaded here: NLTK's reader is pointed at the WordNet 3.0
database files of Debian's `wordnet-base` package (/usr/share/wordnet) or an installed `nltk_data/corpora/wordnet`;
without either, METEOR runs with exact + Porter-stem matching only. `meteor_variant()` says which ran.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np

from pixels2posts.evaluation.stats import Estimate, mean_ci, statistic_ci

BLEU_ORDERS = (1, 2, 3, 4)
WORDNET_DIRS = (Path("/usr/share/wordnet"),)
CACHE = Path.home() / ".cache" / "pixels2posts" / "wordnet-3.0"
_WORD = re.compile(r"[a-z0-9]+")
# the lexicographer files of WordNet 3.0 in id order; NLTK needs this index, Debian's database files lack it
_LEXNAMES: tuple[str, ...] = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact", "noun.attribute",
    "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling", "noun.food",
    "noun.group", "noun.location", "noun.motive", "noun.object", "noun.person", "noun.phenomenon", "noun.plant",
    "noun.possession", "noun.process", "noun.quantity", "noun.relation", "noun.shape", "noun.state",
    "noun.substance", "noun.time", "verb.body", "verb.change", "verb.cognition", "verb.communication",
    "verb.competition", "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl",
)
_LEX_POS = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class _NoSynonyms:
    """A WordNet stand-in with no synsets: METEOR then matches exact words and Porter stems only."""

    def synsets(self, *_args: Any, **_kwargs: Any) -> list[Any]:
        return []


def _debian_wordnet(source: Path) -> Any:
    """NLTK's reader over a copy of the database files (NLTK refuses symlinks out of its data path)."""
    import shutil

    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    from nltk.data import FileSystemPathPointer

    if not (CACHE / "lexnames").is_file():
        staging = Path(tempfile.mkdtemp(prefix="wordnet-", dir=CACHE.parent))
        for item in source.iterdir():
            if item.is_file() and item.name.split(".")[0] in ("data", "index", "adj", "adv", "noun", "verb"):
                shutil.copy(item, staging / item.name)
        lines = [f"{i:02d}\t{name}\t{_LEX_POS[name.split('.')[0]]}" for i, name in enumerate(_LEXNAMES)]
        (staging / "lexnames").write_text("\n".join(lines) + "\n")
        staging.replace(CACHE)
    if str(CACHE) not in nltk.data.path:  # NLTK reads corpora only under its data path (nltk.pathsec)
        nltk.data.path.append(str(CACHE))

    class _Reader(WordNetCorpusReader):
        def map_wn(self, version: str = "wordnet") -> None:  # no multilingual (OMW) mapping wanted, none offline
            return None

    return _Reader(FileSystemPathPointer(str(CACHE)), None)


@lru_cache(maxsize=1)
def _wordnet() -> tuple[Any, str]:
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    for directory in WORDNET_DIRS:
        if (directory / "data.noun").is_file():
            reader = _debian_wordnet(directory)
            reader.synsets("dress")  # fail here, not mid-evaluation
            return reader, f"exact + Porter stem + WordNet 3.0 synonyms ({directory})"
    try:
        from nltk.corpus import wordnet

        wordnet.synsets("dress")
        return wordnet, "exact + Porter stem + WordNet synonyms (nltk_data)"
    except LookupError:
        return _NoSynonyms(), "exact + Porter stem only (no WordNet data found)"


def meteor_variant() -> str:
    return f"NLTK METEOR (alpha 0.9, beta 3, gamma 0.5): {_wordnet()[1]}"


def meteor(hypothesis: str, reference: str) -> float:
    from nltk.translate.meteor_score import meteor_score

    return float(meteor_score([tokens(reference)], tokens(hypothesis), wordnet=_wordnet()[0]))


@lru_cache(maxsize=1)
def _rouge() -> Any:
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


@lru_cache(maxsize=4)
def _bleu(order: int) -> Any:
    from sacrebleu.metrics import BLEU

    return BLEU(max_ngram_order=order, lowercase=True, tokenize="13a", effective_order=False)


def cider(hypotheses: Sequence[str], references: Sequence[str]) -> list[float]:
    """Per-item CIDEr-D; document frequencies from all `references` together."""
    from pycocoevalcap.cider.cider import Cider

    if not hypotheses:
        return []
    gts = {i: [" ".join(tokens(ref))] for i, ref in enumerate(references)}
    res = {i: [" ".join(tokens(hyp)) or "empty"] for i, hyp in enumerate(hypotheses)}
    _, scores = Cider().compute_score(gts, res)
    return [float(s) for s in np.asarray(scores)]


def per_item(hypotheses: Sequence[str], references: Sequence[str]) -> list[dict[str, Any]]:
    """Per-item scores, and each item's BLEU sufficient statistics (to recompute corpus BLEU on any subset)."""
    ciders = cider(hypotheses, references)
    stats = {n: _bleu(n)._extract_corpus_statistics(list(hypotheses), [list(references)]) for n in BLEU_ORDERS}
    rows = []
    for i, (hyp, ref) in enumerate(zip(hypotheses, references, strict=True)):
        rouge = _rouge().score(ref, hyp)
        rows.append({
            "meteor": meteor(hyp, ref), "rouge1": rouge["rouge1"].fmeasure, "rouge2": rouge["rouge2"].fmeasure,
            "rougeL": rouge["rougeL"].fmeasure, "cider": ciders[i],
            "bleu_stats": {str(n): [int(v) for v in stats[n][i]] for n in BLEU_ORDERS},
        })
    return rows


def corpus_bleu(stat_rows: np.ndarray, order: int) -> float:
    """Corpus BLEU-n (0-100) from summed per-item statistics."""
    return float(_bleu(order)._compute_score_from_stats(stat_rows.sum(axis=0).tolist()).score)


def _corpus_bleu_of(stat_rows: np.ndarray, order: int) -> float:
    return corpus_bleu(stat_rows, order)


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Estimate]:
    """Corpus BLEU-1..4 and mean METEOR, ROUGE-1/2/L, CIDEr-D, each with a bootstrap 95% CI."""
    out: dict[str, Estimate] = {}
    for n in BLEU_ORDERS:
        stat_rows = np.array([row["bleu_stats"][str(n)] for row in rows], dtype=np.int64)
        out[f"bleu{n}"] = statistic_ci(stat_rows, partial(_corpus_bleu_of, order=n), resamples=300)
    for name in ("meteor", "rouge1", "rouge2", "rougeL", "cider"):
        out[name] = mean_ci([row[name] for row in rows])
    return out
