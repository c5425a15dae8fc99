"""The embedded LLM (llama-cpp-python + the bundled GGUF) on this machine's CPU: captions per minute by slot layout,
the language worker's own overhead, and per-call latency.

    python bench/llm.py [--items 16] [--concurrency 8] [--layouts today,slots2,batched4] [--repeats 1]
                        [--endpoint URL]

Throughput: `--items` captions written by `--concurrency` threads at once (as a language worker's threads pool
does, one CaptionWriter each), against
  today      the previous embedded server: one llama-cpp-python server, its default threads (cores / 2 for
             generation), started with the exact argv the project used before P2P_LLM_PARALLEL_SLOTS;
  slotsN     `local_llm_command` with P2P_LLM_PARALLEL_SLOTS=N (N servers, cores / N threads each, one router);
  batchedN   `local_llm_command` with P2P_LLM_SERVER=batched and N slots: one process, one llama.cpp context, N
             sequences decoded together (continuous batching, every core); batchedNtT: with P2P_LLM_THREADS=T;
  LAYOUT+lora the same layout with the LoRA adapter `--lora PATH` applied (training/llm);
  batchedPxN P continuous-batching servers of N sequences, one thread each, behind the slot router
             (`python -m workers.language.local_llm_pool --sequences N`; no setting starts this layout yet).
All servers run at once; rounds interleave them so load from other processes hits them alike; ratios are to
`today` from the same run. Overhead: caption wall time not spent inside an LLM call (prompt, parsing, grounding
checks), relative to the LLM calls. With --endpoint only the per-call table runs, against that URL.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

from pixels2posts.evaluation.language_only import hm_packs
from shared.ports import free_port
from shared.schemas import EvidencePack
from shared.settings import REPO_ROOT, Settings, get_settings
from workers.language.local_llm import (
    _wait_ready,
    embedded_name,
    gguf_path,
    local_llm_available,
    running_local_llm,
)
from workers.language.pipeline import CaptionWriter

CATALOG = REPO_ROOT.parent / "shared" / "data" / "hm-catalog" / "articles.csv"


@contextmanager
def serving(settings: Settings, argv: list[str], port: int, **update: object) -> Iterator[Settings]:
    """Run `argv` (a server on 127.0.0.1:`port`) until the block ends; yields `settings` pointed at it."""
    local = settings.model_copy(update={"llm_base_url": f"http://127.0.0.1:{port}/v1",
                                        "llm_model": embedded_name(settings), **update})
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_ready(local.llm_base_url, process, 120)
        yield local
    finally:
        process.terminate()
        process.wait(60)


def previous_server(settings: Settings) -> AbstractContextManager[Settings]:
    """The embedded server as started before parallel slots: no thread flags, n_ctx 2048."""
    port = free_port()
    return serving(settings, [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path(settings)),
                              "--model_alias", embedded_name(settings), "--host", "127.0.0.1", "--port", str(port),
                              "--n_ctx", "2048", "--verbose", "False"], port)


def write_all(settings: Settings, packs: Sequence[EvidencePack], concurrency: int) -> tuple[float, float, float]:
    """(wall seconds, summed caption seconds, summed LLM-call seconds) for all packs, `concurrency` at once."""
    def one(pack: EvidencePack) -> tuple[float, float]:
        writer = CaptionWriter(settings)
        started = time.perf_counter()
        writer.write(pack)
        return time.perf_counter() - started, sum(r.seconds for r in writer.last_replies)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        timings = list(pool.map(one, packs))
    return time.perf_counter() - started, sum(t for t, _ in timings), sum(s for _, s in timings)


LAYOUT = re.compile(r"^(today|slots(\d+)|batched(\d+)(?:t(\d+))?|batched(\d+)x(\d+))$")
WITH_LORA = re.compile(r"^(slots\d+|batched\d+(?:t\d+)?)$")  # the layouts started by local_llm_command


def batched_pool(settings: Settings, processes: int, sequences: int) -> AbstractContextManager[Settings]:
    """`processes` continuous-batching servers of `sequences` each (1 thread) behind the slot router."""
    port = free_port()
    argv = [sys.executable, "-m", "workers.language.local_llm_pool", "--model", str(gguf_path(settings)),
            "--alias", embedded_name(settings), "--port", str(port), "--slots", str(processes),
            "--sequences", str(sequences), "--threads", "1", "--n_ctx", str(settings.llm_slot_context_tokens)]
    return serving(settings, argv, port, llm_parallel_slots=sequences)


def layout_settings(name: str, base: Settings) -> tuple[str, dict[str, object]]:
    """(table label, settings update) of a --layouts entry: slotsN, batchedN or batchedNtT."""
    match = LAYOUT.match(name)
    if match is None or name == "today":
        raise SystemExit(f"unknown layout {name!r}: today, slotsN, batchedN, batchedNtT or batchedPxN")
    if match.group(2):
        slots = int(match.group(2))
        return f"{slots} slots (processes)", {"llm_parallel_slots": slots, "llm_server": "processes"}
    slots, threads = int(match.group(3)), int(match.group(4) or 0)
    label = f"batched, {slots} sequences, {threads or 'default'} thread{'s' if threads != 1 else ''}"
    return label, {"llm_parallel_slots": slots, "llm_server": "batched", "llm_threads": threads}


def throughput(packs: Sequence[EvidencePack], layouts: Sequence[str], concurrency: int, repeats: int,
               lora: str = "") -> None:
    # requests queue at a one-request-at-a-time server: that wait is what is measured, not a reason to retry
    # the adapter only where a layout asks for it (+lora), whatever P2P_LLM_LORA says
    base = get_settings().model_copy(update={"llm_timeout_s": 900.0, "llm_lora": ""})
    with ExitStack() as stack:
        configs: dict[str, Settings] = {}
        for name in layouts:
            pool = LAYOUT.match(name)
            if name.endswith("+lora") and not WITH_LORA.match(name.removesuffix("+lora")):
                raise SystemExit(f"layout {name}: +lora applies to slotsN and batchedN[tT] only")
            if name == "today":
                configs["today (1 server, default threads)"] = stack.enter_context(previous_server(base))
            elif pool and pool.group(5):
                processes, sequences = int(pool.group(5)), int(pool.group(6))
                configs[f"{processes} batched processes x {sequences} sequences, 1 thread each"] = stack.enter_context(
                    batched_pool(base, processes, sequences))
            else:
                label, update = layout_settings(name.removesuffix("+lora"), base)
                if name.endswith("+lora"):
                    if not lora:
                        raise SystemExit(f"layout {name} needs --lora PATH")
                    label, update = f"{label}, LoRA {Path(lora).stem}", {**update, "llm_lora": lora}
                configs[label] = stack.enter_context(running_local_llm(base.model_copy(update=update)))
        for settings in configs.values():  # warm-up: model pages, the prompt prefix in every slot
            write_all(settings, packs[: max(settings.llm_parallel_slots, concurrency)], concurrency)
        best: dict[str, tuple[float, float, float]] = {}
        for _ in range(repeats):
            for name, settings in configs.items():
                result = write_all(settings, packs, concurrency)
                if name not in best or result[0] < best[name][0]:
                    best[name] = result
    baseline = best[next(iter(configs))][0]
    print(f"rounds: {repeats}, interleaved; best wall time of each layout; ratios to {next(iter(configs))}\n")
    print("| layout | captions | concurrency | seconds | captions / min | vs today | worker overhead / LLM time |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (wall, caption_s, llm_s) in best.items():
        print(f"| {name} | {len(packs)} | {concurrency} | {wall:.1f} | {60 * len(packs) / wall:.1f} "
              f"| {baseline / wall:.2f}x | {(caption_s - llm_s) / llm_s:.3f} |")


def latency(settings: Settings, packs: Sequence[tuple[str, EvidencePack]]) -> None:
    writer = CaptionWriter(settings)
    writer.write(packs[0][1])  # warm-up: loads the model pages, fills the prompt cache
    calls, captions = [], []
    for item, pack in packs:
        started = time.perf_counter()
        result = writer.write(pack)
        seconds = time.perf_counter() - started
        calls += writer.last_replies
        captions.append((item, result.provenance.attempts, result.provenance.fallback, seconds))
    print(f"\n# one caption at a time: {settings.llm_model} at {settings.llm_base_url}; {len(packs)} captions, "
          f"{len(calls)} LLM calls\n")
    print("| LLM call | prompt tokens | output tokens | seconds | output tokens/s |")
    print("|---|---:|---:|---:|---:|")
    for index, reply in enumerate(calls, 1):
        rate = reply.completion_tokens / reply.seconds if reply.seconds else 0.0
        print(f"| {index} | {reply.prompt_tokens} | {reply.completion_tokens} | {reply.seconds:.2f} | {rate:.1f} |")
    if calls:
        print(f"| **median** | {statistics.median(r.prompt_tokens for r in calls):.0f} | "
              f"{statistics.median(r.completion_tokens for r in calls):.0f} | "
              f"{statistics.median(r.seconds for r in calls):.2f} | |")
    print("\n| caption | attempts | published by | seconds |")
    print("|---|---:|---|---:|")
    for item, attempts, fallback, seconds in captions:
        print(f"| {item} | {attempts} | {'deterministic' if fallback else 'llm'} | {seconds:.2f} |")
    print(f"| **median** | | | {statistics.median(s for *_, s in captions):.2f} |")
    print(f"\nwriter stats: {writer.stats.as_dict()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--layouts", default="today,slots2,batched4",
                        help="servers compared (ratios to the first): today, slotsN, batchedN, batchedNtT")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--latency-items", type=int, default=4)
    parser.add_argument("--endpoint", help="an OpenAI-compatible base URL instead of the embedded server")
    parser.add_argument("--lora", default="", help="the GGUF LoRA adapter of the layouts ending in +lora")
    parser.add_argument("--catalog", type=Path, default=CATALOG)
    args = parser.parse_args()
    packs = hm_packs(args.catalog, max(args.items, args.latency_items, 1))
    if args.endpoint:
        latency(get_settings().model_copy(update={"llm_base_url": args.endpoint}), packs[: args.latency_items])
        return
    if not local_llm_available():
        sys.exit("the embedded LLM is not installed: pip install 'pixels2posts[llm]'")
    print(f"# model {get_settings().llm_model}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}\n")
    throughput([pack for _, pack in packs[: args.items]], args.layouts.split(","), args.concurrency, args.repeats,
               args.lora)
    if args.latency_items:
        with running_local_llm(get_settings().model_copy(update={"llm_timeout_s": 900.0})) as settings:
            latency(settings, packs[: args.latency_items])


if __name__ == "__main__":
    main()
