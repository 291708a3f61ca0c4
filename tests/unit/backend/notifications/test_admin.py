"""What the panel changes about messages (backend/notifications/admin.py): settings with
their secrets kept when left blank, texts checked all-or-none and dropped when back to
the built-in one, and a failed message sent again from the start (never a code)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.errors import BadRequest
from backend.models import AuditLog, Message, MessageTemplate
from backend.notifications import admin, templates
from backend.notifications.dispatcher import settings
from backend.unit_of_work import Actor
from tests.conftest import NOW

PANEL = Actor(None, "10.0.0.9", "panel")

WELCOME_EN = "Hello {first_name}, your card is {card}. {club}"


def message(db, kind="welcome", status="failed", **fields) -> Message:
    row = Message(**{"kind": kind, "category": "transactional", "recipient": "09120000001",
                     "status": status, "attempts": 5, "error": "provider said no",
                     "next_attempt_at": NOW - timedelta(hours=1), "created_at": NOW,
                     **fields})
    db.add(row)
    db.commit()  # a refused retry rolls its unit of work back: the row must outlive it
    return row


def test_a_blank_secret_keeps_the_stored_one(db):
    admin.save_settings(db, {"sms_provider": "kavenegar", "kavenegar_api_key": "KEY-1",
                             "sms_sender": "10008663"}, actor=PANEL)
    saved = admin.save_settings(db, {"sms_provider": "kavenegar", "kavenegar_api_key": "",
                                     "sms_sender": "2000"}, actor=PANEL)
    assert (saved.kavenegar_api_key, saved.sms_sender) == ("KEY-1", "2000")


def test_kavenegar_without_a_key_and_smtp_without_a_server_are_refused(db):
    assert not settings(db).kavenegar_api_key
    with pytest.raises(BadRequest, match="Kavenegar needs its API key"):
        admin.save_settings(db, {"sms_provider": "kavenegar", "kavenegar_api_key": ""},
                            actor=PANEL)
    with pytest.raises(BadRequest, match="SMTP needs a server and a sender address"):
        admin.save_settings(db, {"email_provider": "smtp", "smtp_host": "mail.example"},
                            actor=PANEL)
    assert settings(db).sms_provider != "kavenegar"


def test_texts_are_saved_all_or_none(db):
    errors = admin.save_templates(db, {("welcome", "en"): WELCOME_EN,
                                       ("otp", "en"): "Your code is coming"},
                                  enabled=set(templates.KINDS), now=NOW, actor=PANEL)
    assert list(errors) == [("otp", "en")]
    assert errors[("otp", "en")].msgid == "The text must contain %(name)s."
    assert db.scalars(select(MessageTemplate)).all() == []  # the good one was not saved


def test_a_saved_text_is_used_and_the_built_in_one_drops_the_row(db):
    assert admin.save_templates(db, {("welcome", "en"): WELCOME_EN},
                                enabled=set(templates.KINDS) - {"birthday"}, now=NOW,
                                actor=PANEL) == {}
    assert admin.template_texts(db)[("welcome", "en")] == WELCOME_EN
    assert settings(db).disabled_kinds == ["birthday"]
    built_in = templates.DEFAULTS["welcome"]["en"]
    admin.save_templates(db, {("welcome", "en"): built_in}, enabled=set(templates.KINDS),
                         now=NOW, actor=PANEL)
    # Back to the built-in text: no row, so the text follows upgrades.
    assert db.scalars(select(MessageTemplate)).all() == []
    assert admin.template_texts(db)[("welcome", "en")] == built_in
    assert settings(db).disabled_kinds == []


def test_a_verification_code_cannot_be_switched_off(db):
    admin.save_templates(db, {}, enabled=set(), now=NOW, actor=PANEL)
    assert "otp" not in settings(db).disabled_kinds
    assert "welcome" in settings(db).disabled_kinds


def test_a_failed_message_is_sent_again_from_the_start(db):
    failed = message(db, lease_until=NOW)
    retried = admin.retry(db, failed.id, now=NOW, actor=PANEL)
    assert (retried.status, retried.attempts, retried.error, retried.next_attempt_at,
            retried.lease_until) == ("queued", 0, "", NOW, None)


def test_only_a_failed_message_and_never_a_code_is_sent_again(db):
    sent = message(db, status="sent")
    code = message(db, kind="otp")
    with pytest.raises(BadRequest, match="Only a failed message"):
        admin.retry(db, sent.id, now=NOW, actor=PANEL)
    with pytest.raises(BadRequest, match="ask for a new one"):
        admin.retry(db, code.id, now=NOW, actor=PANEL)
    with pytest.raises(BadRequest, match="Only a failed message"):
        admin.retry(db, 999_999, now=NOW, actor=PANEL)
    assert db.get(Message, code.id).status == "failed"


def test_the_overview_counts_the_last_week_and_what_waits(db):
    message(db, status="sent")
    message(db, status="queued")
    message(db, status="failed", created_at=NOW - timedelta(days=8))
    seen = admin.overview(db, NOW)
    assert seen["last_week"] == {"sent": 1, "queued": 1}
    assert seen["waiting"] == 1
    assert seen["remaining"] == max(0, seen["settings"].sms_quota - seen["settings"].sms_used)


def audit_rows(db, action: str) -> list[AuditLog]:
    return db.scalars(select(AuditLog).where(AuditLog.action == action)).all()


def test_a_refused_change_leaves_no_audit_row_and_a_done_one_exactly_one(db):
    with pytest.raises(BadRequest):
        admin.save_settings(db, {"sms_provider": "kavenegar", "kavenegar_api_key": ""},
                            actor=PANEL)
    assert audit_rows(db, "edit_message_settings") == []
    admin.save_settings(db, {"sms_provider": "kavenegar", "kavenegar_api_key": "KEY-1"},
                        actor=PANEL)
    [row] = audit_rows(db, "edit_message_settings")
    # A secret is recorded only as changed, never its value.
    assert (row.entity, row.entity_id, row.ip, row.details["values"]) == (
        "message_settings", "1", "10.0.0.9",
        {"sms_provider": "kavenegar", "kavenegar_api_key": "(changed)"})

    assert admin.save_templates(db, {("otp", "en"): "No code here"}, enabled=set(),
                                now=NOW, actor=PANEL)
    assert audit_rows(db, "edit_message_texts") == []
    admin.save_templates(db, {}, enabled={"welcome"}, now=NOW, actor=PANEL)
    [row] = audit_rows(db, "edit_message_texts")
    assert row.details == {"enabled": ["welcome"]}


def test_a_refused_retry_leaves_no_audit_row_and_a_done_one_exactly_one(db):
    code, failed = message(db, kind="otp"), message(db)
    with pytest.raises(BadRequest):
        admin.retry(db, code.id, now=NOW, actor=PANEL)
    assert audit_rows(db, "retry_message") == []
    admin.retry(db, failed.id, now=NOW, actor=PANEL)
    [row] = audit_rows(db, "retry_message")
    assert (row.entity, row.entity_id) == ("message", str(failed.id))
