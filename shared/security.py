"""Fail-closed checks on secrets: a placeholder or short webhook secret is treated as no secret at all."""

from __future__ import annotations

from shared.errors import P2PError

MIN_SECRET_CHARS = 16
# shipped examples and defaults: a deployment that kept one of these has no secret
PLACEHOLDER_SECRETS = frozenset({"change-me", "change-me-webhook", "changeme", "secret", "dev-webhook-secret"})


class InsecureConfigError(P2PError):
    code = "insecure_config"
    http_status = 503


class WebhooksDisabledError(P2PError):
    """A callback was asked for but this deployment has no real webhook secret to sign it with."""

    code = "webhooks_disabled"
    http_status = 422


def weak_secret(secret: str) -> bool:
    return secret.strip().lower() in PLACEHOLDER_SECRETS or len(secret.strip()) < MIN_SECRET_CHARS


def require_webhook_secret(secret: str, *, dev_insecure: bool) -> None:
    """Refuse to sign webhooks with a placeholder secret (unless the development flag is set)."""
    if weak_secret(secret) and not dev_insecure:
        raise WebhooksDisabledError(
            "callbacks are disabled: P2P_WEBHOOK_SECRET is unset, a placeholder or shorter than "
            f"{MIN_SECRET_CHARS} characters (set a random secret, e.g. `openssl rand -hex 32`)"
        )
