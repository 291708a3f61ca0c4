"""`flask --app backend backup` while purchases commit, then `restore` into a fresh
database: the restore is one consistent moment of the source, with identical balances
and ledger sums and every invariant holding."""

import logging
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from backend import create_app
from backend.extensions import db
from backend.models import Card, Device, LedgerEntry, LedgerTransaction, Member, Purchase
from backend.protocol import Request
from backend.services import demo, terminal
from tests.conftest import TEST_DATABASE_URL, build_app, make_config

LOAD_LIMIT = 400  # purchases at most: the load stops by itself


def sell(app, stop: threading.Event, committed: list, progress: threading.Condition) -> None:
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
            with progress:
                committed.append(seq)
                progress.notify_all()
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
    stop, committed, progress = threading.Event(), [], threading.Condition()
    load = threading.Thread(target=sell, args=(live, stop, committed, progress), daemon=True)
    load.start()
    with progress:
        assert progress.wait_for(lambda: len(committed) >= 20, 30), "no purchases committed"
    backup_file = tmp_path / "vafa.backup"
    before_backup = len(committed)
    result = live.test_cli_runner().invoke(args=["backup", "--out", str(backup_file)])
    after_backup = len(committed)
    assert result.exit_code == 0, result.output
    with progress:  # purchases go on after the backup
        assert progress.wait_for(lambda: len(committed) > after_backup, 30)
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


def metric_value(text_format: str, name: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    return next(sample.value for family in text_string_to_metric_families(text_format)
                for sample in family.samples if sample.name == name)


# --- Scheduled backups (issue 21): bounded in number, copied off the machine ----------

def scheduled_app(tmp_path_factory, databases, kind, tmp_path, **overrides):
    live = build_app(tmp_path_factory, databases, kind, BACKUP_DIR=tmp_path / "backups",
                     **overrides)
    with live.app_context():
        demo.seed_demo(db.session, datetime.now(UTC), history=False)
    return live


def test_scheduled_backups_keep_the_newest_and_are_copied_off(tmp_path_factory, databases,
                                                              app, tmp_path):
    from backend.services import backups

    live = scheduled_app(tmp_path_factory, databases, app.database_kind, tmp_path)
    offsite = tmp_path / "offsite"
    offsite.mkdir()
    url = live.config["SQLALCHEMY_DATABASE_URI"]
    start = datetime(2026, 12, 1, 0, 15, tzinfo=UTC)
    for round_number in range(5):
        now = start.replace(hour=round_number * 6 % 24, day=1 + round_number * 6 // 24)
        result = backups.scheduled_backup(url, tmp_path / "backups", now, keep=3,
                                          copy_command=f"cp -p {{file}} {offsite}/",
                                          copy_timeout_s=60)
        assert result.copied is True, result.copy_error
    kept = [path.name for path in backups.kept_backups(tmp_path / "backups")]
    suffix = "sqlite3" if app.database_kind == "sqlite" else "dump"
    assert kept == [f"vafa-20261201-{hour:02d}1500.{suffix}" for hour in (12, 18)] + [
        f"vafa-20261202-001500.{suffix}"]
    assert len(list(offsite.iterdir())) == 5  # every one was copied before pruning
    assert all(path.stat().st_mode & 0o077 == 0 for path in (tmp_path / "backups").iterdir())
    metrics = live.test_client().get("/metrics").get_data(as_text=True)
    newest = (tmp_path / "backups" / kept[-1]).stat().st_mtime
    assert metric_value(metrics, "vafa_backup_last_timestamp_seconds") == pytest.approx(newest)
    assert "vafa_backups_kept 3.0" in metrics and "vafa_backup_copy_failed 0.0" in metrics


def test_a_failed_or_stuck_copy_is_logged_alerted_and_bounded(tmp_path_factory, databases,
                                                              app, tmp_path, caplog):
    from backend.services import backups

    live = scheduled_app(tmp_path_factory, databases, app.database_kind, tmp_path,
                         BACKUP_KEEP=2, BACKUP_COPY_COMMAND="false",
                         BACKUP_COPY_TIMEOUT_S=60)
    # The migrations' logging.config replaced the root handlers, pytest's among them.
    logging.getLogger().addHandler(caplog.handler)
    caplog.set_level(logging.ERROR, logger="backend.services.backups")
    result = live.test_cli_runner().invoke(args=["backup", "--scheduled"])
    assert result.exit_code != 0 and "not copied off the machine" in result.output
    assert "exited with code 1" in result.output
    assert len(backups.kept_backups(tmp_path / "backups")) == 1  # the backup itself stays
    assert backups.read_status(tmp_path / "backups")["copy_ok"] is False
    assert any("was not copied off the machine" in record.getMessage()
               for record in caplog.records)
    metrics = live.test_client().get("/metrics").get_data(as_text=True)
    assert "vafa_backup_copy_failed 1.0" in metrics

    started = time.monotonic()
    stuck = backups.scheduled_backup(live.config["SQLALCHEMY_DATABASE_URI"], tmp_path /
                                     "backups", datetime(2026, 12, 2, 6, tzinfo=UTC), keep=2,
                                     copy_command="sh -c 'sleep 30; :' {file}",
                                     copy_timeout_s=0.5)
    assert time.monotonic() - started < 20
    assert stuck.copied is False and "sh did not finish in 0.5 s" in stuck.copy_error
    missing = backups.scheduled_backup(live.config["SQLALCHEMY_DATABASE_URI"], tmp_path /
                                       "backups", datetime(2026, 12, 2, 12, tzinfo=UTC),
                                       keep=2, copy_command="/no/such/copier")
    assert missing.copied is False and "not found" in missing.copy_error
    assert len(backups.kept_backups(tmp_path / "backups")) == 2

    ok = live.test_cli_runner().invoke(args=["backup", "--scheduled", "--out", "x"])
    assert ok.exit_code != 0 and "--scheduled names its own files" in ok.output


# --- Restore of a backup taken while terminals sold through the broker ---------------

def test_restore_of_a_backup_taken_while_terminals_sold(stack, app, tmp_path):
    """Two terminals sell through Mosquitto and the worker while the backup runs. The
    restore holds every sale acknowledged before the backup began, each stored answer
    byte for byte, the ledger and balances of that moment, and the devices' seq floors."""
    from backend.models import TerminalRequest
    from backend.services import backups
    from card_spec import make_card_number

    acked: list[tuple[str, str]] = []
    enough = {20: threading.Event(), 40: threading.Event()}
    stop = threading.Event()

    def sell(device_id: str, offset: int) -> None:
        with stack.terminal(device_id) as terminal:
            for seq in range(1, LOAD_LIMIT + 1):
                if stop.is_set():
                    return
                card = make_card_number(demo.DEMO_PREFIX, 1 + (seq * 7 + offset) % 100)
                request = terminal.request(seq, card=card, amount=10_000 + seq * 100,
                                           use_credit=-1 if seq % 5 == 0 else 0)
                terminal.send(request)
                reply = terminal.wait_reply(timeout_s=10)
                if reply is not None and reply.get("ok"):
                    acked.append((device_id, request["id"]))
                    for count, event in enough.items():
                        if len(acked) >= count:
                            event.set()

    sellers = [threading.Thread(target=sell, args=(device, index), daemon=True)
               for index, device in enumerate(("t01", "t02"))]
    for seller in sellers:
        seller.start()
    try:
        assert enough[20].wait(60), f"only {len(acked)} sales acknowledged"
        acked_before = set(acked)
        backup_file = tmp_path / "under-load.backup"
        backups.backup(stack.app.config["SQLALCHEMY_DATABASE_URI"], backup_file)
        assert enough[40].wait(60), "the sales stopped during the backup"
    finally:
        stop.set()
        for seller in sellers:
            seller.join(30)
    stack.worker.stop()

    def snapshot(target_app, up_to_transaction=None):
        with target_app.app_context():
            session = db.session
            requests_ = {(row.device_id, row.request_id): (row.seq, row.response_body,
                                                           row.ledger_transaction_id)
                         for row in session.scalars(select(TerminalRequest))}
            entries = select(LedgerEntry.id, LedgerEntry.transaction_id, LedgerEntry.member_id,
                             LedgerEntry.account, LedgerEntry.amount)
            if up_to_transaction is not None:
                entries = entries.where(LedgerEntry.transaction_id <= up_to_transaction)
            ledger = sorted(tuple(row) for row in session.execute(entries))
            floors = {device.id: device.last_seq for device in session.scalars(select(Device))}
            session.rollback()
        state = ledger_state(target_app, up_to_transaction)
        return requests_, ledger, floors, state

    url, drop = fresh_database_url(app.database_kind,
                                   stack.app.config["SQLALCHEMY_DATABASE_URI"], tmp_path)
    try:
        restored_app = create_app(make_config(stack.app.config["INSTANCE_DIR"], url))
        result = restored_app.test_cli_runner().invoke(args=["restore", "--yes",
                                                             str(backup_file)])
        assert result.exit_code == 0, result.output
        requests_, ledger, floors, state = snapshot(restored_app)
        with restored_app.app_context():
            db.engine.dispose()
    finally:
        drop()
    source_requests, source_ledger, _, source_state = snapshot(stack.app, state["last"])

    restored_ids = set(requests_)
    assert acked_before <= restored_ids, "a sale acknowledged before the backup was lost"
    assert restored_ids <= set(source_requests)
    assert {key: source_requests[key] for key in restored_ids} == requests_  # same bytes
    assert len(restored_ids) < len(source_requests)  # the load went on after the backup
    assert ledger == source_ledger
    assert state["cached"] == state["entries"] == source_state["entries"]
    for device_id in ("t01", "t02"):
        seqs = [seq for (device, _), (seq, _, _) in requests_.items() if device == device_id]
        assert floors[device_id] == max(seqs)


def test_pg_dump_gets_the_socket_and_schema_of_the_url():
    from backend.services.backups import postgres_target

    target = postgres_target("postgresql+psycopg://vafa:s3cret@/vafa?host=/var/run/postgresql"
                             "&options=-csearch_path%3Dclub_a")
    assert target.uri == "postgresql://vafa@/vafa?host=%2Fvar%2Frun%2Fpostgresql"
    assert (target.password, target.schema) == ("s3cret", "club_a")
