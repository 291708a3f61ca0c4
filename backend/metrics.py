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
    _terminal_health(registry, session, now, stale_after)
    firmware = Gauge("vafa_terminals_by_firmware", "Active terminals by the firmware version "
                     "and kind their state last said", ["version", "kind"], registry=registry)
    for version, kind, count in session.execute(
            select(Device.firmware_version, Device.firmware_kind, func.count())
            .where(Device.status == "active")
            .group_by(Device.firmware_version, Device.firmware_kind)):
        firmware.labels(version or "", kind or "").set(count)
    from backend.models import MessageSettings

    settings = session.get(MessageSettings, 1)
    quota = Gauge("vafa_sms_quota_remaining", "SMS parts the club may still send (quota "
                  "bought minus parts sent)", registry=registry)
    quota.set(max(0, settings.sms_quota - settings.sms_used) if settings else 0)
    return registry


# Per terminal (issue 16), labelled by device id: as many series as registered terminals.
_HEALTH_GAUGES = (
    ("vafa_terminal_uptime_seconds", "Uptime the terminal last reported", "uptime_s"),
    ("vafa_terminal_free_heap_bytes", "Free heap the terminal last reported", "free_heap"),
    ("vafa_terminal_wifi_rssi_dbm", "Wi-Fi signal the terminal last reported", "rssi"),
    ("vafa_terminal_oldest_queued_seconds", "Age of the oldest offline sale in the "
     "terminal's journal (0: none)", "oldest_queued_s"),
    ("vafa_terminal_set_aside_sales", "Journaled sales the terminal set aside unanswered",
     "set_aside"),
    ("vafa_terminal_config_applied", "Config version the terminal confirmed",
     "applied_version"),
    ("vafa_terminal_config_pending", "Config version the panel sent", "pending_version"),
    ("vafa_terminal_bad_signatures", "Frames from the terminal the backend could not "
     "verify (at most one a minute counted)", "bad_signatures"),
)


def _terminal_health(registry, session: Session, now: datetime, stale_after) -> None:
    from backend.models import Device, TerminalHealth
    from backend.services import devices

    gauges = {column: Gauge(name, text, ["device"], registry=registry)
              for name, text, column in _HEALTH_GAUGES}
    queued = Gauge("vafa_terminal_queued", "Offline sales in the terminal's journal",
                   ["device"], registry=registry)
    clock_synced = Gauge("vafa_terminal_clock_synced", "1 when the terminal's clock is "
                         "synced", ["device"], registry=registry)
    paper = Gauge("vafa_terminal_paper_ok", "1 paper present, 0 out (absent: unknown)",
                  ["device"], registry=registry)
    warning = Gauge("vafa_terminal_warning", "1 for each warning the terminals page shows",
                    ["device", "warning"], registry=registry)
    rows = session.execute(select(Device, TerminalHealth).outerjoin(
        TerminalHealth, TerminalHealth.device_id == Device.id).order_by(Device.id))
    for device, health in rows:
        for code in devices.warnings(device, health, now, stale_after):
            warning.labels(device.id, code).set(1)
        if device.status != "active":
            continue
        queued.labels(device.id).set(device.queued_count)
        if health is None or health.reported_at is None:
            continue
        for column, gauge in gauges.items():
            value = getattr(health, column)
            if value is not None:
                gauge.labels(device.id).set(value)
        if health.clock_synced is not None:
            clock_synced.labels(device.id).set(int(health.clock_synced))
        if health.paper_ok is not None:
            paper.labels(device.id).set(int(health.paper_ok))
