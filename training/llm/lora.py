"""LoRA for the embedded LLM: low-rank updates on the projections of a transformers llama model loaded from the
GGUF file llama.cpp serves, and the adapter written back as a GGUF LoRA adapter that llama.cpp applies on top of
that same file (`llama_adapter_lora_init`; `P2P_LLM_LORA`).

The base weights are the GGUF's own (quantised, dequantised by transformers' GGUF loader), so the adapter is trained
against exactly the weights it will be added to. llama.cpp stores the query and key projections of llama models
with their rows permuted for its rotary embedding (convert_hf_to_gguf.py `LlamaModel.permute`), and transformers
undoes that on load; an update B @ A of those projections permutes its rows likewise, so B is permuted on export
(checked by tests/training/test_llm_lora.py: logits of the merged torch model and of llama.cpp with the adapter).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

# transformers' names of a llama layer's projections -> llama.cpp's tensor names
GGUF_NAMES = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


class LoRALinear(nn.Module):
    """y = base(x) + (x A^T B^T) * alpha / rank, with `base` frozen; B starts at zero (the model is unchanged)."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.rank, self.alpha = rank, alpha
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.T @ self.lora_b.T) * self.scale


def add_lora(model: nn.Module, rank: int, alpha: float, targets: tuple[str, ...] = tuple(GGUF_NAMES),
             top_layers: int | None = None) -> int:
    """Freeze the model and wrap each target projection of its layers (the `top_layers` last ones only, when given:
    backpropagation then stops below them, which makes a CPU step several times cheaper); returns the trainable
    parameter count."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    layers = list(_layers(model))
    for layer in layers[-top_layers:] if top_layers else layers:
        for target in targets:
            parent_name, _, attribute = target.rpartition(".")
            parent = layer.get_submodule(parent_name)
            setattr(parent, attribute, LoRALinear(getattr(parent, attribute), rank, alpha))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def lora_modules(model: nn.Module) -> dict[str, LoRALinear]:
    """llama.cpp tensor name ("blk.3.attn_q.weight") -> the LoRA layer on that projection."""
    found = {}
    for index, layer in enumerate(_layers(model)):
        for target, gguf_name in GGUF_NAMES.items():
            module = layer.get_submodule(target)
            if isinstance(module, LoRALinear):
                found[f"blk.{index}.{gguf_name}.weight"] = module
    return found


def _layers(model: nn.Module) -> Any:
    return model.get_submodule("model.layers")


def rope_permute(rows: np.ndarray, heads: int) -> np.ndarray:
    """convert_hf_to_gguf's permutation of a query/key projection's output rows (per head: interleaved halves)."""
    return rows.reshape(heads, 2, rows.shape[0] // heads // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def write_adapter(model: Any, path: Path, *, metadata: dict[str, str] | None = None) -> int:
    """The model's LoRA layers as a llama.cpp GGUF adapter (float16 tensors); returns the file size in bytes."""
    import gguf

    config = model.config
    heads: dict[str, int] = {"attn_q": config.num_attention_heads, "attn_k": config.num_key_value_heads}
    modules = lora_modules(model)
    if not modules:
        raise ValueError("the model has no LoRA layers")
    alphas = {module.alpha for module in modules.values()}
    ranks = {module.rank for module in modules.values()}
    if len(alphas) != 1 or len(ranks) != 1:
        raise ValueError("one alpha and one rank for every layer: the GGUF adapter stores one alpha")
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(alphas.pop()))
    for key, value in (metadata or {}).items():
        writer.add_string(key, value)
    for name, module in modules.items():
        a = module.lora_a.detach().float().numpy()
        b = module.lora_b.detach().float().numpy()
        kind = name.split(".")[2]
        if kind in heads:
            b = rope_permute(b, heads[kind])
        writer.add_tensor(f"{name}.lora_a", a.astype(np.float16))
        writer.add_tensor(f"{name}.lora_b", np.ascontiguousarray(b).astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.stat().st_size


def load_base(gguf_file: Path) -> tuple[Any, Any]:
    """(model, tokenizer) from the GGUF file itself, dequantised to float32."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_file.parent), gguf_file.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    return model.eval(), tokenizer
