"""Shared fixtures: `app`, `db`, `client`, `runner`, `auth`, `broker`, `live`.

Databases: every test that takes `db` runs on SQLite and, when TEST_DATABASE_URL is set,
again on PostgreSQL (in a schema of its own, dropped at the end). The schema is built by
the Alembic migrations, so the migrations are tested on both databases too.
"""

import os
import shutil
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from backend import create_app
from backend.config import Config
from backend.encryption import KEY_FILE_NAME
from backend.extensions import db as flask_db
from tests.support.broker import MosquittoProcess, free_port

# Property tests: no time limit per example (speed goals live in `make bench`, and a
# deadline fails an example that a loaded machine merely ran slowly); on CI the examples
# are derived from each test, so a run is repeatable; elsewhere they are new every run.
settings.register_profile("vafa", deadline=None)
settings.register_profile("vafa-ci", deadline=None, derandomize=True, database=None,
                          print_blob=True)
settings.load_profile("vafa-ci" if os.environ.get("CI") else "vafa")

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "backend" / "migrations"
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
    """Creates isolated databases: SQLite files, or PostgreSQL schemas (`url`, empty) and
    databases (`migrated_url`, migrated).

    Migrating takes seconds and dozens of tests want a database of their own (every live
    stack), so each worker migrates one template per kind, once, and a migrated database
    is a copy of it: the SQLite file copied, or PostgreSQL's CREATE DATABASE … TEMPLATE
    (a tenth of a second). The migrations themselves are still run, on both kinds."""

    def __init__(self, tmp_path_factory):
        self.tmp_path_factory = tmp_path_factory
        self.schemas: list[str] = []
        self.databases: list[str] = []  # PostgreSQL databases, templates included
        self.templates: dict[str, str] = {}  # kind → the template's file or database
        self.template_keys: dict[str, Path] = {}  # kind → the secret.key it was made with

    def url(self, kind: str) -> str:
        """An empty database (no tables): for the tests of the migrations themselves."""
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

    def migrated_url(self, kind: str, instance_dir: Path) -> str:
        """A database of its own, migrated to the newest revision, for an app whose
        instance folder is `instance_dir` (it gets the key the database's secrets were
        encrypted with)."""
        template = self.templates.get(kind) or self._migrate_template(kind)
        shutil.copy(self.template_keys[kind], instance_dir / KEY_FILE_NAME)  # mode 0600 too
        if kind == "sqlite":
            path = self.tmp_path_factory.mktemp("db") / "vafa.sqlite3"
            shutil.copyfile(template, path)
            return f"sqlite:///{path}"
        name = self._create_database(f"TEMPLATE {template}")
        return self._database_url(name)

    def _migrate_template(self, kind: str) -> str:
        import flask_migrate

        if kind == "sqlite":
            path = self.tmp_path_factory.mktemp("template") / "template.sqlite3"
            url, template = f"sqlite:///{path}", str(path)
        else:
            template = self._create_database()
            url = self._database_url(template)
        instance_dir = self.tmp_path_factory.mktemp("template-instance")
        app = create_app(make_config(instance_dir, url))
        self.template_keys[kind] = instance_dir / KEY_FILE_NAME
        with app.app_context():
            flask_migrate.upgrade(directory=str(MIGRATIONS_DIR), revision="heads")
            # Closes every connection: a PostgreSQL template must have none when copied,
            # and SQLite checkpoints its WAL into the file on the last close.
            flask_db.engine.dispose()
        self.templates[kind] = template
        return template

    def _create_database(self, clause: str = "") -> str:
        name = f"vafa_test_{uuid.uuid4().hex[:12]}"
        admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" {clause}'))
        admin.dispose()
        self.databases.append(name)
        return name

    @staticmethod
    def _database_url(name: str) -> str:
        return make_url(TEST_DATABASE_URL).set(database=name).render_as_string(
            hide_password=False)

    def drop_all(self):
        if not self.schemas and not self.databases:
            return
        admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
        # One statement per schema: dropping them all at once takes a lock per table and
        # exhausts PostgreSQL's lock table ("out of shared memory").
        with admin.connect() as connection:
            for schema in self.schemas:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            for name in reversed(self.databases):  # copies before their template
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    factory = DatabaseFactory(tmp_path_factory)
    yield factory
    factory.drop_all()


def build_app(tmp_path_factory, databases, kind: str, **overrides):
    """An app over a database of its own, migrated to the newest revision."""
    instance_dir = tmp_path_factory.mktemp("instance")
    return create_app(make_config(instance_dir, databases.migrated_url(kind, instance_dir),
                                  **overrides))


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


@contextmanager
def app_session_on(connection):
    """A session on `connection` that the app's own code (views, CLI) uses too, for the
    block; its commits become savepoints of the connection's transaction."""
    scoped = scoped_session(sessionmaker(bind=connection, join_transaction_mode="create_savepoint"))
    original_session = flask_db.session
    flask_db.session = scoped
    try:
        yield scoped()
    finally:
        flask_db.session = original_session
        scoped.remove()


@contextmanager
def rolled_back_connection(app):
    """A connection in a transaction that is rolled back at the end, in the app's context."""
    with app.app_context():
        connection = flask_db.engine.connect()
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()
            connection.close()


@pytest.fixture
def db(app):
    """A session in a transaction rolled back after the test; commits become savepoints."""
    with rolled_back_connection(app) as connection, app_session_on(connection) as session:
        yield session


def module_world_fixtures(make_world):
    """`world_connection` and `db` fixtures for a module of many cases over one world
    (the permission tables): `make_world(session)` runs once per database, in a
    transaction rolled back after the module; `db` is the shared fixture's session in a
    savepoint of it, rolled back after each case, so no case sees another's writes.
    A module takes them with `world_connection, db = module_world_fixtures(make)`."""

    @pytest.fixture(scope="module")
    def world_connection(app):
        with rolled_back_connection(app) as connection:
            session = Session(bind=connection, join_transaction_mode="create_savepoint")
            try:
                yield connection, make_world(session)
            finally:
                session.close()

    @pytest.fixture
    def db(app, world_connection):
        connection = world_connection[0]
        with app.app_context():
            case = connection.begin_nested()
            try:
                with app_session_on(connection) as session:
                    yield session
            finally:
                case.rollback()

    return world_connection, db


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
