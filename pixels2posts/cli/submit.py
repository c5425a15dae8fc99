"""`pixels2posts submit IMAGE|URL... [--wait]`: queue photos through the API (a progress bar for many)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click

from shared.settings import get_settings


def _default_api_key() -> str | None:
    key = os.environ.get("P2P_API_KEY")
    if key:
        return key
    key_file = get_settings().data_dir.resolve() / "run" / "api-key"
    return key_file.read_text().strip() if key_file.is_file() else None


def _submit_one(client: Any, source: str, sku: str | None, title: str | None) -> dict[str, Any]:
    from producer.client import ApiError

    try:
        if source.startswith(("http://", "https://")):
            answer = client.submit_url(source, sku=sku, title=title)
        else:
            answer = client.submit_file(Path(source), sku=sku, title=title)
    except (ApiError, OSError) as exc:
        return {"source": source, "status": "rejected", "error": str(exc)}
    return {"source": source, **answer}


def _wait_one(client: Any, answer: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    if "job_id" not in answer:
        return answer
    try:
        return {"source": answer["source"], **client.wait(answer["job_id"], timeout_s=timeout_s)}
    except TimeoutError as exc:
        return {**answer, "error": str(exc)}


@click.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--api", "api_url", default=None, help="API base URL (default http://127.0.0.1:P2P_API_PORT).")
@click.option("--api-key", default=None, help="API key (default $P2P_API_KEY, else the one `up` wrote).")
@click.option("--sku", default=None, help="SKU for every photo submitted.")
@click.option("--title", default=None, help="Product title for every photo submitted.")
@click.option("--wait", is_flag=True, help="Wait for the results.")
@click.option("--timeout", "timeout_s", type=float, default=600.0, show_default=True)
@click.option("--parallel", type=int, default=8, show_default=True, help="Concurrent requests.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per photo.")
def submit(sources: tuple[str, ...], api_url: str | None, api_key: str | None, sku: str | None,
           title: str | None, wait: bool, timeout_s: float, parallel: int, as_json: bool) -> None:
    """Submit photos (files or http(s) URLs) to the API; with --wait, print their captions."""
    from producer.client import Client

    settings = get_settings()
    url = api_url or f"http://127.0.0.1:{settings.api_port}"
    with Client(url, api_key or _default_api_key()) as client, ThreadPoolExecutor(max(1, parallel)) as pool:
        answers = _run(pool, lambda s: _submit_one(client, s, sku, title), list(sources), "submitting")
        if wait:
            answers = _run(pool, lambda a: _wait_one(client, a, timeout_s), answers, "waiting")
    for answer in answers:
        click.echo(json.dumps(answer) if as_json else _line(answer))
    if any(a.get("status") in ("rejected", "failed") or "error" in a for a in answers):
        raise SystemExit(1)


def _run(
    pool: ThreadPoolExecutor, work: Callable[[Any], dict[str, Any]], items: list[Any], label: str
) -> list[dict[str, Any]]:
    futures = [pool.submit(work, item) for item in items]
    if len(items) < 4:
        return [future.result() for future in futures]
    results: list[dict[str, Any]] = []
    with click.progressbar(length=len(futures), label=label, file=sys.stderr) as bar:
        for future in futures:
            results.append(future.result())
            bar.update(1)
    return results


def _line(answer: dict[str, Any]) -> str:
    head = f"{answer['source']}: {answer.get('status', '?')}"
    if "job_id" in answer:
        head += f" job {answer['job_id']}"
    result = answer.get("result")
    if result:
        return f"{head}\n  {result['caption']}\n  {' '.join(result['hashtags'])}"
    error = answer.get("error")
    if error:
        return f"{head}: {error.get('message') if isinstance(error, dict) else error}"
    return head
