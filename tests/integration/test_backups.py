"""`flask --app backend backup` while purchases commit, then `restore` into a fresh
database: the restore is one consistent moment of the source, with identical balances
and ledger sums and every invariant holding."""

import threading
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from backend import create_app
from backend.extensions import db
from backend.models import Card, Device, LedgerEntry, LedgerTransaction, Member, Purchase
from backend.protocol import Request
from backend.services import demo, terminal
from tests.conftest import TEST_DATABASE_URL, build_app, make_config

LOAD_LIMIT = 400  # purchases at most: the load stops by itself


def sell(app, stop: threading.Event, committed: list) -> None:
    with app.app_context():
        cards = db.session.scalars(select(Card.number).where(Card.member_id.is_not(None))
                                   .order_by(Card.id).limit(20)).all()
        db.session.rollback()
        for seq in range(1, LOAD_LIMIT + 1):
            if stop.is_set():
                break
            request = Request(id=f"load-{seq}", seq=seq, ts=int(time.time()), op="purchase",
                              card=cards[seq % len(cards)], amount=10_000 + seq * 1_000,
                              use_credit=-1 if seq % 4 == 0 else 0, items=None, ref=None,
                              offline=False)
            terminal.answer(db.session, "t01", request, datetime.now(UTC))
            committed.append(seq)
        db.session.remove()


def ledger_state(app, up_to_transaction: int | None = None) -> dict:
    """Each member's (credit, points) from the ledger entries, and the cached columns."""
    with app.app_context():
        session = db.session
        statement = select(LedgerEntry.member_id, LedgerEntry.account,
                           func.sum(LedgerEntry.amount)).group_by(LedgerEntry.member_id,
                                                                  LedgerEntry.account)
        if up_to_transaction is not None:
            statement = statement.where(LedgerEntry.transaction_id <= up_to_transaction)
        sums = {(member, account): int(total) for member, account, total in
                session.execute(statement)}
        cached = {member.id: (member.credit_balance_rials, member.points_balance)
                  for member in session.scalars(select(Member))}
        last = session.scalar(select(func.max(LedgerTransaction.id)))
        # Purchases, not ledger transactions: a referee's purchase also posts its
        # referrer's commission.
        count = session.scalar(select(func.count()).select_from(Purchase))
        key = session.get(Device, "t01").key_hex
        session.rollback()
    from_entries = {member: (sums.get((member, "credit"), 0), sums.get((member, "points"), 0))
                    for member in cached}
    return {"cached": cached, "entries": from_entries, "last": last, "count": count,
            "key": key}


def fresh_database_url(kind: str, source_url: str, tmp_path):
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'restored.sqlite3'}", lambda: None
    name = f"vafa_restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    # The same search_path (schema) as the source, in a database of its own.
    url = make_url(source_url).set(database=name).render_as_string(hide_password=False)

    def drop():
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def test_backup_under_load_restores_identical_balances(tmp_path_factory, databases, app,
                                                       tmp_path):
    live = build_app(tmp_path_factory, databases, app.database_kind)
    with live.app_context():
        demo.seed_demo(db.session, datetime.now(UTC))
    seeded = ledger_state(live)["count"]  # the demo club's past purchases
    stop, committed = threading.Event(), []
    load = threading.Thread(target=sell, args=(live, stop, committed), daemon=True)
    load.start()
    deadline = time.monotonic() + 30
    while len(committed) < 20:
        assert time.monotonic() < deadline and load.is_alive(), "no purchases committed"
        time.sleep(0.01)
    backup_file = tmp_path / "vafa.backup"
    before_backup = len(committed)
    result = live.test_cli_runner().invoke(args=["backup", "--out", str(backup_file)])
    after_backup = len(committed)
    assert result.exit_code == 0, result.output
    time.sleep(0.2)  # purchases go on after the backup
    stop.set()
    load.join(30)
    assert len(committed) > after_backup >= before_backup
    assert backup_file.stat().st_mode & 0o077 == 0

    url, drop = fresh_database_url(app.database_kind,
                                   live.config["SQLALCHEMY_DATABASE_URI"], tmp_path)
    try:
        # The same instance dir: the same encryption key, as a restore needs.
        restored = create_app(make_config(live.config["INSTANCE_DIR"], url))
        refused = restored.test_cli_runner().invoke(args=["restore", str(backup_file)])
        assert refused.exit_code != 0 and "--yes" in refused.output
        result = restored.test_cli_runner().invoke(args=["restore", "--yes", str(backup_file)])
        assert result.exit_code == 0, result.output
        copy = ledger_state(restored)
        with restored.app_context():
            db.engine.dispose()
    finally:
        drop()
    # One consistent moment of the source: the purchases committed before the backup
    # began, perhaps some during it, none after it ended.
    assert seeded + before_backup <= copy["count"] <= seeded + after_backup
    source = ledger_state(live, up_to_transaction=copy["last"])
    assert copy["cached"] == copy["entries"] == source["entries"]
    assert copy["key"] == source["key"]
    assert sum(credit for credit, _ in copy["cached"].values()) == sum(
        credit for credit, _ in source["entries"].values())


def test_restore_refuses_a_file_that_is_not_a_backup(runner, tmp_path, app):
    if app.database_kind != "sqlite":
        return
    bogus = tmp_path / "not-a-backup.sqlite3"
    bogus.write_bytes(b"hello" * 100)
    result = runner.invoke(args=["restore", "--yes", str(bogus)])
    assert result.exit_code != 0 and "not a" in result.output
