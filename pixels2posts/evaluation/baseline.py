"""The end-to-end baseline captioner at run time: ONNX Runtime + numpy, no torch.

`models/baseline/`: `encoder.onnx` (image [N,3,S,S] in 0..1 -> pooled features [N,F]), `decoder.onnx` (one GRU
step: features, previous token, hidden -> logits, hidden), `vocab.json` (tokens, special ids, input size).
Greedy decoding; a token that would repeat a trigram already written is skipped (a small GRU otherwise loops).
Trained by `training/baseline_captioner` (see models/baseline/MODEL_CARD.md).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "models" / "baseline"
MAX_TOKENS = 48
_TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*|[.,%]")


def tokenize(text: str) -> list[str]:
    """Lower-case words and the punctuation the descriptions use (the same rule in training and at run time)."""
    return _TOKEN.findall(text.lower())


def detokenize(tokens: list[str]) -> str:
    text = " ".join(tokens)
    text = re.sub(r" ([.,%])", r"\1", text)
    sentences = [s.strip() for s in text.split(".") if s.strip()]
    return " ".join(s[0].upper() + s[1:] + "." for s in sentences)


def letterbox(image: Image.Image, size: int) -> np.ndarray:
    """RGB image -> [3,size,size] float32 in 0..1, aspect kept, padded white (product shots are on white)."""
    rgb = image.convert("RGB")
    scale = size / max(rgb.size)
    resized = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))),
                         Image.Resampling.BILINEAR)
    canvas = Image.new("RGB", (size, size), (255, 255, 255))
    canvas.paste(resized, ((size - resized.width) // 2, (size - resized.height) // 2))
    return np.asarray(canvas, dtype=np.float32).transpose(2, 0, 1) / 255.0


class BaselineCaptioner:
    def __init__(self, model_dir: Path | None = None, threads: int = 0) -> None:
        import onnxruntime as ort

        from shared.errors import ModelNotAvailableError

        directory = model_dir or DEFAULT_DIR
        if not (directory / "decoder.onnx").is_file():
            raise ModelNotAvailableError(f"no baseline captioner in {directory}: train it with "
                                       "`python -m training.baseline_captioner.train`")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        providers = ["CPUExecutionProvider"]
        self.encoder = ort.InferenceSession(str(directory / "encoder.onnx"), options, providers=providers)
        self.decoder = ort.InferenceSession(str(directory / "decoder.onnx"), options, providers=providers)
        meta: dict[str, Any] = json.loads((directory / "vocab.json").read_text())
        self.tokens: list[str] = meta["tokens"]
        self.bos, self.eos = int(meta["bos"]), int(meta["eos"])
        # tokens a caption never contains: padding, the start token, the stand-in for a rare word
        self.never = [i for i, token in enumerate(self.tokens) if token in ("<pad>", "<bos>", "<unk>")]
        self.size, self.hidden = int(meta["image_size"]), int(meta["hidden"])
        self.version: str = meta.get("version", "baseline")

    def features(self, images: list[Image.Image]) -> np.ndarray:
        batch = np.stack([letterbox(image, self.size) for image in images])
        return np.asarray(self.encoder.run(None, {"image": batch})[0], dtype=np.float32)

    def decode(self, features: np.ndarray, max_tokens: int = MAX_TOKENS) -> list[str]:
        """Greedy decoding of each row of `features`, trigram repeats and special tokens blocked."""
        count = features.shape[0]
        hidden = np.zeros((count, self.hidden), dtype=np.float32)
        previous = np.full((count,), self.bos, dtype=np.int64)
        written: list[list[int]] = [[] for _ in range(count)]
        done = np.zeros(count, dtype=bool)
        for _ in range(max_tokens):
            logits, hidden = self.decoder.run(None, {"features": features, "token": previous, "hidden": hidden})
            logits[:, self.never] = -np.inf
            choice = np.empty(count, dtype=np.int64)
            for row in range(count):
                order = np.argsort(-logits[row])
                choice[row] = next((int(t) for t in order[:20] if not _repeats(written[row], int(t))), int(order[0]))
                if not done[row]:
                    if choice[row] == self.eos:
                        done[row] = True
                    else:
                        written[row].append(int(choice[row]))
            previous = choice
            if done.all():
                break
        return [detokenize([self.tokens[t] for t in row]) for row in written]

    def caption_images(self, images: list[Image.Image]) -> list[str]:
        return self.decode(self.features(images))

    def caption_file(self, path: Path) -> str:
        from shared.images import load_image

        decoded = load_image(path)
        return self.caption_images([Image.fromarray(decoded.rgb)])[0]


def _repeats(written: list[int], token: int) -> bool:
    if len(written) < 2:
        return False
    candidate = (written[-2], written[-1], token)
    return any(tuple(written[i : i + 3]) == candidate for i in range(len(written) - 2))


def echo_captions(images: tuple[Path, ...], as_json: bool) -> None:
    """`pixels2posts caption --system baseline`: the baseline's caption of each photo (no evidence, no hashtags)."""
    import click

    if not images:
        raise click.UsageError("--system baseline captions photos (IMAGE...), not evidence packs")
    model = BaselineCaptioner()
    results = [{"image": str(path), "caption": model.caption_file(path), "system": "baseline",
                "model": model.version} for path in images]
    if as_json:
        click.echo(json.dumps(results[0] if len(results) == 1 else results, indent=2))
        return
    for result in results:
        click.echo(f"{result['image']}\n  {result['caption']}\n  by {result['model']} (no evidence, no hashtags)")
