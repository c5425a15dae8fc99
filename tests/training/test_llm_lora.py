"""The LLM fine-tune's parts (training/llm): the shared-prefix loss, and the LoRA adapter written as GGUF, applied
by llama.cpp on the embedded model exactly as the torch model it was trained in computes it, by both embedded
servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from shared.settings import Settings
from workers.language.local_llm import (
    gguf_path,
    local_llm_available,
    running_local_llm,
)

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gguf")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.train,
    pytest.mark.skipif(not local_llm_available(), reason="the llm extra (llama-cpp-python + GGUF) is not installed"),
]

from training.llm.lora import add_lora, load_base, lora_modules, write_adapter  # noqa: E402
from training.llm.train import Example, batch_loss  # noqa: E402

PROMPT = [3158, 314, 260, 1345, 3240, 28, 253, 2256, 30, 378, 1345]  # token ids of a short English text


def _randomise(model: Any, std: float, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    for module in lora_modules(model).values():
        with torch.no_grad():
            module.lora_a.normal_(0.0, std, generator=generator)
            module.lora_b.normal_(0.0, std, generator=generator)


@pytest.fixture(scope="module")
def adapted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path, Path]]:
    """(the embedded model in torch with a random LoRA on its last 3 layers, that adapter as GGUF, the base GGUF)."""
    base = gguf_path(Settings(llm_embedded_model="smollm2-135m-instruct"))
    model, _ = load_base(base)
    add_lora(model, rank=4, alpha=8.0, top_layers=3)
    _randomise(model, std=0.15)
    path = tmp_path_factory.mktemp("lora") / "random-lora.gguf"
    write_adapter(model, path)
    yield model, path, base


def _llama_cpp_logits(base: Path, lora: Path | None) -> np.ndarray:
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(base), lora_path=str(lora) if lora else None, logits_all=True,
                          n_ctx=128, verbose=False)
    llm.eval(PROMPT)
    return np.array(llm.scores[len(PROMPT) - 1])


def test_given_a_lora_in_torch_when_written_as_gguf_then_llama_cpp_computes_the_same_logits(
        adapted: tuple[Any, Path, Path]) -> None:
    # Given the torch model with a LoRA large enough to move the logits far from the base model's
    model, adapter, base = adapted
    with torch.no_grad():
        expected = model(torch.tensor([PROMPT])).logits[0, -1].numpy()
    # When llama.cpp runs the base GGUF with and without the written adapter
    with_adapter = _llama_cpp_logits(base, adapter)
    without = _llama_cpp_logits(base, None)
    # Then with it, llama.cpp agrees with torch (to its quantised arithmetic); without it, it is far off
    near, far = np.abs(with_adapter - expected).max(), np.abs(without - expected).max()
    assert near < 0.2 * far, (near, far)
    assert with_adapter.argmax() == expected.argmax()


def _greedy(base_url: str) -> str:
    body = {"messages": [{"role": "user", "content": "Name one colour."}], "max_tokens": 12, "temperature": 0.0}
    response = httpx.post(f"{base_url}/chat/completions", json=body, timeout=120)
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


def _common_prefix(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


@pytest.mark.parametrize("server", ["batched", "processes"])
def test_given_an_adapter_then_the_embedded_server_answers_as_llama_cpp_with_that_adapter(
        adapted: tuple[Any, Path, Path], server: str) -> None:
    import llama_cpp

    # Given llama-cpp-python's own greedy answers with the adapter and without it (far apart: a large random LoRA)
    _, adapter, base = adapted
    question = [{"role": "user", "content": "Name one colour."}]

    def reference(lora: Path | None) -> str:
        llm = llama_cpp.Llama(model_path=str(base), lora_path=str(lora) if lora else None, n_ctx=256, verbose=False)
        reply = llm.create_chat_completion(messages=question, max_tokens=12, temperature=0.0)  # type: ignore[arg-type]
        return str(reply["choices"][0]["message"]["content"])  # type: ignore[index]

    with_lora, without = reference(adapter), reference(None)
    assert _common_prefix(with_lora, without) < 4, (with_lora, without)
    # processes: two llama_cpp.server slots behind the router (the default layout of that server), each with it
    plain = Settings(llm_server=server, llm_parallel_slots=1 if server == "batched" else 2, llm_threads=1,
                     llm_timeout_s=120.0, llm_lora="")
    # When the project's launcher starts the server with P2P_LLM_LORA, and without it
    with running_local_llm(plain.model_copy(update={"llm_lora": str(adapter)})) as local:
        answer = _greedy(local.llm_base_url)
    with running_local_llm(plain) as local:
        base_answer = _greedy(local.llm_base_url)
    # Then each answers as llama.cpp does with the same weights: the adapted one as the adapter's reference, the
    # plain one as the base's (compared on their opening: batching may sum floats in another order, and a random
    # LoRA leaves near ties that a last-bit difference tips later in the answer)
    assert _common_prefix(answer, with_lora) > _common_prefix(answer, without), (answer, with_lora, without)
    assert _common_prefix(base_answer, without) > _common_prefix(base_answer, with_lora), (base_answer, without)


def test_given_a_batch_sharing_its_prefix_then_the_loss_equals_running_each_example_whole() -> None:
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    # Given a tiny random llama (the embedded model's tokenizer) with a LoRA, and three examples of one prefix
    base = gguf_path(Settings(llm_embedded_model="smollm2-135m-instruct"))
    tokenizer = AutoTokenizer.from_pretrained(str(base.parent), gguf_file=base.name)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)
    model = LlamaForCausalLM(config).eval()
    add_lora(model, rank=4, alpha=8.0)
    _randomise(model, std=0.1)
    prefix = "<|im_start|>system\nWrite captions.<|im_end|>\n"
    examples = [Example(prefix, f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n",
                        json.dumps({"caption": answer}) + "<|im_end|>\n")
                for text, answer in [("red dress", "A red dress."), ("blue jeans for men", "Blue jeans for men."),
                                     ("shoes", "Black shoes for every day, easy to wear.")]]
    trained = [p for p in model.parameters() if p.requires_grad]
    # When the batch loss runs the prefix once
    shared = batch_loss(model, tokenizer, examples)
    shared_grads = torch.autograd.grad(shared, trained)
    # Then loss and gradients equal those of the mean answer-token loss of each example run whole
    encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    losses, count = [], 0
    for example in examples:
        context, answer = encode(example.prefix) + encode(example.prompt), encode(example.answer)
        ids = torch.tensor([context + answer])
        logits = model(ids).logits[0]
        losses.append(torch.nn.functional.cross_entropy(logits[len(context) - 1:-1], ids[0, len(context):],
                                                        reduction="sum"))
        count += len(answer)
    whole = torch.stack(losses).sum() / count
    whole_grads = torch.autograd.grad(whole, trained)
    assert shared.item() == pytest.approx(whole.item(), rel=1e-4)
    for got, expected in zip(shared_grads, whole_grads, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-5)
