"""What the club says to members and hears back: news and events (N4, P2), FAQ, surveys
and their answers (P3, S1), and the happy-call list (S2)."""

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import Base, UTCDateTime, utc_now
from backend.models.ledger import Purchase
from backend.models.members import Member


class NewsPost(Base):
    """A news item or an event, shown to members inside its publish window."""

    __tablename__ = "news_post"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), default="news")
    title: Mapped[str] = mapped_column(String(160))
    body: Mapped[str] = mapped_column(Text, default="")
    # A re-encoded PNG under instance/uploads/ (backend.services.branding), or "".
    image_filename: Mapped[str] = mapped_column(String(64), default="")
    # For events: when it happens (shown to members); None for news.
    event_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    publish_from: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    publish_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Comma-separated tier codes the post is for; empty = every member (as Offer does).
    tier_codes: Mapped[str] = mapped_column(String(255), default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    __table_args__ = (
        CheckConstraint("kind IN ('news', 'event')", name="kind_known"),
        CheckConstraint("publish_until IS NULL OR publish_until > publish_from",
                        name="window_ordered"),
    )


class FaqEntry(Base):
    __tablename__ = "faq_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    question: Mapped[str] = mapped_column(String(255))
    answer: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)


class Survey(Base):
    """A questionnaire. The happy-call survey is the one with code 'happy-call'; the
    others are answered by members in the portal, once each."""

    __tablename__ = "survey"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str | None] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(160))
    description: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    questions: Mapped[list["SurveyQuestion"]] = relationship(
        order_by="SurveyQuestion.position, SurveyQuestion.id", back_populates="survey")


class SurveyQuestion(Base):
    __tablename__ = "survey_question"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(8))
    prompt: Mapped[str] = mapped_column(String(255))
    # For kind "choice": the options, in display order.
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(default=True)

    survey: Mapped[Survey] = relationship(back_populates="questions")

    __table_args__ = (
        CheckConstraint("kind IN ('rating', 'choice', 'text')", name="kind_known"),
    )


class SurveyResponse(Base):
    """One member's answers to one survey: from the portal, or entered by an operator
    during a happy call (then `call_task_id` and `staff_user_id` are set)."""

    __tablename__ = "survey_response"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    call_task_id: Mapped[int | None] = mapped_column(ForeignKey("call_task.id"), unique=True)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    answers: Mapped[list["SurveyAnswer"]] = relationship(back_populates="response")
    member: Mapped[Member] = relationship()


class SurveyAnswer(Base):
    __tablename__ = "survey_answer"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_response.id"), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("survey_question.id"), index=True)
    rating: Mapped[int | None] = mapped_column()
    text: Mapped[str] = mapped_column(Text, default="")

    response: Mapped[SurveyResponse] = relationship(back_populates="answers")

    __table_args__ = (
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        UniqueConstraint("response_id", "question_id", name="uq_survey_answer_question"),
    )


class CallTask(Base):
    """A happy call (S2): phone the member within 24 h of their purchase. Written by the
    purchase itself, in its transaction, with one INSERT."""

    __tablename__ = "call_task"

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchase.id"), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # open → done (answered), no_answer, or open again with a later due_at (call later).
    status: Mapped[str] = mapped_column(String(10), default="open")
    attempts: Mapped[int] = mapped_column(default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    member: Mapped[Member] = relationship()
    purchase: Mapped[Purchase] = relationship()

    __table_args__ = (
        CheckConstraint("status IN ('open', 'done', 'no_answer')", name="status_known"),
        Index("ix_call_task_branch_status_due", "branch_id", "status", "due_at"),
    )
