"""Errors with a machine-readable code, so a failed job says what went wrong and the API can map it to HTTP."""

from __future__ import annotations


class P2PError(Exception):
    """Base error: `code` is stable and machine-readable, the message is for humans."""

    code = "internal_error"
    http_status = 500

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class InvalidImageError(P2PError):
    code = "invalid_image"
    http_status = 422


class ImageTooLargeError(InvalidImageError):
    code = "image_too_large"
    http_status = 413


class FetchError(P2PError):
    code = "fetch_failed"
    http_status = 422


class ForbiddenURLError(FetchError):
    code = "forbidden_url"
    http_status = 422


class ConfigError(P2PError):
    """A setup that cannot work (settings that contradict each other); raised before anything starts."""

    code = "config_error"


class ModelNotAvailableError(P2PError):
    code = "model_not_available"
    http_status = 503


class LLMUnavailableError(P2PError):
    code = "llm_unavailable"
    http_status = 503
