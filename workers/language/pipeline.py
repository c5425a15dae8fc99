"""The language stage: evidence pack (+ shop metadata) -> a grounded caption and hashtags.

Up to `llm_max_attempts` generations; each is parsed, polished (a/an), given hashtags and checked. The first that
makes no unsupported or open claim, uses no banned word and reaches `min_attribute_coverage` is published.
Otherwise the deterministic writer composes the result from the evidence, marked `fallback` in provenance with the
reason: no_llm (none configured), endpoint_unavailable, rejected (every generation failed a check) or language
(only English is supported by the guard).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field

from shared.errors import LLMUnavailableError
from shared.schemas import CaptionResult, EvidencePack, Provenance, ShopMetadata
from shared.settings import Settings, get_settings
from workers.language import deterministic, grounding, hashtags, quality
from workers.language.grounding import Evidence, GroundingReport
from workers.language.llm_client import LLMClient, LLMOutputError, LLMReply, LLMRequestRejectedError
from workers.language.prompt import (
    DEFAULT_STYLE_MODE,
    MAX_CAPTION_CHARS,
    OUTPUT_SCHEMA,
    PROMPT_VERSION,
    build_messages,
    shown_examples,
)
from workers.language.shop_copy import ShopCopy

log = logging.getLogger(__name__)

DETERMINISTIC = "deterministic"
# the grounding vocabulary and the open-claim guard read English; other languages get the English template
SUPPORTED_LANGUAGES = frozenset({"en"})
TEMPERATURE_STEP = 0.2
# after the endpoint failed (retries exhausted), captions skip it for this long instead of each paying the retries
ENDPOINT_COOLDOWN_S = 30.0


@dataclass
class WriterStats:
    """Counts of how results were published, for benchmarks and metrics (thread-safe)."""

    published_llm: int = 0
    published_fallback: int = 0
    rejected_unsupported: int = 0
    rejected_open_claim: int = 0
    rejected_coverage: int = 0
    rejected_banned: int = 0
    rejected_quality: int = 0
    bad_output: int = 0
    endpoint_errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def as_dict(self) -> dict[str, int]:
        return {name: value for name, value in vars(self).items() if not name.startswith("_")}


@dataclass(frozen=True)
class _Candidate:
    caption: str
    hashtags: list[str]
    report: GroundingReport
    reply: LLMReply


class CaptionWriter:
    def __init__(self, settings: Settings | None = None, client: LLMClient | None = None, *,
                 disabled_reason: str | None = None, style_mode: str = DEFAULT_STYLE_MODE,
                 shop_copy: ShopCopy | None = None, style_attempts: int = 0) -> None:
        """disabled_reason: the caller knows there is no usable LLM ("no_llm", "endpoint_unavailable"); every
        result is then written by the deterministic writer and says why. style_mode: how the style examples
        enter the prompt (prompt.STYLE_MODES). shop_copy: the shop's descriptions by product id, whose nearest
        neighbours become the style examples; default: the copy beside the configured index, if any.
        style_attempts: how many attempts show the style examples (0: all); later ones retry without them."""
        self.settings = settings or get_settings()
        self.disabled_reason = disabled_reason
        self.style_mode = style_mode
        self.style_attempts = style_attempts
        self.shop_copy = shop_copy if shop_copy is not None else ShopCopy.for_settings(self.settings)
        self._client = client
        self._client_lock = threading.Lock()
        self.stats = WriterStats()
        self.last_replies: list[LLMReply] = []  # the latest write's LLM calls, for the benchmark
        self._endpoint_down_until = 0.0

    @property
    def client(self) -> LLMClient:
        with self._client_lock:
            if self._client is None:
                self._client = LLMClient(self.settings)
            return self._client

    def write(self, pack: EvidencePack, meta: ShopMetadata | None = None) -> CaptionResult:
        if self.shop_copy is not None:
            pack = self.shop_copy.styled(pack)
        evidence = Evidence.of(pack)
        limits = hashtags.HashtagLimits.of(self.settings, meta)
        banned = list(meta.banned_words) if meta else []
        replies: list[LLMReply] = []
        attempts = 0
        reason = self._skip_reason(meta)
        while reason is None and attempts < self.settings.llm_max_attempts:
            attempts += 1
            try:
                with_examples = not self.style_attempts or attempts <= self.style_attempts
                reply = self.client.complete(build_messages(pack, evidence, meta, self.style_mode, with_examples),
                                             OUTPUT_SCHEMA, self._temperature(attempts))
            except LLMOutputError as exc:
                log.info("attempt %d: unusable LLM answer: %s", attempts, exc)
                self.stats.add("bad_output")
                continue
            except (LLMUnavailableError, LLMRequestRejectedError) as exc:
                log.warning("LLM endpoint failed, deterministic writer for %.0f s: %s", ENDPOINT_COOLDOWN_S, exc)
                self.stats.add("endpoint_errors")
                self._endpoint_down_until = time.monotonic() + ENDPOINT_COOLDOWN_S
                reason = "endpoint_unavailable"
                break
            replies.append(reply)
            candidate = self._candidate(evidence, reply, limits, banned, meta)
            if self._publishable(candidate, evidence, banned, meta, shown_examples(pack, evidence, self.style_mode)):
                self.stats.add("published_llm")
                self.last_replies = replies
                return self._result(pack, candidate.caption, candidate.hashtags, candidate.report,
                                    Provenance(llm=reply.model, prompt_version=PROMPT_VERSION, attempts=attempts))
        self.last_replies = replies
        return self._fallback(pack, evidence, meta, limits, banned, attempts, reason or "rejected")

    def _skip_reason(self, meta: ShopMetadata | None) -> str | None:
        if self.disabled_reason is not None:
            return self.disabled_reason
        if meta is not None and language_of(meta) not in SUPPORTED_LANGUAGES:
            log.info("language %r: the guard reads English only; publishing the English template", meta.language)
            return "language"
        if time.monotonic() < self._endpoint_down_until:
            return "endpoint_unavailable"
        return None

    def _temperature(self, attempt: int) -> float:
        return min(1.2, self.settings.llm_temperature + TEMPERATURE_STEP * (attempt - 1))

    def _candidate(self, evidence: Evidence, reply: LLMReply, limits: hashtags.HashtagLimits,
                   banned: list[str], meta: ShopMetadata | None) -> _Candidate:
        caption = quality.close_sentence(quality.capitalise(quality.polish(reply.draft.caption)))
        tags = hashtags.compose(evidence, reply.draft.hashtags, limits, banned, meta)
        return _Candidate(caption, tags, grounding.check(evidence, caption, tags, meta), reply)

    def _publishable(self, candidate: _Candidate, evidence: Evidence, banned: list[str], meta: ShopMetadata | None,
                     examples: list[str]) -> bool:
        issues = quality.problems(candidate.caption, meta, examples, [garment.label for garment in evidence.garments])
        if issues:
            log.info("rejected (%s): %r", ", ".join(issues), candidate.caption)
            self.stats.add("rejected_quality")
            return False
        if candidate.report.unsupported:
            log.info("rejected, unsupported claims: %s", candidate.report.unsupported)
            opened = all(claim.startswith("open:") for claim in candidate.report.unsupported)
            self.stats.add("rejected_open_claim" if opened else "rejected_unsupported")
            return False
        if contains_banned(candidate.caption, banned) or len(candidate.caption) > MAX_CAPTION_CHARS:
            self.stats.add("rejected_banned")
            return False
        if candidate.report.attribute_coverage < self.settings.min_attribute_coverage:
            log.info("rejected, coverage %.2f", candidate.report.attribute_coverage)
            self.stats.add("rejected_coverage")
            return False
        return True

    def _fallback(self, pack: EvidencePack, evidence: Evidence, meta: ShopMetadata | None,
                  limits: hashtags.HashtagLimits, banned: list[str], attempts: int, reason: str) -> CaptionResult:
        caption = deterministic.write_caption(evidence, meta, pack.image.sha256, pack.style_examples)
        tags = hashtags.compose(evidence, [], limits, banned, meta)
        report = grounding.check(evidence, caption, tags, meta)
        if report.unsupported:  # cannot happen by construction; never publish it if it does
            raise AssertionError(f"deterministic writer made unsupported claims: {report.unsupported}")
        self.stats.add("published_fallback")
        provenance = Provenance(llm=DETERMINISTIC, prompt_version=PROMPT_VERSION, attempts=attempts, fallback=True,
                                fallback_reason=reason)
        return self._result(pack, caption, tags, report, provenance)

    @staticmethod
    def _result(pack: EvidencePack, caption: str, tags: list[str], report: GroundingReport,
                provenance: Provenance) -> CaptionResult:
        return CaptionResult(caption=caption, hashtags=tags, evidence=pack, grounding=report.to_schema(),
                             provenance=provenance)


def language_of(meta: ShopMetadata) -> str:
    """The primary subtag: "en-GB" -> "en"."""
    return meta.language.split("-")[0].lower()


def contains_banned(text: str, banned: list[str]) -> bool:
    lowered = text.lower()
    return any(re.search(rf"\b{re.escape(word.lower().strip())}", lowered) for word in banned if word.strip())

