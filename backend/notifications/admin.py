"""What the panel changes about messages: settings, texts, a failed message's retry."""

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from backend.errors import BadRequest
from backend.models import Message, MessageTemplate
from backend.notifications import templates
from backend.notifications.dispatcher import settings
from backend.unit_of_work import Actor, unit_of_work

SETTINGS_FIELDS = ("sms_provider", "kavenegar_api_key", "sms_sender", "email_provider",
                   "smtp_host", "smtp_port", "smtp_security", "smtp_username",
                   "smtp_password", "email_from", "sms_quota", "sms_promotional_reserve",
                   "sms_part_price_rials", "default_language", "expiry_reminder_days",
                   "instrument_reminder_days", "holdout_percent")
# Secrets are written only when a new value is typed; the panel never shows them.
SECRET_FIELDS = ("kavenegar_api_key", "smtp_password")


def save_settings(session: Session, values: dict, *, actor: Actor):
    """The message settings, audited `edit_message_settings` (a secret only as changed)."""
    with unit_of_work(session, actor) as work:
        current = _save_settings(session, values)
        work.audit("edit_message_settings", "message_settings", 1, {"values": {
            key: ("(changed)" if value else "") if key in SECRET_FIELDS else value
            for key, value in values.items()}})
        return current


def _save_settings(session: Session, values: dict):
    unknown = set(values) - set(SETTINGS_FIELDS)
    assert not unknown, f"unknown message settings {unknown}"
    current = settings(session)
    if values.get("sms_provider") == "kavenegar" and not (
            values.get("kavenegar_api_key") or current.kavenegar_api_key):
        raise BadRequest("kavenegar_api_key", "Kavenegar needs its API key.")
    if values.get("email_provider") == "smtp" and not (
            values.get("smtp_host") and values.get("email_from")):
        raise BadRequest("smtp_host", "SMTP needs a server and a sender address.")
    for key, value in values.items():
        if key in SECRET_FIELDS and not value:
            continue
        setattr(current, key, value)
    session.flush()
    return current


def template_texts(session: Session) -> dict[tuple[str, str], str]:
    """(kind, language) → the text in use: the admin's, else the built-in one."""
    texts = {(kind, language): text for kind, by_language in templates.DEFAULTS.items()
             for language, text in by_language.items()}
    for row in session.scalars(select(MessageTemplate)):
        if row.key in templates.KINDS:
            texts[(row.key, row.language)] = row.body
    return texts


def save_templates(session: Session, texts: dict[tuple[str, str], str],
                   enabled: set[str], now: datetime, *, actor: Actor
                   ) -> dict[tuple[str, str], str]:
    """Check every text; save them all, audited `edit_message_texts`, or none. Returns
    errors by (kind, language) (English msgids with their parameters, as TemplateError
    carries them)."""
    with unit_of_work(session, actor) as work:
        errors = _save_templates(session, texts, enabled, now)
        if not errors:
            work.audit("edit_message_texts", "message_template", "",
                       {"enabled": sorted(enabled)})
        return errors


def _save_templates(session: Session, texts: dict[tuple[str, str], str],
                    enabled: set[str], now: datetime) -> dict[tuple[str, str], str]:
    errors, checked = {}, {}
    for (kind, language), text in texts.items():
        assert kind in templates.KINDS and language in templates.LANGUAGES, (kind, language)
        try:
            checked[(kind, language)] = templates.check(
                text, templates.allowed_placeholders(kind), templates.KINDS[kind].required)
        except templates.TemplateError as error:
            errors[(kind, language)] = error
    if errors:
        return errors
    existing = {(row.key, row.language): row for row in session.scalars(select(MessageTemplate))}
    for key, text in checked.items():
        row = existing.get(key)
        if text == templates.DEFAULTS[key[0]][key[1]]:
            if row is not None:  # back to the built-in text: it then follows upgrades
                session.execute(delete(MessageTemplate).where(MessageTemplate.id == row.id))
        elif row is None:
            session.add(MessageTemplate(key=key[0], language=key[1], body=text,
                                        updated_at=now))
        elif row.body != text:
            row.body, row.updated_at = text, now
    settings(session).disabled_kinds = sorted(
        kind for kind, spec in templates.KINDS.items()
        if spec.can_disable and kind not in enabled)
    session.flush()
    return {}


def can_retry(message: Message) -> bool:
    """Whether `retry` accepts the message: failed, and not a verification code (a code
    is never sent twice; the member asks for a new one)."""
    return message.status == "failed" and message.kind != "otp"


def retry(session: Session, message_id: int, now: datetime, *, actor: Actor) -> Message:
    """Send a failed message again from the start (after the admin fixed a setting),
    audited `retry_message`."""
    with unit_of_work(session, actor) as work:
        message = session.get(Message, message_id)
        if message is None or message.status != "failed":
            raise BadRequest("message", "Only a failed message can be sent again.")
        if message.kind == "otp":
            raise BadRequest("message", "A verification code is not sent again; ask for a "
                                        "new one.")
        message.status, message.attempts, message.error = "queued", 0, ""
        message.next_attempt_at, message.lease_until = now, None
        work.audit("retry_message", "message", message_id)
        return message


def status_counts(session: Session, since: datetime) -> dict[str, int]:
    return dict(session.execute(
        select(Message.status, func.count()).where(Message.created_at >= since)
        .group_by(Message.status)).all())


def overview(session: Session, now: datetime) -> dict:
    current = settings(session)
    return {
        "settings": current,
        "remaining": max(0, current.sms_quota - current.sms_used),
        "last_week": status_counts(session, now - timedelta(days=7)),
        "waiting": session.scalar(select(func.count()).select_from(Message).where(
            Message.status.in_(("queued", "sending")))),
    }
