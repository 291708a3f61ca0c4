"""Happy calls (S2): every purchase puts its member on the branch's call list, due within
24 hours; an operator phones them and fills in the happy-call survey, or notes that
nobody answered, or moves the call to later. The answers feed the survey report."""

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import BadRequest
from backend.models import CallTask, Purchase
from backend.services import surveys
from backend.unit_of_work import Actor, is_staff, unit_of_work

CALL_WITHIN = timedelta(hours=24)
CALL_LATER_BY = timedelta(hours=3)
# After this many tries ("call later" each time) the call is closed as not answered.
MAX_ATTEMPTS = 3
OUTCOMES = ("answered", "no_answer", "call_later")
MAX_NOTE_LENGTH = 1_000


def task_for(purchase: Purchase) -> CallTask:
    """The call task of a new purchase: the caller adds it in the purchase's own
    transaction (one INSERT, flushed with the purchase's other rows)."""
    return CallTask(purchase_id=purchase.id, member_id=purchase.member_id,
                    branch_id=purchase.branch_id, due_at=purchase.created_at + CALL_WITHIN,
                    status="open", attempts=0, note="")


def call_list_statement(*, branch_id: int | None, state: str, now: datetime):
    """Open calls by due time (`state` "due": due in the next 24 h and not late,
    "overdue": past due, "open": both) or closed ones ("closed"), newest first."""
    statement = select(CallTask)
    if branch_id is not None:
        statement = statement.where(CallTask.branch_id == branch_id)
    if state == "closed":
        return statement.where(CallTask.status != "open").order_by(
            CallTask.closed_at.desc(), CallTask.id.desc())
    statement = statement.where(CallTask.status == "open")
    if state == "due":
        statement = statement.where(CallTask.due_at > now)
    elif state == "overdue":
        statement = statement.where(CallTask.due_at <= now)
    return statement.order_by(CallTask.due_at, CallTask.id)


def call_state(task: CallTask, now: datetime) -> str:
    """"answered", "no_answer", "overdue" or "due": where a call stands at `now` (an open
    call is late once its due time has come, as `call_list_statement` counts it)."""
    if task.status == "done":
        return "answered"
    if task.status == "no_answer":
        return "no_answer"
    return "overdue" if task.due_at <= now else "due"


def visible_task(session: Session, task_id: int, branch_id: int | None) -> CallTask | None:
    """A task the user may see: any for admins (branch_id None), their branch's for
    operators; None otherwise, whether it exists or not."""
    task = session.get(CallTask, task_id)
    if task is None or (branch_id is not None and task.branch_id != branch_id):
        return None
    return task


def record_call(session: Session, *, actor: Actor, task_id: int, branch_id: int | None,
                outcome: str, answers: dict, note: str, now: datetime) -> CallTask:
    """One call's outcome by a staff user, in one unit of work with its audit row.
    `answers` are keyed by question position (the form is shown before the survey
    exists: the first answered call makes it, here)."""
    with unit_of_work(session, actor) as work:
        task = visible_task(session, task_id, branch_id)
        if task is None:
            raise BadRequest("task", "No such call.")
        if task.status != "open":
            raise BadRequest("outcome", "This call is closed already.")
        if outcome not in OUTCOMES:
            raise BadRequest("outcome", "Choose what happened on the call.")
        note = (note or "").strip()
        if len(note) > MAX_NOTE_LENGTH:
            raise BadRequest("note", "At most 1000 characters.")
        task.attempts += 1
        task.staff_user_id, task.note = actor.staff_user_id, note
        if outcome == "answered":
            survey = surveys.happy_call_survey(session, now)
            by_position = {str(key): value for key, value in answers.items()}
            positions = {str(question.position) for question in survey.questions}
            for key in by_position.keys() - positions:
                raise BadRequest(f"q{key}"[:40], "No such question in this survey.")
            by_id = {str(question.id): by_position.get(str(question.position), "")
                     for question in survey.questions}
            surveys.record_answers(session, survey, member_id=task.member_id, answers=by_id,
                                   now=now, staff_user_id=actor.staff_user_id,
                                   call_task_id=task.id)
            task.status, task.closed_at = "done", now
        elif outcome == "no_answer" or task.attempts >= MAX_ATTEMPTS:
            task.status, task.closed_at = "no_answer", now
        else:
            task.due_at = now + CALL_LATER_BY
        if is_staff(actor):
            work.audit("happy_call", "call_task", task.id, {"outcome": outcome})
        return task
