"""One ONNX Runtime session wrapper: picks providers, threads, and loads lazily (Immich-style)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from shared.errors import ModelNotAvailableError
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)


def choose_providers(preference: str, available: list[str]) -> list[str]:
    """Providers to ask ORT for, best first. `auto` takes CUDA only when this ORT build offers it."""
    if preference == "cpu":
        return ["CPUExecutionProvider"]
    if preference == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise ModelNotAvailableError(
                "P2P_ORT_PROVIDERS=cuda but this onnxruntime has no CUDA provider; install the `gpu` extra "
                f"(onnxruntime-gpu). Available: {available}"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    wanted: list[str] = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    return wanted or ["CPUExecutionProvider"]


def with_provider_options(providers: list[str], settings: Settings) -> list[str | tuple[str, dict[str, str]]]:
    """The providers as ORT takes them, CUDA with the options the settings give it."""
    cuda_options: dict[str, str] = {"cudnn_conv_algo_search": settings.ort_cuda_conv_algo_search}
    return [(p, cuda_options) if p == "CUDAExecutionProvider" else p for p in providers]


def check_cuda_active(preference: str, active: list[str], model: str) -> None:
    """With `cuda` asked for, refuse a session that ORT quietly put on the CPU: it does that when the CUDA provider
    is in the build but its CUDA or cuDNN libraries do not load, and a GPU worker would then run at CPU speed."""
    if preference == "cuda" and (not active or active[0] != "CUDAExecutionProvider"):
        raise ModelNotAvailableError(
            f"P2P_ORT_PROVIDERS=cuda but {model} runs on {active}: ONNX Runtime could not load its CUDA provider "
            "(are the CUDA and cuDNN libraries it was built for on the library path? its log names the missing one)"
        )


class OrtModel:
    """An ONNX model file, its session created on first use and shared by threads."""

    def __init__(self, path: Path, settings: Settings | None = None) -> None:
        self.path = Path(path)
        self._settings = settings or get_settings()
        self._session: Any = None
        self._metadata: dict[str, str] | None = None
        self._lock = threading.Lock()

    @property
    def session(self) -> Any:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = self._load()
        return self._session

    @property
    def loaded(self) -> bool:
        return self._session is not None

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    @property
    def metadata(self) -> dict[str, str]:
        """The model's custom metadata, read once (the hot path asks for it several times per batch); treat it as
        read-only."""
        if self._metadata is None:
            self._metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        return self._metadata

    def _load(self) -> Any:
        import onnxruntime as ort

        if not self.path.is_file():
            raise ModelNotAvailableError(f"model file not found: {self.path}")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self._settings.ort_threads_per_session
        # no busy-waiting between runs: our session calls are separated by the batch's CPU work (resizes, colours),
        # and a spinning intra-op pool takes the very cores that work runs on (measured: letterbox and CLIP resize
        # about 1.6x faster in the one-batch-at-a-time layout, the models no slower; docs/performance.md)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        if self._settings.ort_inter_threads:
            options.inter_op_num_threads = self._settings.ort_inter_threads
        providers = choose_providers(self._settings.ort_providers, ort.get_available_providers())
        session = ort.InferenceSession(
            str(self.path), sess_options=options, providers=with_provider_options(providers, self._settings))
        check_cuda_active(self._settings.ort_providers, list(session.get_providers()), self.path.name)
        log.info("loaded %s with %s", self.path.name, session.get_providers())
        return session

    def run(self, inputs: dict[str, np.ndarray], outputs: list[str] | None = None) -> list[np.ndarray]:
        return list(self.session.run(outputs, inputs))
