"""Rules from memory, never stale: the version the triggers change, and a staff edit
made through another engine (another process's connection pool) priced by the very next
sale of this one."""

import json

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from backend.extensions import db as flask_db
from backend.models import RulesVersion, Tier, the_club
from backend.protocol import Request
from backend.services import terminal
from backend.services.purchase_pipeline import rules
from tests import factories
from tests.conftest import NOW, build_app


def version(session) -> int:
    return session.scalar(select(RulesVersion.version))


@pytest.fixture
def two_processes(app, tmp_path_factory, databases):
    """Two engines on a database of their own, as a worker's and the panel's connection
    pools are: a session of each."""
    own = build_app(tmp_path_factory, databases, app.database_kind)
    with own.app_context():  # the device key's encryption reads the app's keys
        url = flask_db.engine.url
        flask_db.engine.dispose()
        worker_engine, panel_engine = create_engine(url), create_engine(url)
        with Session(worker_engine) as worker, Session(panel_engine) as panel:
            yield worker, panel
        worker_engine.dispose()
        panel_engine.dispose()


@pytest.mark.parametrize("edit", [
    "UPDATE club SET instant_cashback = NOT instant_cashback",
    "UPDATE tier SET name = name || 'x'",
    "INSERT INTO offer (name, is_active, priority, exclusive, reward_kind, reward_value,"
    " tier_codes, first_purchase_only, weekdays) VALUES ('o', true, 1, false,"
    " 'bonus_points', 5, '', false, '[]')",
    "DELETE FROM tier",
])
def test_any_edit_of_the_rule_tables_changes_the_version_in_its_transaction(db, edit):
    factories.tier(db)
    factories.club(db)
    db.commit()
    before = version(db)
    db.execute(text(edit))
    assert version(db) != before  # seen inside the editing transaction already
    db.rollback()
    assert version(db) == before  # and gone with it when it rolls back


def test_the_rules_are_kept_until_the_version_changes(db):
    factories.tier(db)
    factories.club(db)
    db.commit()
    first = rules.current(db)
    assert rules.current(db) is first  # nothing edited: nothing read but the version
    db.execute(text("UPDATE club SET offline_window_days = offline_window_days + 1"))
    again = rules.current(db)
    assert again is not first
    assert again.club.offline_window_days == first.club.offline_window_days + 1


def sale(card: str, seq: int) -> Request:
    return Request(id=f"t01-{seq:06d}", seq=seq, ts=int(NOW.timestamp()), op="purchase",
                   card=card, amount=100_000, use_credit=0, items=None, ref=None,
                   offline=False, clk=True, age_s=None)


def test_a_staff_edit_in_another_process_applies_to_the_very_next_sale(two_processes):
    worker, panel = two_processes
    tier = factories.tier(panel, code="pipeline-tier", discount_percent_bp=500)
    factories.club(panel)
    member = factories.member(panel, tier_id=tier.id)
    factories.device(panel, device_id="t01")
    panel.commit()
    card = factories.card_of(member)
    first = json.loads(terminal.answer(worker, "t01", sale(card, 1), NOW))
    assert first["tx"]["discount"] == 5_000  # the worker now keeps these rules
    panel.get(Tier, tier.id).discount_percent_bp = 2_000
    panel.commit()
    second = json.loads(terminal.answer(worker, "t01", sale(card, 2), NOW))
    assert second["tx"]["discount"] == 20_000
    the_club(panel).offline_window_days = 1
    panel.get(Tier, tier.id).name = "renamed"
    panel.commit()
    third = json.loads(terminal.answer(worker, "t01", sale(card, 3), NOW))
    assert third["member"]["tier"] == "renamed"
    assert rules.current(worker).club.offline_window_days == 1
    worker.rollback()
