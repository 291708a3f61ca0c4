"""The unit of work: commits at the outermost block's end, rolls back on any error, and
writes the audit rows its service asks for in the same transaction."""

import pytest
from sqlalchemy import func, select

from backend.errors import BadRequest
from backend.models import AuditLog, Branch
from backend.unit_of_work import Actor, in_unit_of_work, unit_of_work
from tests import factories


def _audit_actions(db) -> list[str]:
    return list(db.scalars(select(AuditLog.action).order_by(AuditLog.id)))


def test_a_unit_commits_its_change_with_its_audit_row(db):
    factories.club(db)
    with unit_of_work(db, Actor(None, "10.0.0.7", "api")) as work:
        db.add(Branch(name="Tajrish", code="TJ"))
        work.audit("create_branch", "branch", 7, {"name": "Tajrish"})
    db.rollback()  # nothing left pending: the unit committed (a savepoint in tests)
    assert db.scalar(select(Branch.name).where(Branch.name == "Tajrish")) == "Tajrish"
    row = db.scalars(select(AuditLog).where(AuditLog.action == "create_branch")).one()
    assert (row.ip, row.entity, row.entity_id, row.details) == \
        ("10.0.0.7", "branch", "7", {"name": "Tajrish", "via": "api"})


def test_a_refused_unit_leaves_neither_change_nor_audit_row(db):
    factories.club(db)
    before = db.scalar(select(func.count()).select_from(Branch))
    with pytest.raises(BadRequest):
        with unit_of_work(db, Actor(None, "", "panel")) as work:
            db.add(Branch(name="Refused", code="RF"))
            work.audit("create_branch", "branch", 8)
            db.flush()
            raise BadRequest("name", "refused")
    assert db.scalar(select(func.count()).select_from(Branch)) == before
    assert "create_branch" not in _audit_actions(db)
    assert not in_unit_of_work(db)


def test_a_nested_unit_joins_the_outer_one(db):
    factories.club(db)
    with pytest.raises(RuntimeError):
        with unit_of_work(db) as outer:
            with unit_of_work(db) as inner:
                assert inner is outer
                db.add(Branch(name="Inner", code="IN"))
                inner.audit("inner_step")
            assert in_unit_of_work(db)  # the inner block did not commit or end the unit
            raise RuntimeError("the outer use case fails after the inner service")
    assert db.scalar(select(Branch).where(Branch.name == "Inner")) is None
    assert "inner_step" not in _audit_actions(db)


def test_the_panel_is_not_named_in_the_details(db):
    factories.club(db)
    with unit_of_work(db, Actor(None, "1.2.3.4", "panel")) as work:
        work.audit("edit_settings", details={"field": "name"})
    row = db.scalars(select(AuditLog).where(AuditLog.action == "edit_settings")).one()
    assert row.details == {"field": "name"}
