"""Configuration from the environment, with development defaults under `instance/`."""

import os
import secrets
import socket
from pathlib import Path

from backend import encryption

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_INSTANCE_DIR = PROJECT_ROOT / "instance"


def _instance_secret(instance_dir: Path, name: str) -> str:
    """A random secret created once and kept in `instance/` so restarts keep sessions."""
    path = instance_dir / f"{name}.secret"
    if path.exists():
        return path.read_text().strip()
    instance_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


class Config:
    """Settings read from environment variables; every one has a development default."""

    def __init__(self, environ: dict[str, str] | None = None, **overrides):
        env = os.environ if environ is None else environ
        self.INSTANCE_DIR = Path(env.get("VAFA_INSTANCE_DIR", DEFAULT_INSTANCE_DIR))
        self.SQLALCHEMY_DATABASE_URI = env.get(
            "DATABASE_URL", f"sqlite:///{self.INSTANCE_DIR / 'vafa.sqlite3'}"
        )
        self.SECRET_KEY = env.get("SECRET_KEY") or _instance_secret(self.INSTANCE_DIR, "flask")
        # Secrets stored in the database (device keys, the SMS API key) are encrypted with
        # this key, kept outside it (backend/encryption.py).
        self.ENCRYPTION_KEYS = encryption.keys_from(env.get("VAFA_ENCRYPTION_KEY", "")) or [
            encryption.load_or_create_key(self.INSTANCE_DIR)]
        self.MQTT_HOST = env.get("VAFA_MQTT_HOST", "127.0.0.1")
        self.MQTT_PORT = int(env.get("VAFA_MQTT_PORT", "18830"))
        # The backend's own listener (workers, the panel's publisher): backend accounts
        # only, loopback unless the workers run elsewhere (backend/broker.py).
        self.MQTT_BACKEND_HOST = env.get("VAFA_MQTT_BACKEND_HOST", "127.0.0.1")
        self.MQTT_BACKEND_PORT = int(env.get("VAFA_MQTT_BACKEND_PORT",
                                             str(self.MQTT_PORT + 1)))
        self.MQTT_USERNAME = env.get("VAFA_MQTT_USERNAME", "vafa-backend")
        self.MQTT_PASSWORD = env.get("VAFA_MQTT_PASSWORD") or _instance_secret(
            self.INSTANCE_DIR, "mqtt-backend"
        )
        # One worker may subscribe plainly; several share the load through MQTT v5's
        # shared subscription (PROTOCOL.md "Transport").
        self.MQTT_SHARED_SUBSCRIPTION = env.get("VAFA_MQTT_SHARED", "1") == "1"
        # Each MQTT worker keeps one stable client id, so a restarted worker resumes its
        # broker session and gets the requests it had not acknowledged (several workers
        # on one host: give each its own, e.g. `mqtt-worker --client-id`).
        # (The worker prefixes it with "backend:", which no terminal can use.)
        self.MQTT_CLIENT_ID = (env.get("VAFA_MQTT_CLIENT_ID")
                               or f"vafa-worker-{socket.gethostname()}")
        # How long a SQLite writer waits for the write lock before the request is answered
        # UNAVAILABLE (the terminal retries the same id).
        self.SQLITE_BUSY_TIMEOUT_MS = int(env.get("VAFA_SQLITE_BUSY_TIMEOUT_MS", "15000"))
        # Production: a TLS listener for the terminals (PROTOCOL.md: 8883) in the generated
        # Mosquitto config when a certificate is given (docs/RELIABILITY.md "Broker TLS").
        self.MQTT_TLS_PORT = int(env.get("VAFA_MQTT_TLS_PORT", "8883"))
        self.MQTT_TLS_CERTFILE = env.get("VAFA_MQTT_TLS_CERTFILE", "")
        self.MQTT_TLS_KEYFILE = env.get("VAFA_MQTT_TLS_KEYFILE", "")
        self.MQTT_TLS_CAFILE = env.get("VAFA_MQTT_TLS_CAFILE", "")
        self.WEB_PORT = int(env.get("VAFA_WEB_PORT", "5000"))
        # /metrics answers loopback callers, and others presenting this bearer token.
        self.METRICS_TOKEN = env.get("VAFA_METRICS_TOKEN", "")
        # The MQTT worker's own /metrics on 127.0.0.1 (0 = off); each worker needs its own.
        self.WORKER_METRICS_PORT = int(env.get("VAFA_WORKER_METRICS_PORT", "0"))
        # Group commit: up to this many queued terminal requests answered in one
        # transaction, a savepoint each (1..20; 1, the default, answers one by one:
        # measured not to pay yet, docs/hot-path.md "Group commit").
        self.WORKER_BATCH_MAX = max(1, min(20, int(env.get("VAFA_WORKER_BATCH_MAX", "1"))))
        self.SQLALCHEMY_ENGINE_OPTIONS: dict = {}
        # Behind HTTPS in production, set VAFA_SECURE_COOKIES=1 (cookies over TLS only).
        self.SESSION_COOKIE_SECURE = env.get("VAFA_SECURE_COOKIES", "0") == "1"
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_HTTPONLY = True
        # Reverse proxies in front of gunicorn whose X-Forwarded-For/-Proto are believed
        # (0: none). The audit log's address and the sign-in limit per address need the
        # client's address, not the proxy's; headers from anyone else are ignored.
        self.TRUSTED_PROXIES = int(env.get("VAFA_TRUSTED_PROXIES", "0"))
        # Messages: the address members reach the portal at (links in SMS), Kavenegar's
        # API host (tests point it at a local fake), the issuer prefix of the digital
        # cards members who join online get.
        self.PUBLIC_URL = env.get("VAFA_PUBLIC_URL", f"http://127.0.0.1:{self.WEB_PORT}")
        self.KAVENEGAR_HOST = env.get("VAFA_KAVENEGAR_HOST", "api.kavenegar.com")
        self.DIGITAL_CARD_PREFIX = env.get("VAFA_DIGITAL_CARD_PREFIX", "990009")
        # Scheduled backups (`vafa backup --scheduled`, deploy/systemd/vafa-backup.timer):
        # where, how many are kept, and a command that copies each off the machine
        # (run with the file's path, bounded in time; docs/deploy.md "Backups").
        self.BACKUP_DIR = Path(env.get("VAFA_BACKUP_DIR") or self.INSTANCE_DIR / "backups")
        self.BACKUP_KEEP = int(env.get("VAFA_BACKUP_KEEP", "14"))
        self.BACKUP_COPY_COMMAND = env.get("VAFA_BACKUP_COPY_COMMAND", "")
        self.BACKUP_COPY_TIMEOUT_S = float(env.get("VAFA_BACKUP_COPY_TIMEOUT_S", "600"))
        for key, value in overrides.items():
            setattr(self, key, value)

    def as_dict(self) -> dict:
        return {key: value for key, value in vars(self).items() if key.isupper()}
