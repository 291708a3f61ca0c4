"""Revision 0014 turns top-ups off for the terminals registered before it (issue 17 item
5: any terminal could create credit), keeps their refunds on, and gives every branch a
24-hour refund window without a PIN; the downgrade drops it all again."""


import flask_migrate
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from backend.extensions import db
from tests.unit.backend.migrations.conftest import MIGRATIONS


def test_existing_terminals_may_not_top_up_after_the_upgrade(unmigrated_app):
    live = unmigrated_app
    with live.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS, revision="0013")
        with db.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO branch (code, name, address, phone, is_active, created_at) "
                "VALUES ('old', 'Old', '', '', true, '2026-01-02 03:04:05+00')"))
            connection.execute(text(
                "INSERT INTO device (id, branch_id, name, key_hex, mqtt_password_hash, status,"
                " lang, last_seq, is_online, queued_count, created_at) VALUES ('t01', "
                "(SELECT id FROM branch WHERE code = 'old'), 't01', 'x', 'x', 'active', 'en', "
                "7, false, 0, '2026-01-02 03:04:05+00')"))
        flask_migrate.upgrade(directory=MIGRATIONS, revision="0014")
        with db.engine.begin() as connection:
            row = connection.execute(text(
                "SELECT topup_allowed, refund_allowed, topup_max_rials, refund_pin_hash, "
                "refund_window_hours FROM device WHERE id = 't01'")).one()
            assert tuple(row) == (False, True, None, None, None)
            branch = connection.execute(text(
                "SELECT refund_window_hours, refund_pin_hash FROM branch")).one()
            assert tuple(branch) == (24, None)
        with pytest.raises(IntegrityError), db.engine.begin() as connection:
            connection.execute(text("UPDATE device SET topup_max_rials = 0"))
        flask_migrate.downgrade(directory=MIGRATIONS, revision="0013")
        with db.engine.begin() as connection:
            assert connection.execute(text("SELECT last_seq FROM device")).scalar() == 7
        db.engine.dispose()
