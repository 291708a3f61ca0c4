"""Prometheus metrics (ARCHITECTURE.md "Background work and operations").

Two sources, because they live in different processes:
- the MQTT worker counts what it handles (frames by outcome code, reply latency, offline
  replays, security events) in `WORKER_REGISTRY` and serves it on its own loopback port
  (`VAFA_WORKER_METRICS_PORT`, 0 = off) with prometheus-client's HTTP server;
- the web app's `/metrics` reads the state that is in the database at scrape time
  (outbox depth, terminals online/offline/revoked, sales queued on terminals, the SMS
  quota left).

Label values come from closed sets (protocol codes, drop reasons, statuses), so the number
of series is bounded.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

WORKER_REGISTRY = CollectorRegistry()
FRAMES = Counter("vafa_frames", "Request frames handled by the MQTT worker, by outcome code "
                 "(OK, a PROTOCOL.md error code, or dropped_<reason>)", ["code"],
                 registry=WORKER_REGISTRY)
REPLY_SECONDS = Histogram("vafa_reply_seconds", "Time from a request frame's arrival at the "
                          "worker to its reply being handed to the broker",
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                   1.0, 2.5),
                          registry=WORKER_REGISTRY)
OFFLINE_REPLAYS = Counter("vafa_offline_replays", "Journaled offline purchases replayed by "
                          "terminals", registry=WORKER_REGISTRY)
SECURITY_EVENTS = Counter("vafa_security_events", "Frames dropped unanswered (bad signature, "
                          "unknown or revoked device, bad topic, oversize)", ["reason"],
                          registry=WORKER_REGISTRY)


def serve_worker_metrics(port: int, address: str = "127.0.0.1") -> None:
    """Expose WORKER_REGISTRY on http://address:port/metrics (a daemon thread)."""
    assert 0 < port < 65536, "metrics port out of range"
    start_http_server(port, addr=address, registry=WORKER_REGISTRY)


def database_registry(session: Session, now: datetime, stale_after) -> CollectorRegistry:
    """A registry holding what the database says now; built per scrape (two small
    aggregate queries), so the web processes keep no state of their own."""
    from backend.models import Device, Message

    registry = CollectorRegistry()
    outbox = Gauge("vafa_outbox_messages", "Messages (SMS, email) in the outbox by status",
                   ["status"], registry=registry)
    for status in ("queued", "sending", "sent", "delivered", "failed", "cancelled"):
        outbox.labels(status).set(0)
    for status, count in session.execute(
            select(Message.status, func.count()).group_by(Message.status)):
        outbox.labels(status).set(count)
    terminals = Gauge("vafa_terminals", "Terminals by state (online: said so on the state "
                      "topic within the staleness bound)", ["state"], registry=registry)
    queued = Gauge("vafa_terminal_queued_sales", "Offline sales waiting in terminals' "
                   "journals, as their last state said", registry=registry)
    fresh_online = Device.is_online & (Device.state_at >= now - stale_after)
    state = case((Device.status != "active", "revoked"), (fresh_online, "online"),
                 else_="offline")
    for name in ("online", "offline", "revoked"):
        terminals.labels(name).set(0)
    for name, count in session.execute(select(state, func.count()).group_by(state)):
        terminals.labels(name).set(count)
    queued.set(session.scalar(select(func.coalesce(func.sum(Device.queued_count), 0)).where(
        Device.status == "active")) or 0)
    from backend.models import MessageSettings

    settings = session.get(MessageSettings, 1)
    quota = Gauge("vafa_sms_quota_remaining", "SMS parts the club may still send (quota "
                  "bought minus parts sent)", registry=registry)
    quota.set(max(0, settings.sms_quota - settings.sms_used) if settings else 0)
    return registry
