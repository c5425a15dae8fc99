"""The Celery tasks: `p2p.vision` (batched evidence), `p2p.language` (caption), `p2p.webhook`
(completion call)."""
