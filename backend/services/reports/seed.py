"""Generated data for measuring the reports at scale (`flask --app backend seed-reports`).

Realistic shapes, made fast: members join over `years` with growth, spend follows a
long-tailed distribution (a few heavy buyers, many occasional ones, some never buy),
about a third stop coming at some point, purchases happen in shop hours, mostly at the
member's home branch, a few use an offer, some list products.

Purchases do not go through the engine one by one: their numbers are priced here with the
member's tier rules (discount, credit %, points per step; no credit is spent), and the rows
go in with each database's bulk path (COPY on PostgreSQL, executemany on SQLite). The
ledger stays whole all the same: every purchase has its ledger transaction, one entry per
account it moved and a never-expiring credit lot for the credit it earned, and each
member's cached balances are the sums of their entries (`check_ledger` proves it). Not
generated: refunds, credit spending, top-ups, grants, referrals.
"""

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session

from backend.engine.calendar import CLUB_TIMEZONE
from backend.models import (
    Branch,
    Card,
    Club,
    CreditLot,
    LedgerEntry,
    LedgerTransaction,
    Member,
    Offer,
    OfferRedemption,
    Product,
    Purchase,
    PurchaseItem,
    Tier,
    the_club,
)
from backend.unit_of_work import SYSTEM, unit_of_work
from card_spec import make_card_number

SEED_CARD_PREFIX = "990009"
SEED_MOBILE_PREFIX = "0935"
MEMBERS_PER_CHUNK = 2_000
PURCHASES_PER_CHUNK = 50_000
# Card serials and mobiles of seeded members start here (the demo's use 1…100).
SEED_SERIAL_START = 1_000_000
FIRST_NAMES = ["سارا", "علی", "مریم", "رضا", "زهرا", "حسین", "فاطمه", "محمد", "ندا", "امیر",
               "لیلا", "مهدی", "نرگس", "حمید", "شیرین", "امید", "پریسا", "سعید", "مینا", "کاوه"]
LAST_NAMES = ["احمدی", "کریمی", "حسینی", "رضایی", "مرادی", "جعفری", "قاسمی", "صادقی",
              "رحیمی", "کاظمی", "محمدی", "هاشمی", "ابراهیمی", "نجفی", "شیرازی"]


@dataclass(frozen=True)
class SeedResult:
    members: int
    purchases: int
    seconds: float


class _BulkWriter:
    """Appends rows to tables by the database's fastest path, inside the session's
    transaction."""

    def __init__(self, session: Session):
        self.connection = session.connection()
        self.dialect = self.connection.dialect.name
        if self.dialect == "sqlite":
            # Rows arrive in time order, so the per-member indexes take random inserts:
            # a 1 GiB page cache for this connection keeps them off the disk.
            self.connection.exec_driver_sql("PRAGMA cache_size = -1048576")

    def write(self, table: Table, columns: Sequence[str], rows: list[tuple]) -> None:
        if not rows:
            return
        raw = self.connection.connection.driver_connection
        if self.dialect == "postgresql":
            with raw.cursor() as cursor, cursor.copy(
                    f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        placeholders = ", ".join("?" for _ in columns)
        raw.executemany(f"INSERT INTO {table.name} ({', '.join(columns)}) "
                        f"VALUES ({placeholders})", [tuple(map(_sqlite_value, row))
                                                     for row in rows])


def _sqlite_value(value):
    # The storage format SQLAlchemy's SQLite DateTime uses (UTC, as UTCDateTime stores).
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _next_id(session: Session, model) -> int:
    return int(session.scalar(select(func.coalesce(func.max(model.id), 0)))) + 1


def _ensure_catalogue(session: Session, now: datetime) -> None:
    """A club, 5 branches, three tiers, products and offers, where missing."""
    if the_club(session) is None:
        session.add(Club(id=1, name="Vafa Seeded Club", name_fa="باشگاه نمونه وفا",
                         point_value_rials=100))
    branches = session.scalar(select(func.count(Branch.id)))
    for index in range(branches, 5):
        session.add(Branch(code=f"seed{index + 1}", name=f"شعبه {index + 1}"))
    if not session.scalar(select(func.count(Tier.id))):
        session.add_all([
            Tier(code="bronze", name="bronze", name_fa="برنزی", rank=1, credit_percent_bp=200),
            Tier(code="silver", name="silver", name_fa="نقره‌ای", rank=2, credit_percent_bp=500,
                 discount_percent_bp=500, min_spend_rials=50_000_000, min_purchases=10,
                 qualify_mode="any"),
            Tier(code="gold", name="gold", name_fa="طلایی", rank=3, credit_percent_bp=800,
                 discount_percent_bp=1000, points_per_step=2, min_spend_rials=200_000_000,
                 min_purchases=20),
        ])
    if not session.scalar(select(func.count(Product.id))):
        for index in range(20):
            session.add(Product(sku=f"P{index + 1:03d}", name=f"کالای {index + 1}",
                                price_rials=(index + 1) * 150_000,
                                stock=None if index % 4 == 0 else 500 + index * 37))
    if not session.scalar(select(func.count(Offer.id))):
        session.add_all([
            Offer(name="بازگشت پس از ۶۰ روز", reward_kind="percent_discount", reward_value=1000,
                  min_days_since_last_visit=60),
            Offer(name="خرید بالای ۵ میلیون", reward_kind="fixed_discount",
                  reward_value=250_000, min_amount_rials=5_000_000),
            Offer(name="تولد", reward_kind="percent_discount", reward_value=1500,
                  birthday_window_days=7),
        ])
    session.flush()


def seed_reports(session: Session, *, members: int, purchases: int, now: datetime,
                 years: int = 3, rng_seed: int = 1405, progress=None) -> SeedResult:
    """Add `members` members and about `purchases` purchases over `years` years before
    `now`, with their ledger, in one unit of work (then ANALYZE in another); the database
    may already hold a club (its branches, tiers, products and offers are used) or be
    empty.

    Members are generated first (with every purchase they will make, so their cached
    balances are known); purchases are then written in time order, as a live club writes
    them, so the tables' physical order is the one report queries meet in production."""
    import time

    assert members > 0 and purchases >= 0 and years > 0
    started = time.perf_counter()
    with unit_of_work(session, SYSTEM):  # the rows, all or none
        rng = random.Random(rng_seed)
        _ensure_catalogue(session, now)
        context = _Context(
            branch_ids=list(session.scalars(select(Branch.id).order_by(Branch.id))),
            tiers=list(session.scalars(select(Tier).order_by(Tier.rank))),
            products=list(session.scalars(select(Product).order_by(Product.id))),
            offers=list(session.scalars(select(Offer).order_by(Offer.id))),
            window_days=the_club(session).tier_window_days, now=now,
            span=timedelta(days=365 * years))
        ids = {model: _next_id(session, model) for model in
               (Member, Card, Purchase, LedgerTransaction, LedgerEntry, CreditLot,
                OfferRedemption, PurchaseItem)}
        # Each member's life in the club: joining (more join later: the club grows), and the
        # last day they come (a third stop at some point; the rest are still coming).
        lives = []
        for _ in range(members):
            joined = min(now - context.span * (1 - math.sqrt(rng.random())),
                         now - timedelta(hours=1))
            last_day = now if rng.random() > 0.35 else joined + (now - joined) * rng.random()
            lives.append((joined, last_day))
        # Purchases per member: a long-tailed rate times the days they come; one member in
        # ten never buys.
        weights = [0.0 if rng.random() < 0.1 else
                   rng.lognormvariate(0, 1.0)
                   * max(1.0, (last_day - joined).total_seconds() / 86400)
                   for joined, last_day in lives]
        scale = purchases / (sum(weights) or 1)
        counts = [int(weight * scale) for weight in weights]
        for index in rng.sample(range(members), min(members, purchases - sum(counts))):
            if weights[index]:
                counts[index] += 1
        writer = _BulkWriter(session)
        planned: list[tuple] = []
        for chunk_start in range(0, members, MEMBERS_PER_CHUNK):
            rows = {name: [] for name in _ORDER}
            for offset in range(chunk_start, min(members, chunk_start + MEMBERS_PER_CHUNK)):
                _member(rng, rows, planned, ids, offset, counts[offset], lives[offset], context)
            _flush(writer, rows)
            if progress:
                progress(min(members, chunk_start + MEMBERS_PER_CHUNK), 0)
        planned.sort(key=lambda item: item[0])
        for chunk_start in range(0, len(planned), PURCHASES_PER_CHUNK):
            rows = {name: [] for name in _ORDER}
            for item in planned[chunk_start:chunk_start + PURCHASES_PER_CHUNK]:
                _purchase_rows(rows, ids, item)
            _flush(writer, rows)
            if progress:
                progress(members, min(len(planned), chunk_start + PURCHASES_PER_CHUNK))
        _fix_sequences(session)
    # Fresh statistics, so the planner knows the tables' new sizes. On PostgreSQL only the
    # tables written (a bare ANALYZE takes a lock on every table of every schema in the
    # database: with many schemas it runs out of max_locks_per_transaction).
    with unit_of_work(session, SYSTEM):
        if session.get_bind().dialect.name == "postgresql":
            tables = sorted({_COLUMNS[name][0].__table__.name for name in _ORDER})
            session.execute(text("ANALYZE " + ", ".join(f'"{table}"' for table in tables)))
        else:
            session.execute(text("ANALYZE"))
    return SeedResult(members, len(planned), time.perf_counter() - started)


@dataclass(frozen=True)
class _Context:
    branch_ids: list
    tiers: list
    products: list
    offers: list
    window_days: int
    now: datetime
    span: timedelta


def _shop_time(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment between start and end, moved into shop hours (09:00–22:00 Tehran)."""
    moment = start + (end - start) * rng.random()
    local = moment.astimezone(CLUB_TIMEZONE)
    local = local.replace(hour=9 + int(rng.random() * 13), minute=rng.randrange(60))
    return max(start, min(end, local.astimezone(UTC)))


def _member(rng, rows, planned, ids, offset, count, life, context: _Context) -> None:
    """One member's row and card, and their purchases priced into `planned`."""
    now, tiers = context.now, context.tiers
    member_id, card_id = ids[Member], ids[Card]
    ids[Member] += 1
    ids[Card] += 1
    joined, last_day = life
    home = context.branch_ids[offset % len(context.branch_ids)]
    moments = sorted(_shop_time(rng, joined, last_day) for _ in range(count))
    amounts = [max(20_000, int(rng.lognormvariate(14.0, 0.9)) // 1000 * 1000)
               for _ in range(count)]
    # The tier the member's last window earns (the tiers' thresholds); every purchase is
    # priced with it, a simplification the reports do not notice.
    window_start = now - timedelta(days=context.window_days)
    recent = [amount for moment, amount in zip(moments, amounts, strict=True)
              if moment > window_start]
    tier = tiers[0]
    for candidate in tiers:
        checks = []
        if candidate.min_spend_rials:
            checks.append(sum(recent) >= candidate.min_spend_rials)
        if candidate.min_purchases:
            checks.append(len(recent) >= candidate.min_purchases)
        if not checks or (all(checks) if candidate.qualify_mode == "all" else any(checks)):
            tier = candidate
    credit_total = points_total = spend_total = 0
    for moment, amount in zip(moments, amounts, strict=True):
        branch = home if rng.random() < 0.8 else rng.choice(context.branch_ids)
        discount = amount * tier.discount_percent_bp // 10_000
        offer = rng.choice(context.offers) if context.offers and rng.random() < 0.04 else None
        offer_discount = 0
        if offer is not None:
            offer_discount = min(amount - discount, (amount - discount) * 1000 // 10_000
                                 if offer.reward_kind == "percent_discount"
                                 else offer.reward_value)
        payable = amount - discount - offer_discount
        credit = payable * tier.credit_percent_bp // 10_000
        points = amount // tier.point_step_rials * tier.points_per_step
        item = None
        if context.products and rng.random() < 0.1:
            product = rng.choice(context.products)
            item = (product.id, 1 + int(rng.random() * 3), product.price_rials)
        planned.append((moment, member_id, card_id, branch, amount, discount + offer_discount,
                        payable, credit, points, offer.id if offer else None, offer_discount,
                        item))
        credit_total += credit
        points_total += points
        spend_total += payable
    serial = SEED_SERIAL_START + member_id
    rows["member"].append((
        member_id, rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES),
        f"{SEED_MOBILE_PREFIX}{serial % 10_000_000:07d}", tier.id, home, joined, "", "", "",
        "", "", "", "", "", "", "", "", "{}", False, "", False, credit_total, points_total,
        spend_total, count, moments[-1] if moments else None, 0))
    rows["card"].append((card_id, make_card_number(SEED_CARD_PREFIX, serial), member_id,
                         "active", joined))


def _purchase_rows(rows, ids, item) -> None:
    """A planned purchase's rows: ledger transaction, entries, credit lot, purchase, offer
    redemption and item."""
    (moment, member_id, card_id, branch, amount, discount, payable, credit, points,
     offer_id, offer_discount, line) = item
    tx_id, purchase_id = ids[LedgerTransaction], ids[Purchase]
    ids[LedgerTransaction] += 1
    ids[Purchase] += 1
    rows["tx"].append((tx_id, f"seed:purchase:{purchase_id}", "purchase", member_id,
                       f"purchase of {amount:,} rials", moment))
    if credit:
        rows["entry"].append((ids[LedgerEntry], tx_id, member_id, "credit", credit, moment))
        ids[LedgerEntry] += 1
        rows["lot"].append((ids[CreditLot], member_id, tx_id, branch, credit, credit, None,
                            moment))
        ids[CreditLot] += 1
    if points:
        rows["entry"].append((ids[LedgerEntry], tx_id, member_id, "points", points, moment))
        ids[LedgerEntry] += 1
    rows["purchase"].append((purchase_id, member_id, card_id, branch, None, tx_id, amount,
                             discount, 0, payable, credit, points, False, None, 0, 0, moment))
    if offer_id is not None:
        rows["redemption"].append((ids[OfferRedemption], offer_id, member_id, purchase_id,
                                   offer_discount, 0, 0, moment))
        ids[OfferRedemption] += 1
    if line is not None:
        product_id, quantity, price = line
        rows["item"].append((ids[PurchaseItem], purchase_id, product_id, quantity, price))
        ids[PurchaseItem] += 1


_COLUMNS = {
    "member": (Member, ("id", "first_name", "last_name", "mobile", "tier_id", "home_branch_id",
                        "joined_at", "gender", "province", "city", "neighbourhood", "address",
                        "email", "home_phone", "work_phone", "father_name", "job",
                        "favourite_colour", "custom_fields", "promotional_opt_out", "notes",
                        "is_gift_account",
                        "credit_balance_rials", "points_balance", "total_spend_rials",
                        "purchase_count", "last_visit_at", "lock_version")),
    "card": (Card, ("id", "number", "member_id", "status", "issued_at")),
    "tx": (LedgerTransaction, ("id", "idempotency_key", "kind", "member_id", "reason",
                               "created_at")),
    "entry": (LedgerEntry, ("id", "transaction_id", "member_id", "account", "amount",
                            "created_at")),
    "lot": (CreditLot, ("id", "member_id", "transaction_id", "branch_id", "amount_rials",
                        "remaining_rials", "expires_at", "created_at")),
    "purchase": (Purchase, ("id", "member_id", "card_id", "branch_id", "device_id",
                            "ledger_transaction_id", "amount_rials", "discount_rials",
                            "credit_used_rials", "payable_rials", "credit_earned_rials",
                            "points_earned", "offline", "commission_member_id",
                            "commission_rials", "refunded_amount_rials", "created_at")),
    "redemption": (OfferRedemption, ("id", "offer_id", "member_id", "purchase_id",
                                     "discount_rials", "points", "credit_rials", "created_at")),
    "item": (PurchaseItem, ("id", "purchase_id", "product_id", "quantity", "unit_price_rials")),
}
# Parents before children, for the foreign keys.
_ORDER = ("member", "card", "tx", "entry", "lot", "purchase", "redemption", "item")


def _flush(writer: _BulkWriter, rows: dict[str, list]) -> None:
    for name in _ORDER:
        model, columns = _COLUMNS[name]
        writer.write(model.__table__, columns, rows[name])


def _fix_sequences(session: Session) -> None:
    fix_sequences(session, [model for model, _ in _COLUMNS.values()])


def fix_sequences(session: Session, models) -> None:
    """Explicit ids leave PostgreSQL's sequences behind; move them past the last id."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for model in models:
        table = model.__table__.name
        session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"))


def check_ledger(session: Session, member_ids: Iterable[int] | None = None) -> int:
    """Members whose cached balances differ from the sums of their entries or whose credit
    lots do not add up to their credit balance (0 when the ledger is whole)."""
    credit = select(LedgerEntry.member_id, func.sum(LedgerEntry.amount).label("total")) \
        .where(LedgerEntry.account == "credit").group_by(LedgerEntry.member_id).subquery()
    points = select(LedgerEntry.member_id, func.sum(LedgerEntry.amount).label("total")) \
        .where(LedgerEntry.account == "points").group_by(LedgerEntry.member_id).subquery()
    lots = select(CreditLot.member_id, func.sum(CreditLot.remaining_rials).label("total")) \
        .group_by(CreditLot.member_id).subquery()
    statement = (select(func.count(Member.id))
                 .outerjoin(credit, credit.c.member_id == Member.id)
                 .outerjoin(points, points.c.member_id == Member.id)
                 .outerjoin(lots, lots.c.member_id == Member.id)
                 .where((Member.credit_balance_rials != func.coalesce(credit.c.total, 0))
                        | (Member.points_balance != func.coalesce(points.c.total, 0))
                        | (Member.credit_balance_rials != func.coalesce(lots.c.total, 0))))
    if member_ids is not None:
        statement = statement.where(Member.id.in_(list(member_ids)))
    return int(session.scalar(statement))

