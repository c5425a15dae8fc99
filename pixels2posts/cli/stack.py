"""`pixels2posts worker vision|language`, `pixels2posts api`, and the local stack `up` / `down`.

`up` starts a private Redis (unless P2P_BROKER_URL names one), the embedded LLM server (when installed and no
P2P_LLM_BASE_URL is configured), one vision worker, one language worker, the API on 127.0.0.1:8000 and Flower
on 127.0.0.1:5555 (basic auth, generated credentials printed). Logs go to <data_dir>/logs, PIDs and the
stack's state to <data_dir>/run; `down` stops all of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
import httpx

from pixels2posts.services import alive, start_redis, stop_redis
from shared.celery_config import SOFT_SHUTDOWN_S
from shared.settings import ENV_PREFIX, Settings, get_settings

REDIS_PORT = 6380
LLM_PORT = 8081
# stopped in this order; the processes of one step together (new jobs stop first, the LLM last)
STOP_STEPS = (("api", "flower"), ("vision", "language"), ("llm",))
STOP_ORDER = tuple(name for step in STOP_STEPS for name in step)
# a worker's SIGTERM becomes Celery's soft shutdown (as in Kubernetes): running tasks get SOFT_SHUTDOWN_S,
# then their messages go back to the queue instead of waiting for the visibility timeout
WORKER_ENV = {"REMAP_SIGTERM": "SIGQUIT"}
STATE_FILE = "stack.json"


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pixels2posts", *args]


@click.command()
@click.argument("stage", type=click.Choice(["vision", "language"]))
@click.option("--concurrency", "-c", type=int, default=None,
              help="Threads (default P2P_VISION_CONCURRENCY or P2P_LANGUAGE_CONCURRENCY).")
@click.option("--metrics-port", type=int, default=None, help="Prometheus port (default P2P_METRICS_PORT).")
@click.option("--metrics-host", default="0.0.0.0", show_default=True, help="Prometheus bind address.")
@click.option("--hostname", "-n", default=None, help="Celery node name (default STAGE@%h).")
@click.option("--stage-class", default=None, hidden=True, help="module:Class replacing the stage (tests, bench).")
@click.option("--loglevel", default="INFO", show_default=True)
def worker(stage: str, concurrency: int | None, metrics_port: int | None, metrics_host: str,
           hostname: str | None, stage_class: str | None, loglevel: str) -> None:
    """Run a Celery worker of one stage (threads pool; models load once, before consuming)."""
    from workers import runtime
    from workers.celery_app import app
    from workers.metrics import serve_metrics

    settings = get_settings()
    if stage == "vision":
        runtime.install(runtime.start_vision(settings, stage_class))
        threads = concurrency or settings.vision_concurrency
        queue = settings.vision_queue
    else:
        runtime.install(runtime.start_language(settings, stage_class))
        threads = concurrency or settings.language_concurrency
        queue = settings.language_queue
    from workers.reliability import for_process

    for_process(settings, runtime.current().store, app)  # lease heartbeat + relay/reconciler from the start
    serve_metrics(metrics_port if metrics_port is not None else settings.metrics_port, metrics_host)
    # prefetch: enough reserved messages that the batcher can fill while the previous batch runs
    app.worker_main([
        "worker", "-Q", queue, "-P", "threads", "-c", str(threads), "--prefetch-multiplier", "2",
        "-n", hostname or f"{stage}@%h", "-E", "--without-gossip", "--without-mingle", "--loglevel", loglevel,
    ])


@click.command()
@click.option("--host", default=None, help="Bind address (default P2P_API_HOST).")
@click.option("--port", type=int, default=None, help="Port (default P2P_API_PORT).")
def api(host: str | None, port: int | None) -> None:
    """Serve the producer HTTP API (uvicorn)."""
    import uvicorn

    from producer.api import create_app

    settings = get_settings()
    uvicorn.run(create_app(settings), host=host or settings.api_host, port=port or settings.api_port,
                log_level=settings.log_level.lower())


@click.command()
@click.option("--wait-s", type=float, default=180.0, show_default=True, help="How long to wait for readiness.")
@click.option("--redis-port", type=int, default=REDIS_PORT, show_default=True, help="Port of the private Redis.")
@click.option("--llm-port", type=int, default=LLM_PORT, show_default=True, help="Port of the embedded LLM.")
@click.option("--vision-stage-class", default=None, hidden=True, help="module:Class replacing the vision stage.")
def up(wait_s: float, redis_port: int, llm_port: int, vision_stage_class: str | None) -> None:
    """Start the whole local stack in the background and print where everything is.

    Worker metrics are served on P2P_METRICS_PORT + 1 (vision) and + 2 (language)."""
    settings = get_settings()
    run_dir, log_dir = _dirs(settings)
    if _read_state(run_dir):
        raise click.ClickException("the stack is already up (or was not stopped): run `pixels2posts down` first")
    env, state = _stack_env(settings, run_dir, redis_port, llm_port)
    _write_state(run_dir, state)
    if state["llm_started"]:
        from workers.language.local_llm import beside_workers, local_llm_command

        served = settings.model_copy(update={"llm_model": env.get(f"{ENV_PREFIX}LLM_MODEL", settings.llm_model)})
        _spawn("llm", local_llm_command(llm_port, beside_workers(served)), env, run_dir, log_dir)
    vision_metrics, language_metrics = settings.metrics_port + 1, settings.metrics_port + 2
    extra = ["--stage-class", vision_stage_class] if vision_stage_class else []
    _spawn("vision", _cli("worker", "vision", "--metrics-port", str(vision_metrics), "--metrics-host",
                          "127.0.0.1", *extra), {**env, **WORKER_ENV}, run_dir, log_dir)
    _spawn("language", _cli("worker", "language", "--metrics-port", str(language_metrics),
                            "--metrics-host", "127.0.0.1"), {**env, **WORKER_ENV}, run_dir, log_dir)
    _spawn("api", _cli("api", "--host", "127.0.0.1", "--port", str(settings.api_port)), env, run_dir, log_dir)
    _spawn("flower", [sys.executable, "-m", "celery", "-A", "workers.celery_app", "flower",
                      "--address=127.0.0.1", f"--port={settings.flower_port}",
                      f"--basic-auth={state['flower_auth']}"], env, run_dir, log_dir)
    api_url = f"http://127.0.0.1:{settings.api_port}"
    if state["llm_started"]:
        _wait_http(f"{state['llm_base_url']}/models", wait_s, run_dir, log_dir)
    _wait_http(f"{api_url}/healthz", wait_s, run_dir, log_dir)
    _wait_http(f"http://127.0.0.1:{settings.flower_port}/healthcheck", wait_s, run_dir, log_dir)
    click.echo(f"API      {api_url}  (docs {api_url}/docs)\n"
               f"API key  {state['api_key']}  (also in {run_dir / 'api-key'})\n"
               f"Flower   http://127.0.0.1:{settings.flower_port}  user:password {state['flower_auth']}\n"
               f"Metrics  {api_url}/metrics, vision :{vision_metrics}, language :{language_metrics}\n"
               f"Broker   {state['broker_url']}\nDatabase {state['database_url']}\n"
               f"LLM      {state['llm_base_url']}\nLogs     {log_dir}\nStop with: pixels2posts down")


@click.command()
def down() -> None:
    """Stop everything `up` started (workers finish or hand back their tasks first: about 30 s)."""
    settings = get_settings()
    run_dir, _ = _dirs(settings)
    state = _read_state(run_dir)
    stopped = [name for step in STOP_STEPS for name in _stop(run_dir, step)]
    if state.get("redis_started") and stop_redis(int(state["redis_port"]), run_dir):
        stopped.append("redis")
    (run_dir / STATE_FILE).unlink(missing_ok=True)
    click.echo(f"stopped: {', '.join(stopped) or 'nothing was running'}")


def _dirs(settings: Settings) -> tuple[Path, Path]:
    data_dir = settings.data_dir.resolve()
    run_dir, log_dir = data_dir / "run", data_dir / "logs"
    run_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    return run_dir, log_dir


def _stack_env(
    settings: Settings, run_dir: Path, redis_port: int, llm_port: int
) -> tuple[dict[str, str], dict[str, Any]]:
    """The environment every process of the stack shares, and the state `down` needs."""
    from producer.auth import new_api_key
    from shared.security import weak_secret
    from shared.store import migrate

    configured = os.environ
    redis_started = f"{ENV_PREFIX}BROKER_URL" not in configured
    broker_url = start_redis(redis_port, run_dir, persist=True).url if redis_started else settings.broker_url
    database_url = settings.database_url
    if f"{ENV_PREFIX}DATABASE_URL" not in configured:
        database_url = f"sqlite:///{(settings.data_dir.resolve() / 'pixels2posts.db')}"
    migrate(database_url)
    api_key, digest = new_api_key()
    (run_dir / "api-key").touch(mode=0o600)
    (run_dir / "api-key").write_text(api_key + "\n")
    flower_auth = settings.flower_basic_auth or f"admin:{secrets.token_urlsafe(12)}"
    llm_started = f"{ENV_PREFIX}LLM_BASE_URL" not in configured and _local_llm_available()
    llm_base_url = f"http://127.0.0.1:{llm_port}/v1" if llm_started else settings.llm_base_url
    env = {
        **configured,
        f"{ENV_PREFIX}BROKER_URL": broker_url,
        f"{ENV_PREFIX}DATABASE_URL": database_url,
        f"{ENV_PREFIX}API_KEYS": ",".join(filter(None, [settings.api_keys, digest])),
        f"{ENV_PREFIX}BLOB_DIR": str(settings.blob_dir.resolve()),
        f"{ENV_PREFIX}DATA_DIR": str(settings.data_dir.resolve()),
        f"{ENV_PREFIX}LLM_BASE_URL": llm_base_url,
    }
    if weak_secret(settings.webhook_secret):  # callbacks need a real secret: a fresh one per local stack
        env[f"{ENV_PREFIX}WEBHOOK_SECRET"] = secrets.token_hex(32)
    if llm_started and f"{ENV_PREFIX}LLM_MODEL" not in configured:
        from workers.language.local_llm import embedded_name

        # the name the embedded server answers under and results record: the model, and its LoRA adapter if any
        env[f"{ENV_PREFIX}LLM_MODEL"] = embedded_name(settings)
    state = {"broker_url": broker_url, "redis_started": redis_started, "redis_port": redis_port,
             "database_url": database_url,
             "api_key": api_key, "flower_auth": flower_auth, "llm_started": llm_started,
             "llm_base_url": llm_base_url}
    return env, state


def _local_llm_available() -> bool:
    try:
        from workers.language.local_llm import local_llm_available
    except ImportError:
        return False
    return local_llm_available()


def _spawn(name: str, argv: list[str], env: dict[str, str], run_dir: Path, log_dir: Path) -> None:
    with (log_dir / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    (run_dir / f"{name}.pid").write_text(str(process.pid))


def _wait_http(url: str, wait_s: float, run_dir: Path, log_dir: Path) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        for pid_file in run_dir.glob("*.pid"):
            if pid_file.stem in STOP_ORDER and not alive(int(pid_file.read_text())):
                raise click.ClickException(
                    f"{pid_file.stem} exited during start; see {log_dir / (pid_file.stem + '.log')} "
                    "and run `pixels2posts down`"
                )
        time.sleep(0.5)
    raise click.ClickException(f"{url} not ready after {wait_s}s; see {log_dir} and run `pixels2posts down`")


def _stop(run_dir: Path, names: tuple[str, ...], wait_s: float = SOFT_SHUTDOWN_S + 15) -> list[str]:
    """SIGTERM these processes' groups together; SIGKILL what is still there after wait_s. Returns the
    names that were running."""
    running: dict[str, int] = {}
    for name in names:
        pid_file = run_dir / f"{name}.pid"
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            continue
        pid_file.unlink(missing_ok=True)
        if alive(pid):
            running[name] = pid
            _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and any(alive(pid) for pid in running.values()):
        time.sleep(0.1)
    for pid in running.values():
        _signal_group(pid, signal.SIGKILL)
    return list(running)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _read_state(run_dir: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads((run_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return state


def _write_state(run_dir: Path, state: dict[str, Any]) -> None:
    path = run_dir / STATE_FILE
    path.touch(mode=0o600)
    path.write_text(json.dumps(state, indent=2))
