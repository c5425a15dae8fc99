"""A compatibility shim for kombu's Redis transport: a worker must survive its broker dying.

The bug (kombu 5.7.0 with celery 5.7.0; the same fault test passed with celery 5.6.3 / kombu 5.6.2): when the
Redis connection drops, Celery's consumer first collects the broken connection (`Connection.collect`), then closes
it, then reconnects on a new one. `collect` detaches the transport (`transport.client = None`), and closing a
channel detaches the channel (`channel.connection = None`). Two things then still reach the old channel:

- the final `close`, if the close inside `collect` failed part-way on the dead socket before marking the channel
  closed (it does when a BRPOP was pending: reading its reply, then deleting the remote-control mailbox's
  auto-delete fanout queue, both raise): it runs `QoS.restore_unacked`;
- the late acknowledgement of a task that was running through the outage (`task_acks_late`): `QoS.ack`.

Both build a new Redis pool from the detached channel, and `Channel._connparams` fails with `AttributeError:
'NoneType' object has no attribute 'hostname'` (or `... 'client'`). That is no connection error, so neither
`ignore_errors` nor `Message.ack_log_error` catches it, and Celery stops the worker with "Unrecoverable error"
(the Redis-restart test in `tests/faults/test_kills.py` failed 3 runs in 5).

The shim turns exactly that AttributeError, raised while the channel or its transport is detached, into a
`redis.exceptions.ConnectionError`, the error kombu and Celery already handle for a dead broker: the close goes
on, the ack is logged as not done ("Couldn't ack"), the consumer reconnects. Nothing is lost: every message the old
channel held unacknowledged stays in Redis's `unacked` hash (written at delivery, AOF-persisted). A finished job's
message comes back after the visibility timeout and is dropped as done; an unfinished one is re-driven by our
reconciler once it has sat there unclaimed for `P2P_QUEUE_WAIT_GRACE_S` (`shared/reconcile.py`).

It checks the behaviour, not a version string: with the channel attached, or once kombu no longer raises here, the
original method runs unchanged and the shim never acts. `tests/system/test_kombu_compat.py` reproduces both
crashes on a real Redis and fails without the shim (and says so once kombu fixes it: then delete this module).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import redis
from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)

_MARK = "_p2p_detached_is_a_connection_error"


def detached(channel: Any) -> bool:
    """True when the channel was closed off its transport, or the transport off its `kombu.Connection`."""
    transport = getattr(channel, "connection", None)
    return transport is None or getattr(transport, "client", None) is None


def _guarded(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def _connparams(self: Any, asynchronous: bool = False) -> Any:
        try:
            return original(self, asynchronous=asynchronous)
        except AttributeError as exc:
            if not detached(self):
                raise  # not the dead-connection path: a real bug, let it surface
            log.warning("a Redis channel was used after its broker connection was lost (%s); "
                        "its unacknowledged messages stay in Redis's unacked hash", exc)
            raise redis.exceptions.ConnectionError(
                "this channel's broker connection was lost and closed") from exc

    setattr(_connparams, _MARK, True)
    return _connparams


def install() -> None:
    """Guard `kombu.transport.redis.Channel._connparams` (idempotent; once per process is enough)."""
    channel = kombu_redis.Channel
    if not installed():
        channel._connparams = _guarded(channel._connparams)  # type: ignore[method-assign]


def installed() -> bool:
    return bool(getattr(kombu_redis.Channel._connparams, _MARK, False))
