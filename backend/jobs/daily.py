"""Daily jobs, each run once per local (Tehran) day by whichever jobs process gets there.

A job is due once the local time passes its hour (nobody wants a birthday SMS at
midnight). `job_run` has one row per (job, day): the process that inserts it runs the
job, the others see it; a run whose process died is retaken when its lease runs out.
Each job is idempotent on its own as well — the nightly jobs by their ledger keys,
the messages by their dedupe keys — so even a forced second run changes nothing more.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import jdatetime
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import i18n
from backend.engine.calendar import CLUB_TIMEZONE, local
from backend.models import (
    CreditLot,
    InstalmentPlan,
    JobRun,
    Member,
    Message,
    PaymentInstrument,
    PointsLot,
    VerificationCode,
)
from backend.notifications import outbox
from backend.notifications.dispatcher import settings
from backend.services import tiers, wallet
from backend.services.instruments import bank_name
from backend.services.reports import segments
from backend.unit_of_work import SYSTEM, unit_of_work

log = logging.getLogger(__name__)

JOB_LEASE = timedelta(minutes=30)
# Verification codes live minutes; a day keeps enough for the rate limits' windows.
CODE_RETENTION = timedelta(days=1)
IN_CHUNK = 500  # ids per IN (…) list


@dataclass(frozen=True)
class DailyJob:
    name: str
    local_hour: int  # due from this hour of the local day on
    run: Callable[[Session, datetime], str]


def local_day(now: datetime) -> date:
    return local(now).date()


def end_of_local_day(now: datetime) -> datetime:
    day = local_day(now) + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=CLUB_TIMEZONE)


def is_jalali_anniversary(event: date, today: date) -> bool:
    """Whether `today` is the Jalali anniversary of `event` (same month and day).

    Esfand 30 exists in leap years only: in a common year its people are greeted on
    Esfand 29, the year's last day; in a leap year on the 30th (and the 29th's on the
    29th)."""
    born = jdatetime.date.fromgregorian(date=event)
    now = jdatetime.date.fromgregorian(date=today)
    if (born.month, born.day) == (now.month, now.day):
        return True
    return (born.month, born.day) == (12, 30) and (now.month, now.day) == (12, 29) \
        and not now.isleap()


def _existing_keys(session: Session, keys: list[str]) -> set[str]:
    found = set()
    for start in range(0, len(keys), IN_CHUNK):
        found.update(session.scalars(select(Message.dedupe_key).where(
            Message.dedupe_key.in_(keys[start:start + IN_CHUNK]))))
    return found


def _greet(session: Session, now: datetime, kind: str, column) -> str:
    with unit_of_work(session, SYSTEM):
        today = local_day(now)
        jalali_year = jdatetime.date.fromgregorian(date=today).year
        rows = session.execute(
            select(Member.id, column).where(
                column.is_not(None), Member.is_gift_account.is_(False),
                Member.mobile.is_not(None), Member.promotional_opt_out.is_(False))
            .order_by(Member.id)).all()
        chosen = [member_id for member_id, event in rows if is_jalali_anniversary(event, today)]
        keys = {member_id: f"{kind}:{jalali_year}:{member_id}" for member_id in chosen}
        done = _existing_keys(session, list(keys.values()))
        queued = 0
        for member_id in chosen:
            if keys[member_id] in done:
                continue
            member = session.get(Member, member_id)
            if outbox.enqueue(session, kind=kind, recipient=member.mobile, member=member, now=now,
                              dedupe_key=keys[member_id], expires_at=end_of_local_day(now)):
                queued += 1
    return f"{queued} {kind} messages queued"


def birthday_messages(session: Session, now: datetime) -> str:
    """N1: greet the members whose Jalali birthday is today (promotional)."""
    return _greet(session, now, "birthday", Member.birth_date)


def anniversary_messages(session: Session, now: datetime) -> str:
    """N1: greet the members whose Jalali wedding anniversary is today (promotional)."""
    return _greet(session, now, "anniversary", Member.wedding_date)


def credit_expiry_reminders(session: Session, now: datetime) -> str:
    """N1: tell members what credit expires within the next `expiry_reminder_days`:
    one message per member and local expiry day, sent once (its dedupe key)."""
    with unit_of_work(session, SYSTEM):
        days = settings(session).expiry_reminder_days
        rows = _expiring_lots(session, now, days, CreditLot, CreditLot.remaining_rials)
        queued = _expiry_reminders(session, now, rows, kind="credit_expiring",
                                   amount_name="amount", last_day=local_day)
        queued += _points_expiry_reminders(session, now, days)
    return f"{queued} expiry reminders queued"


def _points_expiry_reminders(session: Session, now: datetime, days: int) -> int:
    """L1: the same for points that expire within `days`: one message per member and
    local expiry day, sent once."""
    rows = _expiring_lots(session, now, days, PointsLot, PointsLot.remaining)
    # A lot expires at a local midnight: the last day it can be used is the day before.
    return _expiry_reminders(
        session, now, rows, kind="points_expiring", amount_name="points",
        last_day=lambda expires_at: local_day(expires_at - timedelta(seconds=1)))


def _expiring_lots(session: Session, now: datetime, days: int, lot, remaining) -> list:
    """(member id, expires at, remaining) of the `lot` rows (credit or points) with
    something left that expire within `days`, of members who can get a text."""
    return session.execute(
        select(lot.member_id, lot.expires_at, remaining)
        .join(Member, Member.id == lot.member_id)
        .where(remaining > 0, lot.expires_at > now,
               lot.expires_at <= now + timedelta(days=days),
               Member.mobile.is_not(None), Member.is_gift_account.is_(False))
        .order_by(lot.member_id, lot.expires_at)).all()


def _expiry_reminders(session: Session, now: datetime, rows, *, kind: str, amount_name: str,
                      last_day: Callable[[datetime], date]) -> int:
    """Queue one `kind` message per member and last day of the (member id, expires at,
    amount) `rows`, with the day's total; a day already reminded (its dedupe key) is not
    queued again. Returns how many were queued."""
    expiring: dict[tuple[int, date], int] = {}
    for member_id, expires_at, remaining in rows:
        key = (member_id, last_day(expires_at))
        expiring[key] = expiring.get(key, 0) + remaining
    keys = {key: f"{kind}:{key[0]}:{key[1].isoformat()}" for key in expiring}
    done = _existing_keys(session, list(keys.values()))
    queued = 0
    for (member_id, day), amount in expiring.items():
        if keys[(member_id, day)] in done:
            continue
        member = session.get(Member, member_id)
        outbox.enqueue(session, kind=kind, recipient=member.mobile, member=member, now=now,
                       dedupe_key=keys[(member_id, day)],
                       params={amount_name: amount, "date": day.isoformat()})
        queued += 1
    return queued


def instrument_reminders(session: Session, now: datetime) -> str:
    """L13: remind members of a cheque or instalment due within the next
    `instrument_reminder_days` (today included): one message per item, ever (its dedupe
    key), which expires at the end of the item's due day."""
    with unit_of_work(session, SYSTEM):
        today = local_day(now)
        last = today + timedelta(days=settings(session).instrument_reminder_days)
        rows = session.scalars(
            select(PaymentInstrument)
            .join(Member, Member.id == PaymentInstrument.member_id)
            .where(PaymentInstrument.status == "pending", PaymentInstrument.due_date >= today,
                   PaymentInstrument.due_date <= last, Member.mobile.is_not(None),
                   Member.is_gift_account.is_(False))
            .order_by(PaymentInstrument.due_date, PaymentInstrument.id)).all()
        keys = {row.id: f"{row.kind}_due:{row.id}" for row in rows}
        done = _existing_keys(session, list(keys.values()))
        counts = {plan_id: count for plan_id, count in session.execute(
            select(InstalmentPlan.id, InstalmentPlan.count).where(InstalmentPlan.id.in_(
                {row.plan_id for row in rows if row.plan_id is not None})))}
        queued = 0
        for row in rows:
            if keys[row.id] in done:
                continue
            params = {"amount": row.amount_rials, "date": row.due_date.isoformat()}
            if row.kind == "cheque":
                params.update(number=row.reference, bank={
                    language: bank_name(row.bank, language) for language in ("fa", "en")})
            else:
                of = counts.get(row.plan_id, 1)
                params["instalment"] = {
                    "fa": f"{i18n.format_number(row.sequence or 1, 'fa')} از "
                          f"{i18n.format_number(of, 'fa')}",
                    "en": f"{row.sequence or 1} of {of}"}
            member = session.get(Member, row.member_id)
            outbox.enqueue(session, kind=f"{row.kind}_due", recipient=member.mobile,
                           member=member, now=now, dedupe_key=keys[row.id], params=params,
                           expires_at=datetime.combine(row.due_date + timedelta(days=1), time(0),
                                                       tzinfo=CLUB_TIMEZONE))
            queued += 1
    return f"{queued} cheque and instalment reminders queued"


def nightly(session: Session, now: datetime) -> str:
    """The loyalty's nightly jobs (what `flask nightly` runs): expire credit, move members
    between tiers, then score LRFM and run the segment rules. Each is idempotent and
    its own unit of work."""
    expired = wallet.expire_credit(session, now)
    points_expired = wallet.expire_points(session, now)
    changes = tiers.evaluate_all(session, now)
    report = segments.nightly(session, now)
    moved = sum(run.members_changed for run in report.rules)
    return (f"expired {expired:,} rials of credit and {points_expired:,} points; "
            f"{len(changes)} tier changes; "
            f"LRFM: {report.scores.scored} members scored; segment rules: {moved} members "
            f"moved or listed")


def cleanup(session: Session, now: datetime) -> str:
    with unit_of_work(session, SYSTEM):
        removed = session.execute(delete(VerificationCode).where(
            VerificationCode.created_at < now - CODE_RETENTION)).rowcount
    return f"{removed} old verification codes removed"


DAILY_JOBS = (
    DailyJob("nightly", 1, nightly),
    DailyJob("cleanup", 3, cleanup),
    DailyJob("birthdays", 9, birthday_messages),
    DailyJob("anniversaries", 9, anniversary_messages),
    DailyJob("credit_expiring", 10, credit_expiry_reminders),
    DailyJob("instrument_due", 10, instrument_reminders),
)
JOBS_BY_NAME = {job.name: job for job in DAILY_JOBS}


def claim(session: Session, name: str, day: date, now: datetime) -> JobRun | None:
    """This process's run of `name` for `day`, or None if it is done or running
    elsewhere. The claim is its own unit of work."""
    try:
        with unit_of_work(session, SYSTEM):
            row = session.scalars(select(JobRun).where(JobRun.name == name,
                                                       JobRun.day == day)).one_or_none()
            if row is None:
                row = JobRun(name=name, day=day, status="running", started_at=now,
                             lease_until=now + JOB_LEASE)
                session.add(row)
                session.flush()
                return row
            if row.status == "done":
                return None
            taken = session.execute(
                update(JobRun).where(JobRun.id == row.id, JobRun.status == "running",
                                     JobRun.lease_until < now)
                .values(started_at=now, lease_until=now + JOB_LEASE)
                .execution_options(synchronize_session=False)).rowcount
    except IntegrityError:
        return None  # another process inserted it first (the unit rolled back)
    return session.get(JobRun, row.id, populate_existing=True) if taken == 1 else None


def run_job(session: Session, job: DailyJob, now: datetime) -> str | None:
    """Run `job` for today if nobody did; its summary, or None when it was not run."""
    run = claim(session, job.name, local_day(now), now)
    if run is None:
        return None
    run_id = run.id
    summary = job.run(session, now)  # each step of the job is its own unit of work
    with unit_of_work(session, SYSTEM):
        session.execute(update(JobRun).where(JobRun.id == run_id).values(
            status="done", finished_at=now, summary=summary[:255])
            .execution_options(synchronize_session=False))
    log.info("daily job %s: %s", job.name, summary)
    return summary


def run_due(session: Session, now: datetime) -> dict[str, str]:
    """Every daily job whose hour has come and that has not run today."""
    hour = local(now).hour
    results = {}
    for job in DAILY_JOBS:
        if hour < job.local_hour:
            continue
        try:
            summary = run_job(session, job, now)
        except Exception:  # its unit of work rolled back what the failed step did
            log.exception("daily job %s failed; it is tried again when its lease ends",
                          job.name)
            continue
        if summary is not None:
            results[job.name] = summary
    return results
