"""Cheques and instalments a member owes (L13).

A cheque is recorded with its bank, number, due date (a whole Tehran day) and amount; an
instalment plan splits a total into N instalments due monthly (the same day of each Jalali
month, or the month's last day when it is shorter) or every K days, the last instalment
taking what the equal shares leave, so the instalments add up to the total to the rial.
Every status change is checked against `TRANSITIONS` and written with an InstrumentEvent
(who, when, before and after) in the same transaction; a refused change writes nothing.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import jdatetime
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.errors import BadRequest, Forbidden, NotFound
from backend.models import (
    Branch,
    InstalmentPlan,
    InstrumentEvent,
    Member,
    PaymentInstrument,
    Purchase,
)
from backend.unit_of_work import Actor, unit_of_work
from backend.validators import MAX_AMOUNT_RIALS
from card_spec import normalize_digits

KINDS = ("cheque", "instalment")
STATUSES = ("pending", "cleared", "paid", "bounced", "cancelled")
# What each kind may become from each status. A bounced cheque may still clear (it is
# presented again); nothing else moves once settled.
TRANSITIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "cheque": {"pending": ("cleared", "bounced", "cancelled"), "bounced": ("cleared",)},
    "instalment": {"pending": ("paid", "cancelled")},
}
OPEN_STATES = ("pending", "bounced")  # still owed
SCHEDULES = ("monthly", "days")
MAX_INSTALMENTS = 120
MAX_INTERVAL_DAYS = 366
MAX_NOTE = 500
MAX_CHEQUE_NUMBER = 20

# Iranian banks a cheque may be drawn on: code, Persian name, English name.
BANKS: tuple[tuple[str, str, str], ...] = (
    ("melli", "بانک ملی ایران", "Bank Melli Iran"),
    ("sepah", "بانک سپه", "Bank Sepah"),
    ("mellat", "بانک ملت", "Bank Mellat"),
    ("tejarat", "بانک تجارت", "Tejarat Bank"),
    ("saderat", "بانک صادرات ایران", "Bank Saderat Iran"),
    ("keshavarzi", "بانک کشاورزی", "Bank Keshavarzi"),
    ("maskan", "بانک مسکن", "Bank Maskan"),
    ("refah", "بانک رفاه کارگران", "Refah Kargaran Bank"),
    ("post", "پست بانک ایران", "Post Bank of Iran"),
    ("tosee_saderat", "بانک توسعه صادرات", "Export Development Bank"),
    ("sanat_madan", "بانک صنعت و معدن", "Bank of Industry and Mine"),
    ("tosee_taavon", "بانک توسعه تعاون", "Tose'e Ta'avon Bank"),
    ("parsian", "بانک پارسیان", "Parsian Bank"),
    ("pasargad", "بانک پاسارگاد", "Bank Pasargad"),
    ("saman", "بانک سامان", "Saman Bank"),
    ("eghtesad_novin", "بانک اقتصاد نوین", "EN Bank"),
    ("karafarin", "بانک کارآفرین", "Karafarin Bank"),
    ("sina", "بانک سینا", "Sina Bank"),
    ("sarmayeh", "بانک سرمایه", "Sarmayeh Bank"),
    ("shahr", "بانک شهر", "Shahr Bank"),
    ("dey", "بانک دی", "Dey Bank"),
    ("ayandeh", "بانک آینده", "Ayandeh Bank"),
    ("gardeshgari", "بانک گردشگری", "Tourism Bank"),
    ("iran_zamin", "بانک ایران زمین", "Iran Zamin Bank"),
    ("khavarmianeh", "بانک خاورمیانه", "Middle East Bank"),
    ("resalat", "بانک قرض‌الحسنه رسالت", "Resalat Bank"),
    ("mehr_iran", "بانک قرض‌الحسنه مهر ایران", "Mehr Iran Bank"),
)
BANK_NAMES = {code: (fa, en) for code, fa, en in BANKS}


def bank_name(code: str, language: str) -> str:
    names = BANK_NAMES.get(code)
    if names is None:
        return code
    return names[0] if language == "fa" else names[1]


def _positive_rials(value, field: str = "amount") -> int:
    if type(value) is not int or value <= 0:
        raise BadRequest(field, "must be a positive whole number of rials")
    if value > MAX_AMOUNT_RIALS:
        raise BadRequest(field, "that amount is too large")
    return value


def _note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise BadRequest("note", "a note has at most 500 characters")
    return note


def _check_owner(session: Session, member_id: int, branch_id: int | None,
                 purchase_id: int | None) -> Member:
    member = session.get(Member, member_id)
    if member is None or member.is_gift_account:
        raise BadRequest("member", f"no member {member_id}")
    if branch_id is not None and session.get(Branch, branch_id) is None:
        raise BadRequest("branch", f"no branch {branch_id}")
    if purchase_id is not None:
        purchase = session.get(Purchase, purchase_id)
        if purchase is None or purchase.member_id != member_id:
            raise BadRequest("purchase", "no such purchase of this member")
    return member


def _event(session: Session, row: PaymentInstrument, before: str | None, after: str, *,
           staff_user_id: int | None, now: datetime, note: str = "") -> None:
    session.add(InstrumentEvent(instrument_id=row.id, staff_user_id=staff_user_id,
                                before_status=before, after_status=after, note=note, at=now))


def _record_cheque(session: Session, *, member_id: int, bank: str, number: str,
                  due_date: date, amount_rials: int, now: datetime,
                  branch_id: int | None = None, staff_user_id: int | None = None,
                  purchase_id: int | None = None, note: str = "") -> PaymentInstrument:
    """A cheque the member gave, pending until it clears or bounces. The same bank and
    number cannot be recorded twice unless the first was cancelled."""
    if bank not in BANK_NAMES:
        raise BadRequest("bank", "choose the cheque's bank from the list")
    number = normalize_digits((number or "").strip()).replace(" ", "").replace("-", "")
    if not number.isdigit() or not number.isascii() or len(number) > MAX_CHEQUE_NUMBER:
        raise BadRequest("number", "a cheque number is up to 20 digits")
    if not isinstance(due_date, date):
        raise BadRequest("due_date", "enter the due date")
    _positive_rials(amount_rials)
    note = _note(note)
    _check_owner(session, member_id, branch_id, purchase_id)
    taken = session.scalar(select(PaymentInstrument.id).where(
        PaymentInstrument.kind == "cheque", PaymentInstrument.bank == bank,
        PaymentInstrument.reference == number, PaymentInstrument.status != "cancelled"))
    if taken is not None:
        raise BadRequest("number", "this cheque is already recorded")
    row = PaymentInstrument(member_id=member_id, kind="cheque", bank=bank, reference=number,
                            amount_rials=amount_rials, due_date=due_date, status="pending",
                            note=note, branch_id=branch_id, purchase_id=purchase_id,
                            created_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # Recorded at the same moment by another request: the index said no.
        raise BadRequest("number", "this cheque is already recorded") from None
    _event(session, row, None, "pending", staff_user_id=staff_user_id, now=now)
    session.flush()
    return row


def record_cheque(session: Session, *, actor: Actor, member_id: int, amount_rials: int,
                  bank: str, **fields) -> PaymentInstrument:
    """_record_cheque (its `fields`) by the actor, audited `record_cheque`, one unit."""
    with unit_of_work(session, actor) as work:
        work.audit("record_cheque", "member", member_id,
                   {"amount_rials": amount_rials, "bank": bank})
        return _record_cheque(session, member_id=member_id, amount_rials=amount_rials,
                              bank=bank, staff_user_id=actor.staff_user_id, **fields)


def split_amounts(total_rials: int, count: int) -> list[int]:
    """`count` equal shares in whole rials; the last takes the remainder."""
    share = total_rials // count
    return [share] * (count - 1) + [total_rials - share * (count - 1)]


def _add_jalali_months(first: date, months: int) -> date:
    start = jdatetime.date.fromgregorian(date=first)
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    length = 31 if month <= 6 else 30 if month <= 11 else (
        30 if jdatetime.date(year, 1, 1).isleap() else 29)
    return jdatetime.date(year, month, min(start.day, length)).togregorian()


def schedule_dates(first_due: date, count: int, schedule: str,
                   interval_days: int | None = None) -> list[date]:
    """The due dates of `count` instalments from `first_due`: the same day of each Jalali
    month (the month's last day when it has fewer days), or every `interval_days` days."""
    if schedule == "monthly":
        return [_add_jalali_months(first_due, k) for k in range(count)]
    return [first_due + timedelta(days=interval_days * k) for k in range(count)]


@dataclass(frozen=True)
class PlanResult:
    plan: InstalmentPlan
    instalments: list[PaymentInstrument]


def _create_plan(session: Session, *, member_id: int, total_rials: int, count: int,
                schedule: str, first_due: date, now: datetime,
                interval_days: int | None = None, branch_id: int | None = None,
                staff_user_id: int | None = None, purchase_id: int | None = None,
                note: str = "", request_key: str | None = None) -> PlanResult:
    """An instalment plan and its instalments, all written or none. A `request_key` seen
    before (a resubmitted form) returns the plan it made and makes nothing new."""
    if request_key:
        earlier = session.scalars(select(InstalmentPlan).where(
            InstalmentPlan.request_key == request_key[:64])).one_or_none()
        if earlier is not None:
            if earlier.member_id != member_id:
                raise BadRequest("request_key", "this form was already used")
            return PlanResult(earlier, list(session.scalars(
                select(PaymentInstrument).where(PaymentInstrument.plan_id == earlier.id)
                .order_by(PaymentInstrument.sequence))))
    _positive_rials(total_rials, "total")
    if type(count) is not int or not 1 <= count <= MAX_INSTALMENTS:
        raise BadRequest("count", "the number of instalments is 1 to 120")
    if count > total_rials:
        raise BadRequest("count", "each instalment must be at least one rial")
    if schedule not in SCHEDULES:
        raise BadRequest("schedule", "must be monthly or days")
    if schedule == "days":
        if type(interval_days) is not int or not 1 <= interval_days <= MAX_INTERVAL_DAYS:
            raise BadRequest("interval_days", "the days between instalments are 1 to 366")
    else:
        interval_days = None
    if not isinstance(first_due, date):
        raise BadRequest("first_due", "enter the first due date")
    note = _note(note)
    _check_owner(session, member_id, branch_id, purchase_id)
    plan = InstalmentPlan(member_id=member_id, branch_id=branch_id, total_rials=total_rials,
                          count=count, schedule=schedule, interval_days=interval_days,
                          first_due=first_due, purchase_id=purchase_id, note=note,
                          created_by_id=staff_user_id, created_at=now,
                          request_key=request_key[:64] if request_key else None)
    session.add(plan)
    session.flush()
    rows = []
    for sequence, (amount, due) in enumerate(zip(
            split_amounts(total_rials, count),
            schedule_dates(first_due, count, schedule, interval_days), strict=True), 1):
        row = PaymentInstrument(member_id=member_id, kind="instalment", amount_rials=amount,
                                due_date=due, status="pending", branch_id=branch_id,
                                plan_id=plan.id, sequence=sequence, purchase_id=purchase_id,
                                created_at=now)
        session.add(row)
        rows.append(row)
    session.flush()
    for row in rows:
        _event(session, row, None, "pending", staff_user_id=staff_user_id, now=now)
    session.flush()
    return PlanResult(plan, rows)


def create_plan(session: Session, *, actor: Actor, member_id: int, total_rials: int,
                count: int, **fields) -> PlanResult:
    """_create_plan (its `fields`) by the actor, audited `create_instalment_plan` (a plan
    answered again for its request key included, as before), one unit."""
    with unit_of_work(session, actor) as work:
        work.audit("create_instalment_plan", "member", member_id,
                   {"total_rials": total_rials, "count": count})
        return _create_plan(session, member_id=member_id, total_rials=total_rials,
                            count=count, staff_user_id=actor.staff_user_id, **fields)


def visible(session: Session, instrument_id: int,
            branch_scope: int | None = None) -> PaymentInstrument:
    """The row, if the caller's branch may see it (None: every branch)."""
    row = session.get(PaymentInstrument, instrument_id)
    if row is None:
        raise NotFound(f"no cheque or instalment {instrument_id}")
    if branch_scope is not None and row.branch_id != branch_scope:
        raise Forbidden("operators act on their own branch's cheques and instalments only")
    return row


def allowed_statuses(row: PaymentInstrument) -> tuple[str, ...]:
    return TRANSITIONS[row.kind].get(row.status, ())


def _change_status(session: Session, *, instrument_id: int, status: str, now: datetime,
                  staff_user_id: int | None = None, branch_scope: int | None = None,
                  note: str = "") -> PaymentInstrument:
    """Move a cheque or instalment to `status` if its kind allows it from where it is."""
    if status not in STATUSES:
        raise BadRequest("status", f"must be one of {', '.join(STATUSES)}")
    note = _note(note)
    row = session.get(PaymentInstrument, instrument_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no cheque or instalment {instrument_id}")
    if branch_scope is not None and row.branch_id != branch_scope:
        raise Forbidden("operators act on their own branch's cheques and instalments only")
    if status not in allowed_statuses(row):
        raise BadRequest("status", "this change is not possible from the current status")
    before = row.status
    row.status = status
    row.settled_at = now if status != "bounced" else None
    _event(session, row, before, status, staff_user_id=staff_user_id, now=now, note=note)
    session.flush()
    return row


def change_status(session: Session, *, actor: Actor, instrument_id: int, status: str,
                  **fields) -> PaymentInstrument:
    """_change_status (its `fields`) by the actor, audited `change_instrument_status`
    with the status before and after, one unit."""
    with unit_of_work(session, actor) as work:
        current = session.get(PaymentInstrument, instrument_id)
        before = current.status if current is not None else None
        row = _change_status(session, instrument_id=instrument_id, status=status,
                             staff_user_id=actor.staff_user_id, **fields)
        work.audit("change_instrument_status", "payment_instrument", instrument_id,
                   {"before": before, "after": status})
        return row


def history(session: Session, instrument_id: int) -> list[InstrumentEvent]:
    return list(session.scalars(select(InstrumentEvent).where(
        InstrumentEvent.instrument_id == instrument_id).order_by(InstrumentEvent.id)))


def of_member(session: Session, member_id: int, limit: int = 200) -> list[PaymentInstrument]:
    """A member's cheques and instalments: open ones by due date first, then the rest."""
    rows = session.scalars(select(PaymentInstrument).where(
        PaymentInstrument.member_id == member_id)
        .order_by(PaymentInstrument.due_date, PaymentInstrument.id).limit(limit)).all()
    return sorted(rows, key=lambda row: row.status not in OPEN_STATES)


def is_overdue(row: PaymentInstrument, today: date) -> bool:
    """Pending and past its due date: the rule of `overdue`, for one row."""
    return row.status == "pending" and row.due_date < today


def overdue(session: Session, today: date) -> list[PaymentInstrument]:
    """Pending cheques and instalments past their due date, oldest first."""
    return list(session.scalars(
        select(PaymentInstrument)
        .where(PaymentInstrument.status == "pending", PaymentInstrument.due_date < today)
        .order_by(PaymentInstrument.due_date, PaymentInstrument.id)
    ))
