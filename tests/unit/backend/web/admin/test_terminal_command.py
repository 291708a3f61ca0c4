"""The terminal command page: who may open it, and errors at the field (the sending itself
goes through the real broker in tests/integration/test_terminal_commands.py)."""

import pytest
from sqlalchemy import select

from backend.models import AuditLog
from tests import factories
from tests.conftest import NOW


@pytest.fixture
def branches(db, app):
    app.config["CLOCK"] = lambda: NOW
    factories.club(db)
    central = factories.branch(db, name="Central")
    north = factories.branch(db, name="North")
    factories.device(db, device_id="t01", branch_id=central.id)
    factories.device(db, device_id="t02", branch_id=north.id)
    return central, north


def sign_in(client, db, *, role="admin", permissions=(), branch_id=None):
    factories.staff_user(db, username="someone", role=role, branch_id=branch_id,
                         permissions=list(permissions))
    assert client.post("/login", data={"username": "someone",
                                       "password": "admin-password"}).status_code == 302


def test_operators_need_the_devices_permission_and_reach_their_branch_only(client, db,
                                                                           branches):
    central, _ = branches
    sign_in(client, db, role="operator", branch_id=central.id)
    assert client.get("/terminals/t01/command").status_code == 403
    client.post("/logout")
    factories.staff_user(db, username="tech", role="operator", branch_id=central.id,
                         permissions=["devices"])
    client.post("/login", data={"username": "tech", "password": "admin-password"})
    assert client.get("/terminals/t01/command").status_code == 200
    assert client.get("/terminals/t02/command").status_code == 404
    assert client.post("/terminals/t02/command",
                       data={"operation": "reboot"}).status_code == 404
    listing = client.get("/terminals").get_data(as_text=True)
    assert "/terminals/t01/command" in listing and "/terminals/t02/command" not in listing


@pytest.mark.parametrize(("data", "shown"), [
    ({"operation": "display", "text": "سلام Ω"}, "صفحهٔ پایانه فقط حروف فارسی و لاتین"),
    ({"operation": "display", "text": ""}, "متن پیام را بنویسید"),
    ({"operation": "display", "text": "x" * 33}, "هر سطر صفحه حداکثر ۳۲ نویسه"),
    ({"operation": "explode"}, "انتخاب درستی نیست"),
])
def test_what_cannot_be_sent_is_explained_and_nothing_is_audited(client, db, branches, data,
                                                                 shown):
    sign_in(client, db)
    response = client.post("/terminals/t01/command", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f"{shown}" in page.split("terminal-command")[1]
    assert db.scalars(select(AuditLog).where(AuditLog.action == "terminal_command")).all() == []


def test_unknown_terminal_is_not_found(client, db, branches):
    sign_in(client, db)
    assert client.get("/terminals/nope/command").status_code == 404
