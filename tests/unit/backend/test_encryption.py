"""Secrets at rest: device keys are stored as Fernet tokens under a key kept outside the
database, and revision 0011 encrypts the keys of terminals registered before it."""

import stat
from pathlib import Path

import flask_migrate
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from backend import create_app, encryption
from backend.extensions import db as flask_db
from backend.models import Device
from tests import factories
from tests.conftest import make_config

MIGRATIONS = str(Path("backend/migrations").resolve())


def test_a_device_key_is_stored_encrypted_and_read_back_plain(app, db):
    credentials = factories.device(db, device_id="enc-01")
    stored = db.execute(text("SELECT key_hex FROM device WHERE id = 'enc-01'")).scalar_one()
    assert credentials.key_hex not in stored and len(credentials.key_hex) == 64
    assert Fernet(app.config["ENCRYPTION_KEYS"][0]).decrypt(stored.encode()).decode() \
        == credentials.key_hex
    db.expire_all()
    assert db.get(Device, "enc-01").key_hex == credentials.key_hex


def test_the_key_file_is_created_once_and_private(tmp_path):
    key = encryption.load_or_create_key(tmp_path)
    path = tmp_path / encryption.KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert encryption.load_or_create_key(tmp_path) == key
    Fernet(key)  # a valid key


def test_processes_starting_together_agree_on_one_key(tmp_path):
    """`make run`'s first start: the web workers, the MQTT worker and the jobs process all
    ask for the key at once; none may encrypt with a key another later overwrites."""
    from concurrent.futures import ThreadPoolExecutor

    for attempt in range(5):
        directory = tmp_path / f"instance-{attempt}"
        with ThreadPoolExecutor(max_workers=8) as pool:
            keys = set(pool.map(encryption.load_or_create_key, [directory] * 8))
        assert keys == {(directory / "secret.key").read_text().strip()}
        assert [path.name for path in directory.iterdir()] == ["secret.key"]


def test_keys_rotate_and_a_wrong_key_fails_clearly(tmp_path):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    app = create_app(make_config(tmp_path, f"sqlite:///{tmp_path}/x.db",
                                 ENCRYPTION_KEYS=[old]))
    with app.app_context():
        token = encryption.encrypt("sms-api-key-123")
    rotated = create_app(make_config(tmp_path, f"sqlite:///{tmp_path}/x.db",
                                     ENCRYPTION_KEYS=[new, old]))
    with rotated.app_context():
        assert encryption.decrypt(token) == "sms-api-key-123"
        assert Fernet(new).decrypt(encryption.encrypt("x").encode()) == b"x"
    stranger = create_app(make_config(tmp_path, f"sqlite:///{tmp_path}/x.db",
                                      ENCRYPTION_KEYS=[Fernet.generate_key().decode()]))
    with stranger.app_context(), pytest.raises(RuntimeError) as error:
        encryption.decrypt(token)
    assert "sms-api-key" not in str(error.value)


def test_the_key_comes_from_the_environment_when_set(tmp_path):
    from backend.config import Config

    key = Fernet.generate_key().decode()
    config = Config(environ={"VAFA_INSTANCE_DIR": str(tmp_path), "VAFA_ENCRYPTION_KEY": key,
                             "SECRET_KEY": "x", "VAFA_MQTT_PASSWORD": "x"})
    assert config.ENCRYPTION_KEYS == [key]
    assert not (tmp_path / encryption.KEY_FILE_NAME).exists()


def test_revision_0011_encrypts_existing_keys_and_downgrade_decrypts(tmp_path_factory,
                                                                     databases, app):
    live = create_app(make_config(tmp_path_factory.mktemp("instance"),
                                  databases.url(app.database_kind)))
    plain = "ab" * 32
    with live.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS, revision="0010")
        with flask_db.engine.begin() as connection:
            connection.execute(text("INSERT INTO branch (code, name, created_at) "
                                    "VALUES ('b', 'B', '2026-01-01 00:00:00+00')"))
            connection.execute(text(
                "INSERT INTO device (id, branch_id, name, key_hex, mqtt_password_hash, status, "
                "lang, last_seq, is_online, queued_count, created_at) VALUES ('old-01', "
                "(SELECT id FROM branch WHERE code = 'b'), 'old', :key, 'x', 'active', 'en', "
                "0, false, 0, '2026-01-01 00:00:00+00')"), {"key": plain})
        flask_migrate.upgrade(directory=MIGRATIONS, revision="0011")
        with flask_db.engine.begin() as connection:
            stored = connection.execute(text("SELECT key_hex FROM device")).scalar_one()
        assert stored != plain and encryption.decrypt(stored) == plain
        # The column alone: the model has columns of later revisions.
        assert flask_db.session.scalar(
            select(Device.key_hex).where(Device.id == "old-01")) == plain
        flask_db.session.rollback()
        flask_migrate.downgrade(directory=MIGRATIONS, revision="0010")
        with flask_db.engine.begin() as connection:
            assert connection.execute(text("SELECT key_hex FROM device")).scalar_one() == plain
        flask_db.engine.dispose()
