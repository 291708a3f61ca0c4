"""Surveys (P3, S1): admins write them, members answer them in the portal (or the API),
operators fill the happy-call survey in during a call (S2), and the panel reports on
every answer: rating averages and counts, choice counts, free-text lists."""

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.errors import BadRequest
from backend.models import Member, Survey, SurveyAnswer, SurveyQuestion, SurveyResponse
from backend.services.rows import existing_row
from backend.unit_of_work import SYSTEM, Actor, unit_of_work
from card_spec import normalize_digits

HAPPY_CALL_CODE = "happy-call"
KINDS = ("rating", "choice", "text")
# The Persian keywords an admin types on a Persian keyboard, for the same kinds.
PERSIAN_KINDS = {"امتیاز": "rating", "گزینه": "choice", "چندگزینه‌ای": "choice",
                 "چند‌گزینه‌ای": "choice", "چندگزینه ای": "choice", "متن": "text"}
KIND_WORDS_FA = {"rating": "امتیاز", "choice": "گزینه", "text": "متن"}
_COMMAS = re.compile(r"[,،]")  # the Latin comma and the Persian one (،)
MAX_QUESTIONS = 30
MAX_CHOICES = 12
MAX_TEXT_LENGTH = 2_000
REPORT_TEXTS = 200  # free-text answers listed per question, newest first


@dataclass(frozen=True)
class QuestionSpec:
    kind: str
    prompt: str
    choices: tuple[str, ...] = ()
    required: bool = True


def parse_questions(text: str) -> list[QuestionSpec]:
    """The admin's question list, one a line: `rating: How was the service?`,
    `choice: Which branch? | North, South`, `text: Anything else?` (free text is
    optional; ratings and choices must be answered). In Persian the same lines read
    `امتیاز: …`, `گزینه: … | شمال، جنوب`, `متن: …`: the keywords in either language,
    options split on either comma."""
    specs = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        kind, sep, rest = line.partition(":")
        kind = kind.strip().lower()
        kind = PERSIAN_KINDS.get(kind, kind)
        if not sep or kind not in KINDS:
            raise BadRequest("questions", "Start each line with rating:, choice: or text:")
        prompt, _, options = rest.partition("|")
        prompt = prompt.strip()
        if not prompt or len(prompt) > 255:
            raise BadRequest("questions", "Write each question in at most 255 characters.")
        choices = tuple(dict.fromkeys(o.strip()[:80] for o in _COMMAS.split(options)
                                      if o.strip()))
        if kind == "choice" and not 2 <= len(choices) <= MAX_CHOICES:
            raise BadRequest("questions", "A choice question needs 2 to 12 options after |, "
                                          "separated by commas.")
        specs.append(QuestionSpec(kind, prompt, choices if kind == "choice" else (),
                                  kind != "text"))
    if not specs:
        raise BadRequest("questions", "Add at least one question.")
    if len(specs) > MAX_QUESTIONS:
        raise BadRequest("questions", "At most 30 questions.")
    return specs


def questions_text(survey: Survey, language: str = "en") -> str:
    """The questions as the admin types them, with the keywords of `language`."""
    lines = []
    for question in survey.questions:
        kind = KIND_WORDS_FA[question.kind] if language == "fa" else question.kind
        line = f"{kind}: {question.prompt}"
        if question.choices:
            line += " | " + ("، " if language == "fa" else ", ").join(question.choices)
        lines.append(line)
    return "\n".join(lines)


def _specs_of(survey: Survey) -> list[QuestionSpec]:
    return [QuestionSpec(q.kind, q.prompt, tuple(q.choices or ()), q.required)
            for q in survey.questions]


def save_survey(session: Session, survey_id: int | None, *, title: str, description: str,
                is_active: bool, questions: list[QuestionSpec], now: datetime,
                actor: Actor, code: str | None = None) -> Survey:
    """Create or edit a survey, audited `create_survey` or `edit_survey`. Once answered,
    its questions are fixed (the report would otherwise mix answers to different
    questions); title and state still change."""
    with unit_of_work(session, actor) as work:
        survey = _save_survey(session, survey_id, title, description, is_active, questions,
                              now, code)
        work.audit("edit_survey" if survey_id else "create_survey", "survey",
                   survey_id or "", {"title": title})
        return survey


def _save_survey(session: Session, survey_id: int | None, title: str, description: str,
                 is_active: bool, questions: list[QuestionSpec], now: datetime,
                 code: str | None) -> Survey:
    title = (title or "").strip()
    if not title:
        raise BadRequest("title", "This field is required.")
    if survey_id is None:
        survey = Survey(title=title[:160], code=code, created_at=now)
        session.add(survey)
        session.flush()
    else:
        survey = existing_row(session, Survey, survey_id)
    survey.title, survey.description = title[:160], (description or "").strip()[:2000]
    survey.is_active = bool(is_active)
    if _specs_of(survey) != list(questions):
        answered = session.scalar(select(func.count()).select_from(SurveyResponse)
                                  .where(SurveyResponse.survey_id == survey.id))
        if answered:
            raise BadRequest("questions", "This survey has answers; its questions can no "
                                          "longer change.")
        for question in list(survey.questions):
            session.delete(question)
        session.flush()
        session.expire(survey, ["questions"])
        for position, spec in enumerate(questions):
            session.add(SurveyQuestion(survey_id=survey.id, position=position, kind=spec.kind,
                                       prompt=spec.prompt, choices=list(spec.choices),
                                       required=spec.required))
    session.flush()
    return survey


HAPPY_CALL_QUESTIONS = (("rating", "Price"), ("rating", "Quality"),
                        ("rating", "Staff behaviour"), ("text", "Comments"))


def find_happy_call_survey(session: Session) -> Survey | None:
    """The happy-call survey if a call has made it; reads only (for GET pages)."""
    return session.scalars(select(Survey).where(Survey.code == HAPPY_CALL_CODE)).first()


def happy_call_questions(session: Session) -> list[SurveyQuestion]:
    """The questions an operator is shown, by position: the survey's, or — before the
    first recorded call made it — unsaved ones, so showing the form writes nothing."""
    survey = find_happy_call_survey(session)
    if survey is not None:
        return list(survey.questions)
    return [SurveyQuestion(position=position, kind=kind, prompt=prompt, choices=[],
                           required=kind == "rating")
            for position, (kind, prompt) in enumerate(HAPPY_CALL_QUESTIONS)]


def happy_call_survey(session: Session, now: datetime) -> Survey:
    """The survey operators fill in on a happy call (S2), made on first use: by the
    first recorded call, in its unit of work."""
    survey = find_happy_call_survey(session)
    if survey is None:
        survey = Survey(code=HAPPY_CALL_CODE, title="Happy call", created_at=now,
                        description="Filled in by the operator during the call.")
        session.add(survey)
        session.flush()
        for position, (kind, prompt) in enumerate(HAPPY_CALL_QUESTIONS):
            session.add(SurveyQuestion(survey_id=survey.id, position=position, kind=kind,
                                       prompt=prompt, choices=[], required=kind == "rating"))
        session.flush()
        session.expire(survey, ["questions"])
    return survey


def open_surveys_statement(member: Member):
    """Active portal surveys this member has not answered yet."""
    answered = select(SurveyResponse.survey_id).where(SurveyResponse.member_id == member.id)
    return (select(Survey).where(Survey.is_active, Survey.code.is_(None),
                                 Survey.id.not_in(answered))
            .order_by(Survey.id.desc()))


def member_survey(session: Session, member: Member, survey_id: int) -> Survey | None:
    return session.scalars(open_surveys_statement(member).where(Survey.id == survey_id)).first()


def _clean(question: SurveyQuestion, raw) -> tuple[int | None, str] | None:
    """(rating, text) for one raw answer, or None when it was left empty."""
    name = f"q{question.id}"
    text = normalize_digits(str(raw)).strip() if raw is not None else ""
    if not text:
        if question.required:
            raise BadRequest(name, "This question needs an answer.")
        return None
    if question.kind == "rating":
        if text not in ("1", "2", "3", "4", "5"):
            raise BadRequest(name, "Choose a rating from 1 to 5.")
        return int(text), ""
    if question.kind == "choice":
        if text not in question.choices:
            raise BadRequest(name, "Choose one of the options.")
        return None, text
    if len(text) > MAX_TEXT_LENGTH:
        raise BadRequest(name, "At most 2000 characters.")
    return None, text


def record_answers(session: Session, survey: Survey, *, member_id: int, answers: dict,
                   now: datetime, staff_user_id: int | None = None,
                   call_task_id: int | None = None) -> SurveyResponse:
    """Validate every answer (keys: question ids, as int or str) and add the response;
    the caller commits. Unknown question ids are refused by name."""
    by_id = {question.id: question for question in survey.questions}
    for key in answers:
        if not str(key).isdigit() or int(key) not in by_id:
            raise BadRequest(f"q{key}"[:40], "No such question in this survey.")
    values = {int(key): value for key, value in answers.items()}
    cleaned = {qid: _clean(question, values.get(qid)) for qid, question in by_id.items()}
    response = SurveyResponse(survey_id=survey.id, member_id=member_id, created_at=now,
                              staff_user_id=staff_user_id, call_task_id=call_task_id)
    session.add(response)
    session.flush()
    for qid, answer in cleaned.items():
        if answer is not None:
            session.add(SurveyAnswer(response_id=response.id, question_id=qid,
                                     rating=answer[0], text=answer[1]))
    session.flush()
    return response


def submit_member_response(session: Session, *, survey_id: int, member: Member, answers: dict,
                           now: datetime) -> SurveyResponse:
    """A member answers a portal survey, once; one unit of work (no audit row: the
    member acts for themselves)."""
    with unit_of_work(session, SYSTEM):
        survey = member_survey(session, member, survey_id)
        if survey is None:
            raise BadRequest("survey", "This survey is closed or already answered.")
        return record_answers(session, survey, member_id=member.id, answers=answers, now=now)


@dataclass
class QuestionReport:
    question: SurveyQuestion
    answers: int = 0
    average: float | None = None
    counts: dict = field(default_factory=dict)  # rating or choice -> count
    texts: list = field(default_factory=list)   # (created_at, text), newest first


@dataclass
class SurveyReport:
    survey: Survey
    responses: int
    questions: list[QuestionReport]


def report(session: Session, survey: Survey) -> SurveyReport:
    responses = session.scalar(select(func.count()).select_from(SurveyResponse)
                               .where(SurveyResponse.survey_id == survey.id))
    rows = []
    for question in survey.questions:
        item = QuestionReport(question)
        base = select(SurveyAnswer).where(SurveyAnswer.question_id == question.id)
        if question.kind == "rating":
            count, average = session.execute(
                select(func.count(SurveyAnswer.id), func.avg(SurveyAnswer.rating))
                .where(SurveyAnswer.question_id == question.id)).one()
            item.answers = count
            item.average = round(float(average), 2) if average is not None else None
            item.counts = dict(session.execute(
                select(SurveyAnswer.rating, func.count()).where(
                    SurveyAnswer.question_id == question.id).group_by(SurveyAnswer.rating)).all())
        elif question.kind == "choice":
            item.counts = dict(session.execute(
                select(SurveyAnswer.text, func.count()).where(
                    SurveyAnswer.question_id == question.id).group_by(SurveyAnswer.text)).all())
            item.answers = sum(item.counts.values())
        else:
            item.answers = session.scalar(select(func.count()).select_from(base.subquery()))
            item.texts = session.execute(
                select(SurveyResponse.created_at, SurveyAnswer.text)
                .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
                .where(SurveyAnswer.question_id == question.id)
                .order_by(SurveyResponse.created_at.desc(), SurveyAnswer.id.desc())
                .limit(REPORT_TEXTS)).all()
        rows.append(item)
    return SurveyReport(survey, responses, rows)
