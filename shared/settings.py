"""All configuration, read from `P2P_*` environment variables (or a `.env` file).

This module is the single source of truth: README's settings table, `.env.example`, `docker/` and `k8s/` are checked
against it by the test suite.
"""

from __future__ import annotations

import json
import os
import sysconfig
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.vocab import GARMENT_LABELS

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "P2P_"


def bundled_models_dir() -> Path:
    """The committed models: `models/` of a source checkout, else where `pip install` put them (data files)."""
    if (REPO_ROOT / "pyproject.toml").is_file():
        return REPO_ROOT / "models"
    return Path(sysconfig.get_path("data")) / "share" / "pixels2posts" / "models"

# statement gates picked on H&M calibration products (training/tower/gates.py) for the bundled models: the one-sided
# 90 % upper bound of the contradicted share of studio calibration photos <= 2 % (`--target 0.02 --confidence 0.9`)
GATES: dict[str, float] = {"garment": 0.97, "detection": 0.7, "colour": 0.97, "gender": 0.98, "fabric": 0.95}
# the garment gate of the classes whose own gate (picked on the calibration folds, training/tower/gates.py) differs
# from GATES["garment"]; dresses, jackets and trousers, the classes the head confuses most, keep the common one
GARMENT_CLASS_GATES: dict[str, float] = {"shirt": 0.85, "shoe": 0.0, "shorts": 0.85, "hat": 0.93, "bag": 0.5,
                                         "sunglass": 0.85, "skirt": 0.95}
# the garment gates of scene photos (not on a studio backdrop: workers/vision/backdrop.py), picked on the scene
# photos of the calibration folds (training/tower/gates.py); their other gates are the studio ones above
SCENE_GARMENT_GATE = 0.7
SCENE_GARMENT_CLASS_GATES: dict[str, float] = {"shirt": 0.6, "shorts": 0.6, "hat": 0.6, "dress": 0.6}
# the settings update that states everything the models answered (the evaluation's "ungated" row, the gate picking)
UNGATED: dict[str, object] = {**{f"gate_{name}": 0.0 for name in GATES}, "gate_garment_classes": {},
                              "gate_scene_garment": 0.0, "gate_scene_garment_classes": {}}

VISION_QUEUE = "vision"
LANGUAGE_QUEUE = "language"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    # --- services ---
    broker_url: str = Field("redis://127.0.0.1:6380/0", description="Celery broker (Redis).")
    result_backend_url: str = Field("", description="Celery result backend; empty means the broker URL.")
    database_url: str = Field(
        "sqlite:///var/pixels2posts.db", description="Job/result store (SQLAlchemy URL: SQLite or PostgreSQL)."
    )
    data_dir: Path = Field(Path("var"), description="Where local state lives: blobs, logs, PIDs, the SQLite file.")
    blob_dir: Path = Field(Path("var/blobs"), description="Uploaded images (a shared volume in Kubernetes).")

    # --- queues and batching ---
    vision_queue: str = Field(VISION_QUEUE, description="Celery queue of the vision stage.")
    language_queue: str = Field(LANGUAGE_QUEUE, description="Celery queue of the language stage.")
    batch_size: int = Field(8, ge=1, le=256, description="Most images one vision batch runs together.")
    batch_wait_ms: int = Field(50, ge=0, le=10_000, description="How long a vision batch waits to fill.")
    vision_concurrency: int = Field(
        24, ge=1, le=512,
        description="Task threads per vision worker; >= (batch workers + 1) x batch size, so a batch fills while "
        "the others run.",
    )
    vision_batch_workers: int = Field(
        2, ge=1, le=16, description="Vision batches one worker runs at once (CPU work overlaps the models)."
    )
    detector_batch_size: int = Field(8, ge=1, le=256, description="Most images per detector session call.")
    clip_batch_size: int = Field(32, ge=1, le=1024, description="Most crops per CLIP image-tower session call.")
    visibility_timeout_s: int = Field(
        3600, ge=60, description="Redis visibility timeout; longer than the longest task plus batching wait."
    )
    queue_limit: int = Field(1000, ge=1, description="Queue length over which the API answers 429.")
    language_concurrency: int = Field(8, ge=1, description="Concurrent LLM calls per language worker.")

    # --- models ---
    models_dir: Path = Field(bundled_models_dir(), description="Folder of the bundled models (ONNX, the LLM's LoRA).")
    detector_path: Path | None = Field(None, description="Detector ONNX file; default: the bundled one.")
    detector_conf: float = Field(0.25, ge=0.0, le=1.0, description="Detector confidence threshold.")
    detector_iou: float = Field(0.5, ge=0.0, le=1.0, description="Detector NMS IoU threshold.")
    clip_image_path: Path | None = Field(None, description="CLIP image-tower ONNX; default: the bundled one.")
    clip_text_path: Path | None = Field(None, description="CLIP text-tower ONNX; default: the bundled one.")
    index_dir: Path | None = Field(None, description="Product index folder; default: the bundled demo index.")
    index_tenant: str | None = Field(
        None, description="The tenant whose catalogue P2P_INDEX_DIR is: only its jobs' SKUs are looked up in it "
                          "(unset: every job's, a single-shop deployment).")
    garment_min_score: float = Field(
        0.35, ge=0.0, le=1.0, description="Detections below this score stay out of the evidence pack."
    )
    top_k: int = Field(10, ge=1, le=200, description="Neighbours retrieved per garment.")
    # a wrong gender or fabric in a published caption costs more than an omitted one: the thresholds sit where the
    # held-out H&M accuracy of the answered votes is above 0.93 (models/clip/MODEL_CARD.md)
    gender_min_confidence: float = Field(
        0.9, ge=0.0, le=1.0, description="Gender voted below this calibrated confidence is reported unknown."
    )
    fabric_min_confidence: float = Field(
        0.8, ge=0.0, le=1.0, description="Fabric voted below this calibrated confidence is reported unknown."
    )
    # statement gates: the last word on what the evidence pack states. Each is the least confidence at which a claim
    # is kept (garment: the tower's probability of the garment's class, or for a detection the head does not rule
    # out, the detector's score; colour: the colour namer's; gender/fabric: the attribute's), picked on H&M
    # calibration products so that published captions contradict the catalogue on few items
    # (training/tower/gates.py, models/clip/MODEL_CARD.md). 0 keeps everything the models answered.
    gate_garment: float = Field(GATES["garment"], ge=0.0, le=1.0, description="Least garment-type confidence stated.")
    gate_detection: float = Field(
        GATES["detection"], ge=0.0, le=1.0,
        description="Least detector score at which a detection the type head is unsure of (not against) is stated.")
    gate_colour: float = Field(GATES["colour"], ge=0.0, le=1.0, description="Least colour confidence stated.")
    gate_gender: float = Field(GATES["gender"], ge=0.0, le=1.0, description="Least gender confidence stated.")
    gate_fabric: float = Field(GATES["fabric"], ge=0.0, le=1.0, description="Least fabric confidence stated.")
    gate_garment_classes: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default_factory=lambda: dict(GARMENT_CLASS_GATES),
        description='The garment gate of single detector classes, over P2P_GATE_GARMENT (JSON: {"bag": 0.5}).')
    # a photo not on a studio backdrop gets garment gates of its own (the type head is calibrated differently there)
    gate_scene_garment: float = Field(
        SCENE_GARMENT_GATE, ge=0.0, le=1.0,
        description="Least garment-type confidence stated on a scene photo (not a packshot on a light backdrop).")
    gate_scene_garment_classes: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default_factory=lambda: dict(SCENE_GARMENT_CLASS_GATES),
        description="The garment gate of single detector classes on a scene photo, over P2P_GATE_SCENE_GARMENT.")
    person_mask_path: Path | None = Field(None, description="Optional DeepLabV3 TFLite person-mask model.")

    # --- ONNX Runtime ---
    ort_providers: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: CUDA when onnxruntime-gpu sees a GPU, else CPU."
    )
    ort_intra_threads: int = Field(
        0, ge=0, description="ORT intra-op threads per session (0: the CPUs / P2P_VISION_BATCH_WORKERS)."
    )
    ort_inter_threads: int = Field(0, ge=0, description="ORT inter-op threads (0: ORT's default).")
    ort_cuda_conv_algo_search: Literal["EXHAUSTIVE", "HEURISTIC", "DEFAULT"] = Field(
        "HEURISTIC",
        description="CUDA only: how cuDNN picks each convolution's algorithm. HEURISTIC ran the CLIP tower 2.3x "
        "faster than ORT's default EXHAUSTIVE on an H200 (docs/performance.md).")

    # --- images ---
    max_image_bytes: int = Field(20 * 1024 * 1024, ge=1024, description="Largest accepted image file.")
    max_image_pixels: int = Field(50_000_000, ge=1024, description="Largest accepted image (width x height).")
    fetch_timeout_s: float = Field(10.0, gt=0, description="Image URL fetch timeout.")
    fetch_max_redirects: int = Field(3, ge=0, description="Redirects followed when fetching an image URL.")

    # --- language stage ---
    llm_base_url: str = Field("http://127.0.0.1:8081/v1", description="OpenAI-compatible endpoint.")
    llm_model: str = Field("smollm2-135m-instruct", description="Model name sent to the endpoint.")
    llm_embedded_model: str = Field(
        "smollm2-135m-instruct",
        description="Embedded LLM for `up` and `caption`: smollm2-135m-instruct, gemma-3-270m or a .gguf path.",
    )
    llm_lora: str = Field(
        "bundled",
        description="LoRA adapter the embedded LLM applies: a GGUF path, `bundled` (models/llm, for the embedded "
                    "SmolLM2; models/llm/MODEL_CARD.md) or empty for none.")
    llm_api_key: str = Field("not-needed", description="API key for the endpoint.")
    llm_timeout_s: float = Field(60.0, gt=0, description="Per-request LLM timeout.")
    llm_max_retries: int = Field(3, ge=0, description="Retries on 429/5xx/timeouts (never on other 4xx).")
    llm_max_tokens: int = Field(200, ge=16, description="Most tokens the LLM may write.")
    # 0.6 with the bundled caption adapter: LLM share 0.87 / 0.88 on held-out test items against 0.74 / 0.78 for the
    # plain model at 0.3; the plain model at 0.6 does worse (0.67 / 0.71): set 0.3 with P2P_LLM_LORA= (none)
    llm_temperature: float = Field(
        0.6, ge=0.0, le=2.0, description="Sampling temperature (0.3 suits the embedded model without its adapter).")
    llm_rate_limit_per_s: float = Field(20.0, gt=0, description="Most LLM requests per second per worker.")
    llm_max_attempts: int = Field(3, ge=1, description="Generations tried before the deterministic writer.")
    llm_parallel_slots: int = Field(
        0, ge=0, le=64, description="Requests the embedded LLM runs at once: sequences of the batched server, or "
        "llama-cpp-python servers with `processes` (0: 8 sequences batched, 2 servers as processes).",
    )
    llm_server: Literal["processes", "batched"] = Field(
        "batched", description="How the embedded LLM runs requests at once: `batched` (one process, one llama.cpp "
        "context, continuous batching: workers/language/batched_llm.py) or `processes` (one llama-cpp-python server "
        "per slot behind a router).",
    )
    llm_threads: int = Field(
        0, ge=0, description="CPU threads of the embedded LLM (0: every core batched, the cores / slots as processes). "
        "Where it shares the cores, set the ones it owns: llama.cpp's threads spin at each step's barrier.",
    )
    llm_slot_context_tokens: int = Field(2048, ge=256, description="Context (prompt + answer) of each LLM slot.")
    style_copy_path: Path | None = Field(
        None, description="The shop's product descriptions (JSONL id/description, or a catalogue CSV): the nearest "
        "products' copy becomes the caption's style examples (workers/language/shop_copy.py).",
    )
    min_attribute_coverage: float = Field(0.95, ge=0.0, le=1.0, description="Coverage a caption must reach.")
    hashtags_min: int = Field(5, ge=1, description="Fewest hashtags in a result.")
    hashtags_max: int = Field(15, ge=1, description="Most hashtags in a result.")

    # --- API ---
    api_host: str = Field("127.0.0.1", description="API bind address.")
    api_port: int = Field(8000, description="API port.")
    api_keys: str = Field("", description="Comma-separated sha256 hex digests of accepted API keys.")
    webhook_secret: str = Field("change-me", description="HMAC-SHA256 key that signs webhooks.")
    allow_private_urls: bool = Field(False, description="Allow image URLs on private addresses (tests only).")
    dev_insecure: bool = Field(
        False, description="Development only: run the API without API keys and sign webhooks with a weak secret."
    )
    api_rate_limit_per_min: int = Field(600, ge=0, description="Requests per minute per API key (0: no limit).")
    max_json_bytes: int = Field(1024 * 1024, ge=1024, description="Largest accepted JSON request body.")
    min_image_side: int = Field(16, ge=1, description="Smallest accepted image width or height, in pixels.")
    api_max_decodes: int = Field(4, ge=1, description="Images the API validates at once (bounds its memory).")

    # --- reliability ---
    database_wait_s: float = Field(
        120.0, ge=0, description="How long a starting API or worker waits for an unreachable database before exiting."
    )
    job_lease_s: float = Field(
        30.0, ge=5, description="A stage's lease on a job, renewed while it runs; lapsed: the job is re-driven."
    )
    reconcile_interval_s: float = Field(10.0, gt=0, description="How often the relay/reconciler sweeps.")
    queue_wait_grace_s: float = Field(
        60.0, ge=5, description="How long a queued job waits before the reconciler checks its message exists."
    )
    job_max_deliveries: int = Field(
        5, ge=1, description="Stage deliveries before a job fails with too_many_deliveries (poison input)."
    )
    webhook_max_attempts: int = Field(12, ge=1, description="Webhook delivery rounds before it is given up.")

    # --- ops ---
    flower_port: int = Field(5555, description="Flower port.")
    flower_basic_auth: str = Field("", description="Flower user:password; generated by `up` when empty.")
    metrics_port: int = Field(9100, description="Prometheus port of a worker.")
    log_level: str = Field("INFO", description="Log level.")

    @field_validator("gate_garment_classes", "gate_scene_garment_classes")
    @classmethod
    def _known_classes(cls, gates: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(gates) - set(GARMENT_LABELS))
        if unknown:
            raise ValueError(f"no detector class {', '.join(unknown)}; the classes are {', '.join(GARMENT_LABELS)}")
        return gates

    @property
    def attribute_thresholds(self) -> dict[str, float]:
        return {"gender": self.gender_min_confidence, "fabric": self.fabric_min_confidence}

    @property
    def statement_gates(self) -> dict[str, float]:
        return {"garment": self.gate_garment, "detection": self.gate_detection, "colour": self.gate_colour,
                "gender": self.gate_gender, "fabric": self.gate_fabric,
                **{f"garment:{label}": gate for label, gate in self.gate_garment_classes.items()}}

    def statement_gates_for(self, backdrop: str | None) -> dict[str, float]:
        """The gates of a photo's backdrop: a scene photo's own garment gates, the rest the studio ones."""
        if backdrop != "scene":
            return self.statement_gates
        shared = {name: gate for name, gate in self.statement_gates.items() if not name.startswith("garment")}
        return {**shared, "garment": self.gate_scene_garment,
                **{f"garment:{label}": gate for label, gate in self.gate_scene_garment_classes.items()}}

    @property
    def ort_threads_per_session(self) -> int:
        """Intra-op threads of each ONNX Runtime session: the CPUs shared out between the batches that run at
        once (two single-threaded batches beat one two-threaded batch on a small CPU: docs/performance.md)."""
        if self.ort_intra_threads:
            return self.ort_intra_threads
        return max(1, len(os.sched_getaffinity(0)) // self.vision_batch_workers)

    @property
    def celery_result_backend(self) -> str:
        return self.result_backend_url or self.broker_url

    def model_file(self, configured: Path | None, bundled: str) -> Path:
        """The configured model file, else the bundled one under `models_dir`."""
        return configured if configured is not None else self.models_dir / bundled


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def settings_reference() -> list[tuple[str, str, str]]:
    """(env variable, default, description) for every setting: the source of README's table and `.env.example`."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if isinstance(default, dict):
            shown = json.dumps(default, separators=(",", ":"))  # as the variable takes it
        else:
            shown = "" if default is None else str(default.relative_to(REPO_ROOT) if _under_repo(default) else default)
        rows.append((f"{ENV_PREFIX}{name.upper()}", shown, field.description or ""))
    return rows


def _under_repo(value: object) -> bool:
    return isinstance(value, Path) and value.is_absolute() and value.is_relative_to(REPO_ROOT)
