"""The 1,000-job load run under faults: the API, two vision workers (stand-in stage) and two language workers
(the real caption writer against the fake LLM), a private Redis (AOF on) and a SQLite or PostgreSQL store. While
the jobs flow, one worker of each pool is SIGKILLed and a fresh one started. Prints the fault-table row (accepted /
succeeded / failed-with-code / lost / duplicated webhooks) and end-to-end latency p50/p99 (created -> finished).

    python bench/load_faults.py --jobs 1000                      # SQLite in a temp dir
    python bench/load_faults.py --jobs 1000 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from pixels2posts.services import start_redis, stop_redis
from producer.auth import key_digest
from shared.ports import free_port
from shared.store import JobStore, migrate
from tests.faults.conftest import SECRET, STAND_IN, grounded, start_receiver, tally
from tests.faults.procs import api_up, kill, running, start, wait_for
from tests.support import fake_openai
from tests.support.helpers import jpeg_bytes

KEY = "load-key"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--timeout-s", type=float, default=1800)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="p2p-load-") as tmp:
        run(Path(tmp), args.jobs, args.database_url or f"sqlite:///{tmp}/jobs.db", args.timeout_s)


def run(state: Path, jobs: int, database_url: str, timeout_s: float) -> None:
    redis_port = free_port()
    server = start_redis(redis_port, state / "redis", persist=True)
    llm, llm_server = fake_openai.start()
    llm.responder = grounded
    receiver, receiver_server = start_receiver()
    migrate(database_url)
    env = {**os.environ, "P2P_BROKER_URL": server.url, "P2P_DATABASE_URL": database_url, "P2P_DATA_DIR": str(state),
           "P2P_BLOB_DIR": str(state / "blobs"), "P2P_API_KEYS": key_digest(KEY), "P2P_WEBHOOK_SECRET": SECRET,
           "P2P_ALLOW_PRIVATE_URLS": "true", "P2P_LLM_BASE_URL": llm.url, "P2P_LLM_RATE_LIMIT_PER_S": "1000",
           "P2P_QUEUE_LIMIT": str(jobs + 10), "P2P_API_RATE_LIMIT_PER_MIN": "0", "P2P_ORT_INTRA_THREADS": "1"}
    logs = state / "logs"
    logs.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def worker(stage: str, name: str) -> subprocess.Popen[bytes]:
        extra = ["--stage-class", STAND_IN] if stage == "vision" else []
        return start(["worker", stage, "-n", name, "--metrics-port", "0", *extra], env, logs / f"{name}.log")

    try:
        with running(start(["api", "--port", str(port)], env, logs / "api.log"), worker("vision", "v1@load"),
                     worker("language", "l1@load")) as procs:
            doomed = [worker("vision", "v-doomed@load"), worker("language", "l-doomed@load")]
            procs.extend(doomed)
            wait_for(lambda: api_up(base), 120, "the API")
            job_ids: list[str] = []
            started = time.monotonic()
            with ThreadPoolExecutor(8) as pool:
                futures = [pool.submit(_submit, base, seed, receiver.url) for seed in range(jobs)]
                for index, future in enumerate(futures):
                    job_ids.append(future.result())
                    if index == jobs // 3:
                        for process in doomed:
                            kill(process)
                        procs.extend([worker("vision", "v2@load"), worker("language", "l2@load")])
            wait_for(lambda: _all_final(database_url, job_ids), timeout_s, "every job")
            elapsed = time.monotonic() - started
            wait_for(lambda: len(receiver.deliveries) >= len(job_ids), 120, "every webhook")
    finally:
        stop_redis(redis_port, state / "redis")
        llm_server.shutdown()
        receiver_server.shutdown()
    result = tally(database_url, job_ids, receiver)
    store = JobStore(database_url)
    latencies = np.array([(job.finished_at - job.created_at).total_seconds()
                          for job in (store.get(j) for j in job_ids) if job and job.finished_at])
    print("| jobs accepted | succeeded | failed (code) | lost | duplicated | p50 s | p99 s | wall s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {result.accepted} | {result.succeeded} | {result.failed or 0} | {result.lost} | {result.duplicated} | "
          f"{np.percentile(latencies, 50):.1f} | {np.percentile(latencies, 99):.1f} | {elapsed:.0f} |")


def _submit(base: str, seed: int, callback: str) -> str:
    for _ in range(600):
        try:
            response = httpx.post(f"{base}/v1/jobs", headers={"X-API-Key": KEY}, timeout=60,
                                  files={"image": ("p.jpg", jpeg_bytes(seed, (64, 96)), "image/jpeg")},
                                  data={"callback_url": callback})
        except httpx.TransportError:
            time.sleep(0.5)
            continue
        if response.status_code == 202:
            return str(response.json()["job_id"])
        time.sleep(float(response.headers.get("Retry-After", "1")))
    raise SystemExit(f"job {seed} was never accepted")


def _all_final(database_url: str, job_ids: list[str]) -> bool:
    counts = JobStore(database_url).counts_by_state()
    return counts["succeeded"] + counts["failed"] >= len(job_ids)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()
