"""Provider choice of the one ORT session wrapper, on the CPU build of ONNX Runtime that CI has."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.errors import ModelNotAvailableError
from shared.onnx_session import OrtModel, check_cuda_active, choose_providers, with_provider_options
from shared.settings import REPO_ROOT, Settings, get_settings

CPU_ONLY = ["CPUExecutionProvider"]
WITH_CUDA = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


def test_auto_takes_cuda_only_when_the_build_has_it() -> None:
    assert choose_providers("auto", WITH_CUDA) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers("auto", CPU_ONLY) == ["CPUExecutionProvider"]


def test_cpu_is_cpu_even_on_a_cuda_build() -> None:
    assert choose_providers("cpu", WITH_CUDA) == ["CPUExecutionProvider"]


def test_cuda_on_a_build_without_it_is_a_clear_error() -> None:
    with pytest.raises(ModelNotAvailableError, match="gpu"):
        choose_providers("cuda", CPU_ONLY)


def test_cuda_asked_for_but_session_fell_back_to_cpu_is_refused() -> None:
    # Given a CUDA build whose CUDA libraries did not load, ORT runs the session on the CPU and only logs it
    with pytest.raises(ModelNotAvailableError, match="could not load its CUDA provider"):
        check_cuda_active("cuda", ["CPUExecutionProvider"], "image.onnx")
    check_cuda_active("cuda", ["CUDAExecutionProvider", "CPUExecutionProvider"], "image.onnx")
    check_cuda_active("auto", ["CPUExecutionProvider"], "image.onnx")  # auto accepts the CPU


CLIP_TOWER = REPO_ROOT / "models" / "clip" / "image.onnx"


def test_a_real_session_runs_on_the_provider_asked_for() -> None:
    # Given the bundled CLIP image tower and the CPU build of ONNX Runtime
    cpu = OrtModel(CLIP_TOWER, get_settings().model_copy(update={"ort_providers": "cpu"}))
    cuda = OrtModel(CLIP_TOWER, get_settings().model_copy(update={"ort_providers": "cuda"}))
    # Then the CPU session loads on the CPU, and asking for CUDA fails loudly instead of running on the CPU
    assert cpu.providers == ["CPUExecutionProvider"]
    with pytest.raises(ModelNotAvailableError, match="install the `gpu` extra"):
        _ = cuda.session


@pytest.mark.filterwarnings("ignore:Specified provider 'CUDAExecutionProvider':UserWarning")
def test_a_cuda_build_whose_cuda_does_not_load_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an ORT that lists CUDA (as onnxruntime-gpu does) but cannot run it: real ORT then warns and falls back
    import onnxruntime as ort

    listed = ort.get_available_providers()
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", *listed])
    settings = get_settings().model_copy(update={"ort_providers": "cuda"})
    # When the wrapper loads a session with CUDA and its options asked for
    # Then the fallback to the CPU is an error, not a slow worker
    with pytest.raises(ModelNotAvailableError, match="could not load its CUDA provider"):
        _ = OrtModel(CLIP_TOWER, settings).session
    # while `auto` accepts the CPU
    auto = OrtModel(CLIP_TOWER, settings.model_copy(update={"ort_providers": "auto"}))
    assert auto.providers == ["CPUExecutionProvider"]


def test_cuda_gets_the_conv_algorithm_search_of_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the search named in the environment
    monkeypatch.setenv("P2P_ORT_CUDA_CONV_ALGO_SEARCH", "EXHAUSTIVE")
    settings = Settings()
    # Then CUDA is asked for with it, and the CPU provider gets no options
    assert with_provider_options(["CUDAExecutionProvider", "CPUExecutionProvider"], settings) == [
        ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "EXHAUSTIVE"}), "CPUExecutionProvider"]
    assert with_provider_options(["CPUExecutionProvider"], settings) == ["CPUExecutionProvider"]


def test_the_conv_algorithm_search_defaults_to_heuristic_and_rejects_unknown_names(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("P2P_ORT_CUDA_CONV_ALGO_SEARCH", raising=False)
    assert Settings().ort_cuda_conv_algo_search == "HEURISTIC"
    monkeypatch.setenv("P2P_ORT_CUDA_CONV_ALGO_SEARCH", "FASTEST")
    with pytest.raises(ValidationError):
        Settings()
