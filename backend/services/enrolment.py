"""One-time enrolment tokens for provisioning QR codes (O2).

A technician asks for a token for a terminal that does not exist yet; the QR code holds
it with the Wi-Fi and broker settings. The terminal, in setup mode, scans the code and
exchanges the token once, within 15 minutes, for its credentials, which are generated at
that moment (only the token's SHA-256 is stored, and no secret is ever kept in clear).
The reply's config carries `seq_floor`, the device's last accepted seq
(`devices.terminal_config`), so the terminal's counter starts above it.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.errors import DomainError
from backend.models import EnrolmentToken
from backend.services import devices
from backend.unit_of_work import SYSTEM, Actor, unit_of_work

TOKEN_LIFETIME = timedelta(minutes=15)
TOKEN_BYTES = 16


class TokenRefused(DomainError):
    """An enrolment token that is unknown, already used or expired."""

    code = "TOKEN_REFUSED"
    http_status = 403


@dataclass(frozen=True)
class IssuedToken:
    token: str
    device_id: str
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, *, device_id: str, branch_id: int, now: datetime,
                name: str = "", lang: str = "en", actor: Actor = SYSTEM) -> IssuedToken:
    """A token that enrols terminal `device_id` at `branch_id`; one unit of work."""
    with unit_of_work(session, actor):
        devices.check_new_device(session, device_id=device_id, branch_id=branch_id, lang=lang)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        expires_at = now + TOKEN_LIFETIME
        session.add(EnrolmentToken(token_sha256=_digest(token), device_id=device_id,
                                   branch_id=branch_id, name=name or device_id, lang=lang,
                                   created_at=now, expires_at=expires_at))
        return IssuedToken(token, device_id, expires_at)


def redeem_token(session: Session, token: str, *, now: datetime) -> devices.DeviceCredentials:
    """Use `token` once: registers its terminal with fresh secrets, in one unit of work
    (or the caller's) on the terminal's own behalf: nobody signed in.

    The conditional UPDATE marks the token used only if it is still unused and unexpired;
    of two concurrent exchanges exactly one changes the row, the other is refused.
    """
    with unit_of_work(session, SYSTEM):
        digest = _digest(token.strip())
        claimed = session.execute(
            update(EnrolmentToken)
            .where(EnrolmentToken.token_sha256 == digest, EnrolmentToken.used_at.is_(None),
                   EnrolmentToken.expires_at > now)
            .values(used_at=now)
            .returning(EnrolmentToken.id)
        ).scalar_one_or_none()
        if claimed is None:
            row = session.scalars(
                select(EnrolmentToken).where(EnrolmentToken.token_sha256 == digest)
            ).one_or_none()
            if row is None:
                raise TokenRefused("unknown enrolment token")
            if row.used_at is not None:
                raise TokenRefused("this enrolment token was already used")
            raise TokenRefused("this enrolment token has expired; make a new QR code")
        row = session.get(EnrolmentToken, claimed)
        session.refresh(row)
        return devices.register_device(session, actor=SYSTEM, device_id=row.device_id,
                                       branch_id=row.branch_id, name=row.name, lang=row.lang)
