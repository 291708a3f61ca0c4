"""Configuration from the environment (backend/config.py): development defaults under the
instance directory, secrets made once and kept (restarts keep sessions and the broker
password), and every setting read from its VAFA_ variable."""

import stat

from backend.config import Config


def test_defaults_live_in_the_instance_directory(tmp_path):
    config = Config({"VAFA_INSTANCE_DIR": str(tmp_path)})
    assert config.SQLALCHEMY_DATABASE_URI == f"sqlite:///{tmp_path / 'vafa.sqlite3'}"
    assert config.BACKUP_DIR == tmp_path / "backups"
    assert (config.MQTT_PORT, config.MQTT_BACKEND_PORT) == (18830, 18831)
    assert config.MQTT_SHARED_SUBSCRIPTION is True
    assert config.SESSION_COOKIE_SECURE is False
    assert config.PUBLIC_URL == "http://127.0.0.1:5000"


def test_secrets_are_made_once_owner_only_and_kept_across_restarts(tmp_path):
    first = Config({"VAFA_INSTANCE_DIR": str(tmp_path)})
    again = Config({"VAFA_INSTANCE_DIR": str(tmp_path)})
    assert first.SECRET_KEY == again.SECRET_KEY and len(first.SECRET_KEY) >= 32
    assert first.MQTT_PASSWORD == again.MQTT_PASSWORD != first.SECRET_KEY
    assert first.ENCRYPTION_KEYS == again.ENCRYPTION_KEYS and len(first.ENCRYPTION_KEYS) == 1
    for name in ("flask.secret", "mqtt-backend.secret"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    # Another instance gets secrets of its own.
    other = Config({"VAFA_INSTANCE_DIR": str(tmp_path / "other")})
    assert other.SECRET_KEY != first.SECRET_KEY


def test_the_environment_sets_each_value_and_nothing_is_written(tmp_path):
    config = Config({
        "VAFA_INSTANCE_DIR": str(tmp_path), "SECRET_KEY": "s", "VAFA_MQTT_PASSWORD": "p",
        "VAFA_ENCRYPTION_KEY": " new-key , old-key ,", "DATABASE_URL": "postgresql://db/vafa",
        "VAFA_MQTT_PORT": "1883", "VAFA_MQTT_SHARED": "0", "VAFA_SECURE_COOKIES": "1",
        "VAFA_TRUSTED_PROXIES": "2", "VAFA_BACKUP_KEEP": "30", "VAFA_WEB_PORT": "8000",
        "VAFA_BACKUP_COPY_TIMEOUT_S": "2.5"})
    assert (config.SECRET_KEY, config.MQTT_PASSWORD) == ("s", "p")
    # The first key encrypts; the older ones still decrypt (key rotation).
    assert config.ENCRYPTION_KEYS == ["new-key", "old-key"]
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql://db/vafa"
    assert (config.MQTT_PORT, config.MQTT_BACKEND_PORT) == (1883, 1884)
    assert (config.MQTT_SHARED_SUBSCRIPTION, config.SESSION_COOKIE_SECURE) == (False, True)
    assert (config.TRUSTED_PROXIES, config.BACKUP_KEEP, config.BACKUP_COPY_TIMEOUT_S) == (
        2, 30, 2.5)
    assert config.PUBLIC_URL == "http://127.0.0.1:8000"
    assert list(tmp_path.iterdir()) == []  # given secrets: none made


def test_overrides_win_and_as_dict_holds_only_settings(tmp_path):
    config = Config({"VAFA_INSTANCE_DIR": str(tmp_path)}, WEB_PORT=9000, TESTING=True)
    settings = config.as_dict()
    assert (settings["WEB_PORT"], settings["TESTING"]) == (9000, True)
    assert all(key.isupper() for key in settings)
