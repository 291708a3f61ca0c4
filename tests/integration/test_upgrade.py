"""The upgrade procedure of docs/deploy.md (issue 21): stop, `vafa backup`, install the new
version, `vafa migrate`, start — on a club's database one schema revision behind, with its
data intact afterwards; and the way back is the backup (restored, the old revision is
back), since a newer database is refused by older code (tests/unit/backend/test_startup.py)."""

from datetime import UTC, datetime

import flask_migrate
from sqlalchemy import select

from backend import create_app
from backend.database import MIGRATIONS_DIR
from backend.extensions import db
from backend.models import Club
from backend.services import demo
from backend.startup import code_revisions, database_revisions
from tests.conftest import AuthActions, build_app, make_config
from tests.integration.test_backups import ledger_state


def previous_revision() -> str:
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    scripts = ScriptDirectory.from_config(config)
    (head,) = scripts.get_heads()
    return scripts.get_revision(head).down_revision


def test_upgrade_from_the_previous_revision_keeps_everything(tmp_path_factory, databases, app,
                                                            tmp_path):
    old = build_app(tmp_path_factory, databases, app.database_kind)
    with old.app_context():
        demo.seed_demo(db.session, datetime.now(UTC), history=False)
        before = ledger_state(old)
        # The installed version's schema: one revision behind the code.
        flask_migrate.downgrade(directory=str(MIGRATIONS_DIR), revision=previous_revision())
        assert database_revisions(db.engine) == {previous_revision()}
        db.engine.dispose()
    url = old.config["SQLALCHEMY_DATABASE_URI"]
    instance = old.config["INSTANCE_DIR"]

    # 1. (services stopped) 2. backup
    runner = create_app(make_config(instance, url)).test_cli_runner()
    backup_file = tmp_path / "before-upgrade.backup"
    result = runner.invoke(args=["backup", "--out", str(backup_file)])
    assert result.exit_code == 0 and backup_file.exists(), result.output
    # 3. the new version migrates
    result = runner.invoke(args=["migrate"])
    _, heads = code_revisions(MIGRATIONS_DIR)
    assert result.exit_code == 0 and f"schema revision {', '.join(heads)}" in result.output

    # 4. start: the new version runs on it, with the same members, ledger and keys.
    new = create_app(make_config(instance, url))
    client = new.test_client()
    assert client.get("/healthz").status_code == 200
    after = ledger_state(new)
    assert after == before
    with new.app_context():
        assert db.session.scalars(select(Club)).one().is_demo  # recognised by the migration
        db.session.rollback()
    assert AuthActions(client).login("admin", demo.DEMO_LOGINS["admin"]).status_code == 302
    assert 'id="demo-banner"' in client.get("/dashboard").get_data(as_text=True)
    with new.app_context():
        db.engine.dispose()

    # The way back: the backup taken before the upgrade restores the old revision.
    result = new.test_cli_runner().invoke(args=["restore", "--yes", str(backup_file)])
    assert result.exit_code == 0, result.output
    with new.app_context():
        assert database_revisions(db.engine) == {previous_revision()}
        db.engine.dispose()
