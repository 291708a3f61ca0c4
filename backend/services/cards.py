"""Card batches (C2): serials allocated without gaps or reuse, and the batch record.

The printing files are made by `card_spec.printing` from the numbers a batch holds; this
module only touches the database, so the counter's lock is held for milliseconds.
"""

from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.errors import BadRequest
from backend.models import Card, CardBatch, CardSerialCounter, Club
from card_spec import PREFIX_LENGTH, SERIAL_LENGTH, make_card_number, normalize_digits
from card_spec.numbers import MAX_SERIAL

MAX_BATCH = 100_000


@dataclass(frozen=True)
class Batch:
    id: int
    prefix: str
    first_serial: int
    count: int
    label: str
    club_name: str

    @property
    def numbers(self) -> list[str]:
        return [make_card_number(self.prefix, serial)
                for serial in range(self.first_serial, self.first_serial + self.count)]


def _check_prefix(prefix: str) -> str:
    prefix = normalize_digits(prefix.strip())
    if len(prefix) != PREFIX_LENGTH or not prefix.isascii() or not prefix.isdigit():
        raise BadRequest("prefix", f"an issuer prefix has {PREFIX_LENGTH} digits")
    return prefix


def _first_free_serial(session: Session, prefix: str) -> int:
    """One past the highest serial of any card or batch already under `prefix`."""
    highest_number = session.scalar(
        select(func.max(Card.number)).where(Card.number.startswith(prefix, autoescape=True))
    )
    highest_card = int(highest_number[PREFIX_LENGTH:PREFIX_LENGTH + SERIAL_LENGTH]) \
        if highest_number else 0
    highest_batch = session.scalar(
        select(func.max(CardBatch.first_serial + CardBatch.count - 1))
        .where(CardBatch.prefix == prefix)
    ) or 0
    return max(highest_card, highest_batch) + 1


def allocate_serials(session: Session, prefix: str, count: int) -> int:
    """Reserve `count` consecutive serials under `prefix`; returns the first.

    The UPDATE … RETURNING takes the counter row's write lock (a row lock on PostgreSQL,
    the database write lock on SQLite, where transactions begin IMMEDIATE) until the
    caller's transaction ends, so concurrent batches queue up and get disjoint ranges.
    The first batch of a prefix creates the counter after the highest existing card.
    """
    bump = (
        update(CardSerialCounter)
        .where(CardSerialCounter.prefix == prefix)
        .values(next_serial=CardSerialCounter.next_serial + count)
        .returning(CardSerialCounter.next_serial)
    )
    for _attempt in range(2):
        after = session.execute(bump).scalar_one_or_none()
        if after is not None:
            first = after - count
            break
        start = _first_free_serial(session, prefix)
        try:
            with session.begin_nested():
                session.execute(
                    insert(CardSerialCounter).values(prefix=prefix, next_serial=start)
                )
        except IntegrityError:
            continue  # another batch created the counter first: bump theirs
    else:  # pragma: no cover - the counter row exists after the second attempt
        raise RuntimeError(f"could not create the serial counter of prefix {prefix}")
    if first + count - 1 > MAX_SERIAL:
        raise BadRequest("count", f"prefix {prefix} has only serials up to {MAX_SERIAL}")
    return first


def create_batch(session: Session, *, prefix: str, count: int, label: str = "") -> Batch:
    """Allocate serials for a batch of `count` cards and record it. The caller commits,
    which also releases the counter's lock: commit before writing any files."""
    prefix = _check_prefix(prefix)
    if not isinstance(count, int) or not 1 <= count <= MAX_BATCH:
        raise BadRequest("count", f"must be 1–{MAX_BATCH}")
    if len(label) > 120:
        raise BadRequest("label", "at most 120 characters")
    first = allocate_serials(session, prefix, count)
    row = CardBatch(prefix=prefix, first_serial=first, count=count, label=label)
    session.add(row)
    session.flush()
    club = session.get(Club, 1)
    return Batch(row.id, prefix, first, count, label or f"batch-{row.id}",
                 club.name if club else "Vafa")


def get_batch(session: Session, batch_id: int) -> Batch:
    row = session.get(CardBatch, batch_id)
    if row is None:
        raise BadRequest("batch_id", f"no batch {batch_id}")
    club = session.get(Club, 1)
    return Batch(row.id, row.prefix, row.first_serial, row.count,
                 row.label or f"batch-{row.id}", club.name if club else "Vafa")
