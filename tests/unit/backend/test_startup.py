"""What every process checks at start: private instance files (issue 17.9) and a
database schema this code knows (issue 21: the downgrade refusal); and /healthz."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import flask_migrate
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from backend import create_app
from backend.database import MIGRATIONS_DIR
from backend.startup import SchemaTooNew
from tests.conftest import make_config


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_instance_is_private(tmp_path):
    instance = tmp_path / "instance"
    url = f"sqlite:///{instance / 'vafa.sqlite3'}"
    app = create_app(make_config(instance, url))
    with app.app_context():
        flask_migrate.upgrade(directory=str(MIGRATIONS_DIR), revision="heads")
    # Files created after start (the database, its WAL, a secret) are the owner's only.
    assert mode(instance) == 0o700
    for path in instance.iterdir():
        if path.is_file():
            assert mode(path) & 0o077 == 0, f"{path.name} is {oct(mode(path))}"
    assert (instance / "vafa.sqlite3").exists()


def test_an_old_world_readable_instance_is_fixed_at_start(tmp_path):
    """An instance made by an older version: 0755 folder, 0644 database and secrets."""
    instance = tmp_path / "instance"
    for folder in (instance, instance / "devices" / "t01", instance / "mosquitto",
                   instance / "backups"):
        folder.mkdir(parents=True, exist_ok=True)
    old_umask = os.umask(0o022)
    try:
        files = [instance / "vafa.sqlite3", instance / "vafa.sqlite3-wal",
                 instance / "flask.secret", instance / "secret.key",
                 instance / "devices" / "t01" / "config.json",
                 instance / "mosquitto" / "passwd", instance / "mosquitto" / "acl",
                 instance / "mosquitto" / "mosquitto.conf",
                 instance / "backups" / "vafa-20261201-030000.sqlite3"]
        for path in files:
            path.write_bytes(Fernet.generate_key() if path.name == "secret.key" else b"")
            path.chmod(0o644)
        for folder in (instance, instance / "devices", instance / "mosquitto"):
            folder.chmod(0o755)
    finally:
        os.umask(old_umask)
    (instance / "vafa.sqlite3").unlink()  # an empty file is no database: start afresh
    create_app(make_config(instance, f"sqlite:///{instance / 'vafa.sqlite3'}"))
    assert mode(instance) == 0o700
    assert mode(instance / "devices") == mode(instance / "mosquitto") == 0o700
    for path in files:
        if path.exists():
            assert mode(path) == 0o600, f"{path} is {oct(mode(path))}"


def test_a_database_newer_than_the_code_is_refused(tmp_path_factory, databases, app):
    """A database upgraded by a newer Vafa: this code refuses to start on it, saying why,
    and changes nothing."""
    url = databases.url(app.database_kind)
    instance = tmp_path_factory.mktemp("instance")
    migrated = create_app(make_config(instance, url))
    with migrated.app_context():
        flask_migrate.upgrade(directory=str(MIGRATIONS_DIR), revision="heads")
        from backend.extensions import db
        db.engine.dispose()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9001'"))
    try:
        with pytest.raises(SchemaTooNew) as refused:
            create_app(make_config(instance, url))
        message = str(refused.value)
        assert "9001" in message and "newer Vafa" in message and "restore the backup" in message

        # The console script says the same in one line, without a traceback.
        env = {**os.environ, "VAFA_INSTANCE_DIR": str(instance), "DATABASE_URL": url,
               "SECRET_KEY": "x", "VAFA_MQTT_PASSWORD": "x"}
        done = subprocess.run([sys.executable, "-c", "from backend.cli import main; main()",
                               "migrate"], env=env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode != 0
        assert "9001" in done.stderr and "Traceback" not in done.stderr, done.stderr
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT version_num FROM alembic_version")) == "9001"
    finally:
        engine.dispose()


def test_healthz_says_whether_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_is_503_when_the_database_is_gone(tmp_path):
    missing = tmp_path / "no-such-dir" / "vafa.sqlite3"
    app = create_app(make_config(tmp_path / "instance", f"sqlite:///{missing}"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
