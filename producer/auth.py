"""API keys: only their sha256 digests are configured (P2P_API_KEYS, comma-separated).

Each entry is `DIGEST` or `TENANT:DIGEST`. A client sends `Authorization: Bearer KEY` or `X-API-Key: KEY`. A key
with a tenant sees only its tenant's jobs and SKUs; keys without one share the `default` tenant. With no digests
configured the API refuses to start, unless P2P_DEV_INSECURE is set (local development only; `pixels2posts up`
always generates a key)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from shared.security import InsecureConfigError

DEFAULT_TENANT = "default"
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """A fresh random key and the digest to configure for it."""
    key = "p2p_" + secrets.token_urlsafe(24)
    return key, key_digest(key)


def parse_keys(configured: str) -> dict[str, str]:
    """digest -> tenant, from `DIGEST` / `TENANT:DIGEST` entries; a malformed entry is a configuration error."""
    keys: dict[str, str] = {}
    for entry in (part.strip() for part in configured.split(",")):
        if not entry:
            continue
        tenant, _, digest = entry.rpartition(":")
        tenant, digest = tenant or DEFAULT_TENANT, digest.lower()
        if not _DIGEST.match(digest) or not _TENANT.match(tenant):
            raise InsecureConfigError(
                "P2P_API_KEYS entries must be a sha256 hex digest or TENANT:DIGEST "
                "(`pixels2posts`'s new_api_key prints both)"
            )
        keys[digest] = tenant
    return keys


def parse_digests(configured: str) -> frozenset[str]:
    return frozenset(parse_keys(configured))


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None


def tenant_of(key: str | None, keys: dict[str, str], *, dev_insecure: bool = False) -> str | None:
    """The tenant of a valid key, None for a missing or wrong one (with no keys: `default` in dev mode only)."""
    if not keys:
        return DEFAULT_TENANT if dev_insecure else None
    if not key:
        return None
    digest = key_digest(key)
    # compare with every configured digest in constant time (no early exit on a match)
    found = None
    for known, tenant in keys.items():
        if hmac.compare_digest(digest, known):
            found = tenant
    return found


def key_is_valid(key: str | None, digests: frozenset[str], *, dev_insecure: bool = False) -> bool:
    keys = dict.fromkeys(digests, DEFAULT_TENANT)
    return tenant_of(key, keys, dev_insecure=dev_insecure) is not None


def require_keys(keys: dict[str, str], *, dev_insecure: bool) -> None:
    """Fail closed: an API with no keys would admit everyone."""
    if not keys and not dev_insecure:
        raise InsecureConfigError(
            "P2P_API_KEYS is empty: the API refuses to start without keys. Configure sha256 digests of keys "
            "(`pixels2posts up` generates one) or set P2P_DEV_INSECURE=true for local development only"
        )
