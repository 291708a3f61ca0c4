"""A fresh, migrated database and a Flask app on it, for the sub-benchmarks: a SQLite file
in a temporary directory, or a uniquely named database created on a PostgreSQL server
(``server_url``, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres) and dropped
afterwards."""

import contextlib
import secrets
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS = ROOT / "backend" / "migrations"


@contextlib.contextmanager
def _postgresql_database(server_url):
    url = make_url(server_url)
    name = f"vafa_bench_{secrets.token_hex(6)}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextlib.contextmanager
def fresh_app(database_url=None):
    """(app, kind, work directory) with the schema migrated; everything is removed on
    exit. ``kind`` is "sqlite" or "postgresql"."""
    import flask_migrate

    from backend import create_app
    from backend.config import Config
    from backend.extensions import db

    with tempfile.TemporaryDirectory(prefix="vafa-bench-") as directory:
        work = Path(directory)
        with contextlib.ExitStack() as stack:
            if database_url is None:
                url, kind = f"sqlite:///{work / 'bench.sqlite3'}", "sqlite"
            else:
                if not make_url(database_url).get_backend_name().startswith("postgresql"):
                    raise ValueError(f"not a PostgreSQL URL: {database_url}")
                url = stack.enter_context(_postgresql_database(database_url))
                kind = "postgresql"
            app = create_app(Config(environ={
                "VAFA_INSTANCE_DIR": str(work), "DATABASE_URL": url, "SECRET_KEY": "bench",
                "VAFA_MQTT_PASSWORD": "bench"}))
            with app.app_context():
                flask_migrate.upgrade(directory=str(MIGRATIONS))
            try:
                yield app, kind, work
            finally:
                with app.app_context():
                    db.session.remove()
                    db.engine.dispose()
