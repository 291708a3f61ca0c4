"""Members' requests to the club and the staff's answers (P3, S1; B2 "answer requests")."""

from datetime import datetime

from sqlalchemy.orm import Session

from backend.errors import BadRequest
from backend.models import MemberRequest
from backend.unit_of_work import Actor, is_staff, unit_of_work

MAX_ANSWER_LENGTH = 2_000


def submit_request(session: Session, *, actor: Actor, member_id: int, subject: str,
                   body: str, now: datetime) -> MemberRequest:
    subject, body = subject.strip(), body.strip()
    if not subject or not body:
        raise BadRequest("subject", "This field is required.")
    if len(subject) > 120 or len(body) > MAX_ANSWER_LENGTH:
        raise BadRequest("body", "At most 2000 characters.")
    with unit_of_work(session, actor):
        row = MemberRequest(member_id=member_id, subject=subject, body=body, created_at=now)
        session.add(row)
    return row


def answer_request(session: Session, *, actor: Actor, request_id: int,
                   staff_user_id: int, answer: str,
                   now: datetime, branch_id: int | None = None) -> MemberRequest:
    """Answer (or correct the answer to) a request. An operator (branch_id given) answers
    the requests of their branch's members only."""
    with unit_of_work(session, actor) as work:
        row = session.get(MemberRequest, request_id)
        if row is None or (branch_id is not None and row.member.home_branch_id != branch_id):
            raise BadRequest("request", "No such request.")
        answer = answer.strip()
        if not answer:
            raise BadRequest("answer", "This field is required.")
        if len(answer) > MAX_ANSWER_LENGTH:
            raise BadRequest("answer", "At most 2000 characters.")
        row.answer, row.answered_by_id, row.answered_at = answer, staff_user_id, now
        if is_staff(work.actor):
            work.audit("answer_request", "member_request", request_id)
    return row
