"""Credit and points outside purchases: top-up, transfer, grants, conversion, expiry."""

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import engine, ledger
from backend.engine.calendar import local_day_start
from backend.errors import BadRequest, InsufficientBalance, LimitReached
from backend.models import (
    Club,
    CreditAllocation,
    CreditGrant,
    CreditLot,
    CreditTransfer,
    LedgerEntry,
    Member,
    PointsLot,
    the_club,
)
from backend.notifications import outbox
from backend.unit_of_work import SYSTEM, Actor, is_staff, unit_of_work


def _positive(name: str, value) -> int:
    if type(value) is not int or value <= 0:
        raise BadRequest(name, "must be a positive whole number")
    return value


def top_up_locked(session: Session, *, member: Member, amount_rials: int, idempotency_key: str,
                  now: datetime):
    """Cash paid into the wallet (L8): credit that never expires, spendable everywhere."""
    _positive("amount", amount_rials)
    transaction = ledger.post(session, member=member, idempotency_key=idempotency_key,
                              kind="topup", movements=[ledger.Movement("credit", amount_rials)],
                              reason=f"top-up of {amount_rials:,} rials", now=now)
    outbox.credit_increase(session, member, amount_rials, idempotency_key, now)
    return transaction


def transfer_credit(session: Session, *, actor: Actor, from_member_id: int, to_member_id: int,
                    amount_rials: int, idempotency_key: str, now: datetime) -> CreditTransfer:
    """Move credit between members (L11) within the club's limits, in one transaction.

    Both members are locked in id order so two opposite transfers cannot deadlock; the
    receiver's credit keeps the expiry of the lots it came from."""
    with unit_of_work(session, actor) as work:
        _positive("amount", amount_rials)
        if from_member_id == to_member_id:
            raise BadRequest("to", "cannot transfer credit to the same member")
        club = the_club(session)
        first, second = sorted((from_member_id, to_member_id))
        locked = {member_id: ledger.lock_member(session, member_id)
                  for member_id in (first, second)}
        sender, receiver = locked[from_member_id], locked[to_member_id]
        existing = ledger.find_transaction(session, f"{idempotency_key}:out")
        if existing is not None:
            transfer = session.scalars(select(CreditTransfer).where(
                CreditTransfer.ledger_transaction_id == existing.id)).one()
            if (transfer.from_member_id, transfer.to_member_id, transfer.amount_rials) != (
                from_member_id, to_member_id, amount_rials
            ):
                raise BadRequest("idempotency_key", "already used for a different transfer")
            return transfer
        if sender.is_gift_account or receiver.is_gift_account:
            raise BadRequest("member", "gift cards are redeemed, not transferred")
        if amount_rials > club.max_transfer_rials:
            raise LimitReached(f"one transfer may move at most {club.max_transfer_rials:,} rials")
        sent_today = session.scalar(
            select(func.coalesce(func.sum(CreditTransfer.amount_rials), 0)).where(
                CreditTransfer.from_member_id == sender.id,
                CreditTransfer.created_at >= local_day_start(now))
        )
        if sent_today + amount_rials > club.max_transfer_per_day_rials:
            raise LimitReached(
                f"daily transfer limit {club.max_transfer_per_day_rials:,} rials; "
                f"{sent_today:,} already sent today")
        outgoing = ledger.post(
            session, member=sender, idempotency_key=f"{idempotency_key}:out", kind="transfer-out",
            movements=[ledger.Movement("credit", -amount_rials)],
            reason=f"transfer to member {receiver.id}", now=now,
        )
        parcels = session.execute(
            select(CreditAllocation.amount_rials, CreditLot.expires_at)
            .join(CreditLot, CreditLot.id == CreditAllocation.lot_id)
            .join(LedgerEntry, LedgerEntry.id == CreditAllocation.entry_id)
            .where(LedgerEntry.transaction_id == outgoing.id).order_by(CreditAllocation.id)
        ).all()
        ledger.post(
            session, member=receiver, idempotency_key=f"{idempotency_key}:in", kind="transfer-in",
            movements=[
                ledger.Movement("credit", rials, expires_at=expiry) for rials, expiry in parcels
            ],
            reason=f"transfer from member {sender.id}", now=now,
        )
        outbox.credit_increase(session, receiver, amount_rials, f"{idempotency_key}:in", now)
        transfer = CreditTransfer(from_member_id=sender.id, to_member_id=receiver.id,
                                  amount_rials=amount_rials, ledger_transaction_id=outgoing.id,
                                  created_at=now)
        session.add(transfer)
        if is_staff(work.actor):
            work.audit("transfer_credit", "member", from_member_id,
                       {"to_member_id": to_member_id, "amount_rials": amount_rials})
    return transfer


def grant_credit(session: Session, *, actor: Actor, amount_rials: int, reason: str,
                 now: datetime, tier_id: int | None = None, member_id: int | None = None,
                 expires_at: datetime | None = None,
                 request_key: str | None = None) -> CreditGrant:
    """Credit one member or every member of a tier at once (L4), optionally expiring.

    One transaction; each member's entry is keyed by grant and member. With a
    `request_key`, a repeated call returns the first grant and grants nothing more."""
    with unit_of_work(session, actor) as work:
        _positive("amount", amount_rials)
        if request_key is not None:
            earlier = session.scalars(
                select(CreditGrant).where(CreditGrant.request_key == request_key)).one_or_none()
            if earlier is not None:
                return earlier
        if (tier_id is None) == (member_id is None):
            raise BadRequest("target", "grant to exactly one of a tier or a member")
        if expires_at is not None and expires_at <= now:
            raise BadRequest("expires_at", "the expiry must be in the future")
        if not reason.strip():
            raise BadRequest("reason", "say why the credit is given")
        grant = CreditGrant(reason=reason.strip(), tier_id=tier_id, member_id=member_id,
                            amount_rials=amount_rials, expires_at=expires_at, created_at=now,
                            request_key=request_key)
        session.add(grant)
        session.flush()
        if member_id is not None:
            member_ids = [member_id]
        else:
            member_ids = list(session.scalars(
                select(Member.id).where(Member.tier_id == tier_id,
                                        Member.is_gift_account.is_(False))
                .order_by(Member.id)))
        for target in member_ids:
            member = ledger.lock_member(session, target)
            ledger.post(session, member=member, idempotency_key=f"grant:{grant.id}:{target}",
                        kind="grant", movements=[ledger.Movement("credit", amount_rials,
                                                                 expires_at=expires_at)],
                        reason=grant.reason, now=now)
            outbox.credit_increase(session, member, amount_rials, f"grant:{grant.id}:{target}", now)
        grant.member_count = len(member_ids)
        if is_staff(work.actor):
            action, entity, entity_id = (("grant_credit", "member", member_id)
                                         if member_id is not None
                                         else ("grant_tier_credit", "tier", tier_id))
            work.audit(action, entity, entity_id,
                       {"amount_rials": amount_rials, "reason": reason})
    return grant


def points_expiry(club: Club, now: datetime) -> datetime | None:
    """When points earned `now` expire (L1): the end of the Tehran day
    `points_expiry_days` after today (so a member always has whole days), or None."""
    if not club.points_expiry_days:
        return None
    return local_day_start(now + timedelta(days=club.points_expiry_days + 1))


def convert_points_locked(session: Session, *, member: Member, points: int,
                          idempotency_key: str, now: datetime, notify: bool = True):
    """Points into credit at the club's point value (L1), in the caller's transaction.

    Spends the soonest-expiring points first; refuses under the club's minimum and
    beyond the points spendable now. A repeated key returns the first conversion.
    `notify` False: no "credit came in" message (a purchase paid with points spends the
    credit at once; its own thank-you message says what happened)."""
    existing = ledger.find_transaction(session, idempotency_key)
    if existing is not None:
        if existing.kind != "conversion" or existing.member_id != member.id:
            raise BadRequest("idempotency_key", "Already used for something else.")
        return existing
    _positive("points", points)
    if member.is_gift_account:
        raise BadRequest("member", "Gift cards have no points.")
    club = the_club(session)
    if points < club.points_min_convert:
        raise BadRequest("points", "Fewer points than the club's minimum for converting.")
    spendable = ledger.spendable_points(session, member, now)
    if points > spendable:
        raise InsufficientBalance("Not enough points.")
    rials = engine.points_to_credit(points, club.point_value_rials)
    if rials <= 0:
        raise BadRequest("points", "Points have no value in this club.")
    transaction = ledger.post(
        session, member=member, idempotency_key=idempotency_key, kind="conversion",
        movements=[ledger.Movement("points", -points), ledger.Movement("credit", rials)],
        reason=f"{points} points at {club.point_value_rials} rials each", now=now,
        key_checked=True)
    if notify:
        outbox.credit_increase(session, member, rials, idempotency_key, now)
    return transaction


def convert_points(session: Session, *, actor: Actor, member_id: int, points: int,
                   idempotency_key: str, now: datetime):
    """Turn points into credit at the club's point value (L1): one transaction."""
    with unit_of_work(session, actor) as work:
        transaction = convert_points_locked(
            session, member=ledger.lock_member(session, member_id), points=points,
            idempotency_key=idempotency_key, now=now)
        if is_staff(work.actor):
            work.audit("convert_points", "member", member_id, {"points": points})
    return transaction


def expire_points(session: Session, now: datetime, *, actor: Actor = SYSTEM) -> int:
    """The nightly job's points part: expired points leave balances through ledger
    entries, one per lot (idempotent). Returns the points expired."""
    with unit_of_work(session, actor):
        member_ids = session.scalars(
            select(PointsLot.member_id).where(
                PointsLot.remaining > 0, PointsLot.expires_at.is_not(None),
                PointsLot.expires_at <= now).distinct().order_by(PointsLot.member_id)).all()
        total = 0
        for member_id in member_ids:
            total += ledger.expire_points_lots(session, ledger.lock_member(session, member_id), now)
    return total


def expire_credit(session: Session, now: datetime, *, actor: Actor = SYSTEM) -> int:
    """The nightly job: expired credit leaves balances through ledger entries (L4).

    Idempotent (entries are keyed by lot). Returns the rials expired."""
    with unit_of_work(session, actor):
        member_ids = session.scalars(
            select(CreditLot.member_id).where(
                CreditLot.remaining_rials > 0, CreditLot.expires_at.is_not(None),
                CreditLot.expires_at <= now,
            ).distinct().order_by(CreditLot.member_id)
        ).all()
        total = 0
        for member_id in member_ids:
            total += ledger.expire_lots(session, ledger.lock_member(session, member_id), now)
    return total

