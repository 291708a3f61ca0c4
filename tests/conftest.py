"""Shared fixtures: `app`, `db`, `client`, `runner`, `auth`, `broker`, `live`.

Databases: every test that takes `db` runs on SQLite and, when TEST_DATABASE_URL is set,
again on PostgreSQL (in a schema of its own, dropped at the end). The schema is built by
the Alembic migrations, so the migrations are tested on both databases too.
"""

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import scoped_session, sessionmaker

from backend import create_app
from backend.config import Config
from backend.extensions import db as flask_db
from tests.support.broker import MosquittoProcess, free_port

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
DATABASE_KINDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])
NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)  # a Saturday: 30 Aban 1405, 13:00 in Tehran


def make_config(instance_dir: Path, database_url: str, **overrides) -> Config:
    return Config(
        environ={
            "VAFA_INSTANCE_DIR": str(instance_dir),
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "VAFA_MQTT_PASSWORD": "backend-test-password",
        },
        **{"TESTING": True, "WTF_CSRF_ENABLED": False, **overrides},
    )


class DatabaseFactory:
    """Creates isolated databases: SQLite files, or PostgreSQL schemas."""

    def __init__(self, tmp_path_factory):
        self.tmp_path_factory = tmp_path_factory
        self.schemas: list[str] = []

    def url(self, kind: str) -> str:
        if kind == "sqlite":
            path = self.tmp_path_factory.mktemp("db") / "vafa.sqlite3"
            return f"sqlite:///{path}"
        schema = f"vafa_test_{uuid.uuid4().hex[:12]}"
        admin = create_engine(TEST_DATABASE_URL)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        self.schemas.append(schema)
        separator = "&" if "?" in TEST_DATABASE_URL else "?"
        return f"{TEST_DATABASE_URL}{separator}options=-csearch_path%3D{schema}"

    def drop_all(self):
        if not self.schemas:
            return
        admin = create_engine(TEST_DATABASE_URL)
        # One transaction per schema: dropping them all at once takes a lock per table and
        # exhausts PostgreSQL's lock table ("out of shared memory").
        for schema in self.schemas:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    factory = DatabaseFactory(tmp_path_factory)
    yield factory
    factory.drop_all()


def build_app(tmp_path_factory, databases, kind: str, **overrides):
    import flask_migrate

    instance_dir = tmp_path_factory.mktemp("instance")
    app = create_app(make_config(instance_dir, databases.url(kind), **overrides))
    with app.app_context():
        flask_migrate.upgrade(directory=str(Path("backend/migrations").resolve()), revision="heads")
    return app


@pytest.fixture(scope="session")
def built_apps(tmp_path_factory, databases):
    """One migrated app per database kind for the whole session. pytest finalises a
    parametrised session fixture each time the parameter changes, and with `--dist
    loadfile` it changes at every file (a file's SQLite tests, then its PostgreSQL ones):
    without this cache every file migrated two databases again (minutes of `make test`)."""
    apps: dict = {}
    yield apps
    for app in apps.values():
        with app.app_context():
            flask_db.engine.dispose()


@pytest.fixture(scope="session", params=DATABASE_KINDS)
def app(request, tmp_path_factory, databases, built_apps):
    """An app with a migrated, empty database, shared by the tests of a session."""
    app = built_apps.get(request.param)
    if app is None:
        app = build_app(tmp_path_factory, databases, request.param)
        app.database_kind = request.param
        built_apps[request.param] = app
    return app


@pytest.fixture
def db(app):
    """A session in a transaction rolled back after the test; commits become savepoints."""
    with app.app_context():
        connection = flask_db.engine.connect()
        transaction = connection.begin()
        # Route the app's own session (views, CLI) through the same connection.
        scoped = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        )
        original_session = flask_db.session
        flask_db.session = scoped
        try:
            yield scoped()
        finally:
            flask_db.session = original_session
            scoped.remove()
            transaction.rollback()
            connection.close()


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def runner(app, db):
    return app.test_cli_runner()


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, username="admin", password="admin-password"):
        return self.client.post("/login", data={"username": username, "password": password})

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def broker(tmp_path):
    """Start a Mosquitto of our own on a free port; call `broker.start(config_dir)`
    after writing the project's generated files there, or use `broker.start_for(app)`."""
    process = MosquittoProcess(tmp_path / "mosquitto", free_port())
    yield process
    process.stop()
