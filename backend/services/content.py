"""News and events (N4, P2) and the FAQ (P3): written by admins, read by members.

A post is shown to a member while it is active, inside its publish window, and either
for every member (no tier codes) or for the member's tier."""

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.errors import BadRequest
from backend.models import FaqEntry, Member, NewsPost, Tier
from backend.services.rows import save_row
from backend.unit_of_work import Actor, unit_of_work

NEWS_FIELDS = ("kind", "title", "body", "image_filename", "event_at", "publish_from",
               "publish_until", "tier_codes", "is_active")
MAX_BODY_LENGTH = 10_000


def _tier_codes(session: Session, text: str) -> str:
    codes = [code.strip() for code in (text or "").split(",") if code.strip()]
    known = set(session.scalars(select(Tier.code)))
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise BadRequest("tier_codes", "A tier code in the list does not exist.")
    return ",".join(dict.fromkeys(codes))


def save_post(session: Session, post_id: int | None, values: dict, now: datetime, *,
              actor: Actor) -> NewsPost:
    """Create or edit a news post, audited `create_news` or `edit_news`."""
    with unit_of_work(session, actor) as work:
        row = _save_post(session, post_id, values, now)
        work.audit("edit_news" if post_id else "create_news", "news_post", post_id or "",
                   {"title": values.get("title")})
        return row


def _save_post(session: Session, post_id: int | None, values: dict, now: datetime) -> NewsPost:
    unknown = set(values) - set(NEWS_FIELDS)
    assert not unknown, f"unknown news fields {unknown}"
    values = dict(values)
    if not (values.get("title") or "").strip():
        raise BadRequest("title", "This field is required.")
    values["title"] = values["title"].strip()[:160]
    if len(values.get("body") or "") > MAX_BODY_LENGTH:
        raise BadRequest("body", "At most 10000 characters.")
    if values.get("kind", "news") not in ("news", "event"):
        raise BadRequest("kind", "Choose news or event.")
    values["publish_from"] = values.get("publish_from") or now
    until = values.get("publish_until")
    if until is not None and until <= values["publish_from"]:
        raise BadRequest("publish_until", "The end must come after the start.")
    if values.get("kind") == "event" and values.get("event_at") is None:
        raise BadRequest("event_at", "An event needs its date.")
    values["tier_codes"] = _tier_codes(session, values.get("tier_codes", ""))
    return save_row(session, NewsPost, post_id, values, created_at=now)


def visible_posts_statement(member: Member | None, now: datetime):
    """Posts a member (or, with None, any visitor: posts for every tier) may read,
    newest first."""
    statement = select(NewsPost).where(
        NewsPost.is_active, NewsPost.publish_from <= now,
        or_(NewsPost.publish_until.is_(None), NewsPost.publish_until > now))
    tier_code = member.tier.code if member is not None else None
    audience = [NewsPost.tier_codes == ""]
    if tier_code:
        # Codes match [a-z0-9_-] (catalogue), so a comma-delimited LIKE is exact.
        audience.append(("," + NewsPost.tier_codes + ",").like(f"%,{tier_code},%"))
    return statement.where(or_(*audience)).order_by(NewsPost.publish_from.desc(),
                                                     NewsPost.id.desc())


def post_state(post: NewsPost, now: datetime) -> str:
    """Where one post stands for its readers at `now`: "off", "scheduled", "ended" or
    "shown" — the rule of `visible_posts_statement`, for a row the panel lists."""
    if not post.is_active:
        return "off"
    if post.publish_from > now:
        return "scheduled"
    if post.publish_until is not None and post.publish_until <= now:
        return "ended"
    return "shown"


def visible_post(session: Session, member: Member | None, post_id: int,
                 now: datetime) -> NewsPost | None:
    return session.scalars(visible_posts_statement(member, now)
                           .where(NewsPost.id == post_id)).first()


def save_faq(session: Session, entry_id: int | None, values: dict, *,
             actor: Actor) -> FaqEntry:
    """Create or edit an FAQ entry, audited `create_faq` or `edit_faq`."""
    with unit_of_work(session, actor) as work:
        row = _save_faq(session, entry_id, values)
        work.audit("edit_faq" if entry_id else "create_faq", "faq_entry", entry_id or "")
        return row


def _save_faq(session: Session, entry_id: int | None, values: dict) -> FaqEntry:
    question = (values.get("question") or "").strip()
    answer = (values.get("answer") or "").strip()
    if not question:
        raise BadRequest("question", "This field is required.")
    if not answer:
        raise BadRequest("answer", "This field is required.")
    if len(question) > 255 or len(answer) > MAX_BODY_LENGTH:
        raise BadRequest("answer", "At most 10000 characters.")
    clean = {"question": question, "answer": answer,
             "position": int(values.get("position") or 0),
             "is_active": bool(values.get("is_active", True))}
    return save_row(session, FaqEntry, entry_id, clean)


def faq_statement():
    return select(FaqEntry).where(FaqEntry.is_active).order_by(FaqEntry.position, FaqEntry.id)
