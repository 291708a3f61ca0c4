"""The panel sends a command through the real broker; the terminal, subscribed with its own
credentials, receives a frame signed with its key. The audit log names who sent what."""

import json
import threading

from sqlalchemy import select

from backend import protocol
from backend.extensions import db
from backend.models import AuditLog
from backend.services.demo import DEMO_LOGINS
from tests.conftest import AuthActions


def test_a_message_from_the_panel_reaches_the_terminal_signed(stack):
    received: list[bytes] = []
    arrived = threading.Event()
    with stack.terminal("t01") as till:
        def on_message(client, userdata, message):
            if message.topic.endswith("/cmd"):
                received.append(message.payload)
                arrived.set()

        till.client.on_message = on_message
        assert not any(code.is_failure for code in till.subscribe(protocol.topic("t01", "cmd")))
        panel = stack.app.test_client()
        assert AuthActions(panel).login("admin", DEMO_LOGINS["admin"]).status_code == 302
        response = panel.post("/terminals/t01/command",
                              data={"operation": "display", "text": "Staff meeting\n۱۰:۳۰"})
        assert response.status_code == 302, response.get_data(as_text=True)
        assert arrived.wait(5), "the terminal got no command"
    body = json.loads(protocol.decode_frame(received[0], till.key))
    assert body["op"] == "display" and body["lines"] == ["Staff meeting", "10:30"]
    with stack.app.app_context():
        row = db.session.scalars(select(AuditLog).where(
            AuditLog.action == "terminal_command")).one()
        assert (row.entity, row.entity_id) == ("device", "t01")
        assert row.details["id"] == body["id"] and row.details["op"] == "display"
        db.session.rollback()


def test_a_broker_that_is_down_is_reported_and_nothing_is_audited(stack):
    stack.app.config["MQTT_BACKEND_PORT"] = 1  # nothing listens there
    panel = stack.app.test_client()
    assert AuthActions(panel).login("admin", DEMO_LOGINS["admin"]).status_code == 302
    response = panel.post("/terminals/t01/command", data={"operation": "reboot", "text": ""})
    assert response.status_code == 400
    assert "کارگزار پیام در دسترس نیست" in response.get_data(as_text=True)
    with stack.app.app_context():
        assert db.session.scalars(select(AuditLog).where(
            AuditLog.action == "terminal_command")).all() == []
        db.session.rollback()
