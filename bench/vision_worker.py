"""Images/s through a real vision worker process, batched across jobs vs unbatched.

Starts a private Redis and, per configuration, one `pixels2posts worker vision` process (threads pool, the
same command as production); enqueues N jobs straight onto the vision queue (the API is not what is measured)
and times until the worker has finished all of them (its own Prometheus counters). Prints one table with
the ratio to the unbatched run.

    python bench/vision_worker.py --images ../shared/data/colorful-fashion/test/images --jobs 128
    python bench/vision_worker.py --stage-class tests.system.stand_in_vision:MeanColourPipeline  # no models
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

from pixels2posts.services import start_redis, stop_redis
from shared.blobs import BlobStore
from shared.celery_config import VISION_TASK, create_app
from shared.ports import free_port
from shared.settings import Settings
from shared.store import JobStore, NewJob, migrate

REPO = Path(__file__).resolve().parent.parent


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
               redis_url: str, work: Path, stage_class: str | None) -> dict[str, float | str | int]:
    db = f"sqlite:///{work / f'{label}.db'}"
    migrate(db)
    metrics_port = free_port()
    env = {**os.environ, "P2P_BROKER_URL": redis_url, "P2P_DATABASE_URL": db,
           "P2P_BLOB_DIR": str(work / "blobs"), "P2P_BATCH_SIZE": str(batch_size),
           "P2P_BATCH_WAIT_MS": str(wait_ms)}
    settings = Settings(broker_url=redis_url, database_url=db, blob_dir=work / "blobs")
    argv = [sys.executable, "-m", "pixels2posts", "worker", "vision", "-c", str(concurrency),
            "--metrics-port", str(metrics_port), "--metrics-host", "127.0.0.1", "-n", f"bench-{label}@%h",
            "--loglevel", "WARNING"]
    if stage_class:
        argv += ["--stage-class", stage_class]
    app = create_app(settings)
    with (work / f"{label}.log").open("wb") as log:
        worker = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        _wait_ready(app, f"bench-{label}@", worker, work / f"{label}.log")
        store, blobs = JobStore(db), BlobStore(work / "blobs")
        jobs = []
        for index, data in enumerate(images):
            ref = blobs.put(data)
            job, _ = store.create_or_get(NewJob(ref.removeprefix("blob:"), ref, sku=f"{label}-{index}"))
            jobs.append(job)
        started = time.perf_counter()
        for job in jobs:
            app.send_task(VISION_TASK, args=[job.id, job.image_ref, {}, time.time()], task_id=f"{job.id}.vision")
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        while True:
            text = httpx.get(url).text
            if metric_sum(text, "p2p_jobs_total") >= len(jobs):
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        batches = metric_sum(text, "p2p_vision_batch_size_count")
        return {"config": label, "batch": batch_size, "wait_ms": wait_ms, "threads": concurrency,
                "images": len(jobs), "seconds": seconds, "img_s": len(jobs) / seconds,
                "mean_batch": metric_sum(text, "p2p_vision_batch_size_sum") / max(batches, 1),
                "failed": int(_failed(text))}
    finally:
        worker.terminate()
        worker.wait(60)
        app.control.purge()


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
    args = parser.parse_args()
    images = photos(args.images, args.jobs)
    with tempfile.TemporaryDirectory(prefix="p2p-bench-") as tmp:
        work = Path(tmp)
        port = free_port()
        redis = start_redis(port, work / "redis")
        try:
            rows = [
                run_config("unbatched", 1, 0, 1, images, redis.url, work, args.stage_class),
                run_config("batched", args.batch_size, args.wait_ms, 2 * args.batch_size, images, redis.url,
                           work, args.stage_class),
            ]
        finally:
            stop_redis(port, work / "redis")
    base = float(rows[0]["img_s"])
    print(f"{'config':<10} {'batch':>5} {'wait_ms':>7} {'threads':>7} {'images':>6} {'seconds':>8} "
          f"{'img/s':>7} {'mean batch':>10} {'failed':>6} {'ratio':>6}")
    for row in rows:
        print(f"{row['config']:<10} {row['batch']:>5} {row['wait_ms']:>7} {row['threads']:>7} {row['images']:>6} "
              f"{float(row['seconds']):>8.2f} {float(row['img_s']):>7.1f} {float(row['mean_batch']):>10.2f} "
              f"{row['failed']:>6} {float(row['img_s']) / base:>6.2f}")


if __name__ == "__main__":
    main()
