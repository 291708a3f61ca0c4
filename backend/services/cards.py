"""Card batches (C2) and the card inventory (C3): serials allocated without gaps or
reuse, the batch record, and its cards in stock until they are given to members.

The printing files are made by `card_spec.printing` from the numbers a batch holds; this
module only touches the database, so the counter's lock is held for milliseconds.
"""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.errors import BadRequest
from backend.models import Card, CardBatch, CardSerialCounter, the_club
from backend.models.base import utc_now
from backend.unit_of_work import Actor, is_staff, unit_of_work
from card_spec import (
    PREFIX_LENGTH,
    SERIAL_LENGTH,
    CardNumberError,
    make_card_number,
    normalize_digits,
    parse_card_number,
)
from card_spec.numbers import MAX_SERIAL

MAX_BATCH = 100_000
INSERT_CHUNK = 1000  # inventory rows per INSERT: bounded statement size on both databases


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


def create_batch(session: Session, *, actor: Actor, prefix: str, count: int, label: str = "",
                 now: datetime | None = None, max_count: int = MAX_BATCH) -> Batch:
    """Allocate serials for a batch of `count` cards, record it and put its cards in
    stock (status `issued`, no member), audited `create_card_batch` when staff ask. One
    unit of work, whose commit also releases the counter's lock: it ends before the
    caller writes any files."""
    with unit_of_work(session, actor) as work:
        prefix = _check_prefix(prefix)
        if type(count) is not int or not 1 <= count <= max_count:
            raise BadRequest("count", f"must be 1–{max_count}")
        label = label.strip()
        if len(label) > 120:
            raise BadRequest("label", "at most 120 characters")
        now = now or utc_now()
        first = allocate_serials(session, prefix, count)
        row = CardBatch(prefix=prefix, first_serial=first, count=count, label=label,
                        created_at=now)
        session.add(row)
        session.flush()
        for start in range(first, first + count, INSERT_CHUNK):
            session.execute(insert(Card), [
                {"number": make_card_number(prefix, serial), "status": "issued",
                 "issued_at": now, "batch_id": row.id}
                for serial in range(start, min(start + INSERT_CHUNK, first + count))
            ])
        if is_staff(actor):
            work.audit("create_card_batch", "card_batch", "",
                       {"count": count, "prefix": prefix})
        return _batch(session, row)


def _batch(session: Session, row: CardBatch) -> Batch:
    club = the_club(session)
    return Batch(row.id, row.prefix, row.first_serial, row.count,
                 row.label or f"batch-{row.id}", club.name if club else "Vafa")


def get_batch(session: Session, batch_id: int) -> Batch:
    row = session.get(CardBatch, batch_id)
    if row is None:
        raise BadRequest("batch_id", f"no batch {batch_id}")
    return _batch(session, row)


def stock_counts(session: Session, batch_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per batch: how many of its cards are in stock (`issued`), `active` and `blocked`."""
    counts = {batch_id: {"issued": 0, "active": 0, "blocked": 0} for batch_id in batch_ids}
    if batch_ids:
        for batch_id, status, count in session.execute(
                select(Card.batch_id, Card.status, func.count())
                .where(Card.batch_id.in_(batch_ids)).group_by(Card.batch_id, Card.status)):
            counts[batch_id][status] = count
    return counts


def artwork(session: Session, uploads_dir: Path | None = None, *, club_name: str | None = None,
            logo: Path | None = None):
    """The card front's artwork: the club's name and, when the panel has one, its logo."""
    from card_spec.printing import Artwork

    club = the_club(session)
    if logo is None and club is not None and club.logo_filename and uploads_dir is not None:
        candidate = uploads_dir / club.logo_filename
        logo = candidate if candidate.is_file() else None
    return Artwork(club_name or (club.name if club else "Vafa"), logo=logo)


MAX_FILES_BATCH = 1_000  # cards whose files the panel prepares within one request (~20 s)


def batch_files_zip(session: Session, batch_id: int, cache_dir: Path,
                    uploads_dir: Path | None = None) -> Path:
    """The zip of a batch's printing files (card_spec.printing.write_batch_zip), made once
    and kept in `cache_dir` under a name that changes with the artwork's inputs (club name,
    logo, label), so a new logo yields fresh files and an unchanged batch is not redrawn."""
    import hashlib

    from card_spec.printing import write_batch_zip

    batch = get_batch(session, batch_id)
    if batch.count > MAX_FILES_BATCH:
        raise BadRequest("batch_id", f"batch {batch_id} has more than {MAX_FILES_BATCH} cards; "
                         f"write its files with `vafa cards files --batch {batch_id}`")
    front = artwork(session, uploads_dir)
    fingerprint = hashlib.sha256(repr((batch.label, front)).encode()).hexdigest()[:16]
    path = cache_dir / f"batch-{batch_id}-{fingerprint}.zip"
    if not path.is_file():
        for stale in cache_dir.glob(f"batch-{batch_id}-*.zip"):
            stale.unlink(missing_ok=True)
        write_batch_zip(path, batch.numbers, batch_label=batch.label, artwork=front)
    return path


def card_number(text: str, field: str = "card") -> str:
    try:
        return parse_card_number(text)
    except CardNumberError as error:
        raise BadRequest(field, str(error)) from None


def card_to_assign(session: Session, number: str, *, field: str = "card") -> Card:
    """The card with `number`, ready to be given to a member (C3).

    A card in stock (printed in a batch, no member yet) is taken from the inventory; its
    row is locked so two counters cannot hand the same card to two members. A number in
    the range the club issues in batches but never issued is refused (a misread or made-up
    number); a number outside it (a card printed before the club's first batch) gets a new
    row. The caller assigns it (`assign`) and commits."""
    card = session.scalars(
        select(Card).where(Card.number == number).with_for_update()).one_or_none()
    if card is not None:
        if card.member_id is not None:
            raise BadRequest(field, "this card already belongs to a member")
        if card.status == "blocked":
            raise BadRequest(field, "this card is blocked")
        return card
    prefix, serial = number[:PREFIX_LENGTH], int(number[PREFIX_LENGTH:-1])
    issued_range = session.scalar(
        select(CardBatch.id).where(CardBatch.prefix == prefix, CardBatch.first_serial <= serial)
        .limit(1))
    if issued_range is not None:
        raise BadRequest(field, "no card with this number was issued; check the number")
    card = Card(number=number, status="active")
    session.add(card)
    return card


def assign(card: Card, member_id: int, now: datetime) -> Card:
    card.member_id, card.status, card.assigned_at = member_id, "active", now
    if card.issued_at is None:
        card.issued_at = now
    return card
