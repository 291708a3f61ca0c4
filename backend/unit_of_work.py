"""One use case, one transaction: the unit of work every service runs in (issue 20).

A service opens `with unit_of_work(session, actor) as work:`, does its reads and writes,
writes its audit rows with `work.audit(...)` — a call the reader of the service sees — and
the block commits when it ends, or rolls back when anything is raised (a DomainError
included), so a change without its audit row, or an audit row of a change that was
refused, cannot exist. Views, the API and the MQTT worker parse, authorise, call one
service and render or reply; they never commit or roll back.

A service that calls another service joins the caller's unit: only the outermost block
commits, so a use case that is made of two services is still one transaction.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session

from backend.models import AuditLog

MAX_AUDIT_ROWS = 100  # one use case writing more audit rows than this is a bug
_KEY = "vafa.unit_of_work"


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff user at the panel or through the API, or the system (a CLI, a
    job, a terminal). `via` is recorded in the audit row's details unless it is the panel."""

    staff_user_id: int | None = None
    ip: str = ""
    via: str = "panel"

    @classmethod
    def system(cls, via: str = "system") -> "Actor":
        return cls(None, "", via)


SYSTEM = Actor.system()


class UnitOfWork:
    def __init__(self, session: Session, actor: Actor) -> None:
        self.session = session
        self.actor = actor
        self.audit_rows = 0

    def audit(self, action: str, entity: str = "", entity_id: object = "",
              details: dict | None = None, *, actor: Actor | None = None) -> AuditLog:
        """Write one audit row in this unit's transaction (committed with the change)."""
        who = actor or self.actor
        self.audit_rows += 1
        assert self.audit_rows <= MAX_AUDIT_ROWS, "too many audit rows in one unit of work"
        row_details = dict(details or {})
        if who.via != "panel":
            row_details.setdefault("via", who.via)
        row = AuditLog(staff_user_id=who.staff_user_id, ip=(who.ip or "")[:45],
                       action=action[:48], entity=entity[:32],
                       entity_id=str(entity_id if entity_id is not None else "")[:64],
                       details=row_details)
        self.session.add(row)
        return row


@contextmanager
def unit_of_work(session: Session, actor: Actor = SYSTEM) -> Iterator[UnitOfWork]:
    """Run one use case: commit at the end of the outermost block, roll back on any error.

    Nested blocks (a service calling a service) join the outer unit and its actor."""
    outer = session.info.get(_KEY)
    if outer is not None:
        yield outer
        return
    work = UnitOfWork(session, actor)
    session.info[_KEY] = work
    try:
        yield work
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(_KEY, None)


def in_unit_of_work(session: Session) -> bool:
    return _KEY in session.info


def is_staff(actor: Actor) -> bool:
    """Whether a change is audited (issue 5): the audit log records what staff users do; a
    member acting for themselves, a job or a CLI leaves its ledger rows instead."""
    return actor.staff_user_id is not None
