"""Per-sequence sampling for `workers.language.batched_engine`: a llama.cpp sampler chain, the grammar checked lazily.

The chain is llama-cpp-python's `Llama` chain (repetition penalty over the last 64 tokens, then greedy at
temperature 0, else top-k, top-p, min-p, temperature and a seeded draw), with the response_format grammar kept
apart: the token is drawn without it and only checked against it; if the grammar refuses it, the draw is redone
with the grammar applied to the whole vocabulary first. That is what llama.cpp's own server does
(common/sampling.cpp): applying a JSON grammar to all ~49k tokens costs milliseconds per token, about as much as the
batched decode step itself, and the model mostly picks a token the grammar allows. Greedy answers are the same
either way; with temperature the draw is a rejection-sampling approximation of the constrained distribution.
"""

from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass
from typing import Any

import llama_cpp
import numpy as np

PENALTY_LAST_N = 64  # llama-cpp-python's last_n_tokens_size


@dataclass(frozen=True)
class Sampling:
    """llama-cpp-python server's defaults, so the two servers sample alike."""

    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    seed: int | None = None
    grammar: str | None = None  # GBNF, root rule "root"


class Candidates:
    """One reusable llama_token_data_array over the whole vocabulary (the scheduler thread's, not thread-safe)."""

    def __init__(self, n_vocab: int) -> None:
        self.n_vocab = n_vocab
        self.data = np.zeros(n_vocab, dtype=np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)],
                                                     align=True))
        self.ids = np.arange(n_vocab, dtype=np.intc)
        self.array = llama_cpp.llama_token_data_array(
            data=self.data.ctypes.data_as(llama_cpp.llama_token_data_p), size=n_vocab, selected=-1, sorted=False)
        self.single = llama_cpp.llama_token_data(id=0, logit=1.0, p=0.0)
        self.single_array = llama_cpp.llama_token_data_array(
            data=ctypes.pointer(self.single), size=1, selected=-1, sorted=False)

    def fill(self, ctx: Any, index: int) -> Any:
        logits = llama_cpp.llama_get_logits_ith(ctx, index)
        self.data["id"] = self.ids
        self.data["logit"] = np.ctypeslib.as_array(logits, shape=(self.n_vocab,))
        self.data["p"] = 0.0
        self.array.size, self.array.selected, self.array.sorted = self.n_vocab, -1, False
        return ctypes.byref(self.array)

    def chosen(self) -> int:
        return int(self.data["id"][self.array.selected])

    def allowed(self, grammar: Any, token: int) -> bool:
        self.single.id, self.single.logit = llama_cpp.llama_token(token), 1.0
        self.single_array.size, self.single_array.selected = 1, -1
        llama_cpp.llama_sampler_apply(grammar, ctypes.byref(self.single_array))
        return not math.isinf(self.single.logit)


class SequenceSampler:
    """The sampler chain and the grammar of one request; `free()` when the request ends."""

    def __init__(self, vocab: Any, sampling: Sampling) -> None:
        self.grammar: Any = None
        if sampling.grammar is not None:
            self.grammar = llama_cpp.llama_sampler_init_grammar(vocab, sampling.grammar.encode(), b"root")
            if not self.grammar:
                raise ValueError("llama.cpp rejected the grammar")
        self.chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        add = lambda sampler: llama_cpp.llama_sampler_chain_add(self.chain, sampler)  # noqa: E731
        if sampling.repeat_penalty != 1.0:
            add(llama_cpp.llama_sampler_init_penalties(llama_cpp.llama_vocab_n_tokens(vocab), PENALTY_LAST_N,
                                                       sampling.repeat_penalty, 0.0, 0.0))
        if sampling.temperature <= 0:
            add(llama_cpp.llama_sampler_init_greedy())
        else:
            add(llama_cpp.llama_sampler_init_top_k(sampling.top_k))
            add(llama_cpp.llama_sampler_init_top_p(sampling.top_p, 1))
            add(llama_cpp.llama_sampler_init_min_p(sampling.min_p, 1))
            add(llama_cpp.llama_sampler_init_temp(sampling.temperature))
            seed = llama_cpp.LLAMA_DEFAULT_SEED if sampling.seed is None else sampling.seed & 0xFFFFFFFF
            add(llama_cpp.llama_sampler_init_dist(seed))

    def sample(self, ctx: Any, index: int, candidates: Candidates) -> int:
        """Draw the next token from output `index` of the last decode and accept it."""
        llama_cpp.llama_sampler_apply(self.chain, candidates.fill(ctx, index))
        token = candidates.chosen()
        if self.grammar is not None and not candidates.allowed(self.grammar, token):
            array = candidates.fill(ctx, index)
            llama_cpp.llama_sampler_apply(self.grammar, array)
            llama_cpp.llama_sampler_apply(self.chain, array)
            token = candidates.chosen()
        if self.grammar is not None:
            llama_cpp.llama_sampler_accept(self.grammar, token)
        llama_cpp.llama_sampler_accept(self.chain, token)
        return token

    def free(self) -> None:
        for sampler in (self.chain, self.grammar):
            if sampler:
                llama_cpp.llama_sampler_free(sampler)
        self.chain = self.grammar = None
