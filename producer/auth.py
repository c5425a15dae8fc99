"""API keys: only their sha256 digests are configured (P2P_API_KEYS, comma-separated hex digests).

A client sends `Authorization: Bearer KEY` or `X-API-Key: KEY`. With no digests configured the API is open
(local development only; `pixels2posts up` always configures a key)."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """A fresh random key and the digest to configure for it."""
    key = "p2p_" + secrets.token_urlsafe(24)
    return key, key_digest(key)


def parse_digests(configured: str) -> frozenset[str]:
    return frozenset(part.strip().lower() for part in configured.split(",") if part.strip())


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None


def key_is_valid(key: str | None, digests: frozenset[str]) -> bool:
    if not digests:
        return True
    if not key:
        return False
    digest = key_digest(key)
    # compare with every configured digest in constant time (no early exit on a match)
    matches = [hmac.compare_digest(digest, known) for known in digests]
    return any(matches)
