"""The seeding command: fast bulk rows that still keep the ledger whole."""

from sqlalchemy import func, select

from backend.models import LedgerTransaction, Member, MemberScore, Purchase
from backend.services.reports import seed


def test_seed_reports_command_keeps_the_ledger_whole(runner, db):
    result = runner.invoke(args=["seed-reports", "--members", "60", "--purchases", "900",
                                 "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert "ledger checked" in result.output
    assert db.scalar(select(func.count(Member.id))) == 60
    purchases = db.scalar(select(func.count(Purchase.id)))
    assert 850 <= purchases <= 900  # members who never buy cannot take a rounding share
    # Every purchase has its ledger transaction; balances are the sums of entries and lots.
    assert db.scalar(select(func.count(Purchase.id)).join(
        LedgerTransaction, LedgerTransaction.id == Purchase.ledger_transaction_id)) == purchases
    assert seed.check_ledger(db) == 0
    # Cached counts agree with the rows.
    assert db.scalar(select(func.sum(Member.purchase_count))) == purchases
    # Purchases were written in time order, as a live club writes them.
    times = db.scalars(select(Purchase.created_at).order_by(Purchase.id)).all()
    assert times == sorted(times)
    # LRFM was scored for everyone.
    assert db.scalar(select(func.count()).select_from(MemberScore)) == 60
    # The sequences moved on: the next member gets a fresh id.
    again = runner.invoke(args=["seed-reports", "--members", "5", "--purchases", "20"])
    assert again.exit_code == 0, again.output
    assert db.scalar(select(func.count(Member.id))) == 65


def test_check_ledger_finds_a_broken_balance(runner, db):
    runner.invoke(args=["seed-reports", "--members", "10", "--purchases", "50"])
    member = db.scalars(select(Member).where(Member.credit_balance_rials > 0)).first()
    member.credit_balance_rials += 1
    db.flush()
    assert seed.check_ledger(db) == 1


def test_nightly_scores_members(runner, db):
    runner.invoke(args=["seed-reports", "--members", "10", "--purchases", "50"])
    result = runner.invoke(args=["nightly"])
    assert result.exit_code == 0, result.output
    assert "LRFM:" in result.output


def test_bench_reports_renders_every_page(runner, db):
    runner.invoke(args=["seed-reports", "--members", "10", "--purchases", "50"])
    result = runner.invoke(args=["bench-reports", "--repeat", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.endswith("/reports/kpis") for line in lines)
    assert all("  200  /reports/" in line for line in lines), result.output
