"""Engine set-up that differs per database.

SQLite: WAL mode so readers never wait for the writer, foreign keys on, and every
transaction opened with BEGIN IMMEDIATE. The immediate lock is what serialises two
concurrent spends on one member on SQLite (the PostgreSQL equivalent is the row lock the
ledger takes); it also works around pysqlite's own transaction handling, which would
otherwise start transactions late and break SAVEPOINTs (SQLAlchemy's documented recipe).
"""

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

SQLITE_BUSY_TIMEOUT_MS = 15_000
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def engine_options(url: str, sqlite_busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> dict:
    if is_sqlite(url):
        return {"connect_args": {"timeout": sqlite_busy_timeout_ms / 1000}}
    return {"pool_pre_ping": True}


def configure_engine(engine: Engine, sqlite_busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Hand transaction control to SQLAlchemy; see the module docstring.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(sqlite_busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # Read-only work (reports) begins deferred: a WAL reader never blocks the writer,
        # so a long report cannot hold up a purchase.
        if connection.get_execution_options().get("read_only"):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def bound_lock_wait(engine: Engine, lock_wait_ms: int, statement_timeout_ms: int) -> None:
    """Bound how long this engine's connections wait for a lock: SQLite's busy timeout,
    PostgreSQL's lock_timeout and statement_timeout. A wait past it raises
    OperationalError, a temporary fault. For the MQTT worker, whose every frame must be
    answered well within the terminal's timeout (issue 17 item 10).

    Applied once per pooled connection when it is next checked out, so connections opened
    before this call are bounded too; costs a dict lookup per checkout afterwards."""
    assert 0 < lock_wait_ms <= statement_timeout_ms, "lock wait must be within the timeout"
    marker = ("vafa_lock_wait", lock_wait_ms, statement_timeout_ms)
    if engine.dialect.name == "sqlite":
        statements = [f"PRAGMA busy_timeout={int(lock_wait_ms)}"]
    else:
        statements = [f"SET lock_timeout = {int(lock_wait_ms)}",
                      f"SET statement_timeout = {int(statement_timeout_ms)}"]

    @event.listens_for(engine, "checkout")
    def _bound(dbapi_connection, record, _proxy):
        if record.info.get("vafa_lock_wait") == marker:
            return
        cursor = dbapi_connection.cursor()
        for statement in statements:
            cursor.execute(statement)
        cursor.close()
        if engine.dialect.name != "sqlite":
            # psycopg opened a transaction for the SETs; a rollback would undo them.
            dbapi_connection.commit()
        record.info["vafa_lock_wait"] = marker


def is_temporary_fault(error: BaseException) -> bool:
    """A database fault that goes away by itself: the server is unreachable or restarting,
    the connection broke, the pool is exhausted, or SQLite's write lock was held past the
    busy timeout. Retrying the same request later is safe (nothing was committed by the
    failed attempt); anything else is a bug or bad data and is not retried blindly."""
    from sqlalchemy import exc

    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, exc.OperationalError | exc.InterfaceError | exc.TimeoutError
                      | exc.DisconnectionError)
