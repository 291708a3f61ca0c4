"""Backups and restores of the whole database (`flask --app backend backup|restore`).

SQLite: the online backup API copies a consistent snapshot while the workers keep
committing (WAL mode); a restore copies the backup into the live file the same way, page
by page under the write lock. PostgreSQL: `pg_dump --format=custom` (a consistent
snapshot, also under load); a restore replays it with psql in one transaction that first
drops the schema's tables (a newer migration's tables too) and then runs `pg_restore
--clean --if-exists`'s script. A URL whose `options`
put a schema first in search_path (as the test suite does) dumps and restores just that
schema.

Scheduled backups (`vafa backup --scheduled`, run by deploy/systemd/vafa-backup.timer):
a backup named `vafa-<UTC time>.<sqlite3|dump>` in the backup folder, the oldest beyond
VAFA_BACKUP_KEEP deleted, then VAFA_BACKUP_COPY_COMMAND run with the file's path (bounded
by VAFA_BACKUP_COPY_TIMEOUT_S) to copy it off the machine. The outcome is kept in the
folder's `status.json`; the web's /metrics exports the newest backup's age and whether
the last copy failed, for the alert rules in deploy/prometheus/.

Not in the backup: the encryption key (VAFA_ENCRYPTION_KEY or instance/secret.key) that
device keys are encrypted with. Keep a copy of it somewhere else than the backups.
"""

import json
import logging
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy.engine import make_url

from backend.errors import BadRequest

PG_TIMEOUT_S = 3600  # bounds a dump or restore; far above a club's database size
# Names the scheduled backups (and `backup` without --out) get; only these are pruned.
BACKUP_NAME = re.compile(r"vafa-\d{8}-\d{6}\.(sqlite3|dump)")
STATUS_FILE = "status.json"
MAX_KEEP = 1000
OUTPUT_TAIL_CHARS = 500
log = logging.getLogger(__name__)


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
    # Other query parameters stay: `host=/var/run/postgresql` (the Unix socket, peer
    # authentication: docs/deploy.md) must reach pg_dump too.
    query = {key: value for key, value in parsed.query.items() if key != "options"}
    # (URL.set() takes None as "unchanged": the password is dropped with _replace, so it
    # never appears on pg_dump's command line, which every local user can read.)
    plain = parsed.set(drivername="postgresql", query=query)._replace(password=None)
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
    env = _pg_env(pg)
    # Everything in the archive: a schema-only dump recreates its schema as well. Tables a
    # newer migration added are not in an older archive but may hold foreign keys to tables
    # that are (pg_restore --clean could not drop those), so every table of the schema is
    # dropped first, in the same transaction as the restore: a failed restore changes
    # nothing.
    sql = subprocess.run(
        [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
         "--file=-", str(source)], env=env, capture_output=True, timeout=PG_TIMEOUT_S)
    if sql.returncode != 0:
        raise BadRequest("database", "pg_restore failed: "
                         + sql.stderr.decode(errors="replace").strip()[-500:])
    schema = (pg.schema or "public").replace("'", "''")
    # Functions (the triggers' bodies) and free sequences a newer migration made hold the
    # schema too: the archive's DROP SCHEMA fails on them unless they go first.
    drop_tables = (
        "DO $$DECLARE t record; BEGIN FOR t IN SELECT tablename FROM pg_tables "
        f"WHERE schemaname = '{schema}' LOOP EXECUTE format('DROP TABLE IF EXISTS %I.%I "
        f"CASCADE', '{schema}', t.tablename); END LOOP; "
        "FOR t IN SELECT p.oid::regprocedure AS signature FROM pg_proc p JOIN pg_namespace n "
        f"ON n.oid = p.pronamespace WHERE n.nspname = '{schema}' LOOP "
        "EXECUTE 'DROP FUNCTION IF EXISTS ' || t.signature || ' CASCADE'; END LOOP; "
        "FOR t IN SELECT sequencename FROM pg_sequences "
        f"WHERE schemaname = '{schema}' LOOP EXECUTE format('DROP SEQUENCE IF EXISTS %I.%I "
        f"CASCADE', '{schema}', t.sequencename); END LOOP; END$$;\n").encode()
    done = subprocess.run(
        [_tool("psql"), "-X", "-q", "--single-transaction", "-v", "ON_ERROR_STOP=1",
         f"--dbname={pg.uri}"], input=drop_tables + sql.stdout, env=env,
        capture_output=True, timeout=PG_TIMEOUT_S)
    if done.returncode != 0:
        raise BadRequest("database", "restore failed: "
                         + done.stderr.decode(errors="replace").strip()[-500:])


def backup_name(url: str, now: datetime) -> str:
    suffix = "sqlite3" if url.startswith("sqlite") else "dump"
    return f"vafa-{now.strftime('%Y%m%d-%H%M%S')}.{suffix}"


def kept_backups(directory: Path) -> list[Path]:
    """The backups with our names in `directory`, oldest first (the names sort by time)."""
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir()
                  if path.is_file() and BACKUP_NAME.fullmatch(path.name))


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete the oldest backups beyond the newest `keep`; returns what was deleted."""
    if not 1 <= keep <= MAX_KEEP:
        raise BadRequest("keep", f"keep 1 to {MAX_KEEP} backups")
    backups = kept_backups(directory)
    removed = backups[:-keep]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def copy_off(command: str, path: Path, timeout_s: float) -> None:
    """Run the owner's copy command with the backup's path: in place of `{file}` if the
    command has it, else as its last argument. No shell; bounded in time."""
    try:
        argv = shlex.split(command)
    except ValueError as error:
        raise BadRequest("copy_command", f"VAFA_BACKUP_COPY_COMMAND cannot be read: {error}"
                         ) from None
    if not argv:
        raise BadRequest("copy_command", "VAFA_BACKUP_COPY_COMMAND is empty")
    if "{file}" in argv:
        argv = [str(path) if part == "{file}" else part for part in argv]
    else:
        argv.append(str(path))
    try:
        # A session of its own: on timeout the whole group is killed, also what the
        # command started (ssh under rsync), which would otherwise hold the pipes open.
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, start_new_session=True)
    except FileNotFoundError:
        raise BadRequest("copy_command", f"{argv[0]} not found") from None
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise BadRequest("copy_command", f"{Path(argv[0]).name} did not finish in "
                         f"{timeout_s:g} s and was stopped") from None
    if process.returncode != 0:
        output = (stderr or stdout or "").strip()[-OUTPUT_TAIL_CHARS:]
        raise BadRequest("copy_command", f"{Path(argv[0]).name} exited with code "
                         f"{process.returncode}: {output}")


@dataclass
class ScheduledBackup:
    path: Path
    removed: list[Path] = field(default_factory=list)
    copied: bool | None = None  # None: no copy command set
    copy_error: str = ""


def read_status(directory: Path) -> dict:
    try:
        status = json.loads((directory / STATUS_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return status if isinstance(status, dict) else {}


def _write_status(directory: Path, status: dict) -> None:
    temporary = directory / (STATUS_FILE + ".partial")
    temporary.write_text(json.dumps(status, sort_keys=True))
    temporary.chmod(0o600)
    temporary.replace(directory / STATUS_FILE)


def scheduled_backup(url: str, directory: Path, now: datetime, *, keep: int,
                     copy_command: str = "", copy_timeout_s: float = 600) -> ScheduledBackup:
    """One scheduled round: back up, prune, copy off the machine, record the outcome. A
    failed copy is logged and recorded (the metrics alert on it); the backup stays."""
    path = backup(url, directory / backup_name(url, now))
    result = ScheduledBackup(path, prune(directory, keep))
    status = read_status(directory)
    status.update(last_backup=path.name, last_backup_at=now.isoformat())
    if copy_command:
        try:
            copy_off(copy_command, path, copy_timeout_s)
        except BadRequest as error:
            result.copied, result.copy_error = False, error.message.split(": ", 1)[-1]
            log.error("backup %s was not copied off the machine: %s", path.name,
                      result.copy_error)
        else:
            result.copied = True
        status.update(copy_ok=result.copied, copy_error=result.copy_error,
                      copy_at=now.isoformat())
    _write_status(directory, status)
    return result


def backup_metrics(registry, directory: Path) -> None:
    """Add the backup gauges to a /metrics registry: the newest backup's time (0: none),
    how many are kept, and whether the last copy off the machine failed."""
    from prometheus_client import Gauge

    backups = kept_backups(directory)
    newest = Gauge("vafa_backup_last_timestamp_seconds", "When the newest backup in the "
                   "backup folder was written (Unix time; 0: none)", registry=registry)
    newest.set(backups[-1].stat().st_mtime if backups else 0)
    Gauge("vafa_backups_kept", "Backups in the backup folder",
          registry=registry).set(len(backups))
    failed = Gauge("vafa_backup_copy_failed", "1 when the last copy of a backup off the "
                   "machine (VAFA_BACKUP_COPY_COMMAND) failed", registry=registry)
    failed.set(1 if read_status(directory).get("copy_ok") is False else 0)
