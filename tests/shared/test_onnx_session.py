"""Provider choice of the one ORT session wrapper, on the CPU build of ONNX Runtime that CI has."""

from __future__ import annotations

import pytest

from shared.errors import ModelNotAvailableError
from shared.onnx_session import OrtModel, check_cuda_active, choose_providers, with_provider_options
from shared.settings import REPO_ROOT, get_settings

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


def test_a_real_session_runs_on_the_provider_asked_for() -> None:
    # Given the bundled CLIP image tower and the CPU build of ONNX Runtime
    path = REPO_ROOT / "models" / "clip" / "image.onnx"
    cpu = OrtModel(path, get_settings().model_copy(update={"ort_providers": "cpu"}))
    cuda = OrtModel(path, get_settings().model_copy(update={"ort_providers": "cuda"}))
    # Then the CPU session loads on the CPU, and asking for CUDA fails loudly instead of running on the CPU
    assert cpu.providers == ["CPUExecutionProvider"]
    with pytest.raises(ModelNotAvailableError):
        _ = cuda.session


def test_cuda_gets_the_conv_algorithm_search_of_the_settings() -> None:
    settings = get_settings().model_copy(update={"ort_cuda_conv_algo_search": "HEURISTIC"})
    assert with_provider_options(["CUDAExecutionProvider", "CPUExecutionProvider"], settings) == [
        ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}), "CPUExecutionProvider"]
    assert with_provider_options(["CPUExecutionProvider"], settings) == ["CPUExecutionProvider"]
