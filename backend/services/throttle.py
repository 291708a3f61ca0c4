"""Slowing password guessing without letting anyone lock anyone out (issue 17 item 7).

Failures are counted per (account, client address): from one address, the first
FREE_FAILURES wrong passwords cost nothing, then each next try must wait twice as long
as the one before (FIRST_DELAY, doubling, at most MAX_DELAY) after the last failure. A
success from that address starts it over. Someone guessing from elsewhere therefore
slows only themselves: the real user, signing in from their own address, gets in at once.

Every address also has a budget across all accounts (MAX_FAILURES_PER_ADDRESS in
ADDRESS_WINDOW), against one address spraying many accounts.

Rows are `LoginAttempt`s (account names: a staff username, `member:<mobile>`), kept in
the database so the limits hold across every web process. The address is
`backend.web.auth.client_ip()`: the peer, or with VAFA_TRUSTED_PROXIES the client the
trusted proxies name (ProxyFix).

Tries racing each other: `begin` writes and commits the try first (as a failure until
`finish`), then counts only the tries written before it, so of a burst sent at once
only the first few (FREE_FAILURES, or one after a wait) reach the password check; a
refused try is deleted again and never counts.

Units of work (issue 20): `begin` and `finish` each run in a unit of their own, never
inside a use case's: a failure must stay recorded when the sign-in is refused and the
refusal rolls its use case back, and the try must be visible to tries racing it before
the password is checked.
"""

import math
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from backend.errors import DomainError
from backend.models import LoginAttempt
from backend.unit_of_work import SYSTEM, in_unit_of_work, unit_of_work

FREE_FAILURES = 3
FIRST_DELAY = timedelta(seconds=2)
MAX_DELAY = timedelta(minutes=15)
FAILURE_MEMORY = timedelta(hours=24)  # failures older than this are forgotten
MAX_FAILURES_PER_ADDRESS = 20
ADDRESS_WINDOW = timedelta(minutes=15)


class TooManyAttempts(DomainError):
    code = "RATE_LIMITED"
    http_status = 429

    def __init__(self, retry_after: timedelta):
        self.retry_after_s = max(1, math.ceil(retry_after.total_seconds()))
        super().__init__(f"too many failed sign-ins from this address; try again in "
                         f"{self.retry_after_s} s")


def delay_after(failures: int) -> timedelta:
    """How long after the last of `failures` consecutive failures the next try may come."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    doublings = min(failures - FREE_FAILURES, 20)  # 2 s * 2^20 is far past MAX_DELAY
    return min(MAX_DELAY, FIRST_DELAY * 2 ** doublings)


def wait_left(session: Session, account: str, ip: str, now: datetime,
              before_id: int | None = None) -> timedelta:
    """Zero when `account` may be tried from `ip` now, else how long to wait; counting
    only the tries recorded before `before_id` when given."""
    ip = ip[:45]
    earlier = [LoginAttempt.id < before_id] if before_id is not None else []
    since = now - FAILURE_MEMORY
    last_success = session.scalar(select(func.max(LoginAttempt.at)).where(
        LoginAttempt.username == account, LoginAttempt.ip == ip,
        LoginAttempt.succeeded.is_(True), LoginAttempt.at > since, *earlier))
    if last_success is not None:
        since = max(since, last_success)
    failures, last_failure = session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            LoginAttempt.username == account, LoginAttempt.ip == ip,
            LoginAttempt.succeeded.is_(False), LoginAttempt.at > since, *earlier)).one()
    waits = [timedelta(0)]
    if failures:
        waits.append(last_failure + delay_after(failures) - now)
    if ip:
        window = now - ADDRESS_WINDOW
        recent = session.scalars(
            select(LoginAttempt.at).where(LoginAttempt.ip == ip,
                                          LoginAttempt.succeeded.is_(False),
                                          LoginAttempt.at > window, *earlier)
            .order_by(LoginAttempt.at.desc()).limit(MAX_FAILURES_PER_ADDRESS)).all()
        if len(recent) >= MAX_FAILURES_PER_ADDRESS:
            # Free again when the oldest of the last MAX failures leaves the window.
            waits.append(recent[-1] + ADDRESS_WINDOW - now)
    return max(waits)


def begin(session: Session, account: str, ip: str, now: datetime) -> LoginAttempt:
    """Record a try of `account` from `ip` (a failure until `finish`) and commit it, so
    tries running at the same time see it; raise TooManyAttempts, the try deleted,
    when this address must wait for this account."""
    # Joining a caller's unit would let its rollback take the recorded try with it.
    assert not in_unit_of_work(session), "a sign-in try is recorded in its own unit"
    attempt = LoginAttempt(username=account[:64], ip=ip[:45], succeeded=False, at=now)
    with unit_of_work(session, SYSTEM):
        session.add(attempt)
    left = wait_left(session, account, ip, now, before_id=attempt.id)
    if left > timedelta(0):
        with unit_of_work(session, SYSTEM):
            session.delete(attempt)
        raise TooManyAttempts(left)
    return attempt


def finish(attempt: LoginAttempt, succeeded: bool) -> None:
    """The try's outcome, committed in its own unit (a failure stays recorded whatever
    the caller then does)."""
    session = object_session(attempt)
    assert not in_unit_of_work(session), "a sign-in outcome is recorded in its own unit"
    with unit_of_work(session, SYSTEM):
        attempt.succeeded = succeeded
