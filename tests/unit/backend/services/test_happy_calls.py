"""A happy call in one unit of work (issue 20): a recorded call leaves its outcome, its
answers and exactly one audit row; a refused call none of them; showing the call's
questions writes nothing (the first answered call makes the survey)."""

import pytest
from sqlalchemy import func, select

from backend.errors import BadRequest
from backend.models import AuditLog, CallTask, Survey, SurveyResponse
from backend.services import counter, happy_calls, surveys
from backend.unit_of_work import SYSTEM, Actor
from tests import factories
from tests.conftest import NOW


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


@pytest.fixture
def call(db):
    factories.club(db)
    branch, user, member = factories.branch(db), factories.staff_user(db), factories.member(db)
    purchase = counter.record_purchase(db, actor=SYSTEM, member_id=member.id,
                                       branch_id=branch.id, amount_rials=120_000,
                                       use_credit_rials=0, request_key="happy-call-unit-1",
                                       now=NOW).purchase
    task = db.scalars(select(CallTask).where(CallTask.purchase_id == purchase.id)).one()
    return task, Actor(user.id, "10.0.0.9")


def test_showing_the_questions_writes_nothing(db, call):
    questions = surveys.happy_call_questions(db)
    assert [question.prompt for question in questions] == [
        prompt for _, prompt in surveys.HAPPY_CALL_QUESTIONS]
    assert not db.new and count(db, Survey) == 0


def test_a_refused_call_leaves_no_survey_no_answers_and_no_audit_row(db, call):
    task, actor = call
    with pytest.raises(BadRequest):  # the ratings are required
        happy_calls.record_call(db, actor=actor, task_id=task.id, branch_id=None,
                                outcome="answered", answers={0: "4"}, note="", now=NOW)
    with pytest.raises(BadRequest, match="No such question"):
        happy_calls.record_call(db, actor=actor, task_id=task.id, branch_id=None,
                                outcome="answered", answers={9: "4"}, note="", now=NOW)
    db.expire_all()
    assert (task.status, task.attempts) == ("open", 0)
    assert count(db, Survey) == count(db, SurveyResponse) == count(db, AuditLog) == 0


def test_an_answered_call_leaves_its_answers_and_one_audit_row(db, call):
    task, actor = call
    happy_calls.record_call(db, actor=actor, task_id=task.id, branch_id=None,
                            outcome="answered", answers={0: "3", 1: "5", 2: "4"},
                            note="Happy", now=NOW)
    db.rollback()  # committed by the use case itself
    assert (db.get(CallTask, task.id).status, count(db, SurveyResponse)) == ("done", 1)
    [row] = db.scalars(select(AuditLog).where(AuditLog.action == "happy_call")).all()
    assert (row.staff_user_id, row.ip, row.entity, row.entity_id, row.details) == \
        (actor.staff_user_id, "10.0.0.9", "call_task", str(task.id), {"outcome": "answered"})
