"""Campaigns (N3): pick a segment, preview count and cost, send with a hold-out group.

A segment combines the member's tier, home branch, visits, spend, birthday month, LRFM
segment (L12, as of the last nightly scoring) and a segment rule's audience list.

Eligible members are those the segment selects who can and may get the message: not a
gift account, with a mobile (SMS) or email (email), and not opted out of promotional
messages. At send time a random `holdout_percent` of them is held out — recorded in
`campaign_recipient` with `held_out` true and sent nothing — so a report can compare
them with the members who got it (R3). Everything happens in one transaction: the
campaign, every recipient row and every queued message, or nothing.

SMS costs are counted in parts (backend.notifications.sms) after each member's text is
rendered; a campaign that does not fit in the quota above the transactional reserve
(less what is already queued) is refused whole.
"""

import random
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import jdatetime
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from backend.errors import BadRequest, DomainError
from backend.models import (
    Branch,
    Campaign,
    CampaignRecipient,
    Club,
    Member,
    MemberScore,
    Message,
    MessageSettings,
    Offer,
    SegmentAudienceMember,
    SegmentRule,
    Tier,
    the_club,
)
from backend.models.reports import SEGMENTS
from backend.notifications import outbox, sms, templates
from backend.notifications.dispatcher import common_values, settings
from backend.unit_of_work import Actor, unit_of_work

MAX_RECIPIENTS = 100_000
MAX_HOLDOUT_PERCENT = 50


class TextRefused(BadRequest):
    """A campaign text with a placeholder error; `msgid` and `params` for translation."""

    def __init__(self, error: templates.TemplateError):
        super().__init__("body", str(error))
        self.msgid, self.params = error.msgid, error.params


class NotEnoughSms(DomainError):
    code = "LIMIT"
    http_status = 409

    def __init__(self, needed: int, left: int):
        super().__init__(f"this campaign needs {needed} SMS parts; {left} are left")
        self.needed, self.left = needed, left


@dataclass(frozen=True)
class Segment:
    """Who a campaign is for; every criterion given must hold (AND)."""

    tier_ids: tuple[int, ...] = ()
    branch_id: int | None = None
    # Visited within the last N days / not visited for N days (never counts as not).
    visited_within_days: int | None = None
    absent_for_days: int | None = None
    min_spend_rials: int | None = None
    max_spend_rials: int | None = None
    min_purchases: int | None = None
    # Jalali month of birth, 1 (Farvardin) … 12 (Esfand).
    birthday_month: int | None = None
    # LRFM segments (backend.models.reports.SEGMENTS) as of the last nightly scoring; a
    # member in any of them matches.
    lrfm_segments: tuple[str, ...] = ()
    # The member list a segment rule with the "audience" action keeps (L12).
    audience_rule_id: int | None = None

    def as_json(self) -> dict:
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in asdict(self).items() if value not in (None, ())}

    @classmethod
    def from_json(cls, data: dict) -> "Segment":
        values = dict(data or {})
        values["tier_ids"] = tuple(values.get("tier_ids", ()))
        values["lrfm_segments"] = tuple(values.get("lrfm_segments", ()))
        return cls(**values)


@dataclass
class Preview:
    eligible: int
    recipients: int
    held_out: int
    parts_per_message: int  # the longest text's parts
    total_parts: int
    cost_rials: int
    available_parts: int | None  # None for email
    member_ids: list[int] = field(default_factory=list, repr=False)
    # The rows themselves: held here, the session's identity map (weak) keeps them too.
    members: list = field(default_factory=list, repr=False)
    bodies: dict[int, str] = field(default_factory=dict, repr=False)

    @property
    def fits(self) -> bool:
        return self.available_parts is None or self.total_parts <= self.available_parts


def check_segment(session: Session, segment: Segment) -> None:
    for tier_id in segment.tier_ids:
        if session.get(Tier, tier_id) is None:
            raise BadRequest("tier_ids", "Choose tiers from the list.")
    if segment.branch_id is not None and session.get(Branch, segment.branch_id) is None:
        raise BadRequest("branch_id", "Choose a branch.")
    if segment.birthday_month is not None and not 1 <= segment.birthday_month <= 12:
        raise BadRequest("birthday_month", "Choose a month.")
    if any(code not in SEGMENTS for code in segment.lrfm_segments):
        raise BadRequest("lrfm_segments", "Choose segments from the list.")
    if segment.audience_rule_id is not None:
        rule = session.get(SegmentRule, segment.audience_rule_id)
        if rule is None or rule.action != "audience":
            raise BadRequest("audience_rule_id", "Choose an audience rule from the list.")
    for name in ("visited_within_days", "absent_for_days", "min_spend_rials",
                 "max_spend_rials", "min_purchases"):
        value = getattr(segment, name)
        if value is not None and (type(value) is not int or value < 0):
            raise BadRequest(name, "Must be a positive whole number")


def eligible_statement(segment: Segment, channel: str, now: datetime):
    statement = select(Member).where(Member.is_gift_account.is_(False),
                                     Member.promotional_opt_out.is_(False))
    if channel == "sms":
        statement = statement.where(Member.mobile.is_not(None))
    else:
        statement = statement.where(Member.email != "")
    if segment.tier_ids:
        statement = statement.where(Member.tier_id.in_(segment.tier_ids))
    if segment.branch_id is not None:
        statement = statement.where(Member.home_branch_id == segment.branch_id)
    if segment.visited_within_days is not None:
        statement = statement.where(
            Member.last_visit_at >= now - timedelta(days=segment.visited_within_days))
    if segment.absent_for_days is not None:
        statement = statement.where(or_(
            Member.last_visit_at.is_(None),
            Member.last_visit_at < now - timedelta(days=segment.absent_for_days)))
    if segment.min_spend_rials is not None:
        statement = statement.where(Member.total_spend_rials >= segment.min_spend_rials)
    if segment.max_spend_rials is not None:
        statement = statement.where(Member.total_spend_rials <= segment.max_spend_rials)
    if segment.min_purchases is not None:
        statement = statement.where(Member.purchase_count >= segment.min_purchases)
    if segment.birthday_month is not None:
        statement = statement.where(Member.birth_date.is_not(None))
    if segment.lrfm_segments:
        statement = statement.where(Member.id.in_(select(MemberScore.member_id).where(
            MemberScore.segment.in_(segment.lrfm_segments))))
    if segment.audience_rule_id is not None:
        statement = statement.where(Member.id.in_(select(SegmentAudienceMember.member_id).where(
            SegmentAudienceMember.rule_id == segment.audience_rule_id)))
    return statement.order_by(Member.id)


def eligible_members(session: Session, segment: Segment, channel: str,
                     now: datetime) -> list[Member]:
    check_segment(session, segment)
    rows = session.scalars(eligible_statement(segment, channel, now).limit(
        MAX_RECIPIENTS + 1)).all()
    if segment.birthday_month is not None:
        # Jalali months do not map onto a Gregorian range the same way every year, so
        # this one criterion is applied here rather than in SQL.
        rows = [member for member in rows if jdatetime.date.fromgregorian(
            date=member.birth_date).month == segment.birthday_month]
    if len(rows) > MAX_RECIPIENTS:
        raise BadRequest("segment", "A campaign reaches at most 100000 members; narrow "
                                    "the segment.")
    return rows


def render_for(body: str, member: Member, language: str, club: Club | None,
               offer: Offer | None, config: dict) -> str:
    unit = club.currency_display if club is not None else "rial"
    values = common_values(member, club, language, config)
    tier = member.tier
    values.update(templates.values_for({
        "tier": {"fa": tier.name_fa or tier.name, "en": tier.name},
        "credit_balance": member.credit_balance_rials,
        "points_balance": member.points_balance}, language, unit))
    values["offer"] = offer.name if offer is not None else ""
    return templates.render(body, values)


def _pending_promotional_parts(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(Message.parts), 0)).where(
        Message.channel == "sms", Message.category == "promotional",
        Message.status.in_(("queued", "sending")))))


def available_parts(session: Session) -> int:
    """SMS parts a new promotional send may still use: the quota less what was sent,
    the transactional reserve and promotional messages already queued."""
    current = settings(session)
    return max(0, current.sms_quota - current.sms_used - current.sms_promotional_reserve
               - _pending_promotional_parts(session))


def preview(session: Session, *, segment: Segment, channel: str, body: str, language: str,
            holdout_percent: int, offer_id: int | None, now: datetime,
            config: dict | None = None) -> Preview:
    """Count and price a campaign without writing anything."""
    if channel not in ("sms", "email"):
        raise BadRequest("channel", "Choose SMS or email.")
    if language not in templates.LANGUAGES:
        raise BadRequest("language", "Choose a language.")
    if not 0 <= holdout_percent <= MAX_HOLDOUT_PERCENT:
        raise BadRequest("holdout_percent", "The hold-out is 0–50 percent.")
    try:
        body = templates.check(body, templates.CAMPAIGN_PLACEHOLDERS)
    except templates.TemplateError as error:
        raise TextRefused(error) from None
    offer = session.get(Offer, offer_id) if offer_id else None
    if offer_id and offer is None:
        raise BadRequest("offer_id", "Choose an offer.")
    members = eligible_members(session, segment, channel, now)
    held_count = (len(members) * holdout_percent + 50) // 100
    club = the_club(session)
    bodies = {member.id: render_for(body, member, language, club, offer, config or {})
              for member in members}
    parts = {member_id: sms.parts(text) for member_id, text in bodies.items()}
    # Who is held out is drawn at send time; the cost assumes the longest texts are sent.
    sent_parts = sorted(parts.values(), reverse=True)[:len(members) - held_count]
    total = sum(sent_parts) if channel == "sms" else 0
    current: MessageSettings = settings(session)
    return Preview(
        eligible=len(members), recipients=len(members) - held_count, held_out=held_count,
        parts_per_message=max(parts.values(), default=0) if channel == "sms" else 0,
        total_parts=total, cost_rials=total * current.sms_part_price_rials,
        available_parts=available_parts(session) if channel == "sms" else None,
        member_ids=[member.id for member in members], members=members, bodies=bodies)


def send(session: Session, *, name: str, segment: Segment, channel: str, body: str,
         language: str, holdout_percent: int, offer_id: int | None, request_key: str,
         actor: Actor, now: datetime, config: dict | None = None,
         rng: random.Random | None = None) -> Campaign:
    """Create the campaign, draw the hold-out, queue the messages, audited
    `send_campaign`; one unit of work.

    A `request_key` seen before returns that campaign and sends nothing again."""
    earlier = session.scalars(select(Campaign).where(Campaign.request_key == request_key)
                              ).one_or_none()
    if earlier is not None:
        return earlier
    with unit_of_work(session, actor) as work:
        work.audit("send_campaign", "campaign", "",
                   {"name": name, "segment": segment.as_json()})
        return _send(session, name=name, segment=segment, channel=channel, body=body,
                     language=language, holdout_percent=holdout_percent, offer_id=offer_id,
                     request_key=request_key, staff_user_id=actor.staff_user_id, now=now,
                     config=config, rng=rng)


def _send(session: Session, *, name: str, segment: Segment, channel: str, body: str,
          language: str, holdout_percent: int, offer_id: int | None, request_key: str,
          staff_user_id: int | None, now: datetime, config: dict | None,
          rng: random.Random | None) -> Campaign:
    name = (name or "").strip()
    if not name:
        raise BadRequest("name", "This field is required.")
    result = preview(session, segment=segment, channel=channel, body=body, language=language,
                     holdout_percent=holdout_percent, offer_id=offer_id, now=now,
                     config=config)
    if result.eligible == 0:
        raise BadRequest("segment", "No member is in this segment.")
    rng = rng or random.SystemRandom()
    held = set(rng.sample(result.member_ids, result.held_out))
    sent_parts = sum(sms.parts(result.bodies[member_id]) for member_id in result.member_ids
                     if member_id not in held) if channel == "sms" else 0
    left = available_parts(session) if channel == "sms" else 0
    if channel == "sms" and sent_parts > left:
        raise NotEnoughSms(sent_parts, left)
    campaign = Campaign(
        name=name[:120], channel=channel, language=language, body=body.strip(),
        segment=segment.as_json(), holdout_percent=holdout_percent, offer_id=offer_id,
        status="sent", request_key=request_key, created_by_id=staff_user_id,
        created_at=now, sent_at=now, eligible_count=result.eligible,
        recipient_count=result.eligible - len(held), held_out_count=len(held),
        sms_parts=sent_parts, sms_part_price_rials=settings(session).sms_part_price_rials)
    session.add(campaign)
    session.flush()
    queued = {}
    for member_id in result.member_ids:
        if member_id in held:
            continue
        member = session.get(Member, member_id)  # held by the preview: no query
        queued[member_id] = outbox.enqueue(
            session, kind="campaign", category="promotional", channel=channel,
            recipient=member.mobile if channel == "sms" else member.email, member=member,
            body=result.bodies[member_id], subject=name[:200], language=language, now=now,
            campaign_id=campaign.id, dedupe_key=f"campaign:{campaign.id}:{member_id}")
    session.flush()  # one batched INSERT for all messages: their ids for the recipients
    session.add_all([
        CampaignRecipient(campaign_id=campaign.id, member_id=member_id,
                          held_out=member_id in held,
                          message_id=None if member_id in held else queued[member_id].id)
        for member_id in result.member_ids])
    session.flush()
    return campaign


def status_counts(session: Session, campaign_id: int) -> dict[str, int]:
    """Messages of a campaign by status (queued, sending, sent, delivered, failed…)."""
    return dict(session.execute(
        select(Message.status, func.count()).where(Message.campaign_id == campaign_id)
        .group_by(Message.status)).all())
