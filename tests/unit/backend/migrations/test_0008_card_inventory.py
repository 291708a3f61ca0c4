"""Revision 0008 puts the cards of every batch recorded before it in stock, keeps the
cards members already hold, and refuses statuses outside the lifecycle."""


import flask_migrate
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from backend.extensions import db
from card_spec import make_card_number
from tests.unit.backend.migrations.conftest import MIGRATIONS


def test_existing_batches_get_their_cards_in_stock(unmigrated_app):
    live = unmigrated_app
    with live.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS, revision="0007")
        with db.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO card_batch (prefix, first_serial, count, label, created_at) "
                "VALUES ('990001', 101, 3, 'old', '2026-01-02 03:04:05+00')"))
            # A card of the batch already handed out before the inventory existed.
            connection.execute(text(
                "INSERT INTO card (number, status, issued_at) VALUES (:number, 'active', "
                "'2026-02-01 00:00:00+00')"), {"number": make_card_number("990001", 102)})
        flask_migrate.upgrade(directory=MIGRATIONS, revision="0008")
        with db.engine.begin() as connection:
            rows = connection.execute(text(
                "SELECT number, status, batch_id IS NOT NULL FROM card ORDER BY number")).all()
            assert [tuple(row) for row in rows] == [
                (make_card_number("990001", 101), "issued", True),
                (make_card_number("990001", 102), "active", True),
                (make_card_number("990001", 103), "issued", True)]
        with pytest.raises(IntegrityError), db.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO card (number, status, issued_at) VALUES ('9900010000009990', "
                "'lost', '2026-02-01 00:00:00+00')"))
        flask_migrate.downgrade(directory=MIGRATIONS, revision="0007")
        with db.engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM card")).scalar() == 1
        db.engine.dispose()
