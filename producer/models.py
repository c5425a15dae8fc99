"""Request and response bodies of the producer API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.schemas import ErrorBody, JobOptions

MAX_BATCH = 100


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_url: str = Field(max_length=4096, description="http(s) URL of a JPEG, PNG or WebP photo")
    sku: str | None = Field(None, max_length=128)
    title: str | None = Field(None, max_length=500)
    options: JobOptions = Field(default_factory=JobOptions)
    callback_url: str | None = Field(None, max_length=4096, description="POSTed the job when it finishes")


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jobs: list[JobRequest] = Field(min_length=1, max_length=MAX_BATCH)


class JobAccepted(BaseModel):
    job_id: str
    status: str
    duplicate: bool = False


class BatchItem(BaseModel):
    index: int
    job_id: str | None = None
    status: str | None = None
    duplicate: bool = False
    error: ErrorBody | None = None


class BatchAccepted(BaseModel):
    jobs: list[BatchItem]


class ProductCaption(BaseModel):
    job_id: str
    caption: str
    hashtags: list[str]
    finished_at: str | None = None


class ProductCaptions(BaseModel):
    sku: str
    captions: list[ProductCaption]


def validation_message(errors: Sequence[Mapping[str, Any]]) -> str:
    """Pydantic's field errors as one line: `options.max_hashtags: Input should be ...; sku: ...`."""
    return "; ".join(f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in errors)
