"""The audit log (issue 5): who changed what, when, from which IP.

Views describe the change with `note(...)` before they call the service; the note is
written by a `before_commit` hook in the SAME transaction as the change, so a change
without its audit row (or an audit row for a rolled-back change) cannot exist. The table
refuses UPDATE and DELETE (database triggers, migration 0004).
"""

from dataclasses import dataclass, field

from flask import g, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from backend.models import AuditLog

MAX_PENDING_NOTES = 100  # a request that notes more than this is a bug


@dataclass
class Note:
    staff_user_id: int | None
    ip: str
    action: str
    entity: str = ""
    entity_id: str = ""
    details: dict = field(default_factory=dict)


def note(*, staff_user_id: int | None, ip: str, action: str, entity: str = "",
         entity_id: object = "", details: dict | None = None) -> None:
    pending = g.setdefault("audit_notes", [])
    assert len(pending) < MAX_PENDING_NOTES, "too many audit notes in one request"
    pending.append(Note(staff_user_id, ip or "", action, entity, str(entity_id or ""),
                        dict(details or {})))


def record(session: Session, item: Note) -> None:
    """Write one audit row now, in the caller's transaction (for services and CLIs)."""
    session.add(AuditLog(staff_user_id=item.staff_user_id, ip=item.ip[:45],
                         action=item.action, entity=item.entity,
                         entity_id=item.entity_id[:64], details=item.details))


@event.listens_for(Session, "before_commit")
def _write_pending_notes(session: Session) -> None:
    if not has_request_context():
        return
    pending = g.pop("audit_notes", None)
    if not pending:
        return
    for item in pending:
        record(session, item)
    session.flush()

