"""Prometheus metrics read from the database at scrape time (backend/metrics.py): the
outbox by status, terminals online/offline/revoked by the staleness bound, sales waiting
in terminals, the firmware fleet and the SMS quota left. The /metrics route itself:
tests/unit/backend/web/test_metrics.py."""

from datetime import timedelta

import pytest

from backend import metrics
from backend.models import Device, Message
from backend.notifications.dispatcher import settings
from tests import factories
from tests.conftest import NOW

STALE_AFTER = timedelta(minutes=5)


@pytest.fixture
def fleet(db):
    for device_id, fields in {
        "fresh": {"is_online": True, "state_at": NOW - timedelta(minutes=1),
                  "queued_count": 2, "firmware_version": "1.4.0", "firmware_kind": "mpy"},
        "stale": {"is_online": True, "state_at": NOW - timedelta(minutes=6),
                  "queued_count": 3, "firmware_version": "1.4.0", "firmware_kind": "mpy"},
        "gone": {"is_online": True, "state_at": NOW, "queued_count": 50, "status": "revoked",
                 "firmware_version": "1.3.0", "firmware_kind": "mpy"},
    }.items():
        factories.device(db, device_id=device_id)
        device = db.get(Device, device_id)
        for name, value in fields.items():
            setattr(device, name, value)
    for status in ("queued", "queued", "failed"):
        db.add(Message(kind="welcome", category="transactional", recipient="09120000001",
                       status=status))
    quota = settings(db)
    quota.sms_quota, quota.sms_used = 1_000, 250
    db.flush()


def sample(registry, name, **labels):
    return registry.get_sample_value(name, labels)


def test_terminals_by_state_use_the_staleness_bound(db, fleet):
    registry = metrics.database_registry(db, NOW, STALE_AFTER)
    assert {state: sample(registry, "vafa_terminals", state=state)
            for state in ("online", "offline", "revoked")} == {
        "online": 1, "offline": 1, "revoked": 1}
    # Sales waiting: active terminals only (a revoked one's journal will never be sent).
    assert sample(registry, "vafa_terminal_queued_sales") == 5
    assert sample(registry, "vafa_terminal_queued", device="stale") == 3
    assert sample(registry, "vafa_terminal_queued", device="gone") is None
    assert sample(registry, "vafa_terminals_by_firmware", version="1.4.0", kind="mpy") == 2
    assert sample(registry, "vafa_terminals_by_firmware", version="1.3.0", kind="mpy") is None


def test_the_outbox_counts_every_status_and_the_quota_left(db, fleet):
    registry = metrics.database_registry(db, NOW, STALE_AFTER)
    assert sample(registry, "vafa_outbox_messages", status="queued") == 2
    assert sample(registry, "vafa_outbox_messages", status="failed") == 1
    assert sample(registry, "vafa_outbox_messages", status="sent") == 0  # present, zero
    assert sample(registry, "vafa_sms_quota_remaining") == 750


def test_an_overdrawn_quota_shows_zero_not_a_negative(db, fleet):
    quota = settings(db)
    quota.sms_used = quota.sms_quota + 10
    registry = metrics.database_registry(db, NOW, STALE_AFTER)
    assert sample(registry, "vafa_sms_quota_remaining") == 0


def test_the_worker_metrics_port_must_be_a_port():
    with pytest.raises(AssertionError, match="metrics port out of range"):
        metrics.serve_worker_metrics(0)
