"""The bare-driver floor of a terminal purchase (issue 19): what the same work costs
without Flask, SQLAlchemy or the services, so every bench result can say "× floor".

1. `capture`: one real purchase through `Worker.handle` (the path a broker message takes,
   without the network) with SQLAlchemy's `before_cursor_execute` event on the app's
   engine: every statement it sends, its bind names and values, in order. The ids that
   the purchase's own `INSERT … RETURNING id` statements produced are read back after it
   committed (the newest rows of those tables, in insert order), so the replay knows which
   values to renew.
2. `Floor`: the same statements on the bare driver — `sqlite3` with WAL,
   `synchronous=FULL`, foreign keys on and `BEGIN IMMEDIATE` (the app's engine settings,
   backend/database.py), or psycopg on PostgreSQL — one transaction per purchase, with
   everything a real purchase does around them: HMAC-SHA256 check of the signed frame,
   JSON parse, the statements with fresh ids (the request id, and every id a RETURNING
   gave, wherever a later statement uses it), commit (fsync), the JSON reply encoded and
   signed. Row reads are fetched in full, as the real path does.

`measure` does both on a fresh database (SQLite file, or a schema of its own on
PostgreSQL), plus the real worker's own cost on the same database for the same count of
purchases, and returns µs per purchase (process CPU and wall) for each and their ratio.
The floor follows the real path by construction: its statements are captured from it in
the same run (tests/unit/bench/test_floor.py checks the replay sends exactly those).

    python -m bench.floor [--quick] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import re
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

FULL = {"purchases": 2000}
QUICK = {"purchases": 300}
WARM_UP = 20  # real purchases before the capture and the timing: caches, prepared statements
_INSERT_RETURNING_ID = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)\b.*\bRETURNING\s+(?:\w+\.)?id\b",
                                  re.IGNORECASE | re.DOTALL)
# SQLAlchemy's "insertmanyvalues" on psycopg: one statement for several rows, binds
# named <column>__<row>.
_BATCH_SUFFIX = re.compile(r"__(\d+)$")


def _base_name(name: str) -> str:
    return _BATCH_SUFFIX.sub("", name)


def _row_count(statement) -> int:
    """Rows one execution of ``statement`` inserts (several for a batched INSERT)."""
    batch = {m.group(1) for m in map(_BATCH_SUFFIX.search, statement.names) if m}
    return len(statement.rows) * max(1, len(batch))


@dataclass
class Statement:
    """One statement the real purchase sent: SQL text, bind names in order (positional
    drivers) or the dict keys (named), and the values of each execution."""

    sql: str
    names: tuple[str, ...]
    rows: list[dict]
    executemany: bool
    returning_table: str | None = None  # INSERT INTO <table> … RETURNING id


@dataclass
class Captured:
    statements: list[Statement]
    request_id: str
    response: dict  # the reply body the real path sent
    returned_ids: dict[str, list[int]] = field(default_factory=dict)  # table: ids, in order

    @property
    def sql(self) -> list[str]:
        return [statement.sql for statement in self.statements]


def capture(engine, call) -> list[Statement]:
    """Every statement `call()` sends on `engine` (SQLAlchemy), in order."""
    from sqlalchemy import event

    seen: list[Statement] = []

    def hook(_connection, _cursor, statement, parameters, context, executemany):
        compiled = getattr(context, "compiled", None) if context is not None else None
        positional = not isinstance(parameters, dict) and not (
            isinstance(parameters, list | tuple) and parameters
            and isinstance(parameters[0], dict))
        if positional:
            names = tuple(getattr(compiled, "positiontup", None) or ())
            batches = (parameters if parameters and isinstance(parameters, list)
                       and isinstance(parameters[0], tuple | list) else [parameters or ()])
            rows = [dict(zip(names, values, strict=True)) for values in batches]
        else:
            batches = parameters if isinstance(parameters, list | tuple) else [parameters]
            names = tuple(batches[0]) if batches else ()
            rows = [dict(values) for values in batches]
        match = _INSERT_RETURNING_ID.match(statement)
        seen.append(Statement(statement, names, rows, executemany,
                              match.group(1) if match else None))

    event.listen(engine, "before_cursor_execute", hook)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", hook)
    return seen


def capture_purchase(app, worker, topic: str, payload: bytes, key: bytes) -> Captured:
    """One real purchase through `worker.handle`, its statements and the ids it made."""
    from sqlalchemy import text

    from backend import protocol
    from backend.extensions import db

    request = json.loads(protocol.decode_frame(payload, key))
    with app.app_context():
        engine = db.engine
    replies = []
    statements = capture(engine, lambda: replies.append(worker.handle(topic, payload)))
    assert replies and replies[0] is not None, "the real purchase sent no reply"
    response = json.loads(protocol.decode_frame(replies[0][1], key))
    assert response.get("code") == "OK", f"the real purchase was answered {response}"
    counts: dict[str, int] = {}
    for statement in statements:
        if statement.returning_table:
            counts[statement.returning_table] = counts.get(statement.returning_table, 0) \
                + _row_count(statement)
    returned = {}
    with engine.connect() as connection:
        for table, count in counts.items():
            newest = connection.execute(text(
                f"SELECT id FROM {table} ORDER BY id DESC LIMIT {int(count)}")).scalars()
            returned[table] = sorted(newest)
    return Captured(statements, request["id"], response, returned)


def _id_names(table: str) -> set[str]:
    """Bind names a later statement uses for an id of ``table``: purchase_id;
    ledger_transaction_id and transaction_id; credit_lot_id and lot_id."""
    return {f"{table}_id", f"{table.split('_')[-1]}_id"}


def _string_keys(table: str, value: int) -> set[str]:
    return {f"{table}:{value}", f"{table.split('_')[-1]}:{value}"}


class Floor:
    """The captured purchase replayed on a bare DB-API connection (see the module
    docstring). `connection` is a sqlite3 or psycopg connection; `key` the device's
    HMAC key."""

    def __init__(self, captured: Captured, connection, key: bytes, kind: str):
        self.captured, self.connection, self.key, self.kind = captured, connection, key, kind
        self.positional = kind == "sqlite"
        # Where each captured id was used: (statement, row, name) -> (table, nth id).
        owner = {(table, value): (table, index)
                 for table, ids in captured.returned_ids.items()
                 for index, value in enumerate(ids)}
        self._plans = []
        for statement in captured.statements:
            row_plans = []
            for row in statement.rows:
                fixed, slots = dict(row), []
                for name, value in row.items():
                    if isinstance(value, str) and captured.request_id in value:
                        slots.append((name, "request", value))
                    elif isinstance(value, int) and not isinstance(value, bool):
                        for (table, old), (_, index) in owner.items():
                            if value == old and _base_name(name) in _id_names(table):
                                slots.append((name, "id", (table, index)))
                                break
                    elif isinstance(value, str):
                        for (table, old), (_, index) in owner.items():
                            if value in _string_keys(table, old):
                                slots.append((name, "key", (table, index, value, str(old))))
                                break
                    if name == "response_body":
                        slots.append((name, "response", None))
                row_plans.append((fixed, slots))
            self._plans.append((statement, row_plans))
        self.sent: list[str] = []  # every statement of the last purchase (tests)

    def _params(self, statement: Statement, fixed: dict, slots, request_id: str, ids: dict,
                reply_text: str):
        params = dict(fixed)
        for name, kind, detail in slots:
            if kind == "request":
                params[name] = detail.replace(self.captured.request_id, request_id)
            elif kind == "id":
                params[name] = ids[detail]
            elif kind == "key":
                table, index, value, old = detail
                params[name] = value[: len(value) - len(old)] + str(ids[(table, index)])
            elif kind == "response":
                params[name] = reply_text
        if self.positional:
            return tuple(params[name] for name in statement.names)
        return params

    def purchase(self, payload: bytes) -> bytes:
        """One purchase: verify, parse, the statements in one transaction, commit, reply."""
        body, _, signature = payload.rpartition(b"\n")
        expected = hmac.new(self.key, body, hashlib.sha256).hexdigest().encode("ascii")
        if not hmac.compare_digest(expected, signature):
            raise ValueError("signature mismatch")
        request = json.loads(body)
        request_id = request["id"]
        response = dict(self.captured.response, id=request_id)
        reply_text = json.dumps(response, ensure_ascii=False, separators=(",", ":"))
        ids: dict = {}
        counters: dict[str, int] = {}
        cursor = self.connection.cursor()
        sent = []
        for statement, row_plans in self._plans:
            if statement.executemany and statement.returning_table is None:
                # One executemany, as the real path's driver call: rows, nothing read back.
                cursor.executemany(statement.sql, [
                    self._params(statement, fixed, slots, request_id, ids, reply_text)
                    for fixed, slots in row_plans])
                sent.append(statement.sql)
                continue
            for fixed, slots in row_plans:
                params = self._params(statement, fixed, slots, request_id, ids, reply_text)
                cursor.execute(statement.sql, params)
                sent.append(statement.sql)
                if cursor.description is not None:
                    rows = cursor.fetchall()
                    table = statement.returning_table
                    if table:
                        for row in rows:
                            index = counters.get(table, 0)
                            ids[(table, index)] = row[0]
                            counters[table] = index + 1
        self.connection.commit()
        cursor.close()
        self.sent = sent
        body = reply_text.encode()
        return body + b"\n" + hmac.new(self.key, body, hashlib.sha256).hexdigest().encode()


def connect_sqlite(path) -> sqlite3.Connection:
    """The app's SQLite settings (backend/database.py), synchronous=FULL made explicit; the
    captured statements include the engine's BEGIN IMMEDIATE."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=15)
    for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                   "PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=15000"):
        connection.execute(pragma)
    return connection


def connect_postgresql(sqlalchemy_url: str):
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False))


def fresh_frames(terminal, start: int, count: int, card: str, now_ts: int,
                 amount: int) -> list[bytes]:
    """Signed purchase frames with request ids and seqs no real request used."""
    from backend import protocol

    device_id, key = terminal
    frames = []
    for seq in range(start, start + count):
        body = {"v": 1, "id": f"f{seq:09d}", "seq": seq, "ts": now_ts, "card": card,
                "op": "purchase", "amount": amount, "use_credit": 0}
        frames.append(protocol.encode_frame(
            json.dumps(body, separators=(",", ":")).encode(), key))
    return frames


def _timed(call, items) -> dict:
    cpu, wall = time.process_time(), time.perf_counter()
    for item in items:
        call(item)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"cpu_us": round(cpu * 1e6 / len(items), 1),
            "wall_us": round(wall * 1e6 / len(items), 1),
            "per_s": round(len(items) / wall, 1)}


def measure_on(url: str, kind: str, purchases: int) -> dict:
    """Real worker and floor, one after the other, on the fresh database at ``url``."""
    from sqlalchemy import text

    from backend.extensions import db
    from backend.mqtt.worker import Worker
    from bench import profile_worker

    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="vafa-floor-") as temp:
        app = profile_worker.build_app(Path(temp), url)
        terminals, cards = profile_worker.seed(app, 0, 1, now)
        worker = Worker(app, host="127.0.0.1", port=1, username="bench", password="bench")
        frames = profile_worker.Frames(terminals, cards, int(now.timestamp()))
        for topic, payload in frames.build("purchase", WARM_UP):
            worker.handle(topic, payload)
        # Every purchase (real and floor) is for one card: the captured shape is that
        # member's, and the real timing below uses the same member.
        device_id, key = terminals[0]
        card = cards[0]
        from backend import protocol

        topic = protocol.topic(device_id, "req")
        real_frames = fresh_frames(terminals[0], 10**6, purchases + 1, card,
                                   int(now.timestamp()), profile_worker.PURCHASE_RIALS)
        captured = capture_purchase(app, worker, topic, real_frames[0], key)
        real = _timed(lambda payload: worker.handle(topic, payload), real_frames[1:])
        with app.app_context():
            before = db.session.execute(text("SELECT count(*) FROM purchase")).scalar()
            db.session.remove()
            db.engine.dispose()
        if kind == "sqlite":
            connection = connect_sqlite(url.removeprefix("sqlite:///"))
        else:
            connection = connect_postgresql(url)
        try:
            floor = Floor(captured, connection, key, kind)
            floor_frames = fresh_frames(terminals[0], 2 * 10**6, WARM_UP + purchases, card,
                                        int(now.timestamp()), profile_worker.PURCHASE_RIALS)
            for payload in floor_frames[:WARM_UP]:
                floor.purchase(payload)
            bare = _timed(floor.purchase, floor_frames[WARM_UP:])
            cursor = connection.cursor()
            cursor.execute("SELECT count(*) FROM purchase")
            after = cursor.fetchone()[0]
            cursor.close()
        finally:
            connection.close()
    assert after - before == WARM_UP + purchases, "the floor did not write its purchases"
    return {"statements": len(captured.statements), "purchases": purchases,
            "real": real, "floor": bare,
            "cpu_ratio": round(real["cpu_us"] / bare["cpu_us"], 2),
            "wall_ratio": round(real["wall_us"] / bare["wall_us"], 2)}


def measure_on_sqlite(purchases: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="vafa-floor-db-") as temp:
        return measure_on(f"sqlite:///{Path(temp) / 'floor.sqlite3'}", "sqlite", purchases)


def measure(quick: bool = False, database_url: str | None = None,
            purchases: int | None = None,
            databases: tuple[str, ...] = ("sqlite", "postgresql")) -> dict:
    """{"sqlite": {...}, "postgresql": {...} or {"skipped": reason}}: see measure_on.
    PostgreSQL: a schema of its own on ``database_url`` (default BENCH_DATABASE_URL or
    127.0.0.1), dropped afterwards."""
    from bench.profile_worker import Schema
    from bench.stack import postgres_server_url, postgres_unreachable_reason

    count = purchases or (QUICK if quick else FULL)["purchases"]
    results = {}
    if "sqlite" in databases:
        results["sqlite"] = measure_on_sqlite(count)
    if "postgresql" in databases:
        reason = None if database_url else postgres_unreachable_reason()
        if reason:
            results["postgresql"] = {"skipped": reason}
        else:
            schema = Schema(database_url or postgres_server_url())
            try:
                results["postgresql"] = measure_on(schema.scoped_url, "postgresql", count)
            finally:
                schema.drop()
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.floor", description=__doc__.split("\n\n")[0],
        epilog="Example: python -m bench.floor --quick")
    parser.add_argument("--quick", action="store_true", help="300 purchases, not 2,000")
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL server (default: BENCH_DATABASE_URL or 127.0.0.1)")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.quick, args.database_url), indent=2))


if __name__ == "__main__":
    main()
