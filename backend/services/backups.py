"""Backups and restores of the whole database (`flask --app backend backup|restore`).

SQLite: the online backup API copies a consistent snapshot while the workers keep
committing (WAL mode); a restore copies the backup into the live file the same way, page
by page under the write lock. PostgreSQL: `pg_dump --format=custom` (a consistent
snapshot, also under load) and `pg_restore --clean --if-exists`. A URL whose `options`
put a schema first in search_path (as the test suite does) dumps and restores just that
schema.

Not in the backup: the encryption key (VAFA_ENCRYPTION_KEY or instance/secret.key) that
device keys are encrypted with. Keep a copy of it somewhere else than the backups.
"""

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy.engine import make_url

from backend.errors import BadRequest

PG_TIMEOUT_S = 3600  # bounds a dump or restore; far above a club's database size


@dataclass(frozen=True)
class PostgresTarget:
    uri: str  # libpq URI without password or options
    password: str | None
    schema: str | None


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BadRequest("database", "an in-memory SQLite database cannot be backed up")
    return Path(database)


def postgres_target(url: str) -> PostgresTarget:
    parsed = make_url(url)
    options = parsed.query.get("options") or ()
    schema = None
    for option in (options,) if isinstance(options, str) else options:
        for part in unquote(option).split():
            name, _, value = part.removeprefix("-c").partition("=")
            if name.strip() == "search_path":
                schema = value.split(",")[0].strip().strip('"') or None
    plain = parsed.set(drivername="postgresql", password=None, query={})
    return PostgresTarget(plain.render_as_string(hide_password=False), parsed.password, schema)


def _pg_env(target: PostgresTarget) -> dict:
    env = dict(os.environ)
    if target.password:
        env["PGPASSWORD"] = target.password  # never on the command line
    return env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BadRequest("database", f"{name} is not installed (Debian: postgresql-client)")
    return found


def _run(argv: list[str], env: dict) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=PG_TIMEOUT_S)
    if done.returncode != 0:
        raise BadRequest("database", f"{Path(argv[0]).name} failed: {done.stderr.strip()[-500:]}")


def backup(url: str, destination: Path) -> Path:
    """Write a consistent copy of the database at `url` to `destination`."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(destination.name + ".partial")
    if url.startswith("sqlite"):
        source = sqlite3.connect(sqlite_path(url))
        target = sqlite3.connect(temporary)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    else:
        pg = postgres_target(url)
        argv = [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                f"--file={temporary}", f"--dbname={pg.uri}"]
        if pg.schema:
            argv.append(f"--schema={pg.schema}")
        _run(argv, _pg_env(pg))
    temporary.chmod(0o600)
    temporary.replace(destination)
    return destination


def restore(url: str, source: Path) -> None:
    """Replace the database at `url` with the backup in `source`."""
    if not source.is_file():
        raise BadRequest("backup", f"no backup file {source}")
    if url.startswith("sqlite"):
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            check = backup_db.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {row[0] for row in backup_db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as error:
            backup_db.close()
            raise BadRequest("backup", f"{source} is not a SQLite backup: {error}") from None
        if check != "ok" or "alembic_version" not in tables:
            backup_db.close()
            raise BadRequest("backup", f"{source} is not a Vafa backup ({check})")
        live = sqlite3.connect(sqlite_path(url), timeout=30)
        try:
            backup_db.backup(live)
        finally:
            live.close()
            backup_db.close()
        return
    pg = postgres_target(url)
    # Everything in the archive: a schema-only dump recreates its schema as well.
    _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
          "--exit-on-error", "--single-transaction", f"--dbname={pg.uri}", str(source)],
         _pg_env(pg))
