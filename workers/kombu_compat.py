"""A compatibility shim for kombu's Redis transport: a worker must survive its broker dying.

The bug (kombu 5.7.0 with celery 5.7.0; the same fault test passed with celery 5.6.3 / kombu 5.6.2): when the
Redis connection drops, Celery's consumer first collects the broken connection (`Connection.collect`), then closes
it. If a BRPOP was pending at the drop, the channel's close inside `collect` fails part-way on the dead socket
(reading the BRPOP reply, then deleting the remote-control mailbox's auto-delete fanout queue) *before* the
channel is marked closed, and `collect` then detaches the transport (`transport.client = None`). The final
`close` runs `QoS.restore_unacked`, which builds a new Redis pool from the detached transport:
`AttributeError: 'NoneType' object has no attribute 'hostname'` in `Channel._connparams`. That is no connection
error, so `ignore_errors` lets it through and Celery stops the worker with "Unrecoverable error" (the Redis-restart
test in `tests/faults/test_kills.py` failed 3 runs in 5; it depends on whether a BRPOP was pending).

The shim: when the restore fails with an AttributeError *and* the channel's transport is detached, it logs and
gives up the restore instead of killing the worker. Nothing is lost by that: every message this channel held
unacknowledged is still in Redis's `unacked` hash (written at delivery, AOF-persisted); when Redis was killed the
restore could not have reached it anyway. Our reconciler re-drives a job whose message sits there unclaimed past
`P2P_QUEUE_WAIT_GRACE_S` (`shared/reconcile.py`), and kombu itself restores it after the visibility timeout.

It changes nothing else. With the transport attached, or when kombu no longer raises (a fixed kombu), the original
method runs unchanged and the shim never acts: it checks the behaviour, not a version string.
`tests/system/test_kombu_compat.py` reproduces the crash on a real Redis and fails without the shim.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)

_MARK = "_p2p_survives_detached_transport"


def transport_detached(channel: Any) -> bool:
    """True when the channel's transport was detached from its `kombu.Connection` (or the channel from it)."""
    transport = getattr(channel, "connection", None)
    return transport is None or getattr(transport, "client", None) is None


def _guarded(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def restore_unacked(self: Any, client: Any = None) -> Any:
        try:
            return original(self, client)
        except AttributeError:
            if client is not None or not transport_detached(self.channel):
                raise  # not the dead-connection close: a real bug, let it surface
            log.warning("kombu could not restore %d unacknowledged message(s) on closing a dead broker "
                        "connection; they stay in Redis's unacked hash and are re-driven from there",
                        len(self._delivered))
            self._delivered.clear()
            return None

    setattr(restore_unacked, _MARK, True)
    return restore_unacked


def install() -> None:
    """Guard `kombu.transport.redis.QoS.restore_unacked` (idempotent; once per process is enough)."""
    qos = kombu_redis.QoS
    if not getattr(qos.restore_unacked, _MARK, False):
        qos.restore_unacked = _guarded(qos.restore_unacked)  # type: ignore[method-assign]


def installed() -> bool:
    return bool(getattr(kombu_redis.QoS.restore_unacked, _MARK, False))
