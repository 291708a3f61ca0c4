"""The only code that changes balances.

Entries are append-only; a member's balance on an account is the sum of its entries, and
the cached columns on `member` move in the same transaction. A transaction is posted at
most once per idempotency key. Credit lives in lots (`credit_lot`): credit coming in
opens a lot (with its expiry and branch); credit going out is taken from the
soonest-expiring lots first, and each take is recorded as an allocation. The lots'
remaining amounts always add up to the credit balance.

Points that expire live in lots too (`points_lot`, L1); points that never expire need no
lot: a member's points balance beyond their lots' remaining points is a pool that never
expires. Points going out are taken from the soonest-expiring lots first and from that
pool last, so the lots' remaining points never exceed the points balance.

Callers run inside their own database transaction and call `lock_member` before reading
balances they will change.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from backend.errors import InsufficientBalance
from backend.models import (
    CreditAllocation,
    CreditLot,
    LedgerEntry,
    LedgerTransaction,
    Member,
    PointsLot,
)

_TRANSACTIONS = LedgerTransaction.__table__
_ENTRIES = LedgerEntry.__table__
_LOTS = CreditLot.__table__
_ALLOCATIONS = CreditAllocation.__table__
# Built once (building a statement and its cache key costs about as much as running it).
_LOCK_MEMBER = (
    update(Member)
    .where(Member.id == bindparam("member_key"))
    .values(lock_version=Member.lock_version + 1)
    .returning(Member)
    .execution_options(synchronize_session=False, populate_existing=True))
_INSERT_TRANSACTION = insert(_TRANSACTIONS).returning(_TRANSACTIONS.c.id)
_INSERT_ENTRIES = insert(_ENTRIES).returning(_ENTRIES.c.id, sort_by_parameter_order=True)
# Without the ids (no allocation names an entry): one executemany on every database, where
# a RETURNING in parameter order goes row by row on SQLite.
_INSERT_ENTRIES_NO_IDS = insert(_ENTRIES)
_INSERT_LOT = insert(_LOTS).returning(_LOTS.c.id)
_INSERT_ALLOCATIONS = insert(_ALLOCATIONS)
_TAKE_FROM_LOT = (update(_LOTS).where(_LOTS.c.id == bindparam("lot_key"))
                  .values(remaining_rials=_LOTS.c.remaining_rials - bindparam("take_rials")))
_BALANCE_COLUMNS = {"credit": "credit_balance_rials", "points": "points_balance"}
_POINTS_LOTS = PointsLot.__table__
_INSERT_POINTS_LOT = insert(_POINTS_LOTS)
_TAKE_FROM_POINTS_LOT = (
    update(_POINTS_LOTS).where(_POINTS_LOTS.c.id == bindparam("lot_key"))
    .values(remaining=_POINTS_LOTS.c.remaining - bindparam("take_points")))


@dataclass(frozen=True)
class Movement:
    account: str
    amount: int
    # Credit coming in: when it expires (None: never) and where it was earned (None:
    # spendable at every branch).
    expires_at: datetime | None = None
    branch_id: int | None = None
    # Credit going out because an earlier award is taken back (refunds, expiry): it may
    # come from any lot, expired or earned at another branch. Points likewise.
    clawback: bool = False
    # Credit going out: take first from the lots this transaction opened (a refund takes
    # back the credit its purchase earned from that purchase's lot, not from gift credit).
    prefer_lots_of: int | None = None
    # Points coming in open a lot only when they expire (`expires_at`); points without
    # an expiry join the member's never-expiring pool.


def lock_member(session: Session, member_id: int) -> Member:
    """Lock the member's row for the rest of the transaction and return it fresh.

    An UPDATE rather than SELECT … FOR UPDATE because it locks on every database: a row
    lock on PostgreSQL, and on SQLite the statement runs inside the BEGIN IMMEDIATE
    transaction that already holds the write lock. Lock several members in id order.
    The row comes back from the UPDATE itself (RETURNING, read under the lock): one
    statement instead of an UPDATE and a SELECT.
    """
    member = session.execute(_LOCK_MEMBER, {"member_key": member_id}).scalar_one_or_none()
    assert member is not None, f"member {member_id} does not exist"
    return member


def find_transaction(session: Session, idempotency_key: str) -> LedgerTransaction | None:
    return session.scalars(
        select(LedgerTransaction).where(LedgerTransaction.idempotency_key == idempotency_key)
    ).one_or_none()


def _open_lot_conditions(member_id: int, now: datetime, spend_branch_id: int | None,
                         clawback: bool) -> list:
    conditions = [CreditLot.member_id == member_id, CreditLot.remaining_rials > 0]
    if not clawback:
        conditions.append(or_(CreditLot.expires_at.is_(None), CreditLot.expires_at > now))
        if spend_branch_id is not None:
            conditions.append(
                or_(CreditLot.branch_id.is_(None), CreditLot.branch_id == spend_branch_id))
    return conditions


def _open_lots(session: Session, member_id: int, now: datetime, spend_branch_id: int | None,
               clawback: bool) -> list[CreditLot]:
    statement = select(CreditLot).where(
        *_open_lot_conditions(member_id, now, spend_branch_id, clawback))
    # Soonest expiry first, never-expiring last, oldest first within each.
    statement = statement.order_by(
        CreditLot.expires_at.is_(None), CreditLot.expires_at, CreditLot.id
    )
    return list(session.scalars(statement))


def _spendable(lot: CreditLot, now: datetime, spend_branch_id: int | None) -> bool:
    """The Python twin of `_open_lots`' filter, for lots not yet in the database."""
    if lot.expires_at is not None and lot.expires_at <= now:
        return False
    return spend_branch_id is None or lot.branch_id in (None, spend_branch_id)


def spendable_credit(session: Session, member_id: int, now: datetime,
                     spend_branch_id: int | None = None) -> int:
    """Credit the member can spend now (unexpired; at this branch when the policy says).

    A SUM in the database: every purchase opens a lot, so loading them all as objects
    made each purchase slower the more the member had bought."""
    if spend_branch_id is None:
        return int(session.scalar(_SPENDABLE_ANYWHERE, {"member_key": member_id, "now": now}))
    return int(session.scalar(_SPENDABLE_AT_BRANCH, {
        "member_key": member_id, "now": now, "branch_key": spend_branch_id}))


def _spendable_sum(at_branch: bool):
    lot = CreditLot
    conditions = [lot.member_id == bindparam("member_key"), lot.remaining_rials > 0,
                  or_(lot.expires_at.is_(None), lot.expires_at > bindparam("now"))]
    if at_branch:
        conditions.append(or_(lot.branch_id.is_(None), lot.branch_id == bindparam("branch_key")))
    # The same filter as _open_lot_conditions(clawback=False), built once.
    return select(func.coalesce(func.sum(lot.remaining_rials), 0)).where(*conditions)


_SPENDABLE_ANYWHERE = _spendable_sum(at_branch=False)
_SPENDABLE_AT_BRANCH = _spendable_sum(at_branch=True)


@dataclass
class _Plan:
    """A posting decided before anything is written, so a refusal leaves no trace."""

    movements: list[Movement]
    new_balances: dict[str, int]
    # Per movement: the (lot, rials) it takes, and the lot it opens (credit coming in).
    takes: list[list[tuple[CreditLot, int]]]
    new_lots: list[CreditLot | None]
    taken: dict[int, int]  # rials taken from each lot, by id() (new lots have no row id)
    points_takes: list[tuple[int, int]]

    def credit_change_in_lots(self) -> int:
        """What the posting adds to the credit in lots: new lots net of what was taken
        from them, less what was taken from lots that existed."""
        opened = sum(lot.amount_rials - self.taken.get(id(lot), 0)
                     for lot in self.new_lots if lot is not None)
        new_lot_ids = {id(lot) for lot in self.new_lots if lot is not None}
        return opened - sum(take for lot_key, take in self.taken.items()
                            if lot_key not in new_lot_ids)


def post(
    session: Session,
    *,
    member: Member,
    idempotency_key: str,
    kind: str,
    movements: Iterable[Movement],
    reason: str,
    now: datetime,
    spend_branch_id: int | None = None,
    key_checked: bool = False,
    caller_writes_balances: bool = False,
) -> LedgerTransaction:
    """Append `movements` for a member already locked with `lock_member`.

    Returns the existing transaction if `idempotency_key` was posted before (callers that
    looked the key up themselves in this transaction pass `key_checked=True`). Raises
    InsufficientBalance, writing nothing, if an account would go below zero or credit
    going out is not covered by spendable lots (`spend_branch_id` limits spending to
    lots of that branch and lots valid everywhere).

    The member's new balances are left on the object for the next flush, or, with
    `caller_writes_balances`, set on it as if read from its row: the caller writes them
    in this transaction (the purchase pipeline, in its one UPDATE of the member).
    """
    if not key_checked:
        existing = find_transaction(session, idempotency_key)
        if existing is not None:
            return existing
    plan = _plan(session, member, [m for m in movements if m.amount != 0], now,
                 spend_branch_id)
    transaction = _write(session, member, plan, idempotency_key, kind, reason, now,
                         caller_writes_balances)
    credit_change = sum(m.amount for m in plan.movements if m.account == "credit")
    # The books' invariant, checked where it could break: credit in lots moves with the
    # credit balance, rial for rial.
    assert plan.credit_change_in_lots() == credit_change, (
        f"posting {idempotency_key!r} moves {credit_change} rials of credit but "
        f"{plan.credit_change_in_lots()} in lots")
    return transaction


def _plan(session: Session, member: Member, movements: list[Movement], now: datetime,
          spend_branch_id: int | None) -> _Plan:
    new_balances = {
        account: getattr(member, column) for account, column in _BALANCE_COLUMNS.items()
    }
    for movement in movements:
        assert movement.account in _BALANCE_COLUMNS, movement.account
        new_balances[movement.account] += movement.amount
    for account, balance in new_balances.items():
        if balance < 0:
            raise InsufficientBalance(f"{account} balance would become {balance}")
    # Credit coming in opens its lot here already, so a later movement of the same
    # transaction may draw on it (a refund gives spent credit back and takes earned
    # credit away).
    plan = _Plan(movements, new_balances, [], [], {}, [])
    for movement in movements:
        new_lot = None
        takes: list[tuple[CreditLot, int]] = []
        if movement.account == "credit" and movement.amount > 0:
            new_lot = CreditLot(
                member_id=member.id, branch_id=movement.branch_id,
                amount_rials=movement.amount, remaining_rials=movement.amount,
                expires_at=movement.expires_at, created_at=now,
            )
        elif movement.account == "credit":
            takes = _take_credit(session, member, plan, movement, now, spend_branch_id)
        plan.takes.append(takes)
        plan.new_lots.append(new_lot)
    plan.points_takes = _plan_points(session, member, movements, now)
    return plan


def _take_credit(session: Session, member: Member, plan: _Plan, movement: Movement,
                 now: datetime, spend_branch_id: int | None) -> list[tuple[CreditLot, int]]:
    """The lots an outgoing credit movement takes from, in order, and how much of each."""
    needed = -movement.amount
    candidates = _open_lots(session, member.id, now, spend_branch_id, movement.clawback)
    if movement.prefer_lots_of is not None:
        candidates.sort(key=lambda lot: lot.transaction_id != movement.prefer_lots_of)
    candidates += [lot for lot in plan.new_lots if lot is not None and (
        movement.clawback or _spendable(lot, now, spend_branch_id))]
    takes = []
    for lot in candidates:
        available = lot.remaining_rials - plan.taken.get(id(lot), 0)
        if available <= 0:
            continue
        take = min(available, needed)
        takes.append((lot, take))
        plan.taken[id(lot)] = plan.taken.get(id(lot), 0) + take
        needed -= take
        if needed == 0:
            return takes
    raise InsufficientBalance(f"{needed} rials of credit are not spendable here")


def _write(session: Session, member: Member, plan: _Plan, idempotency_key: str, kind: str,
           reason: str, now: datetime, caller_writes_balances: bool) -> LedgerTransaction:
    """The planned posting, written with Core statements, not ORM objects: it is on every
    purchase's path and its rows are never read back in the transaction
    (docs/hot-path.md). New lots go in with what later movements took from them."""
    movements, taken = plan.movements, plan.taken
    transaction_id = session.execute(
        _INSERT_TRANSACTION,
        {"idempotency_key": idempotency_key, "kind": kind, "member_id": member.id,
         "reason": reason, "created_at": now},
    ).scalar_one()
    entries = [{"transaction_id": transaction_id, "member_id": member.id,
                "account": movement.account, "amount": movement.amount, "created_at": now}
               for movement in movements]
    if any(plan.takes):  # allocations name the entries that take from lots
        entry_ids = session.execute(_INSERT_ENTRIES, entries).scalars().all()
    else:
        if entries:
            session.execute(_INSERT_ENTRIES_NO_IDS, entries)
        entry_ids = [None] * len(entries)
    lot_ids: dict[int, int] = {}  # id() of a new lot object -> its row id
    for new_lot in plan.new_lots:
        if new_lot is not None:
            lot_ids[id(new_lot)] = session.execute(_INSERT_LOT, {
                "member_id": member.id, "transaction_id": transaction_id,
                "branch_id": new_lot.branch_id, "amount_rials": new_lot.amount_rials,
                "remaining_rials": new_lot.amount_rials - taken.get(id(new_lot), 0),
                "expires_at": new_lot.expires_at, "created_at": now}).scalar_one()
    allocations = [{"entry_id": entry_id, "lot_id": lot_ids.get(id(lot), lot.id),
                    "amount_rials": take}
                   for entry_id, takes in zip(entry_ids, plan.takes, strict=True)
                   for lot, take in takes]
    if allocations:
        session.execute(_INSERT_ALLOCATIONS, allocations)
    for lot_id, take in _takes_from_existing_lots(plan.takes, lot_ids):
        session.execute(_TAKE_FROM_LOT, {"lot_key": lot_id, "take_rials": take})
    points_in = [{"member_id": member.id, "transaction_id": transaction_id,
                  "amount": movement.amount, "remaining": movement.amount,
                  "expires_at": movement.expires_at, "created_at": now}
                 for movement in movements if movement.account == "points"
                 and movement.amount > 0 and movement.expires_at is not None]
    if points_in:
        session.execute(_INSERT_POINTS_LOT, points_in)
    for lot_id, take in plan.points_takes:
        session.execute(_TAKE_FROM_POINTS_LOT, {"lot_key": lot_id, "take_points": take})
    for lot in {id(lot): lot for takes in plan.takes for lot, _ in takes
                if id(lot) not in lot_ids}.values():
        # Keep loaded lot objects true to their rows for the rest of the transaction.
        set_committed_value(lot, "remaining_rials", lot.remaining_rials - taken[id(lot)])
    transaction = LedgerTransaction(
        id=transaction_id, idempotency_key=idempotency_key, kind=kind, member_id=member.id,
        reason=reason, created_at=now)
    make_transient_to_detached(transaction)
    session.add(transaction)  # persistent without a statement: the row exists
    # The member's balances are flushed with the caller's next statement (one UPDATE with
    # whatever else the use case changes on the member), or written by the caller.
    set_balance = set_committed_value if caller_writes_balances else setattr
    for account, balance in plan.new_balances.items():
        set_balance(member, _BALANCE_COLUMNS[account], balance)
    return transaction


def _plan_points(session: Session, member: Member, movements: list[Movement],
                 now: datetime) -> list[tuple[int, int]]:
    """(points lot id, points) that points going out take from existing lots: the
    soonest-expiring first (expired ones only for a clawback), the never-expiring pool
    last. Raises InsufficientBalance when spendable points do not cover a spend. Points
    coming in within the same posting are not spent by it (no use case does both)."""
    outgoing = [m for m in movements if m.account == "points" and m.amount < 0]
    if not outgoing:
        return []
    lots = list(session.execute(
        select(PointsLot.id, PointsLot.remaining, PointsLot.expires_at)
        .where(PointsLot.member_id == member.id, PointsLot.remaining > 0)
        .order_by(PointsLot.expires_at, PointsLot.id)).all())
    pool = member.points_balance - sum(lot.remaining for lot in lots)
    assert pool >= 0, f"member {member.id}: points lots exceed the points balance"
    taken: dict[int, int] = {}
    for movement in outgoing:
        needed = -movement.amount
        for lot in lots:
            if not movement.clawback and lot.expires_at is not None and lot.expires_at <= now:
                continue
            available = lot.remaining - taken.get(lot.id, 0)
            take = min(available, needed)
            if take > 0:
                taken[lot.id] = taken.get(lot.id, 0) + take
                needed -= take
            if needed == 0:
                break
        from_pool = min(pool, needed)
        pool -= from_pool
        needed -= from_pool
        if needed:
            raise InsufficientBalance(f"{needed} points are not spendable (expired)")
    return sorted(taken.items())


def spendable_points(session: Session, member: Member, now: datetime) -> int:
    """Points the member can spend now: the balance less lots that expired and the
    nightly job has not taken out yet."""
    expired = session.scalar(
        select(func.coalesce(func.sum(PointsLot.remaining), 0)).where(
            PointsLot.member_id == member.id, PointsLot.remaining > 0,
            PointsLot.expires_at <= now))
    return member.points_balance - int(expired)


def points_in_lots(session: Session, member_id: int) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(PointsLot.remaining), 0))
                              .where(PointsLot.member_id == member_id)))


def expire_points_lots(session: Session, member: Member, now: datetime) -> int:
    """Take expired points out of a locked member's balance through ledger entries: one
    transaction per lot, keyed by the lot, so a second run expires nothing twice.
    Returns the points expired."""
    expired = session.scalars(
        select(PointsLot).where(PointsLot.member_id == member.id, PointsLot.remaining > 0,
                                PointsLot.expires_at <= now).order_by(PointsLot.id)).all()
    total = 0
    for lot in expired:
        points = lot.remaining
        transaction = LedgerTransaction(
            idempotency_key=f"expiry:points-lot:{lot.id}", kind="points-expiry",
            member_id=member.id, reason=f"points from {lot.created_at:%Y-%m-%d} expired",
            created_at=now)
        transaction.entries.append(LedgerEntry(member_id=member.id, account="points",
                                               amount=-points, created_at=now))
        session.add(transaction)
        lot.remaining = 0
        member.points_balance -= points
        total += points
    assert member.points_balance >= 0
    session.flush()
    return total


def _takes_from_existing_lots(plans, new_lot_ids) -> list[tuple[int, int]]:
    """(lot id, rials) taken from lots that existed before the posting, one per lot."""
    takes: dict[int, int] = {}
    for plan in plans:
        for lot, take in plan:
            if id(lot) not in new_lot_ids:
                takes[lot.id] = takes.get(lot.id, 0) + take
    return sorted(takes.items())


def expire_lots(session: Session, member: Member, now: datetime) -> int:
    """Take expired credit out of a locked member's balance through ledger entries.

    One transaction per lot, keyed by the lot, so running the job twice expires nothing
    twice. Returns the rials expired.
    """
    expired = session.scalars(
        select(CreditLot).where(
            CreditLot.member_id == member.id,
            CreditLot.remaining_rials > 0,
            CreditLot.expires_at.is_not(None),
            CreditLot.expires_at <= now,
        ).order_by(CreditLot.id)
    ).all()
    total = 0
    for lot in expired:
        amount = lot.remaining_rials
        transaction = LedgerTransaction(
            idempotency_key=f"expiry:lot:{lot.id}", kind="expiry", member_id=member.id,
            reason=f"credit from {lot.created_at:%Y-%m-%d} expired", created_at=now,
        )
        session.add(transaction)
        entry = LedgerEntry(member_id=member.id, account="credit", amount=-amount,
                            created_at=now)
        transaction.entries.append(entry)
        session.flush()
        session.add(CreditAllocation(entry_id=entry.id, lot_id=lot.id, amount_rials=amount))
        lot.remaining_rials = 0
        member.credit_balance_rials -= amount
        total += amount
    assert member.credit_balance_rials >= 0
    session.flush()
    return total


SpentLot = tuple[datetime | None, int | None, int]  # (expiry, branch, rials)


def credit_spent_by_lot(session: Session, transaction_id: int) -> list[SpentLot]:
    """(expiry, branch, rials) of the credit a transaction spent, lot by lot, in the order
    it was taken (soonest-expiring first; None = never expires).

    A refund gives spent credit back into lots with these expiries and branches, so it
    never turns expiring credit into permanent credit (issue 18 item 12)."""
    rows = session.execute(
        select(CreditLot.expires_at, CreditLot.branch_id, CreditAllocation.amount_rials)
        .join(CreditAllocation, CreditAllocation.lot_id == CreditLot.id)
        .join(LedgerEntry, LedgerEntry.id == CreditAllocation.entry_id)
        .where(LedgerEntry.transaction_id == transaction_id, LedgerEntry.amount < 0)
        .order_by(CreditAllocation.id)
    ).all()
    return [(expiry, branch, int(amount)) for expiry, branch, amount in rows]


def returned_credit(spent: list[SpentLot],
                    already_returned: int, amount: int) -> list[Movement]:
    """Movements giving back `amount` rials of `spent` (see `credit_spent_by_lot`) after
    `already_returned` rials went back by earlier refunds: soonest-expiring lots first,
    each with its own expiry and branch, lots of the same expiry and branch merged."""
    skip, needed = already_returned, amount
    parts: dict[tuple[datetime | None, int | None], int] = {}
    for expiry, branch, rials in spent:
        skipped = min(skip, rials)
        skip -= skipped
        take = min(rials - skipped, needed)
        if take <= 0:
            continue
        parts[(expiry, branch)] = parts.get((expiry, branch), 0) + take
        needed -= take
    assert needed == 0, f"{needed} rials to return were never spent"
    return [Movement("credit", rials, expires_at=expiry, branch_id=branch)
            for (expiry, branch), rials in parts.items()]


def balance_from_entries(session: Session, member_id: int, account: str) -> int:
    """The authoritative balance: the sum of the account's entries."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.member_id == member_id, LedgerEntry.account == account
        )
    )
    return int(total)


def credit_in_lots(session: Session, member_id: int) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(CreditLot.remaining_rials), 0)).where(
            CreditLot.member_id == member_id
        )
    )
    return int(total)


@dataclass(frozen=True)
class OpeningCredit:
    """Credit for a member created in the current transaction (see `post_opening_credits`)."""

    member_id: int
    idempotency_key: str
    amount: int


OPENING_CREDIT_BATCH = 500  # rows per executemany, and keys per IN (…) when reading ids


def post_opening_credits(session: Session, credits: list[OpeningCredit], *, kind: str,
                         reason: str, now: datetime) -> int:
    """The bulk twin of `post` for the member import: one incoming, never-expiring credit
    movement valid at every branch for each of many members who joined in this very
    transaction, written with executemany instead of a flush per member.

    The members are new rows no other transaction can see, so nothing is locked, and
    their balances start at zero, so nothing can go negative. Each credit writes what
    `post` would: a transaction (unique idempotency key — a repeated key fails the whole
    caller's transaction), an entry, a lot, and the cached balance. Returns the rials
    posted."""
    total = 0
    for start in range(0, len(credits), OPENING_CREDIT_BATCH):
        batch = credits[start:start + OPENING_CREDIT_BATCH]
        assert all(credit.amount > 0 for credit in batch), "opening credit must be positive"
        # executemany without RETURNING (one short statement, pipelined on psycopg), then
        # the ids by their unique keys.
        session.execute(insert(LedgerTransaction.__table__), [
            {"idempotency_key": credit.idempotency_key, "kind": kind,
             "member_id": credit.member_id, "reason": reason, "created_at": now}
            for credit in batch])
        keys = [credit.idempotency_key for credit in batch]
        ids_by_key = dict(session.execute(
            select(LedgerTransaction.idempotency_key, LedgerTransaction.id)
            .where(LedgerTransaction.idempotency_key.in_(keys))).all())
        transaction_ids = [ids_by_key[key] for key in keys]
        session.execute(insert(LedgerEntry.__table__), [
            {"transaction_id": transaction_id, "member_id": credit.member_id,
             "account": "credit", "amount": credit.amount, "created_at": now}
            for credit, transaction_id in zip(batch, transaction_ids, strict=True)])
        session.execute(insert(CreditLot.__table__), [
            {"member_id": credit.member_id, "transaction_id": transaction_id,
             "branch_id": None, "amount_rials": credit.amount,
             "remaining_rials": credit.amount, "expires_at": None, "created_at": now}
            for credit, transaction_id in zip(batch, transaction_ids, strict=True)])
        member = Member.__table__
        session.execute(
            update(member).where(member.c.id == bindparam("credited_member_id"))
            .values(credit_balance_rials=member.c.credit_balance_rials
                    + bindparam("credited_amount")),
            [{"credited_member_id": credit.member_id, "credited_amount": credit.amount}
             for credit in batch])
        total += sum(credit.amount for credit in batch)
    return total
