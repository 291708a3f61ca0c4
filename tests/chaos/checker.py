"""The chaos run's verdict: what every terminal was told, against the ledger.

- every acknowledged sale (told OK online, or its offline replay confirmed) is in the
  ledger exactly once, with the amount and the response the terminal got;
- no sale is charged twice, no refused sale (a definitive error, a STALE replay, a record
  torn by a power cut before it was sent) is charged at all, and nothing is charged that
  no terminal sold;
- every sale whose receipt said "saved offline" is in the ledger exactly once; a replay
  refused STALE counts as lost unless the sale really is older than the offline window
  (the harness's truth, `Sale.sold_at`): a refusal because of the terminal's own clock
  (2000-01-01 after a power cut) is a lost sale;
- no sale got another sale's answer: one request id per sale, and an OK reply and its
  ledger row carry the sale's own amount and card;
- each firmware terminal's requests were applied in its seq order;
- every balance equals the sum of its ledger entries (and, for credit, of its lots), none
  is negative, and money is conserved: the totals moved by exactly what the run's
  purchases, commissions and referral bonuses say.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select

from backend.extensions import db
from backend.models import (
    Card,
    CreditLot,
    LedgerEntry,
    LedgerTransaction,
    Member,
    Purchase,
    TerminalRequest,
    the_club,
)


@dataclass
class Row:
    fault: str
    attempted: int = 0
    acknowledged: int = 0
    unacknowledged: int = 0
    lost: int = 0
    doubled: int = 0
    notes: str = ""


@dataclass
class Verdict:
    database: str
    rows: list[Row]
    errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def total(self) -> Row:
        total = Row("all faults")
        for row in self.rows:
            for name in ("attempted", "acknowledged", "unacknowledged", "lost", "doubled"):
                setattr(total, name, getattr(total, name) + getattr(row, name))
        return total

    @property
    def ok(self) -> bool:
        return not self.errors and self.total.lost == 0 and self.total.doubled == 0

    def table(self) -> str:
        lines = [f"Database: {self.database}; {self.elapsed_s:.0f} s",
                 "",
                 "| fault | sales attempted | acknowledged | unacknowledged | lost | doubled "
                 "| what happened |",
                 "|---|---:|---:|---:|---:|---:|---|"]
        for row in [*self.rows, self.total]:
            lines.append(f"| {row.fault} | {row.attempted} | {row.acknowledged} | "
                         f"{row.unacknowledged} | {row.lost} | {row.doubled} | {row.notes} |")
        return "\n".join(lines)


def demo_cards(app) -> list[str]:
    with app.app_context():
        numbers = db.session.scalars(select(Card.number).where(Card.member_id.is_not(None))
                                     .order_by(Card.number)).all()
        db.session.rollback()
        return list(numbers)


def totals(app) -> dict:
    with app.app_context():
        result = _totals(db.session)
        db.session.rollback()
        return result


def _totals(session) -> dict:
    return {
            "credit": int(session.scalar(select(func.coalesce(
                func.sum(Member.credit_balance_rials), 0)))),
            "points": int(session.scalar(select(func.coalesce(
                func.sum(Member.points_balance), 0)))),
            "last_transaction": int(session.scalar(select(func.coalesce(
                func.max(LedgerTransaction.id), 0)))),
    }


def check(run) -> Verdict:
    with run.app.app_context():
        try:
            return _check(run, db.session)
        finally:
            db.session.rollback()


def _check(run, session) -> Verdict:
    errors: list[str] = []
    sales = run.all_sales()
    devices = {sale.device for sale in sales} | {till.device_id for till in run.tills}
    new_transactions = session.scalars(
        select(LedgerTransaction).where(LedgerTransaction.id > run.before["last_transaction"])
        .order_by(LedgerTransaction.id)).all()
    purchases = {purchase.ledger_transaction_id: purchase for purchase in session.scalars(
        select(Purchase).where(Purchase.ledger_transaction_id > run.before["last_transaction"]))}
    charged: dict[tuple[str, str], list[LedgerTransaction]] = defaultdict(list)
    for transaction in new_transactions:
        if transaction.kind == "purchase":
            _, device, request_id = transaction.idempotency_key.split(":", 2)
            charged[(device, request_id)].append(transaction)
    stored = {(row.device_id, row.request_id): row for row in session.scalars(
        select(TerminalRequest).where(TerminalRequest.device_id.in_(devices)))}

    rows = {phase.name: Row(phase.name, notes="; ".join(phase.notes)) for phase in run.phases}
    errors.extend(getattr(run, "fault_errors", []))
    window_s = the_club(session).offline_window_days * 86400
    checked_at = time.time()
    card_ids = dict(session.execute(select(Card.number, Card.id)).all())
    recorded: set[tuple[str, str]] = set()
    owners: dict = {}  # (device, id) -> the first sale under it
    for sale in sales:
        row = rows[sale.phase]
        row.attempted += 1
        if sale.acknowledged:
            row.acknowledged += 1
        else:
            row.unacknowledged += 1
        if sale.request_id is None:
            continue  # never given an id (needs the backend online): nothing to charge
        key = (sale.device, sale.request_id)
        recorded.add(key)
        times = len(charged.get(key, []))
        name = f"{sale.device}/{sale.request_id} ({sale.phase})"
        other = owners.setdefault(key, sale)
        if other is not sale and sale.acknowledged:
            # A later sale told OK under an earlier sale's id (a reflash that reused it):
            # one of the two got the other's answer.
            row.lost += 1
            errors.append(f"{name}: the id of another sale ({other.card} {other.amount}, "
                          f"{other.phase}); this one {sale.card} {sale.amount}")
        saved_offline = sale.journaled and not sale.power_cut
        if saved_offline and not sale.acknowledged and times == 0:
            old = checked_at - sale.sold_at > window_s
            if not (sale.offline_result == "STALE" and old):
                # The receipt said "saved offline" and the sale is not in the ledger: a
                # STALE on a sale inside the window is the terminal's own clock's fault.
                row.lost += 1
                verdict = sale.offline_result
                errors.append(f"{name}: saved offline, then "
                              f"{'refused ' + verdict if verdict else 'never confirmed'} "
                              f"(sold {checked_at - sale.sold_at:.0f} s ago)")
        if sale.acknowledged and times == 0:
            row.lost += 1
            errors.append(f"{name}: acknowledged but not in the ledger")
        if times > 1:
            row.doubled += times - 1
            errors.append(f"{name}: charged {times} times")
        if times and (sale.refused or (sale.power_cut and not sale.sent)):
            row.doubled += times
            errors.append(f"{name}: told {sale.code or sale.offline_result or 'power cut'} "
                          f"but charged")
        if sale.acknowledged and times == 1:
            transaction = charged[key][0]
            purchase = purchases.get(transaction.id)
            if purchase is None or purchase.amount_rials != sale.amount:
                errors.append(f"{name}: ledger amount differs from the sale's {sale.amount}")
            elif purchase.card_id != card_ids.get(sale.card):
                errors.append(f"{name}: ledger card differs from the sale's {sale.card}")
            if sale.response is not None:
                told = sale.response
                if (told.get("tx") or {}).get("amount") != sale.amount:
                    errors.append(f"{name}: told {told.get('tx')} for a sale of "
                                  f"{sale.amount}")
                kept = json.loads(stored[key].response_body) if key in stored else None
                if kept != told:
                    errors.append(f"{name}: the terminal was told {told}, the store has {kept}")
            if sale.offline_result == "confirmed" and purchase is not None \
                    and not purchase.offline and sale.journaled and not sale.sent:
                errors.append(f"{name}: a journaled sale not marked offline")
    for key, transactions in charged.items():
        if key not in recorded:
            errors.append(f"{key}: charged, but no terminal sold it")
            rows[run.phases[-1].name].doubled += len(transactions)

    _check_order(run, session, errors)
    _check_replies(run, errors)
    _check_balances(session, errors)
    _check_conservation(run, session, new_transactions, purchases, errors)
    verdict = Verdict(run.kind, list(rows.values()), errors, getattr(run, "elapsed_s", 0.0))
    return verdict


def _check_order(run, session, errors: list[str]) -> None:
    """A firmware terminal's requests reach the ledger in seq order (journal replays
    before new sales, one request in flight)."""
    for till in run.tills:
        seqs = session.scalars(select(TerminalRequest.seq)
                               .where(TerminalRequest.device_id == till.device_id)
                               .order_by(TerminalRequest.id)).all()
        if list(seqs) != sorted(set(seqs)):
            errors.append(f"{till.device_id}: requests applied out of seq order: {seqs}")


def _check_replies(run, errors: list[str]) -> None:
    """Every reply to one request id is the same bytes, refusals included (they are
    stored too), except UNAVAILABLE (nothing decided) and replies without an id."""
    if run.raw is None:
        return
    for request_id, bodies in run.raw.replies.items():
        if request_id is None:
            continue
        final = {body for body in bodies if json.loads(body)["code"] != "UNAVAILABLE"}
        if len(final) > 1:
            errors.append(f"{request_id}: different replies {sorted(final)}")


def _check_balances(session, errors: list[str]) -> None:
    entries = {(member_id, account): int(total) for member_id, account, total in session.execute(
        select(LedgerEntry.member_id, LedgerEntry.account, func.sum(LedgerEntry.amount))
        .group_by(LedgerEntry.member_id, LedgerEntry.account))}
    lots = dict(session.execute(select(CreditLot.member_id, func.sum(CreditLot.remaining_rials))
                                .group_by(CreditLot.member_id)).all())
    for member in session.scalars(select(Member)):
        credit = entries.get((member.id, "credit"), 0)
        points = entries.get((member.id, "points"), 0)
        if not (member.credit_balance_rials == credit == int(lots.get(member.id, 0))):
            errors.append(f"member {member.id}: credit {member.credit_balance_rials}, entries "
                          f"{credit}, lots {lots.get(member.id, 0)}")
        if member.points_balance != points:
            errors.append(f"member {member.id}: points {member.points_balance}, entries {points}")
        if credit < 0 or points < 0:
            errors.append(f"member {member.id}: negative balance")


def _check_conservation(run, session, transactions, purchases, errors: list[str]) -> None:
    """Every rial and point the run moved belongs to a sale and matches its purchase row."""
    after = _totals(session)
    sums: dict[tuple[int, str], int] = defaultdict(int)
    for transaction_id, account, amount in session.execute(
            select(LedgerEntry.transaction_id, LedgerEntry.account, LedgerEntry.amount)
            .where(LedgerEntry.transaction_id > run.before["last_transaction"])):
        sums[(transaction_id, account)] += amount
    bonus = the_club(session).referral_first_purchase_bonus_rials
    by_key = {transaction.idempotency_key: transaction for transaction in transactions}
    expected_credit = expected_points = 0
    for transaction in transactions:
        credit = sums[(transaction.id, "credit")]
        points = sums[(transaction.id, "points")]
        if transaction.kind == "purchase":
            purchase = purchases[transaction.id]
            if credit != purchase.credit_earned_rials - purchase.credit_used_rials \
                    or points != purchase.points_earned:
                errors.append(f"{transaction.idempotency_key}: entries {credit}/{points} differ "
                              f"from the purchase {purchase.credit_earned_rials}-"
                              f"{purchase.credit_used_rials}/{purchase.points_earned}")
            expected_credit += purchase.credit_earned_rials - purchase.credit_used_rials
            expected_points += purchase.points_earned
            expected_credit += purchase.commission_rials
        elif transaction.kind in ("commission", "referral"):
            base = transaction.idempotency_key.rsplit(":", 1)[0]
            if base not in by_key:
                errors.append(f"{transaction.idempotency_key}: reward without its purchase")
            if transaction.kind == "referral":
                expected_credit += bonus
            if transaction.kind == "referral" and credit != bonus:
                errors.append(f"{transaction.idempotency_key}: bonus {credit} != {bonus}")
        else:
            errors.append(f"{transaction.idempotency_key}: unexpected {transaction.kind}")
    commissions = sum(sums[(t.id, "credit")] for t in transactions if t.kind == "commission")
    if commissions != sum(p.commission_rials for p in purchases.values()):
        errors.append(f"commissions posted {commissions} differ from the purchases' record")
    if after["credit"] - run.before["credit"] != expected_credit:
        errors.append(f"credit moved {after['credit'] - run.before['credit']}, sales say "
                      f"{expected_credit}")
    if after["points"] - run.before["points"] != expected_points:
        errors.append(f"points moved {after['points'] - run.before['points']}, sales say "
                      f"{expected_points}")
