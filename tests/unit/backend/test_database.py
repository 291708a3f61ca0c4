"""Engine set-up per database (backend/database.py), on real SQLite files: WAL and
foreign keys on every connection, writers serialised by BEGIN IMMEDIATE while a
read-only transaction does not wait, a bounded lock wait that fails as a temporary
fault, and which errors count as temporary."""

import pytest
from sqlalchemy import create_engine, exc, text

from backend import database


@pytest.fixture
def sqlite_engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'club.sqlite3'}"
    engine = create_engine(url, **database.engine_options(url, sqlite_busy_timeout_ms=100))
    database.configure_engine(engine, sqlite_busy_timeout_ms=100)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE branch (id INTEGER PRIMARY KEY)"))
        connection.execute(text("CREATE TABLE till (id INTEGER PRIMARY KEY, branch_id "
                                "INTEGER REFERENCES branch(id))"))
    yield engine
    engine.dispose()


def test_options_per_database():
    assert database.engine_options("sqlite:///x", 2500) == {"connect_args": {"timeout": 2.5}}
    assert database.engine_options("postgresql+psycopg://db/vafa") == {"pool_pre_ping": True}


def test_every_sqlite_connection_has_wal_and_foreign_keys(sqlite_engine):
    with sqlite_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 100
    with pytest.raises(exc.IntegrityError), sqlite_engine.begin() as connection:
        connection.execute(text("INSERT INTO till (id, branch_id) VALUES (1, 99)"))


def test_a_second_writer_waits_the_bound_and_fails_as_a_temporary_fault(sqlite_engine):
    with sqlite_engine.begin() as writer:
        writer.execute(text("INSERT INTO branch (id) VALUES (1)"))
        # The first writer holds the lock (BEGIN IMMEDIATE): the second cannot even begin.
        with pytest.raises(exc.OperationalError) as raised, sqlite_engine.begin() as other:
            other.execute(text("INSERT INTO branch (id) VALUES (2)"))
        assert database.is_temporary_fault(raised.value)
        # A report reads while the writer holds the lock, seeing what was committed.
        with sqlite_engine.connect().execution_options(read_only=True) as reader, \
                reader.begin():
            assert reader.execute(text("SELECT count(*) FROM branch")).scalar() == 0


def test_bound_lock_wait_applies_to_connections_already_pooled(sqlite_engine):
    with sqlite_engine.connect():
        pass  # one connection now waits in the pool with the 100 ms timeout
    database.bound_lock_wait(sqlite_engine, lock_wait_ms=40, statement_timeout_ms=1000)
    with sqlite_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 40
    with pytest.raises(AssertionError, match="lock wait must be within the timeout"):
        database.bound_lock_wait(sqlite_engine, lock_wait_ms=2000, statement_timeout_ms=1000)


def test_bugs_and_bad_data_are_not_temporary():
    assert not database.is_temporary_fault(exc.IntegrityError("INSERT", {}, Exception()))
    assert not database.is_temporary_fault(ValueError("no"))
    assert database.is_temporary_fault(exc.TimeoutError("pool exhausted"))
    assert database.is_temporary_fault(exc.DisconnectionError("gone"))
