"""Images/s through real vision worker processes vs the same pipeline in-process, batched vs unbatched, 1 vs 2 workers.

Starts a private Redis and, per configuration, `pixels2posts worker vision` processes (threads pool, the same
command as production); enqueues N jobs straight onto the vision queue (the API is not what is measured) and
times until the last job is handed to the language stage (its outbox stamp; the workers' Prometheus counters,
polled every 0.5 s, say when all are done). `in-process` runs the same
decode + MicroBatcher + pipeline in this process, without Celery and Redis: the worker's queue overhead is the
gap to it. `two-workers` starts two processes that split the cores (one ORT thread each). Prints one table; its
`CPU ms / img` is the processes' own CPU time per image (steadier than img/s on a shared machine).
`P2P_BENCH_PYSPY=/path/to/py-spy` also samples each ready worker while the jobs run (see `_profilers`).

    python bench/vision_worker.py --images ../shared/data/colorful-fashion/test/images --jobs 128
    python bench/vision_worker.py --stage-class tests.support.stand_in_vision:MeanColourPipeline  # no models
"""

from __future__ import annotations

import argparse
import io
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

import httpx
from PIL import Image

from pixels2posts.services import start_redis, stop_redis
from shared.blobs import BlobStore
from shared.celery_config import VISION_TASK, create_app
from shared.ports import free_port
from shared.settings import Settings, get_settings
from shared.store import JobStore, NewJob, migrate

REPO = Path(__file__).resolve().parent.parent
POLL_S = 0.5


def photos(folder: Path | None, count: int) -> list[bytes]:
    if folder is not None:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:count]
        if not files:
            raise SystemExit(f"no images in {folder}")
        return [files[i % len(files)].read_bytes() for i in range(count)]
    out = []
    for i in range(count):
        buffer = io.BytesIO()
        Image.new("RGB", (400, 600), (40 + i * 37 % 200, 40 + i * 91 % 200, 40 + i * 53 % 200)).save(buffer, "JPEG")
        out.append(buffer.getvalue())
    return out


def metric_sum(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M))


def run_config(label: str, batch_size: int, wait_ms: int, concurrency: int, images: list[bytes],
               redis_url: str, work: Path, stage_class: str | None, workers: int = 1,
               extra_env: dict[str, str] | None = None, server_url: str | None = None,
               ) -> dict[str, float | str | int]:
    with _job_store(label, work, server_url) as db:
        return _run_config(label, batch_size, wait_ms, concurrency, images, redis_url, work, stage_class, workers,
                           extra_env, db)


@contextmanager
def _job_store(label: str, work: Path, server_url: str | None) -> Iterator[str]:
    """A fresh job store per configuration (the same photos would otherwise be jobs that already finished): a
    SQLite file, or with `server_url` (PostgreSQL) a database created for the run and dropped after it."""
    if server_url is None:
        yield f"sqlite:///{work / f'{label}.db'}"
        return
    import sqlalchemy

    name = f"p2p_bench_{label.replace('-', '_')}_{os.getpid()}"
    server = sqlalchemy.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    try:
        yield server.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:  # FORCE: this process's pooled connections to it go too
            connection.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        server.dispose()


def _run_config(label: str, batch_size: int, wait_ms: int, concurrency: int, images: list[bytes], redis_url: str,
                work: Path, stage_class: str | None, workers: int, extra_env: dict[str, str] | None,
                db: str) -> dict[str, float | str | int]:
    migrate(db)
    metrics_ports = [free_port() for _ in range(workers)]
    env = {**os.environ, "P2P_BROKER_URL": redis_url, "P2P_DATABASE_URL": db,
           "P2P_BLOB_DIR": str(work / "blobs"), "P2P_BATCH_SIZE": str(batch_size),
           "P2P_BATCH_WAIT_MS": str(wait_ms), **(extra_env or {})}
    settings = Settings(broker_url=redis_url, database_url=db, blob_dir=work / "blobs")
    app = create_app(settings)
    processes = []
    for n, metrics_port in enumerate(metrics_ports):
        argv = [sys.executable, "-m", "pixels2posts", "worker", "vision", "-c", str(concurrency),
                "--metrics-port", str(metrics_port), "--metrics-host", "127.0.0.1", "-n", f"bench-{label}-{n}@%h",
                "--loglevel", "WARNING"]
        if stage_class:
            argv += ["--stage-class", stage_class]
        with (work / f"{label}-{n}.log").open("wb") as log:
            processes.append(subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO))
    try:
        for n, worker in enumerate(processes):
            _wait_ready(app, f"bench-{label}-{n}@", worker, work / f"{label}-{n}.log")
        profilers = _profilers(label, processes)
        store, blobs = JobStore(db), BlobStore(work / "blobs")
        jobs = []
        for index, data in enumerate(images):
            ref = blobs.put(data)
            job, _ = store.create_or_get(NewJob(ref.removeprefix("blob:"), ref, sku=f"{label}-{index}"))
            jobs.append(job)
        urls = [f"http://127.0.0.1:{port}/metrics" for port in metrics_ports]
        cpu_before = _cpu_seconds(urls)
        started = time.time()
        for job in jobs:
            app.send_task(VISION_TASK, args=[job.id, job.image_ref, {}, time.time()], task_id=f"{job.id}.vision")
        while True:
            # a scrape costs the worker CPU (and this process's polling takes a core's share): poll seldom, and
            # take the end from the store, where each hand-off is stamped
            time.sleep(POLL_S)
            text = "\n".join(httpx.get(url).text for url in urls)
            if metric_sum(text, "p2p_jobs_total") >= len(jobs):
                break
        seconds = _last_hand_off(db) - started
        cpu = _cpu_seconds(urls) - cpu_before
        _stop_profilers(profilers)
        batches = metric_sum(text, "p2p_vision_batch_size_count")
        return {"config": label, "workers": workers, "batch": batch_size, "wait_ms": wait_ms,
                "threads": concurrency, "images": len(jobs), "seconds": seconds, "img_s": len(jobs) / seconds,
                "cpu_ms": 1000 * cpu / len(jobs),
                "mean_batch": metric_sum(text, "p2p_vision_batch_size_sum") / max(batches, 1),
                "failed": int(_failed(text))}
    finally:
        for worker in processes:
            worker.terminate()
        for worker in processes:
            worker.wait(60)
        app.control.purge()


def _last_hand_off(db: str) -> float:
    """When the last job was handed to the language stage (its outbox message's stamp), as a Unix time."""
    import sqlalchemy

    from shared.store.models import OutboxMessage

    engine = sqlalchemy.create_engine(db)
    try:
        with engine.connect() as connection:
            last = connection.execute(sqlalchemy.select(sqlalchemy.func.max(OutboxMessage.created_at))).scalar_one()
    finally:
        engine.dispose()
    if last is None:
        raise SystemExit("the workers counted every job, but none was handed to the language stage: see their logs")
    if last.tzinfo is None:  # SQLite keeps the UTC stamp without its zone
        last = last.replace(tzinfo=UTC)
    return float(last.timestamp())


def in_process(label: str, batch_size: int, wait_ms: int, images: list[bytes], stage_class: str | None,
               extra_env: dict[str, str]) -> dict[str, float | str | int]:
    """The same batches without Celery/Redis: decode + the MicroBatcher over the pipeline, in this process."""
    from shared.images import decode_image
    from workers.batching import MicroBatcher
    from workers.runtime import import_stage_class

    update = {"batch_size": batch_size, "batch_wait_ms": wait_ms,
              **{k.removeprefix("P2P_").lower(): int(v) for k, v in extra_env.items()}}
    settings = get_settings().model_copy(update=update)
    if str(REPO) not in sys.path:  # a stage class from the checkout (tests.support...), as the workers see it (cwd)
        sys.path.insert(0, str(REPO))
    pipeline = import_stage_class(stage_class or "workers.vision.pipeline:VisionPipeline")(settings)
    side = getattr(pipeline, "min_side", None)
    sizes: list[int] = []
    pipeline.evidence_batch([decode_image(images[0], min_side=side)])  # warm-up: sessions load
    batcher = MicroBatcher(pipeline.evidence_batch, max_size=batch_size, max_wait_s=wait_ms / 1000,
                           runners=settings.vision_batch_workers, on_batch=lambda size, _s: sizes.append(size))
    cpu_before = time.process_time()
    started = time.perf_counter()
    futures = [batcher.submit(decode_image(data, min_side=side)) for data in images]
    for future in futures:
        future.result(timeout=600)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    batcher.close()
    return {"config": label, "workers": 0, "batch": batch_size, "wait_ms": wait_ms, "threads": 0,
            "images": len(images), "seconds": seconds, "img_s": len(images) / seconds,
            "cpu_ms": 1000 * cpu / len(images),
            "mean_batch": sum(sizes) / max(len(sizes), 1), "failed": 0}


def _profilers(label: str, workers: list[subprocess.Popen[bytes]]) -> list[subprocess.Popen[bytes]]:
    """`P2P_BENCH_PYSPY=/path/to/py-spy`: sample each ready worker (all its threads) while the jobs run, into
    `$P2P_BENCH_PROFILE_DIR/<config>-<n>.txt` (collapsed stacks); start-up is not in it."""
    pyspy = os.environ.get("P2P_BENCH_PYSPY")
    if not pyspy:
        return []
    out = Path(os.environ.get("P2P_BENCH_PROFILE_DIR", tempfile.gettempdir()))
    # P2P_BENCH_PYSPY_MODE: busy (threads on CPU, default), idle (waits too), gil (only the GIL's holder)
    mode = os.environ.get("P2P_BENCH_PYSPY_MODE", "busy")
    which = {"busy": ["--threads"], "idle": ["--threads", "--idle"], "gil": ["--gil"]}[mode]
    profilers = [subprocess.Popen([pyspy, "record", "--pid", str(worker.pid), *which, "--rate", "200",
                                   "--format", "raw", "--output", str(out / f"{label}-{n}.txt")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for n, worker in enumerate(workers)]
    time.sleep(1.0)  # attached before the first job is sent
    return profilers


def _stop_profilers(profilers: list[subprocess.Popen[bytes]]) -> None:
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
    for profiler in profilers:
        profiler.wait(60)


def _cpu_seconds(urls: list[str]) -> float:
    """CPU time of the worker processes so far (all their threads, ONNX Runtime's included)."""
    return sum(metric_sum(httpx.get(url).text, "process_cpu_seconds_total") for url in urls)


def _failed(text: str) -> float:
    match = re.search(r'^p2p_jobs_total{outcome="failed",stage="vision"} ([0-9.e+]+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def _wait_ready(app: object, prefix: str, worker: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"the worker exited:\n{log.read_text()[-3000:]}")
        replies = app.control.ping(timeout=1.0)  # type: ignore[attr-defined]
        if any(name.startswith(prefix) for reply in replies for name in reply):
            return
    raise SystemExit("the worker did not answer a ping within 180s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=None, help="folder of photos (default: synthetic)")
    parser.add_argument("--jobs", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--wait-ms", type=int, default=50)
    parser.add_argument("--stage-class", default=None, help="module:Class instead of the real VisionPipeline")
    parser.add_argument("--configs", default="in-process,unbatched,batched,two-workers")
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL server URL: each configuration's job store is a database created on it "
                             "(default: a SQLite file per configuration)")
    args = parser.parse_args()
    images = photos(args.images, args.jobs)
    defaults = get_settings()
    # the worker's layout from the settings; two workers split the cores between them
    one = {"P2P_VISION_BATCH_WORKERS": str(defaults.vision_batch_workers),
           "P2P_ORT_INTRA_THREADS": str(defaults.ort_intra_threads)}
    half = {"P2P_VISION_BATCH_WORKERS": "1", "P2P_ORT_INTRA_THREADS": str(max(1, (os.cpu_count() or 2) // 2))}
    threads = defaults.vision_concurrency
    store = "SQLite" if args.database_url is None else "PostgreSQL"
    print(f"# {len(images)} jobs, batch {args.batch_size}, wait {args.wait_ms} ms; worker layout {one}; {store}; "
          f"{os.cpu_count()} CPUs, load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}\n")
    with tempfile.TemporaryDirectory(prefix="p2p-bench-") as tmp:
        work = Path(tmp)
        port = free_port()
        redis = start_redis(port, work / "redis")
        runs = {
            "in-process": lambda: in_process("in-process", args.batch_size, args.wait_ms, images, args.stage_class,
                                             one),
            "unbatched": lambda: run_config("unbatched", 1, 0, 1, images, redis.url, work, args.stage_class,
                                            extra_env={**one, "P2P_VISION_BATCH_WORKERS": "1"},
                                            server_url=args.database_url),
            "batched": lambda: run_config("batched", args.batch_size, args.wait_ms, threads, images, redis.url,
                                          work, args.stage_class, extra_env=one, server_url=args.database_url),
            "two-workers": lambda: run_config("two-workers", args.batch_size, args.wait_ms, threads, images,
                                              redis.url, work, args.stage_class, workers=2, extra_env=half,
                                              server_url=args.database_url),
        }
        try:
            rows = [runs[name]() for name in args.configs.split(",")]
        finally:
            stop_redis(port, work / "redis")
    reference = {str(row["config"]): float(row["img_s"]) for row in rows}
    print("| config | workers | batch | wait ms | threads | images | seconds | img/s | CPU ms / img | mean batch "
          "| failed | vs unbatched | vs in-process |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        img_s = float(row["img_s"])
        versus = [f"{img_s / reference[name]:.2f}" if name in reference else "" for name in ("unbatched", "in-process")]
        print(f"| {row['config']} | {row['workers']} | {row['batch']} | {row['wait_ms']} | {row['threads']} "
              f"| {row['images']} | {float(row['seconds']):.2f} | {img_s:.1f} | {float(row['cpu_ms']):.0f} "
              f"| {float(row['mean_batch']):.2f} "
              f"| {row['failed']} | {versus[0]} | {versus[1]} |")


if __name__ == "__main__":
    main()
