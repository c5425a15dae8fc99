"""`pixels2posts doctor`: check each part the system needs and say how to fix what is missing."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from shared.settings import Settings, get_settings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_model(name: str, path: Path, *, required: bool = True) -> Check:
    if not path.is_file():
        if not required:
            return Check(name, True, f"{path} absent (optional)")
        return Check(name, False, f"{path} not found", "run `pixels2posts models list` and set the P2P_*_PATH setting")
    try:
        import onnxruntime as ort

        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # any load failure is the finding
        return Check(name, False, f"{path} does not load: {exc}", "re-export the model")
    return Check(name, True, f"{path} ({path.stat().st_size / 1e6:.1f} MB)")


def check_index(settings: Settings) -> Check:
    from workers.vision.pipeline import BUNDLED_INDEX

    folder = settings.index_dir or settings.models_dir / BUNDLED_INDEX
    if not (folder / "manifest.json").is_file():
        return Check("product index", False, f"no manifest.json in {folder}", "run `pixels2posts index build CATALOG`")
    return Check("product index", True, str(folder))


def check_onnxruntime(settings: Settings) -> Check:
    if importlib.util.find_spec("onnxruntime") is None:
        return Check("onnxruntime", False, "not installed", "pip install 'pixels2posts[cpu]' (or [gpu])")
    import onnxruntime as ort

    from shared.onnx_session import choose_providers

    available = ort.get_available_providers()
    try:
        chosen = choose_providers(settings.ort_providers, available)
    except Exception as exc:
        return Check("onnxruntime", False, str(exc), "install onnxruntime-gpu or set P2P_ORT_PROVIDERS=cpu")
    return Check("onnxruntime", True, f"{ort.__version__}, providers {chosen}")


def reachable(name: str, target: str, probe: Callable[[], object], fix: str) -> Check:
    """A service check: `probe()` reaches the service at `target`; any error it raises is what the user sees."""
    try:
        probe()
    except Exception as exc:
        return Check(name, False, f"{target}: {exc}", fix)
    return Check(name, True, target)


def check_redis(settings: Settings) -> Check:
    import redis

    return reachable(
        "redis broker", settings.broker_url,
        lambda: redis.Redis.from_url(settings.broker_url, socket_connect_timeout=2).ping(),
        "run `pixels2posts up` (starts a private Redis) or set P2P_BROKER_URL",
    )


def check_database(settings: Settings) -> Check:
    import sqlalchemy

    def select_one() -> None:
        engine = sqlalchemy.create_engine(settings.database_url)
        try:
            with engine.connect() as connection:
                connection.execute(sqlalchemy.text("SELECT 1"))
        finally:
            engine.dispose()

    return reachable(
        "result store", settings.database_url, select_one,
        "set P2P_DATABASE_URL (PostgreSQL or sqlite:///path); `pixels2posts up` creates the SQLite default",
    )


def check_llm(settings: Settings) -> Check:
    import httpx

    url = settings.llm_base_url.rstrip("/") + "/models"
    return reachable(
        "llm endpoint", url,
        lambda: httpx.get(url, timeout=3, headers={"Authorization": f"Bearer {settings.llm_api_key}"})
        .raise_for_status(),
        "run `pixels2posts up` (starts the embedded LLM) or set P2P_LLM_BASE_URL/P2P_LLM_MODEL/P2P_LLM_API_KEY",
    )


def model_checks(settings: Settings) -> list[Callable[[], Check]]:
    from workers.vision.detector import BUNDLED_DETECTOR
    from workers.vision.embedder import IMAGE_ONNX, TEXT_ONNX

    detector = settings.model_file(settings.detector_path, BUNDLED_DETECTOR)
    image_tower = settings.model_file(settings.clip_image_path, IMAGE_ONNX)
    text_tower = settings.model_file(settings.clip_text_path, TEXT_ONNX)
    return [
        lambda: check_model("detector", detector),
        lambda: check_model("clip image tower", image_tower),
        # retrieval is image-to-image: the text tower is only for text queries
        lambda: check_model("clip text tower", text_tower, required=False),
        lambda: check_index(settings),
    ]


def run_checks(settings: Settings) -> list[Check]:
    probes: list[Callable[[], Check]] = [lambda: check_onnxruntime(settings), *model_checks(settings)]
    probes += [lambda: check_redis(settings), lambda: check_database(settings), lambda: check_llm(settings)]
    return [probe() for probe in probes]


@click.command()
def doctor() -> None:
    """Check models, Redis, the result store and the LLM endpoint; say what is missing and how to fix it."""
    checks = run_checks(get_settings())
    width = max(len(check.name) for check in checks)
    for check in checks:
        mark = "ok     " if check.ok else "MISSING"
        detail = check.detail.splitlines()[0] if check.detail else ""
        click.echo(f"{mark} {check.name:<{width}}  {detail}")
        if not check.ok and check.fix:
            click.echo(f"        {'':<{width}}  fix: {check.fix}")
    failed = [check.name for check in checks if not check.ok]
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(checks)} checks failed: {', '.join(failed)}")
    click.echo(f"all {len(checks)} checks passed")
