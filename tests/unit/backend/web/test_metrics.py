"""/metrics: what the database says at scrape time, to loopback or the bearer token only."""

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from backend.models import Message
from backend.services import devices
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW


def samples(text: str) -> dict:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_terminals_and_outbox_as_the_database_has_them(client, db, app):
    app.config["CLOCK"] = lambda: NOW
    branch = factories.branch(db)
    for device_id in ("t01", "t02", "t03"):
        factories.device(db, device_id=device_id, branch_id=branch.id)
    devices.record_state(db, "t01", b'{"online": true, "queued": 4}', NOW)
    devices.record_state(db, "t02", b'{"online": true, "queued": 2}', NOW - timedelta(days=1))
    devices.revoke_device(db, "t03", actor=SYSTEM)
    member = factories.member(db)
    for status in ("queued", "queued", "failed"):
        db.add(Message(member_id=member.id, channel="sms", recipient="09121234567",
                       body="سلام", status=status, kind="test", category="transactional"))
    db.flush()
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    values = samples(response.get_data(as_text=True))
    # t02 said "online" a day ago: stale, so offline.
    assert values[("vafa_terminals", (("state", "online"),))] == 1
    assert values[("vafa_terminals", (("state", "offline"),))] == 1
    assert values[("vafa_terminals", (("state", "revoked"),))] == 1
    assert values[("vafa_terminal_queued_sales", ())] == 6
    assert values[("vafa_outbox_messages", (("status", "queued"),))] == 2
    assert values[("vafa_outbox_messages", (("status", "failed"),))] == 1
    assert values[("vafa_outbox_messages", (("status", "sent"),))] == 0


def test_other_callers_need_the_token(client, db, app):
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=remote).status_code == 404
    app.config["METRICS_TOKEN"] = "s3cret-token"
    assert client.get("/metrics", environ_base=remote,
                      headers={"Authorization": "Bearer wrong"}).status_code == 404
    assert client.get("/metrics", environ_base=remote,
                      headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
