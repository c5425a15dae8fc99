"""Continuous batching over one llama.cpp context: the engine behind `workers.language.batched_llm`.

One context holds `slots` sequences in a unified KV cache. A scheduler thread owns it: it admits queued jobs into
free sequences, and each step decodes ONE `llama_batch` holding the next token of every generating sequence plus
as much pending prompt as fits (`n_batch`). A job's prompt starts from the longest common token prefix already in
the KV cache: in its own sequence (trimmed with `llama_memory_seq_rm`) or in another one (shared with
`llama_memory_seq_cp`, which in a unified cache adds the sequence to the same cells, no copy); a job whose prefix
another sequence is still evaluating waits for it rather than evaluating it again. A finished sequence is free at
once, so the next job starts without waiting for the others. Sampling is per sequence
(`workers.language.batched_sampling`).
"""

from __future__ import annotations

import collections
import concurrent.futures
import ctypes
import logging
import threading
from dataclasses import dataclass, field

import llama_cpp

from workers.language.batched_sampling import Candidates, Sampling, SequenceSampler

log = logging.getLogger(__name__)
SHARE_WAIT_TOKENS = 32  # a queued job waits for a prefix another sequence is evaluating if it gains this much


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str  # "stop" | "length"
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int  # prompt tokens found in the KV cache, not evaluated


class EngineError(RuntimeError):
    """llama.cpp could not evaluate a batch; the jobs in it fail."""


@dataclass
class Job:
    prompt: list[int]
    max_tokens: int
    stop: list[str]
    sampler: SequenceSampler  # owned by the job until it ends
    future: concurrent.futures.Future[Completion] = field(default_factory=concurrent.futures.Future)


@dataclass
class _Sequence:
    seq_id: int
    cached: list[int] = field(default_factory=list)  # the tokens in the KV cache, positions 0..len-1
    job: Job | None = None
    pending: list[int] = field(default_factory=list)  # prompt tokens not evaluated yet
    next_token: int | None = None  # sampled, fed in the next batch
    out: list[int] = field(default_factory=list)
    text: bytearray = field(default_factory=bytearray)
    reused: int = 0


def common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


class Engine:
    """The model, one context of `slots` sequences x `n_ctx` tokens each, and the scheduler thread."""

    def __init__(self, model_path: str, slots: int, n_ctx: int, threads: int, n_batch: int = 512,
                 lora: str = "") -> None:
        from llama_cpp._internals import LlamaModel

        llama_cpp.llama_backend_init()
        self.model = LlamaModel(path_model=model_path, params=llama_cpp.llama_model_default_params(), verbose=False)
        self.vocab = self.model.vocab
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx * slots
        params.n_batch = params.n_ubatch = n_batch
        params.n_seq_max = slots
        params.n_threads = params.n_threads_batch = threads
        # one KV buffer for all sequences: the shared prompt prefix is stored and attended to once (measured: 10-30%
        # more tokens/s than a stream per sequence); flash attention was slower on CPU for this model
        params.kv_unified = True
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.swa_full = True  # sliding-window models (Gemma 3) keep more of a prefix; `_start` checks it is there
        params.no_perf = True
        ctx = llama_cpp.llama_init_from_model(self.model.model, params)
        if not ctx:
            raise EngineError(f"llama.cpp could not create a context of {n_ctx} x {slots} tokens")
        self.ctx = ctx
        if lora:
            self._apply_lora(lora)
        memory = llama_cpp.llama_get_memory(ctx)
        if memory is None:
            raise EngineError("the context has no KV memory")
        self.memory = memory
        self.n_ctx, self.n_batch = n_ctx, n_batch
        self.batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self.sequences = [_Sequence(seq_id) for seq_id in range(slots)]
        self.queue: collections.deque[Job] = collections.deque()
        self._pieces: dict[int, bytes] = {}
        self._candidates = Candidates(llama_cpp.llama_vocab_n_tokens(self.vocab))
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="llm-scheduler", daemon=True)
        self._thread.start()

    def _apply_lora(self, path: str) -> None:
        """A GGUF LoRA adapter on top of the model (training/llm), for every sequence; llama.cpp frees it with the
        model."""
        adapter = llama_cpp.llama_adapter_lora_init(self.model.model, path.encode())
        if not adapter:
            raise EngineError(f"llama.cpp could not load the LoRA adapter {path} for this model")
        adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(adapter)
        scales = (ctypes.c_float * 1)(1.0)
        if llama_cpp.llama_set_adapters_lora(self.ctx, adapters, 1, scales):
            raise EngineError(f"llama.cpp could not apply the LoRA adapter {path}")

    # --- used by request threads ---

    def sampler(self, sampling: Sampling) -> SequenceSampler:
        """A request's sampler; raises ValueError if llama.cpp does not accept the grammar."""
        return SequenceSampler(self.vocab, sampling)

    def submit(self, job: Job) -> concurrent.futures.Future[Completion]:
        with self._wake:
            if self._stopping:
                raise EngineError("the engine is stopping")
            self.queue.append(job)
            self._wake.notify()
        return job.future

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(timeout=30)

    def busy(self) -> tuple[int, int]:
        """(sequences in use, jobs queued)"""
        return sum(s.job is not None for s in self.sequences), len(self.queue)

    # --- the scheduler thread ---

    def alive(self) -> bool:
        """The scheduler thread runs (the health routes answer 503 otherwise: nothing would be served)."""
        return self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and not self.queue and all(s.job is None for s in self.sequences):
                    self._wake.wait()
                if self._stopping:
                    break
            try:
                with self._wake:
                    self._admit()
                self._step()
            except Exception as exc:  # a failed step fails its jobs, not the server
                log.exception("decode failed")
                for seq in self.sequences:
                    if seq.job is not None:
                        self._finish(seq, error=exc)
                    seq.cached = []
                    llama_cpp.llama_memory_seq_rm(self.memory, seq.seq_id, -1, -1)
        for seq in self.sequences:
            if seq.job is not None:
                self._finish(seq, error=EngineError("the server is stopping"))
        for job in self.queue:
            job.future.cancel()
            job.sampler.free()

    def _admit(self) -> None:
        """Queued jobs into free sequences, each pointed at its prompt at once, so that a job behind it in the same
        round sees the prefix it evaluates (`_prefix_in_flight`) instead of evaluating it again."""
        while self.queue:
            free = [s for s in self.sequences if s.job is None]
            if not free:
                break
            job = self.queue[0]
            if not job.future.cancelled() and self._prefix_in_flight(job.prompt):
                break
            self.queue.popleft()
            if job.future.cancelled():
                job.sampler.free()
                continue
            # the free sequence whose cache shares most with the prompt: nothing to copy then
            seq = max(free, key=lambda s: common_prefix(s.cached, job.prompt))
            seq.job = job
            self._start(seq)

    def _prefix_in_flight(self, prompt: list[int]) -> bool:
        """Another sequence is evaluating a prompt that shares clearly more with this one than any cache does."""
        cached = max(common_prefix(s.cached, prompt) for s in self.sequences)
        return any(s.job is not None and s.pending
                   and common_prefix(s.cached + s.pending, prompt) >= cached + SHARE_WAIT_TOKENS
                   for s in self.sequences)

    def _start(self, seq: _Sequence) -> None:
        """Point the sequence at its job's prompt: keep the longest cached prefix, evaluate only the rest."""
        job = seq.job
        assert job is not None
        limit = len(job.prompt) - 1  # at least one prompt token is evaluated, for the logits of the first answer
        own = min(common_prefix(seq.cached, job.prompt), limit)
        donor = max(self.sequences, key=lambda s: common_prefix(s.cached, job.prompt))
        shared = min(common_prefix(donor.cached, job.prompt), limit)
        if shared > own:
            llama_cpp.llama_memory_seq_rm(self.memory, seq.seq_id, -1, -1)
            llama_cpp.llama_memory_seq_cp(self.memory, donor.seq_id, seq.seq_id, 0, shared)
            keep = shared
        elif llama_cpp.llama_memory_seq_rm(self.memory, seq.seq_id, own, -1):
            keep = own
        else:  # a cache that cannot drop a tail (recurrent models): start over
            llama_cpp.llama_memory_seq_rm(self.memory, seq.seq_id, -1, -1)
            keep = 0
        if keep and llama_cpp.llama_memory_seq_pos_min(self.memory, seq.seq_id) > 0:
            # a sliding-window cache (Gemma 3) overwrote cells that left the window: the prefix is not all there
            llama_cpp.llama_memory_seq_rm(self.memory, seq.seq_id, -1, -1)
            keep = 0
        seq.cached, seq.pending, seq.reused = job.prompt[:keep], job.prompt[keep:], keep
        seq.next_token, seq.out, seq.text = None, [], bytearray()

    def _step(self) -> None:
        batch, outputs = self.batch, []
        batch.n_tokens = 0

        def add(seq: _Sequence, token: int, logits: bool) -> None:
            i = batch.n_tokens
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, len(seq.cached), 1
            batch.seq_id[i][0], batch.logits[i] = seq.seq_id, logits
            batch.n_tokens = i + 1
            seq.cached.append(token)
            if logits:
                outputs.append((seq, i))

        for seq in self.sequences:
            if seq.job is not None and seq.job.future.cancelled():
                self._finish(seq)
            elif seq.job is not None and seq.next_token is not None:
                add(seq, seq.next_token, True)
                seq.next_token = None
        for seq in self.sequences:
            room = self.n_batch - batch.n_tokens
            if seq.job is None or not seq.pending or room == 0:
                continue
            chunk, seq.pending = seq.pending[:room], seq.pending[room:]
            for k, token in enumerate(chunk):
                add(seq, token, not seq.pending and k == len(chunk) - 1)
        if batch.n_tokens == 0:
            return
        status = llama_cpp.llama_decode(self.ctx, batch)
        if status != 0:
            raise EngineError(f"llama_decode returned {status}")
        for seq, i in outputs:
            self._sample(seq, i)

    def _sample(self, seq: _Sequence, index: int) -> None:
        job = seq.job
        assert job is not None
        token = job.sampler.sample(self.ctx, index, self._candidates)
        if llama_cpp.llama_vocab_is_eog(self.vocab, token):
            self._finish(seq, "stop")
            return
        seq.out.append(token)
        seq.text += self._piece(token)
        if job.stop:  # decoded as the answer is, so the cut lands where the stop string is in it
            text = seq.text.decode("utf-8", errors="replace")
            hits = [text.find(stop) for stop in job.stop if stop in text]
            if hits:
                self._finish(seq, "stop", cut=min(hits))
                return
        if len(seq.out) >= job.max_tokens or len(seq.cached) + 1 >= self.n_ctx:
            self._finish(seq, "length")
        else:
            seq.next_token = token

    def _piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            size = 64
            buffer = ctypes.create_string_buffer(size)
            n = llama_cpp.llama_token_to_piece(self.vocab, token, buffer, size, 0, False)
            if n < 0:  # a longer piece: -n is the size it needs
                size = -n
                buffer = ctypes.create_string_buffer(size)
                n = llama_cpp.llama_token_to_piece(self.vocab, token, buffer, size, 0, False)
            piece = self._pieces[token] = buffer.raw[: max(n, 0)]
        return piece

    def _finish(self, seq: _Sequence, reason: str = "stop", cut: int | None = None,
                error: BaseException | None = None) -> None:
        job = seq.job
        assert job is not None
        seq.job, seq.pending, seq.next_token = None, [], None
        job.sampler.free()
        text = seq.text.decode("utf-8", errors="replace")
        try:  # the request may cancel its future (its client left) at any moment
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(Completion(text if cut is None else text[:cut], reason, len(job.prompt),
                                                 len(seq.out), seq.reused))
        except concurrent.futures.InvalidStateError:
            pass
