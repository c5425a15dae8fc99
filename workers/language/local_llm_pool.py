"""Parallel slots for the embedded LLM: N llama-cpp-python servers behind one OpenAI-compatible address.

llama-cpp-python's server (0.3.x) answers one request at a time: one `Llama` object behind a lock, no
`--parallel` slots and no continuous batching (those live in llama.cpp's own C++ `llama-server`, which no PyPI
package we trust ships). So a slot here is a process: N servers, each with its share of the CPU's threads, and
this small router in front sends each request to the slot with the fewest requests in flight. Each slot keeps its
own KV cache, and llama-cpp-python reuses the longest common token prefix with the previous request it served, so
the prompt's fixed part (system text and demonstrations, which come first) is not evaluated again.

    python -m workers.language.local_llm_pool --model M.gguf --alias NAME --port 8081 --slots 2 --threads 1
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence

import httpx

from shared.processes import stop_processes

HOP_HEADERS = frozenset({"host", "content-length", "connection", "transfer-encoding", "keep-alive"})


def die_with_parent() -> None:
    """Linux: the server gets SIGTERM when the process that started it dies, even by a signal that skips our
    clean-up (a `timeout` around a benchmark), so no orphaned server keeps a port and a CPU core."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def server_command(model: str, alias: str, port: int, n_ctx: int, threads: int, lora: str = "") -> list[str]:
    """argv of one llama-cpp-python server (one slot) on 127.0.0.1:`port`; `lora`: a GGUF LoRA adapter on top."""
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", model, "--model_alias", alias,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(n_ctx),
        "--n_threads", str(threads), "--n_threads_batch", str(threads),
        "--verbose", "False",
    ] + (["--lora_path", lora] if lora else [])


def batched_command(model: str, alias: str, port: int, n_ctx: int, threads: int, sequences: int,
                    lora: str = "") -> list[str]:
    """argv of one continuous-batching server (`workers.language.batched_llm`) of `sequences` on 127.0.0.1:`port`."""
    return [
        sys.executable, "-m", "workers.language.batched_llm",
        "--model", model, "--alias", alias, "--port", str(port), "--slots", str(sequences),
        "--ctx", str(n_ctx), "--threads", str(threads),
    ] + (["--lora", lora] if lora else [])


class Slots:
    """Backends and their in-flight counts; `pick` takes the least busy (round robin among equals)."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = list(urls)
        self.busy = [0] * len(urls)
        self._turn = itertools.cycle(range(len(urls)))

    def pick(self) -> int:
        start = next(self._turn)
        order = [(start + i) % len(self.urls) for i in range(len(self.urls))]
        return min(order, key=lambda i: self.busy[i])


def create_app(urls: Sequence[str]) -> object:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    slots = Slots(urls)
    client = httpx.AsyncClient(timeout=httpx.Timeout(600.0, connect=5.0))

    async def forward(request: Request) -> Response:
        slot = slots.pick()
        slots.busy[slot] += 1
        try:
            upstream = await client.request(
                request.method, f"{slots.urls[slot]}{request.url.path}", params=request.query_params,
                content=await request.body(),
                headers={k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS},
            )
        except httpx.HTTPError as exc:
            return Response(f'{{"error": "slot {slot} unreachable: {exc}"}}', 502, media_type="application/json")
        finally:
            slots.busy[slot] -= 1
        headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS | {"content-encoding"}}
        return Response(upstream.content, upstream.status_code, headers=headers)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST"])], lifespan=lifespan)


@contextlib.contextmanager
def started_slots(model: str, alias: str, slots: int, n_ctx: int, threads: int, sequences: int = 0,
                  timeout_s: float = 120.0, lora: str = "") -> Iterator[list[str]]:
    """Start `slots` servers on free ports, wait until each answers; yields their base URLs; stops them after.
    A slot is a llama-cpp-python server, or with `sequences` a continuous-batching server of that many."""
    from shared.ports import free_port

    ports = [free_port() for _ in range(slots)]
    argv = [batched_command(model, alias, port, n_ctx, threads, sequences, lora) if sequences
            else server_command(model, alias, port, n_ctx, threads, lora) for port in ports]
    processes = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  preexec_fn=die_with_parent if sys.platform == "linux" else None)
                 for command in argv]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + timeout_s
        for url, process in zip(urls, processes, strict=True):
            while not _answers(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"LLM slot at {url} did not start (exit code {process.poll()})")
                time.sleep(0.3)
        yield urls
    finally:
        stop_processes(processes, grace_s=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/models", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--alias", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--n_ctx", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=1, help="threads per slot")
    parser.add_argument("--sequences", type=int, default=0,
                        help="0: each slot a llama-cpp-python server; N: a continuous-batching server of N sequences")
    parser.add_argument("--lora", default="", help="a GGUF LoRA adapter applied to the model in every slot")
    args = parser.parse_args(argv)
    import uvicorn

    # uvicorn re-raises the SIGTERM it shut down on: as SystemExit here, so the slots below are stopped too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with started_slots(args.model, args.alias, args.slots, args.n_ctx, args.threads, args.sequences,
                       lora=args.lora) as urls:
        uvicorn.run(create_app(urls), host=args.host, port=args.port, log_level="warning")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
