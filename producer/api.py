"""The producer HTTP API (FastAPI; OpenAPI docs at /docs).

POST /v1/jobs (JSON with image_url, or a multipart upload) -> 202 {job_id}; POST /v1/jobs:batch;
GET /v1/jobs/{job_id}; GET /v1/products/{sku}/captions; GET /metrics; GET /healthz."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, generate_latest
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from producer.auth import key_digest, parse_keys, presented_key, require_keys, tenant_of
from producer.limits import BodyLimit, RateLimiter
from producer.metrics import JobStateCollector
from producer.models import (
    BatchAccepted,
    BatchItem,
    BatchRequest,
    JobAccepted,
    JobRequest,
    ProductCaption,
    ProductCaptions,
    validation_message,
)
from producer.service import QueueFullError, SubmissionService, Submitted
from shared.errors import ImageTooLargeError, InvalidImageError, P2PError
from shared.reconcile import ReconcilerThread
from shared.schemas import ErrorBody, JobOptions, JobView
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """Who is calling: the tenant of their key, and a short id of the key (rate limits, logs)."""

    tenant: str
    key_id: str

# room for the other form fields and the multipart boundaries beside the image itself
_FORM_OVERHEAD = 64 * 1024
SUBMISSIONS = Counter("p2p_api_submissions_total", "Job submissions, by outcome.", ["outcome"])
STORE_RETRY_AFTER_S = 5  # what a 503 for an unreachable job store asks clients to wait

_UPLOAD_BODY = {
    "requestBody": {
        "content": {
            "application/json": {"schema": JobRequest.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {"type": "string", "format": "binary"},
                        "sku": {"type": "string"},
                        "title": {"type": "string"},
                        "options": {"type": "string", "description": "JSON object of JobOptions"},
                        "callback_url": {"type": "string"},
                    },
                }
            },
        }
    }
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    keys = parse_keys(settings.api_keys)
    require_keys(keys, dev_insecure=settings.dev_insecure)  # fail closed before anything starts
    if not keys:
        log.warning("P2P_DEV_INSECURE is set and P2P_API_KEYS is empty: the API accepts requests without a key")
    service = SubmissionService(settings)
    limiter = RateLimiter(service.redis, settings.api_rate_limit_per_min)

    def require_key(
        authorization: Annotated[str | None, Header()] = None,
        x_api_key: Annotated[str | None, Header()] = None,
    ) -> Caller:
        key = presented_key(authorization, x_api_key)
        tenant = tenant_of(key, keys, dev_insecure=settings.dev_insecure)
        if tenant is None:
            raise HTTPException(401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"})
        caller = Caller(tenant, key_digest(key or "")[:16])
        limiter.hit(caller.key_id)
        return caller
    # jobs by state are read from the store at scrape time; a registry of this app's own keeps two apps in one
    # process (tests) and the workers' p2p_jobs_total counter from clashing with it
    store_registry = CollectorRegistry(auto_describe=True)
    store_registry.register(JobStateCollector(service.store))


    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # publishes what a crash left in the outbox and re-drives lost jobs (the workers run one too)
        sweeper = ReconcilerThread(service.reconciler, settings.reconcile_interval_s)
        sweeper.start()
        yield
        sweeper.stop()
        service.close()

    app = FastAPI(title="pixels2posts", version="1", description=__doc__, lifespan=lifespan)
    app.state.service = service
    app.state.require_key = require_key
    app.add_middleware(BodyLimit, limit_for=lambda content_type: _body_limit(settings, content_type))
    app.add_exception_handler(P2PError, _p2p_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _store_unavailable)  # type: ignore[arg-type]
    authed = [Depends(require_key)]

    @app.post("/v1/jobs", status_code=202, response_model=JobAccepted, openapi_extra=_UPLOAD_BODY)
    async def submit_job(request: Request, caller: Authed) -> JSONResponse:
        """Queue one photo: JSON `{image_url, sku?, title?, options?, callback_url?}` or multipart."""
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            submitted = await _submit_upload(request, service, settings.max_image_bytes, caller.tenant)
        else:
            _require_json(content_type)
            job = _parse(JobRequest, await _json_body(request))
            submitted = await run_in_threadpool(_submit_url, service, job, caller.tenant)
        return _accepted(submitted)

    @app.post("/v1/jobs:batch", status_code=202, response_model=BatchAccepted,
              openapi_extra={"requestBody": {"content": {"application/json": {
                  "schema": BatchRequest.model_json_schema()}}}})
    async def submit_batch(request: Request, caller: Authed) -> BatchAccepted:
        """Queue up to 100 photos by URL (catalogue backfills); each item answers on its own."""
        _require_json(request.headers.get("content-type", ""))
        batch: BatchRequest = _parse(BatchRequest, await _json_body(request))
        items = await asyncio.gather(*(
            run_in_threadpool(_batch_item, service, index, job, caller.tenant)
            for index, job in enumerate(batch.jobs)
        ))
        return BatchAccepted(jobs=list(items))

    @app.get("/v1/jobs/{job_id}", response_model=JobView, response_model_exclude_none=True)
    async def get_job(job_id: str, caller: Authed) -> JobView:
        job = await run_in_threadpool(service.store.get, job_id, caller.tenant)
        if job is None:
            raise HTTPException(404, f"no job {job_id}")
        return job.view()

    @app.get("/v1/products/{sku}/captions", response_model=ProductCaptions)
    async def product_captions(sku: str, caller: Authed) -> ProductCaptions:
        jobs = await run_in_threadpool(lambda: service.store.by_sku(sku, tenant=caller.tenant))
        captions = [
            ProductCaption(job_id=job.id, caption=job.result["caption"], hashtags=job.result["hashtags"],
                           finished_at=job.finished_at.isoformat() if job.finished_at else None)
            for job in jobs
            if job.state == "succeeded" and job.result
        ]
        return ProductCaptions(sku=sku, captions=captions)

    @app.get("/metrics", include_in_schema=False, dependencies=authed)
    async def metrics() -> Response:
        body = generate_latest(REGISTRY) + generate_latest(store_registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "queues": await run_in_threadpool(service.queue_lengths)}

    return app


def _caller(request: Request, authorization: Annotated[str | None, Header()] = None,
            x_api_key: Annotated[str | None, Header()] = None) -> Caller:
    """The calling key's tenant (401 for a missing or wrong key, 429 over its rate)."""
    caller: Caller = request.app.state.require_key(authorization, x_api_key)
    return caller


Authed = Annotated[Caller, Depends(_caller)]


def _accepted(submitted: Submitted) -> JSONResponse:
    SUBMISSIONS.labels("duplicate" if submitted.duplicate else "created").inc()
    body = JobAccepted(job_id=submitted.job_id, status=submitted.status, duplicate=submitted.duplicate)
    return JSONResponse(body.model_dump(), status_code=200 if submitted.duplicate else 202)


def _submit_url(service: SubmissionService, job: JobRequest, tenant: str) -> Submitted:
    return service.submit_url(job.image_url, sku=job.sku, title=job.title, options=job.options,
                              callback_url=job.callback_url, tenant=tenant)


def _batch_item(service: SubmissionService, index: int, job: JobRequest, tenant: str) -> BatchItem:
    try:
        submitted = _submit_url(service, job, tenant)
    except P2PError as exc:
        SUBMISSIONS.labels("rejected").inc()
        return BatchItem(index=index, error=ErrorBody(code=exc.code, message=str(exc)))
    SUBMISSIONS.labels("duplicate" if submitted.duplicate else "created").inc()
    return BatchItem(index=index, job_id=submitted.job_id, status=submitted.status,
                     duplicate=submitted.duplicate)


async def _submit_upload(request: Request, service: SubmissionService, max_bytes: int, tenant: str) -> Submitted:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + _FORM_OVERHEAD:
        raise ImageTooLargeError(f"upload is {declared} bytes, over the {max_bytes} byte limit")
    form = await request.form(max_files=1, max_fields=10)
    upload = form.get("image")
    if not isinstance(upload, UploadFile):
        raise InvalidImageError("multipart upload needs a file field named 'image'")
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageTooLargeError(f"upload is over the {max_bytes} byte limit")
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    options = _parse(JobOptions, _json_field(fields.get("options")))
    return await run_in_threadpool(
        lambda: service.submit_bytes(data, sku=fields.get("sku") or None, title=fields.get("title") or None,
                                     options=options, callback_url=fields.get("callback_url") or None,
                                     tenant=tenant)
    )


def _json_field(raw: str | None) -> Any:
    try:
        return json.loads(raw) if raw else {}
    except ValueError as exc:
        raise HTTPException(422, f"options is not JSON: {exc}") from exc


def _require_json(content_type: str) -> None:
    media = content_type.split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise HTTPException(415, f"send application/json or multipart/form-data, not {media or 'no content type'}")


def _body_limit(settings: Settings, content_type: str) -> tuple[int, str]:
    """The most bytes a body may have, and the error code when it has more."""
    if content_type.startswith("multipart/form-data"):
        return settings.max_image_bytes + _FORM_OVERHEAD, "image_too_large"
    return settings.max_json_bytes, "body_too_large"


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except (ValueError, RecursionError) as exc:  # RecursionError: nested thousands deep
        raise HTTPException(422, f"body is not JSON: {str(exc)[:200]}") from exc


def _parse(model: Any, value: Any) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from exc


_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "body_too_large",
    415: "unsupported_media_type", 422: "invalid_request", 429: "rate_limited",
}


async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Every error answers {"error": {"code", "message"}} (plus "details" for field errors)."""
    code = getattr(exc, "code", None) or _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    error: dict[str, Any] = {"code": code, "message": exc.detail if isinstance(exc.detail, str) else code}
    if not isinstance(exc.detail, str):
        error["details"] = exc.detail
    return JSONResponse({"error": error}, status_code=exc.status_code, headers=exc.headers)


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    details = json.loads(json.dumps(exc.errors(), default=str))
    message = validation_message(details)
    return JSONResponse({"error": {"code": "invalid_request", "message": message, "details": details}},
                        status_code=422)


async def _store_unavailable(_request: Request, exc: OperationalError) -> JSONResponse:
    """The job store is unreachable (a database restart, a failover): a clear 503 instead of a bare 500. A
    submission that got this may or may not have been stored; resubmitting it is safe (it is idempotent)."""
    log.warning("job store unavailable: %s", str(exc.orig or exc).splitlines()[0])
    body = {"error": {"code": "store_unavailable",
                      "message": "the job store is not reachable right now; retry (resubmitting a job is idempotent)"}}
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(STORE_RETRY_AFTER_S)})


async def _p2p_error(_request: Request, exc: P2PError) -> JSONResponse:
    headers = {}
    if isinstance(exc, QueueFullError):
        headers["Retry-After"] = str(exc.retry_after_s)
    SUBMISSIONS.labels("rejected").inc()
    body = {"error": {"code": exc.code, "message": str(exc)}}
    return JSONResponse(body, status_code=exc.http_status, headers=headers)
