"""A backup restored brings member_month_sales back as it was, and its triggers with it
(migration 0024): on SQLite the file, on PostgreSQL a dump whose triggers are created
after its data, so nothing is counted twice."""

import secrets
from datetime import UTC, datetime

import flask_migrate
import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.engine import make_url

from backend import create_app
from backend.extensions import db
from backend.models import Purchase
from backend.services import backups
from backend.services.reports import seed, summaries
from tests.conftest import DATABASE_KINDS, TEST_DATABASE_URL, make_config


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'restore.sqlite3'}"
        return
    # pg_dump and pg_restore work on a whole database, not the tests' schemas.
    url = make_url(TEST_DATABASE_URL)
    name = f"vafa_restore_{secrets.token_hex(4)}"
    admin = create_engine(url.set(database="postgres", query={}), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name, query={}).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_restored_backup_keeps_the_summary_and_its_triggers(database_url, tmp_path):
    app = create_app(make_config(tmp_path, database_url))
    with app.app_context():
        flask_migrate.upgrade(directory="backend/migrations")
        seed.seed_reports(db.session, members=30, purchases=300, now=datetime.now(UTC))
        db.session.commit()
        saved = summaries.summary_member_months(db.session)
        assert saved and saved == summaries.raw_member_months(db.session)
        backup = backups.backup(database_url, tmp_path / backups.backup_name(
            database_url, datetime.now(UTC)))
        first = db.session.scalars(select(Purchase.id).order_by(Purchase.id)).first()
        refund_in_full = (update(Purchase).where(Purchase.id == first)
                          .values(refunded_amount_rials=Purchase.amount_rials))
        db.session.execute(refund_in_full)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
        backups.restore(database_url, backup)

        assert summaries.summary_member_months(db.session) == saved
        db.session.execute(refund_in_full)  # the triggers came back with the restore
        db.session.commit()
        changed = summaries.summary_member_months(db.session)
        assert changed != saved and changed == summaries.raw_member_months(db.session)
        db.session.remove()
        db.engine.dispose()
