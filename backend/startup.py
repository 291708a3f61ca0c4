"""What every Vafa process checks when it starts (create_app).

- Private files (issue 17.9): the instance folder holds the SQLite database, the Flask and
  MQTT secrets, the encryption key, terminal configs with their keys and the broker's
  password file. The process creates files for its owner only (umask 077), and at start
  the folder is made 0700 and the files in it that hold data or secrets 0600, so an
  instance made by an older version (0755/0644, readable by every local user) is fixed.
- The database's schema revision (issue 21): a database upgraded by a newer Vafa is
  refused with a clear message instead of being run by code that does not know its
  tables (a downgrade of the code is not a supported upgrade path; restore the backup
  taken before the upgrade instead).
"""

import logging
import os
import stat
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine, make_url

PRIVATE_UMASK = 0o077
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
# Folders under the instance folder whose every file is data or a secret.
PRIVATE_SUBDIRS = ("devices", "mosquitto", "backups", "imports", "outbox")
PRIVATE_FILE_SUFFIXES = (".sqlite3", ".sqlite3-wal", ".sqlite3-shm", ".secret", ".key",
                         ".code", ".json", ".conf", ".log")
# Bounds the walk of the private folders at start (a club has a few dozen terminals).
MAX_FILES_FIXED = 10_000


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer Vafa than this one."""


def private_umask() -> None:
    """Files and folders this process creates are its owner's only."""
    current = os.umask(PRIVATE_UMASK)
    os.umask(current | PRIVATE_UMASK)


def _chmod(path: Path, mode: int) -> None:
    try:
        if stat.S_IMODE(path.lstat().st_mode) != mode and not path.is_symlink():
            path.chmod(mode)
    except FileNotFoundError:
        pass  # removed meanwhile (a SQLite -shm file, a finished upload)
    except PermissionError:
        pass  # not ours (e.g. a file an operator put there as root): left alone


def secure_instance(instance_dir: Path, database_url: str) -> None:
    """Make the instance folder 0700 and its data and secret files 0600."""
    instance_dir = Path(instance_dir)
    if not instance_dir.is_dir():
        return
    _chmod(instance_dir, PRIVATE_DIR_MODE)
    fixed = 0
    for entry in instance_dir.iterdir():
        if entry.is_file() and entry.name.endswith(PRIVATE_FILE_SUFFIXES):
            _chmod(entry, PRIVATE_FILE_MODE)
        elif entry.is_dir() and not entry.is_symlink():
            _chmod(entry, PRIVATE_DIR_MODE)
            if entry.name not in PRIVATE_SUBDIRS:
                continue
            for path in entry.rglob("*"):
                fixed += 1
                if fixed > MAX_FILES_FIXED:
                    break
                _chmod(path, PRIVATE_DIR_MODE if path.is_dir() else PRIVATE_FILE_MODE)
    if database_url.startswith("sqlite"):
        database = make_url(database_url).database
        if database and database != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                _chmod(Path(database + suffix), PRIVATE_FILE_MODE)


def database_revisions(engine: Engine) -> set[str]:
    """The Alembic revisions the database is at (empty: not migrated yet)."""
    # read_only: on SQLite a deferred BEGIN, which never waits for a writer.
    with engine.connect().execution_options(read_only=True) as connection:
        if not inspect(connection).has_table("alembic_version"):
            return set()
        return {row[0] for row in connection.execute(text(
            "SELECT version_num FROM alembic_version"))}


def code_revisions(migrations_dir: Path) -> tuple[set[str], set[str]]:
    """(every revision this code has, its heads)."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    config = AlembicConfig()
    config.set_main_option("script_location", str(migrations_dir))
    scripts = ScriptDirectory.from_config(config)
    return {script.revision for script in scripts.walk_revisions()}, set(scripts.get_heads())


def check_schema(engine: Engine, migrations_dir: Path) -> None:
    """Raise SchemaTooNew when the database is at a revision this code does not know.
    An unreachable database is not checked here: the process starts and retries it as
    it does any outage (the check runs again at the next start)."""
    from sqlalchemy.exc import OperationalError

    try:
        at = database_revisions(engine)
    except OperationalError as error:
        logging.getLogger(__name__).warning("schema revision not checked: %s",
                                            str(error).splitlines()[0])
        return
    finally:
        # No pooled connection survives the check: gunicorn --preload forks after this,
        # and a connection must never be shared by two processes.
        engine.dispose()
    if not at:
        return
    known, heads = code_revisions(migrations_dir)
    unknown = sorted(at - known)
    if unknown:
        raise SchemaTooNew(
            f"The database is at schema revision {', '.join(unknown)}, which this version "
            f"of Vafa does not know (its newest is {', '.join(sorted(heads))}): it was "
            "upgraded by a newer Vafa. Run that newer version again, or restore the backup "
            "taken before the upgrade (docs/deploy.md, \"Upgrades\"). Nothing was changed.")
