"""Request and response bodies of the producer API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_BATCH = 100


class JobOptions(BaseModel):
    """Per-job options; they are part of the idempotency key."""

    model_config = ConfigDict(extra="forbid")

    brand: str | None = Field(None, max_length=200)
    tone: str | None = Field(None, max_length=100)
    max_hashtags: int | None = Field(None, ge=1, le=30)
    banned_words: list[str] = Field(default_factory=list, max_length=200)

    def canonical(self) -> dict[str, Any]:
        return self.model_dump(exclude_defaults=True)


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


class ErrorBody(BaseModel):
    code: str
    message: str


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


class JobView(BaseModel):
    job_id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    sku: str | None = None
    image_sha256: str
    created_at: str | None = None
    finished_at: str | None = None
    result: dict[str, Any] | None = None
    error: ErrorBody | None = None


class ProductCaption(BaseModel):
    job_id: str
    caption: str
    hashtags: list[str]
    finished_at: str | None = None


class ProductCaptions(BaseModel):
    sku: str
    captions: list[ProductCaption]
