"""Staff-side use cases own their transaction: a refused change leaves no audit row, a
done change exactly one (issue 20). One test pair per converted area."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from backend.errors import BadRequest
from backend.models import AuditLog, Device, StaffUser
from backend.services import staff
from backend.unit_of_work import Actor
from tests import factories

PANEL = Actor(None, "10.0.0.9", "panel")


def audit_count(db, action: str) -> int:
    return db.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == action))


def _change(**fields) -> staff.StaffChange:
    return staff.StaffChange(**{"full_name": "Sara Ahmadi", "role": "admin", "branch_id": None,
                                "permissions": [], **fields})


def test_creating_staff_writes_one_audit_row(db):
    factories.club(db)
    staff.create_staff(db, username="sara", password="long-enough-1", change=_change(),
                       actor=PANEL)
    row = db.scalars(select(AuditLog).where(AuditLog.action == "create_staff")).one()
    assert (row.entity, row.entity_id, row.ip, row.details["username"]) == \
        ("staff_user", "", "10.0.0.9", "sara")
    assert db.scalar(select(StaffUser.id).where(StaffUser.username == "sara")) is not None


def test_refused_staff_changes_leave_no_audit_row(db):
    factories.club(db)
    with pytest.raises(BadRequest):
        staff.create_staff(db, username="sara", password="short", change=_change(),
                           actor=PANEL)
    admin = factories.staff_user(db)
    db.commit()  # the refusals below roll back to here
    with pytest.raises(BadRequest):
        staff.update_staff(db, admin.id, _change(is_active=False),
                           actor=Actor(admin.id, "", "panel"))
    with pytest.raises(BadRequest):
        staff.change_own_password(db, admin.id, "wrong", "new-password-1",
                                  actor=Actor(admin.id, "", "panel"))
    assert audit_count(db, "create_staff") == 0
    assert audit_count(db, "edit_staff") == 0
    assert audit_count(db, "change_password") == 0
    assert db.scalar(select(StaffUser.id).where(StaffUser.username == "sara")) is None


def test_editing_staff_and_own_password_write_one_row_each(db):
    factories.club(db)
    admin = factories.staff_user(db)
    other = factories.staff_user(db, username="reza", role="admin")
    staff.update_staff(db, other.id, _change(full_name="Reza K"),
                       actor=Actor(admin.id, "", "panel"))
    staff.change_own_password(db, admin.id, "admin-password", "new-password-1",
                              actor=Actor(admin.id, "", "panel"))
    assert audit_count(db, "edit_staff") == 1
    assert audit_count(db, "change_password") == 1


def test_sign_in_audits_only_the_accepted_attempt(db):
    factories.club(db)
    admin = factories.staff_user(db)
    assert staff.sign_in(db, "admin", "wrong", actor=PANEL) is None
    assert audit_count(db, "sign_in") == 0
    assert staff.sign_in(db, "admin", "admin-password", actor=PANEL).id == admin.id
    row = db.scalars(select(AuditLog).where(AuditLog.action == "sign_in")).one()
    assert (row.staff_user_id, row.entity_id) == (admin.id, str(admin.id))


# ---- terminals ----------------------------------------------------------------------------

def test_terminal_config_and_logs_audit_once_and_not_when_refused(db):
    from backend.errors import DomainError
    from backend.services import terminal_commands, terminal_policy

    factories.club(db)
    factories.device(db, device_id="t01")
    db.commit()
    device = db.get(Device, "t01")
    now = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    with pytest.raises(DomainError):  # nothing staged yet: nothing to send
        terminal_commands.send_config(db, lambda topic, frame: None, device.id, now, actor=PANEL)
    with pytest.raises(BadRequest):
        terminal_policy.save_branch_refund_settings(db, device.branch_id, window_hours=None,
                                                    actor=PANEL)
    assert audit_count(db, "terminal_config") == 0
    assert audit_count(db, "branch_refund_settings") == 0
    terminal_commands.save_config(db, device.id, {"idle_s": 30}, actor=PANEL)
    terminal_commands.send_config(db, lambda topic, frame: None, device.id, now, actor=PANEL)
    terminal_commands.request_logs(db, lambda topic, frame: None, device.id, now, actor=PANEL)
    terminal_policy.save_branch_refund_settings(db, device.branch_id, window_hours=24,
                                                actor=PANEL)
    for action in ("terminal_config_saved", "terminal_config", "terminal_logs",
                   "branch_refund_settings"):
        assert audit_count(db, action) == 1, action


# ---- catalogue, settings, engagement, tokens ---------------------------------------------

def test_catalogue_settings_and_content_audit_once_and_not_when_refused(db):
    from backend.services import api_tokens, catalogue, content

    factories.club(db)
    admin = factories.staff_user(db)
    db.commit()
    actor = Actor(admin.id, "", "panel")
    now = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    with pytest.raises(BadRequest):
        catalogue.save_settings(db, {"name": " "}, actor=actor)
    with pytest.raises(BadRequest):
        content.save_faq(db, None, {"question": "", "answer": "x"}, actor=actor)
    with pytest.raises(BadRequest):
        api_tokens.issue_integration(db, name=" ", valid_days=None, now=now, actor=actor)
    for action in ("edit_settings", "create_faq", "create_api_token"):
        assert audit_count(db, action) == 0, action
    catalogue.save_settings(db, {"name": "Vafa"}, actor=actor)
    content.save_faq(db, None, {"question": "Why?", "answer": "Because."}, actor=actor)
    issued = api_tokens.issue_integration(db, name="CRM", valid_days=None, now=now,
                                          actor=actor)
    api_tokens.revoke_integration(db, issued.row.id, now, actor=actor)
    for action in ("edit_settings", "create_faq", "create_api_token", "revoke_api_token"):
        assert audit_count(db, action) == 1, action
