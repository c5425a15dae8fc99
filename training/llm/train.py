"""LoRA fine-tune of the embedded LLM on the rejection-sampled pairs (training/llm/pairs.py), on CPU.

Every prompt the language stage sends opens with the same rules and demonstrations (about 590 tokens of the ~700);
a batch therefore runs that shared prefix once, repeats its cache for each example and runs only the examples' own
tokens (the evidence turn and the answer) on top: the same gradients as running each example whole, at a fraction
of the compute. The loss is on the answer's tokens (and the turn's end) only.

`python -m training.llm.train training/runs/llm/pairs.jsonl training/runs/llm/adapter --epochs 1`
writes `adapter.gguf` (llama.cpp LoRA adapter) and `train.json` (losses, sizes, seconds).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from training.llm.lora import add_lora, load_base, write_adapter

MAX_TRAINED_HASHTAGS = 6  # the published list is composed again from the evidence; the model need not write it all
# the sampled captions repeat themselves: 40 of 714 end "a simple yet elegant choice for any occasion.", 177 open
# their praise with "a simple yet"; trained on as sampled, the model said little else (distinct captions 0.94 -> 0.67
# on H&M test items, models/llm/MODEL_CARD.md). So a praise is kept once, and an opening of it a few times.
MAX_SAME_PRAISE = 1
MAX_SAME_OPENING = 12


@dataclass(frozen=True)
class Example:
    prefix: str  # the shared opening of the prompt (rules, demonstrations)
    prompt: str  # the rest of the prompt, up to the assistant's turn
    answer: str  # the answer and the end of the turn


def praise_of(caption: str) -> str:
    """What a caption says after its "<garment>:" opening (all of it without one), in lower-case words."""
    tail = caption.split(":", 1)[1] if ":" in caption else caption
    return " ".join(re.findall(r"[a-z]+", tail.lower()))


def answer_text(answer: str) -> str:
    """The pair's answer with its hashtags cut to the first few (the writer adds grounded ones after)."""
    parsed = json.loads(answer)
    parsed["hashtags"] = parsed["hashtags"][:MAX_TRAINED_HASHTAGS]
    return json.dumps(parsed)


def examples(pairs_file: Path, tokenizer: Any) -> list[Example]:
    """The pairs as prompt text split at the shared prefix, with repeated praise thinned (MAX_SAME_PRAISE, ...)."""
    found = []
    praises: Counter[str] = Counter()
    openings: Counter[str] = Counter()
    for line in pairs_file.open(encoding="utf-8"):
        pair = json.loads(line)
        praise = praise_of(json.loads(pair["answer"])["caption"])
        opening = " ".join(praise.split()[:3])
        if praises[praise] >= MAX_SAME_PRAISE or openings[opening] >= MAX_SAME_OPENING:
            continue
        praises[praise] += 1
        openings[opening] += 1
        messages = pair["messages"]
        prefix = tokenizer.apply_chat_template(messages[:-1], tokenize=False)
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(
            [*messages, {"role": "assistant", "content": answer_text(pair["answer"])}], tokenize=False)
        if not (prompt.startswith(prefix) and full.startswith(prompt)):
            raise ValueError(f"pair {pair.get('id')}: the chat template does not extend the prompt")
        found.append(Example(prefix, prompt[len(prefix):], full[len(prompt):]))
    return found


def batches(items: Sequence[Example], size: int, rng: random.Random) -> list[list[Example]]:
    """Shuffled batches whose examples share their prefix."""
    groups: dict[str, list[Example]] = defaultdict(list)
    for item in items:
        groups[item.prefix].append(item)
    made = []
    for group in groups.values():
        group = list(group)
        rng.shuffle(group)
        made += [group[i:i + size] for i in range(0, len(group), size)]
    rng.shuffle(made)
    return made


def batch_loss(model: Any, tokenizer: Any, batch: Sequence[Example]) -> torch.Tensor:
    """Mean cross-entropy of the answers' tokens, the shared prefix run once for the batch."""
    encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    prefix = encode(batch[0].prefix)
    rows = [(encode(item.prompt), encode(item.answer)) for item in batch]
    width = max(len(p) + len(a) for p, a in rows)
    ids = torch.full((len(batch), width), tokenizer.pad_token_id or 0, dtype=torch.long)
    mask = torch.zeros((len(batch), len(prefix) + width), dtype=torch.long)
    mask[:, :len(prefix)] = 1
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    for row, (prompt, answer) in enumerate(rows):
        tokens = prompt + answer
        ids[row, :len(tokens)] = torch.tensor(tokens)
        mask[row, len(prefix):len(prefix) + len(tokens)] = 1
        labels[row, len(prompt):len(tokens)] = torch.tensor(answer)
    cache = model.model(input_ids=torch.tensor([prefix]), use_cache=True).past_key_values
    cache.batch_repeat_interleave(len(batch))
    positions = torch.arange(len(prefix), len(prefix) + width).expand(len(batch), -1)
    hidden = model.model(input_ids=ids, attention_mask=mask, past_key_values=cache, position_ids=positions,
                         use_cache=False).last_hidden_state
    # position t predicts token t + 1: score only the positions whose next token is an answer token
    targets = labels[:, 1:]
    chosen = targets != -100
    logits = model.lm_head(hidden[:, :-1][chosen])
    return torch.nn.functional.cross_entropy(logits, targets[chosen])


def train(pairs_file: Path, out: Path, gguf_file: Path, *, epochs: int, batch_size: int, rank: int, alpha: float,
          lr: float, seed: int, top_layers: int | None = None, limit: int | None = None) -> dict[str, Any]:
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model, tokenizer = load_base(gguf_file)
    trainable = add_lora(model, rank, alpha, top_layers=top_layers)
    items = examples(pairs_file, tokenizer)[:limit]
    plan = [batches(items, batch_size, rng) for _ in range(epochs)]
    steps = sum(len(epoch) for epoch in plan)
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps, pct_start=0.1)
    model.train()
    losses: list[float] = []
    started = time.perf_counter()
    for epoch, epoch_batches in enumerate(plan):
        for batch in epoch_batches:
            loss = batch_loss(model, tokenizer, batch)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
            if len(losses) % 10 == 0:
                recent = sum(losses[-10:]) / 10
                print(f"epoch {epoch} step {len(losses)}/{steps} loss {recent:.3f} "
                      f"{time.perf_counter() - started:.0f} s", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    size = write_adapter(model, out / "adapter.gguf", metadata={
        "general.name": f"pixels2posts caption LoRA of {gguf_file.stem}",
        "general.license": "research/demo use only: trained on captions of H&M photos (non-commercial data)"})
    report = {"pairs": len(items), "epochs": epochs, "batch_size": batch_size, "rank": rank, "alpha": alpha,
              "top_layers": top_layers, "lr": lr, "trainable_parameters": trainable, "steps": steps,
              "seconds": round(time.perf_counter() - started), "first_loss": losses[0] if losses else None,
              "last_loss_mean10": sum(losses[-10:]) / max(1, len(losses[-10:])), "adapter_bytes": size,
              "base": gguf_file.name}
    (out / "train.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return report


def main(argv: Sequence[str] | None = None) -> None:
    from shared.settings import get_settings
    from workers.language.local_llm import gguf_path

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--gguf", type=Path, default=None, help="Base model (default: the embedded model's file).")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--alpha", type=float, default=16.0)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--top-layers", type=int, default=12, help="LoRA on the last N layers only (0: all).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="Pairs used (default: all).")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default).")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    base = args.gguf or gguf_path(get_settings())
    report = train(args.pairs, args.out, base, epochs=args.epochs, batch_size=args.batch_size, rank=args.rank,
                   alpha=args.alpha, lr=args.lr, seed=args.seed,
                   top_layers=args.top_layers or None, limit=args.limit)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
