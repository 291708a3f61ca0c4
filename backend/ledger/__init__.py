"""The only code that changes balances.

Entries are append-only; a member's balance on an account is the sum of its entries, and
the cached columns on `member` move in the same transaction. A transaction is posted at
most once per idempotency key. Callers run inside their own database transaction and
call `lock_member` before reading balances they will change.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.errors import InsufficientBalance
from backend.models import LedgerEntry, LedgerTransaction, Member

_BALANCE_COLUMNS = {"credit": "credit_balance_rials", "points": "points_balance"}


@dataclass(frozen=True)
class Movement:
    account: str
    amount: int


def lock_member(session: Session, member_id: int) -> Member:
    """Lock the member's row for the rest of the transaction and return it fresh.

    An UPDATE rather than SELECT … FOR UPDATE because it locks on every database: a row
    lock on PostgreSQL, and on SQLite the statement runs inside the BEGIN IMMEDIATE
    transaction that already holds the write lock.
    """
    result = session.execute(
        update(Member)
        .where(Member.id == member_id)
        .values(lock_version=Member.lock_version + 1)
        .execution_options(synchronize_session=False)
    )
    assert result.rowcount == 1, f"member {member_id} does not exist"
    member = session.get(Member, member_id, populate_existing=True)
    assert member is not None
    return member


def find_transaction(session: Session, idempotency_key: str) -> LedgerTransaction | None:
    return session.scalars(
        select(LedgerTransaction).where(LedgerTransaction.idempotency_key == idempotency_key)
    ).one_or_none()


def post(
    session: Session,
    *,
    member: Member,
    idempotency_key: str,
    kind: str,
    movements: Iterable[Movement],
    reason: str,
    now: datetime,
) -> LedgerTransaction:
    """Append `movements` for a member already locked with `lock_member`.

    Returns the existing transaction if `idempotency_key` was posted before. Raises
    InsufficientBalance, writing nothing, if an account would go below zero.
    """
    existing = find_transaction(session, idempotency_key)
    if existing is not None:
        return existing
    movements = [m for m in movements if m.amount != 0]
    new_balances = {
        account: getattr(member, column) for account, column in _BALANCE_COLUMNS.items()
    }
    for movement in movements:
        assert movement.account in _BALANCE_COLUMNS, movement.account
        new_balances[movement.account] += movement.amount
    for account, balance in new_balances.items():
        if balance < 0:
            raise InsufficientBalance(f"{account} balance would become {balance}")

    transaction = LedgerTransaction(
        idempotency_key=idempotency_key,
        kind=kind,
        member_id=member.id,
        reason=reason,
        created_at=now,
    )
    session.add(transaction)
    for movement in movements:
        transaction.entries.append(
            LedgerEntry(
                member_id=member.id,
                account=movement.account,
                amount=movement.amount,
                created_at=now,
            )
        )
    for account, balance in new_balances.items():
        setattr(member, _BALANCE_COLUMNS[account], balance)
    session.flush()
    return transaction


def balance_from_entries(session: Session, member_id: int, account: str) -> int:
    """The authoritative balance: the sum of the account's entries."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.member_id == member_id, LedgerEntry.account == account
        )
    )
    return int(total)
