"""News visibility, surveys (questions, answers, report) and happy calls (a task per
purchase, outcomes, attempts bound)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.errors import BadRequest
from backend.models import CallTask, SurveyResponse
from backend.services import content, counter, happy_calls, surveys
from backend.unit_of_work import SYSTEM, Actor
from tests import factories
from tests.conftest import NOW


def test_news_is_shown_in_its_window_to_its_tiers(db):
    factories.club(db)
    silver, gold = factories.tier(db, code="silver"), factories.tier(db, code="gold", rank=3)
    member = factories.member(db, tier_id=silver.id)
    posts = {title: content.save_post(db, None, values, NOW, actor=SYSTEM) for title, values in {
        "all": {"title": "all"},
        "silver": {"title": "silver", "tier_codes": "silver"},
        "gold": {"title": "gold", "tier_codes": "gold"},
        "later": {"title": "later", "publish_from": NOW + timedelta(hours=1)},
        "over": {"title": "over", "publish_from": NOW - timedelta(days=2),
                 "publish_until": NOW - timedelta(days=1)},
        "off": {"title": "off", "is_active": False},
    }.items()}
    shown = [post.title for post in db.scalars(content.visible_posts_statement(member, NOW))]
    assert sorted(shown) == ["all", "silver"]
    assert content.visible_post(db, member, posts["gold"].id, NOW) is None
    assert [p.title for p in db.scalars(content.visible_posts_statement(None, NOW))] == ["all"]
    assert gold.code == "gold"
    with pytest.raises(BadRequest) as error:
        content.save_post(db, None, {"title": "x", "tier_codes": "platinum"}, NOW,
                          actor=SYSTEM)
    assert error.value.field == "tier_codes"
    with pytest.raises(BadRequest) as error:
        content.save_post(db, None, {"title": "x", "kind": "event"}, NOW, actor=SYSTEM)
    assert error.value.field == "event_at"


def test_question_lines_are_parsed_and_checked():
    specs = surveys.parse_questions("rating: Staff?\n\nchoice: Branch? | North, South\n"
                                    "text: Anything else?")
    assert [(s.kind, s.required) for s in specs] == [("rating", True), ("choice", True),
                                                     ("text", False)]
    assert specs[1].choices == ("North", "South")
    for text in ("", "colour: Red?", "choice: Only one | A", "rating:  "):
        with pytest.raises(BadRequest) as error:
            surveys.parse_questions(text)
        assert error.value.field == "questions"


def make_survey(db):
    return surveys.save_survey(db, None, actor=SYSTEM,
                               title="Service", description="", is_active=True,
                               questions=surveys.parse_questions(
                                   "rating: Staff?\nchoice: Branch? | North, South\ntext: More?"),
                               now=NOW)


def test_answers_are_validated_once_per_member_and_reported(db):
    factories.club(db)
    survey = make_survey(db)
    rating, choice, text = (question.id for question in survey.questions)
    first, second = factories.member(db), factories.member(db)
    db.commit()  # a refused answer rolls its unit back, not the setup
    with pytest.raises(BadRequest) as error:
        surveys.submit_member_response(db, survey_id=survey.id, member=first,
                                       answers={rating: "0", choice: "North"}, now=NOW)
    assert error.value.field == f"q{rating}"
    with pytest.raises(BadRequest):
        surveys.submit_member_response(db, survey_id=survey.id, member=first,
                                       answers={rating: "4", choice: "East"}, now=NOW)
    surveys.submit_member_response(db, survey_id=survey.id, member=first,
                                   answers={rating: "۴", choice: "North", text: "Good"}, now=NOW)
    surveys.submit_member_response(db, survey_id=survey.id, member=second,
                                   answers={str(rating): "5", str(choice): "North"}, now=NOW)
    with pytest.raises(BadRequest, match="already answered"):
        surveys.submit_member_response(db, survey_id=survey.id, member=first,
                                       answers={rating: "5", choice: "North"}, now=NOW)
    report = surveys.report(db, survey)
    assert report.responses == 2
    by_kind = {item.question.kind: item for item in report.questions}
    assert by_kind["rating"].average == 4.5 and by_kind["rating"].counts == {4: 1, 5: 1}
    assert by_kind["choice"].counts == {"North": 2}
    assert [answer.text for answer in by_kind["text"].texts] == ["Good"]
    # Answered questions are fixed; the title is not.
    with pytest.raises(BadRequest) as error:
        surveys.save_survey(db, survey.id, actor=SYSTEM,
                            title="Service", description="", is_active=True,
                            questions=surveys.parse_questions("rating: Other?"), now=NOW)
    assert error.value.field == "questions"


def buy(db, member, branch, key):
    return counter.record_purchase(db, actor=SYSTEM, member_id=member.id, branch_id=branch.id,
                                   amount_rials=120_000, use_credit_rials=0, request_key=key,
                                   now=NOW).purchase


def test_every_purchase_queues_one_call_due_within_a_day(db):
    factories.club(db)
    branch = factories.branch(db)
    member = factories.member(db)
    purchase = buy(db, member, branch, "happy-call-purchase-1")
    buy(db, member, branch, "happy-call-purchase-1")  # a replay adds nothing
    tasks = db.scalars(select(CallTask).where(CallTask.member_id == member.id)).all()
    assert len(tasks) == 1
    task = tasks[0]
    assert (task.purchase_id, task.branch_id, task.status) == (purchase.id, branch.id, "open")
    assert task.due_at == NOW + timedelta(hours=24)
    due = db.scalars(happy_calls.call_list_statement(branch_id=branch.id, state="due",
                                                     now=NOW)).all()
    overdue = db.scalars(happy_calls.call_list_statement(
        branch_id=branch.id, state="overdue", now=NOW + timedelta(hours=25))).all()
    assert due == [task] and overdue == [task]
    other = factories.branch(db)
    assert db.scalars(happy_calls.call_list_statement(branch_id=other.id, state="open",
                                                      now=NOW)).all() == []


def test_call_outcomes_feed_the_happy_call_report(db):
    factories.club(db)
    branch, staff = factories.branch(db), factories.staff_user(db)
    member = factories.member(db)
    answered = db.scalars(select(CallTask).where(
        CallTask.purchase_id == buy(db, member, branch, "happy-call-a-00001").id)).one()
    later = db.scalars(select(CallTask).where(
        CallTask.purchase_id == buy(db, member, branch, "happy-call-b-00001").id)).one()
    price, quality, behaviour, comments = (q.position for q in surveys.happy_call_questions(db))
    actor = Actor(staff.id, "10.0.0.9")
    with pytest.raises(BadRequest):  # another branch's operator
        happy_calls.record_call(db, task_id=answered.id, branch_id=branch.id + 1,
                                actor=actor, outcome="answered", answers={},
                                note="", now=NOW)
    happy_calls.record_call(db, task_id=answered.id, branch_id=branch.id,
                            actor=actor, outcome="answered",
                            answers={price: "3", quality: "5", behaviour: "4",
                                     comments: "Friendly"}, note="", now=NOW)
    assert answered.status == "done" and answered.closed_at == NOW
    response = db.scalars(select(SurveyResponse).where(
        SurveyResponse.call_task_id == answered.id)).one()
    assert response.staff_user_id == staff.id
    for attempt in range(1, happy_calls.MAX_ATTEMPTS + 1):
        happy_calls.record_call(db, task_id=later.id, branch_id=None, actor=actor,
                                outcome="call_later", answers={}, note="busy", now=NOW)
        assert later.attempts == attempt
    assert later.status == "no_answer"  # bounded: the last "later" closes it
    with pytest.raises(BadRequest, match="closed"):
        happy_calls.record_call(db, task_id=later.id, branch_id=None, actor=actor,
                                outcome="answered", answers={}, note="", now=NOW)
    report = surveys.report(db, surveys.find_happy_call_survey(db))
    averages = {item.question.prompt: item.average for item in report.questions}
    assert averages["Price"] == 3 and averages["Quality"] == 5
    assert report.responses == 1
