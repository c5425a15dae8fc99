"""Real process kills and outages with the DEFAULT reliability settings (lease 30 s, reconciler every 10 s,
visibility timeout 3600 s): every accepted job ends succeeded or failed with a code within the deadline, none is
lost, none gets two webhooks. Each test appends its row to the fault table (docs/reliability.md).

- a vision worker (the real stage, bundled models) SIGKILLed mid-batch; another one finishes its jobs;
- a language worker SIGKILLed mid-LLM-call (the real caption writer against the fake LLM);
- Redis (AOF on) SIGKILLed and restarted mid-run;
- the API SIGKILLed while submissions stream in (between insert and publish for some of them);
- the LLM answering 429/5xx/timeouts/garbage, then dead for minutes (jobs submitted at once and 150 s later);
- a private PostgreSQL (initdb in a temp dir, never the shared server) crashed and restarted mid-run, and down
  while the API and the workers start (they wait for it: P2P_DATABASE_WAIT_S).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from pixels2posts.services import ping, start_redis, stop_redis
from shared.ports import free_port
from shared.store import JobStore
from tests.faults import private_postgres
from tests.faults.conftest import KEY, REAL_VISION, STAND_IN, Receiver, report, stack_env, tally
from tests.faults.private_postgres import PrivatePostgres
from tests.faults.procs import api_up, kill, running, start, wait_for, wait_ready
from tests.support import fake_openai
from tests.support.helpers import jpeg_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RECOVERY_S = 120  # the bound: a killed worker's jobs finish elsewhere within 2 minutes
LLM_DEAD_S = 150.0  # "then dead for minutes": the last jobs are submitted this long after the LLM died


def vision(name: str, env: dict[str, str], logs: Path, stage: str = STAND_IN, **extra: str) -> subprocess.Popen[bytes]:
    return start(["worker", "vision", "-n", name, "--metrics-port", "0", "--stage-class", stage], env,
                 logs / f"{name}.log", **extra)


def language(name: str, env: dict[str, str], logs: Path, **extra: str) -> subprocess.Popen[bytes]:
    return start(["worker", "language", "-n", name, "--metrics-port", "0"], env, logs / f"{name}.log", **extra)


def api(env: dict[str, str], logs: Path, port: int) -> subprocess.Popen[bytes]:
    return start(["api", "--port", str(port)], env, logs / "api.log")


def submit(base: str, count: int, receiver: Receiver, seed0: int) -> list[str]:
    def one(seed: int) -> str:
        for _ in range(60):
            try:
                response = httpx.post(f"{base}/v1/jobs", headers={"X-API-Key": KEY}, timeout=30,
                                      files={"image": ("p.jpg", jpeg_bytes(seed, (96, 128)), "image/jpeg")},
                                      data={"sku": f"F-{seed}", "callback_url": receiver.url})
            except httpx.TransportError:
                time.sleep(0.5)
                continue
            assert response.status_code == 202, response.text
            return str(response.json()["job_id"])
        raise AssertionError("the API never accepted the job")

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(seed0, seed0 + count)))


def all_final(database_url: str, job_ids: list[str]) -> bool:
    store = JobStore(database_url)
    return all((job := store.get(job_id)) is not None and job.state in ("succeeded", "failed") for job_id in job_ids)


def wait_all_final(database_url: str, job_ids: list[str], timeout_s: float, what: str, logs: Path) -> float:
    """`wait_for(all_final)`; on a timeout the error names each unfinished job with its row, its outbox messages and
    the log lines that mention it (a rare failure is then readable from the CI output alone)."""
    try:
        return wait_for(lambda: all_final(database_url, job_ids), timeout_s, what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{unfinished(database_url, job_ids, logs)}") from None


def unfinished(database_url: str, job_ids: list[str], logs: Path) -> str:
    from sqlalchemy import select

    from shared.store.models import OutboxMessage

    store = JobStore(database_url)
    lines = []
    for job_id in job_ids:
        job = store.get(job_id)
        if job is not None and job.state in ("succeeded", "failed"):
            continue
        lines.append(f"job {job_id}: " + ("missing" if job is None else
                     f"state={job.state} stage={job.stage} holder={job.holder} lease_until={job.lease_until} "
                     f"deliveries={job.deliveries} updated_at={job.updated_at}"))
        with store.session() as session:
            for message in session.scalars(select(OutboxMessage).where(OutboxMessage.job_id == job_id)):
                lines.append(f"  outbox {message.task_id} created={message.created_at} "
                             f"published={message.published_at}")
        for log in sorted(logs.glob("*.log")):
            mentions = [line for line in log.read_text(errors="replace").splitlines() if job_id in line]
            lines.extend(f"  {log.name}: {line[:300]}" for line in mentions[-12:])
    return "\n".join(lines)


def held_by(database_url: str, job_ids: list[str], pid: int) -> bool:
    store = JobStore(database_url)
    return any((job := store.get(job_id)) is not None and str(job.holder).endswith(f":{pid}") for job_id in job_ids)


def test_given_a_vision_worker_sigkilled_mid_batch_then_another_finishes_its_jobs_within_2_minutes(
    redis_url: str, pg_schema_url: str, tmp_path: Path, logs: Path, llm: fake_openai.FakeOpenAI, receiver: Receiver
) -> None:
    env = stack_env(redis_url, pg_schema_url, tmp_path, llm.url, P2P_BATCH_SIZE="4", P2P_BATCH_WAIT_MS="2000")
    port = free_port()
    with running(api(env, logs, port), language("language@k1", env, logs)) as procs:
        doomed = vision("vision-doomed@k1", env, logs, REAL_VISION)
        other = vision("vision-other@k1", env, logs, REAL_VISION)  # the pool's other worker, already up
        procs += [other, doomed]
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: api_up(base), 90, "the API")
        # both consuming before the jobs come: a worker still loading its models would leave them all to the other
        wait_ready(doomed, logs / "vision-doomed@k1.log")
        wait_ready(other, logs / "vision-other@k1.log")
        job_ids = submit(base, 12, receiver, 100)
        wait_for(lambda: held_by(pg_schema_url, job_ids, doomed.pid), 180, "the doomed worker to claim a batch")
        kill(doomed)
        killed_at = time.monotonic()
        wait_all_final(pg_schema_url, job_ids, RECOVERY_S + 60, "every job to finish", logs)
        recovered_s = time.monotonic() - killed_at
        wait_for(lambda: len(receiver.deliveries) == len(job_ids), 60, "every webhook")
    result = tally(pg_schema_url, job_ids, receiver)
    report(result.row("vision worker SIGKILL mid-batch (real stage, 2 workers)",
                      f"all final {recovered_s:.0f}s after the kill"))
    assert result.lost == 0 and result.duplicated == 0 and result.succeeded == len(job_ids)
    assert recovered_s < RECOVERY_S


def test_given_a_language_worker_sigkilled_mid_llm_call_then_another_finishes_its_jobs(
    redis_url: str, pg_schema_url: str, tmp_path: Path, logs: Path, llm: fake_openai.FakeOpenAI, receiver: Receiver
) -> None:
    env = stack_env(redis_url, pg_schema_url, tmp_path, llm.url, P2P_LLM_TIMEOUT_S="60")
    llm.default = fake_openai.Action("stall", seconds=55.0)
    llm.responder = None
    port = free_port()
    with running(api(env, logs, port), vision("vision@k2", env, logs)) as procs:
        doomed = language("language-doomed@k2", env, logs)
        procs.append(doomed)
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: api_up(base), 90, "the API")
        job_ids = submit(base, 4, receiver, 200)
        wait_for(lambda: len(llm.requests) >= 1, 120, "an LLM call in flight")
        kill(doomed)
        killed_at = time.monotonic()
        llm.default = fake_openai.answer("A calm outfit for every day.", ["#outfit"])
        procs.append(language("language-rescuer@k2", env, logs))
        wait_all_final(pg_schema_url, job_ids, RECOVERY_S, "every job to finish", logs)
        recovered_s = time.monotonic() - killed_at
        wait_for(lambda: len(receiver.deliveries) == len(job_ids), 60, "every webhook")
    result = tally(pg_schema_url, job_ids, receiver)
    report(result.row("language worker SIGKILL mid-LLM-call", f"all final {recovered_s:.0f}s after the kill"))
    assert result.lost == 0 and result.duplicated == 0 and result.succeeded == len(job_ids)


def test_given_redis_killed_and_restarted_with_aof_then_no_job_is_lost(
    pg_schema_url: str, tmp_path: Path, logs: Path, llm: fake_openai.FakeOpenAI, receiver: Receiver
) -> None:
    redis_dir, redis_port = tmp_path / "redis", free_port()
    redis_dir.mkdir()
    server = start_redis(redis_port, redis_dir, persist=True)
    env = stack_env(server.url, pg_schema_url, tmp_path, llm.url)
    port = free_port()
    try:
        with running(api(env, logs, port), language("language@k3", env, logs), vision("vision@k3", env, logs)) as procs:
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: api_up(base), 90, "the API")
            job_ids = submit(base, 6, receiver, 300)
            os.kill(server.pid, signal.SIGKILL)  # no shutdown, no final fsync: AOF everysec as it stood
            wait_for(lambda: not ping(redis_port), 10, "Redis to die")
            time.sleep(3)
            start_redis(redis_port, redis_dir, persist=True)
            restarted_at = time.monotonic()
            job_ids += submit(base, 4, receiver, 310)
            wait_all_final(pg_schema_url, job_ids, RECOVERY_S + 60, "every job to finish", logs)
            recovered_s = time.monotonic() - restarted_at
            wait_for(lambda: len(receiver.deliveries) == len(job_ids), 90, "every webhook")
            # the workers rode the outage out (celery/kombu 5.7.0 stopped them: workers/kombu_compat.py)
            assert [p.args for p in procs if p.poll() is not None] == []
    finally:
        stop_redis(redis_port, redis_dir)
    crashed = [log.name for log in logs.glob("*.log") if "Unrecoverable error" in log.read_text(errors="replace")]
    result = tally(pg_schema_url, job_ids, receiver)
    report(result.row("Redis SIGKILL + restart (AOF everysec)", f"all final {recovered_s:.0f}s after the restart"))
    assert crashed == []
    assert result.lost == 0 and result.duplicated == 0


def test_given_the_api_sigkilled_while_accepting_then_every_accepted_job_finishes(
    redis_url: str, pg_schema_url: str, tmp_path: Path, logs: Path, llm: fake_openai.FakeOpenAI, receiver: Receiver
) -> None:
    env = stack_env(redis_url, pg_schema_url, tmp_path, llm.url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(language("language@k4", env, logs), vision("vision@k4", env, logs)) as procs:
        first = api(env, logs, port)
        procs.append(first)
        wait_for(lambda: api_up(base), 90, "the API")
        accepted: list[str] = []

        def fire(seed: int) -> None:
            try:
                response = httpx.post(f"{base}/v1/jobs", headers={"X-API-Key": KEY}, timeout=30,
                                      files={"image": ("p.jpg", jpeg_bytes(seed, (96, 128)), "image/jpeg")},
                                      data={"callback_url": receiver.url})
            except httpx.TransportError:
                return
            if response.status_code == 202:
                accepted.append(response.json()["job_id"])

        with ThreadPoolExecutor(8) as pool:
            for seed in range(400, 460):
                pool.submit(fire, seed)
            wait_for(lambda: len(accepted) >= 8, 120, "some jobs accepted")
            kill(first)  # mid-stream: requests in flight, some between their commit and their publish
        procs.append(api(env, logs, port))
        in_db = _all_job_ids(pg_schema_url)
        assert accepted and len(in_db) >= len(accepted)
        wait_all_final(pg_schema_url, in_db, RECOVERY_S, "every stored job to finish", logs)
        wait_for(lambda: len(receiver.deliveries) >= len(in_db), 60, "every webhook")
    assert set(accepted) <= set(in_db)
    result = tally(pg_schema_url, in_db, receiver)
    report(result.row("API SIGKILL while accepting (insert/publish gap)",
                      f"{len(accepted)} answered 202 before the kill; {len(in_db)} rows stored"))
    assert result.lost == 0 and result.duplicated == 0


def _all_job_ids(database_url: str) -> list[str]:
    import sqlalchemy

    from shared.store.db import engine_for

    with engine_for(database_url).connect() as connection:
        return [row[0] for row in connection.execute(sqlalchemy.text("SELECT id FROM jobs"))]


def test_given_the_llm_failing_every_way_then_dead_then_jobs_end_with_a_caption_or_a_code(
    redis_url: str, pg_schema_url: str, tmp_path: Path, logs: Path, llm: fake_openai.FakeOpenAI, receiver: Receiver
) -> None:
    env = stack_env(redis_url, pg_schema_url, tmp_path, llm.url, P2P_LLM_TIMEOUT_S="2", P2P_LLM_MAX_RETRIES="2")
    failures = [fake_openai.status(429, 0.1), fake_openai.status(500), fake_openai.status(503),
                fake_openai.Action("stall", seconds=3.0), fake_openai.MALFORMED,
                fake_openai.Action("answer", content="garbage, not JSON")]
    llm.queue(*(failures * 3))
    port = free_port()
    with running(api(env, logs, port), language("language@k5", env, logs), vision("vision@k5", env, logs)):
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: api_up(base), 90, "the API")
        job_ids = submit(base, 4, receiver, 500)
        wait_all_final(pg_schema_url, job_ids, 240, "the jobs of the flaky LLM", logs)
        llm_dead_url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: the LLM is dead
        env_dead = {**env, "P2P_LLM_BASE_URL": llm_dead_url}
    with running(api(env_dead, logs, port), language("language-dead@k5", env_dead, logs),
                 vision("vision-dead@k5", env_dead, logs)):
        dead_since = time.monotonic()
        wait_for(lambda: api_up(base), 90, "the API")
        dead_ids = submit(base, 4, receiver, 520)
        wait_all_final(pg_schema_url, dead_ids, 240, "the jobs of the dead LLM", logs)
        # still dead minutes later: the workers neither wedged nor piled up, new jobs finish as fast
        time.sleep(max(0.0, LLM_DEAD_S - (time.monotonic() - dead_since)))
        late_ids = submit(base, 4, receiver, 530)
        late_s = wait_all_final(pg_schema_url, late_ids, RECOVERY_S, "the jobs of the long-dead LLM", logs)
        dead_s = time.monotonic() - dead_since
        dead_ids += late_ids
        wait_for(lambda: len(receiver.deliveries) == len(job_ids) + len(dead_ids), 60, "every webhook")
    flaky, dead = tally(pg_schema_url, job_ids, receiver), tally(pg_schema_url, dead_ids, receiver)
    store = JobStore(pg_schema_url)
    fallbacks = sum(1 for j in dead_ids if (job := store.get(j)) and job.result and
                    job.result.get("provenance", {}).get("fallback"))
    report(flaky.row("LLM 429/5xx/timeouts/garbage"))
    report(dead.row("LLM dead", f"dead {dead_s:.0f}s; {fallbacks} captions from the deterministic writer; the 4 "
                                f"submitted after {LLM_DEAD_S:.0f}s final in {late_s:.0f}s"))
    for result in (flaky, dead):
        assert result.lost == 0 and result.duplicated == 0


@pytest.fixture()
def private_pg() -> Iterator[PrivatePostgres]:
    # not under pytest's tmp dir: that is private to root, and the server runs as the postgres user
    base = Path(tempfile.mkdtemp(prefix="p2p-pg-"))
    try:
        server = private_postgres.create(base, free_port())
        yield server
        server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_given_postgresql_crashed_and_restarted_mid_run_then_no_job_is_lost(
    redis_url: str, private_pg: PrivatePostgres, tmp_path: Path, logs: Path, llm: fake_openai.FakeOpenAI,
    receiver: Receiver,
) -> None:
    env = stack_env(redis_url, private_pg.url, tmp_path, llm.url)
    port = free_port()
    with running(api(env, logs, port), language("language@k6", env, logs), vision("vision@k6", env, logs)) as procs:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: api_up(base), 90, "the API")
        wait_ready(procs[1], logs / "language@k6.log")  # the crash hits a running stack (a start is the next test)
        wait_ready(procs[2], logs / "vision@k6.log")
        job_ids = submit(base, 6, receiver, 600)
        private_pg.crash()  # mid-run: jobs queued, running and finishing
        refused = httpx.post(f"{base}/v1/jobs", headers={"X-API-Key": KEY}, timeout=30,
                             files={"image": ("p.jpg", jpeg_bytes(699, (96, 128)), "image/jpeg")})
        time.sleep(3)
        private_pg.start()
        job_ids += submit(base, 4, receiver, 610)
        wait_all_final(private_pg.url, job_ids, RECOVERY_S + 60, "every job to finish", logs)
        wait_for(lambda: len(receiver.deliveries) == len(job_ids), 90, "every webhook")
    result = tally(private_pg.url, job_ids, receiver)
    report(result.row("PostgreSQL crash (immediate stop) + restart, private instance",
                      "a submission during the outage answered 503 store_unavailable"))
    assert result.lost == 0 and result.duplicated == 0
    # a submission while the database is down gets a clear, retryable answer, not a bare 500
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "store_unavailable", refused.text
    assert refused.headers["Retry-After"] == "5"


def test_given_postgresql_down_when_the_stack_starts_then_it_waits_for_it_and_every_job_finishes(
    redis_url: str, private_pg: PrivatePostgres, tmp_path: Path, logs: Path, llm: fake_openai.FakeOpenAI,
    receiver: Receiver,
) -> None:
    # Given the database is down (a restart, a failover) while the workers and the API start
    private_pg.crash()
    env = stack_env(redis_url, private_pg.url, tmp_path, llm.url)
    port = free_port()
    with running(api(env, logs, port), language("language@k7", env, logs), vision("vision@k7", env, logs)) as procs:
        time.sleep(8)
        assert all(process.poll() is None for process in procs), "a process exited instead of waiting"
        # When it comes back
        private_pg.start()
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: api_up(base), 120, "the API")
        wait_ready(procs[1], logs / "language@k7.log")
        wait_ready(procs[2], logs / "vision@k7.log")
        job_ids = submit(base, 4, receiver, 700)
        # Then the stack came up on its own and finishes every job
        wait_all_final(private_pg.url, job_ids, RECOVERY_S, "every job to finish", logs)
        wait_for(lambda: len(receiver.deliveries) == len(job_ids), 60, "every webhook")
    waited = [line for line in (logs / "vision@k7.log").read_text().splitlines() if "database not reachable" in line]
    result = tally(private_pg.url, job_ids, receiver)
    report(result.row("PostgreSQL down while the stack starts, private instance",
                      "API and workers waited for it, then consumed"))
    assert waited, "the vision worker never logged that it waited for the database"
    assert result.lost == 0 and result.duplicated == 0 and result.succeeded == len(job_ids)
