"""What a shop backend uses: the HTTP API, the Python SDK, job submission."""

from producer.client import ApiError, Client

__all__ = ["ApiError", "Client"]
