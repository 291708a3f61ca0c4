"""bench/floor.py: the bare-driver replay sends exactly the statements the real purchase
path sends (captured from it), and each replayed purchase writes its rows."""

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime

import pytest

from backend import protocol
from backend.extensions import db
from backend.mqtt.worker import Worker
from bench import floor, profile_worker


@pytest.fixture
def real_path(tmp_path):
    now = datetime.now(UTC)
    url = f"sqlite:///{tmp_path / 'floor.sqlite3'}"
    app = profile_worker.build_app(tmp_path, url)
    terminals, cards = profile_worker.seed(app, 0, 1, now)
    worker = Worker(app, host="127.0.0.1", port=1, username="t", password="t")
    device_id, key = terminals[0]
    frames = floor.fresh_frames(terminals[0], 1, 4, cards[0], int(now.timestamp()),
                                profile_worker.PURCHASE_RIALS)
    yield app, worker, protocol.topic(device_id, "req"), key, frames, terminals[0], cards[0], url
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _count(connection, sql, *params):
    return connection.execute(sql, params).fetchone()[0]


def test_the_floor_replays_the_real_paths_statements_and_writes_the_rows(real_path):
    app, worker, topic, key, frames, terminal, card, url = real_path
    worker.handle(topic, frames[0])  # warm-up: the captured one is a steady-state purchase
    captured = floor.capture_purchase(app, worker, topic, frames[1], key)
    assert captured.sql[0] == "BEGIN IMMEDIATE"
    assert any(sql.startswith("INSERT INTO purchase ") for sql in captured.sql)
    assert captured.returned_ids["purchase"] and captured.returned_ids["ledger_transaction"]
    # A second real purchase sends the same statements: the shape is stable.
    with app.app_context():
        engine = db.engine
    again = floor.capture(engine, lambda: worker.handle(topic, frames[2]))
    assert [s.sql for s in again] == captured.sql
    with app.app_context():
        db.engine.dispose()

    connection = floor.connect_sqlite(url.removeprefix("sqlite:///"))
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    before = _count(connection, "SELECT count(*) FROM purchase")
    replay = floor.Floor(captured, connection, key, "sqlite")
    count = 5
    payloads = floor.fresh_frames(terminal, 100, count, card, 1_800_000_000,
                                  profile_worker.PURCHASE_RIALS)
    for payload in payloads:
        reply = replay.purchase(payload)
        # Exactly the real path's statements, in order, every time.
        assert replay.sent == captured.sql
        body, _, signature = reply.rpartition(b"\n")
        assert hmac.compare_digest(
            hmac.new(key, body, hashlib.sha256).hexdigest().encode(), signature)
        request_id = json.loads(payload.rpartition(b"\n")[0])["id"]
        assert json.loads(body)["id"] == request_id
        assert _count(connection, "SELECT count(*) FROM terminal_request WHERE request_id = ?",
                      request_id) == 1
        assert _count(connection, "SELECT count(*) FROM ledger_transaction WHERE "
                      "idempotency_key LIKE ?", f"%:{request_id}") == 1
    assert _count(connection, "SELECT count(*) FROM purchase") == before + count
    # The fresh ids reach the rows that refer to them: each new purchase has its own
    # ledger transaction, and its outbox message names it.
    newest = connection.execute(
        "SELECT id, ledger_transaction_id FROM purchase ORDER BY id DESC LIMIT ?",
        (count,)).fetchall()
    assert len({transaction for _, transaction in newest}) == count
    for purchase_id, _ in newest:
        assert _count(connection, "SELECT count(*) FROM message WHERE dedupe_key = ?",
                      f"purchase:{purchase_id}") == 1
    connection.close()


def test_measure_on_sqlite_reports_both_paths():
    result = floor.measure_on_sqlite(purchases=20)
    assert result["statements"] > 10 and result["purchases"] == 20
    for side in ("real", "floor"):
        assert result[side]["cpu_us"] > 0 and result[side]["per_s"] > 0
    assert result["cpu_ratio"] == pytest.approx(
        result["real"]["cpu_us"] / result["floor"]["cpu_us"], rel=0.01)


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="no PostgreSQL")
def test_measure_on_postgresql():
    from bench.profile_worker import Schema

    schema = Schema(os.environ["TEST_DATABASE_URL"])
    try:
        result = floor.measure_on(schema.scoped_url, "postgresql", 20)
    finally:
        schema.drop()
    assert result["floor"]["per_s"] > 0 and result["real"]["per_s"] > 0
