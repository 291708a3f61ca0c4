"""Campaign effectiveness (R3, "which offer worked"): each campaign's recipients against
its hold-out, through `effectiveness.measure_effect`.

The hold-out was drawn at random when the campaign was sent (`campaign_recipient` rows
with `held_out`), so the two groups differ only by chance and by the message: the
difference in differences of their sales is the campaign's effect, not an estimate
biased by who was chosen. Every recipient counts as treated, delivered or not (intention
to treat: dropping the undelivered would undo the randomisation).

- Exposure: the send time. Windows: `WINDOW_DAYS` days before and after it, or as many
  whole days as have passed since the send (at least one) while the campaign is young,
  so the two windows stay equal.
- Cost: the SMS parts of the messages that went or will go out (not failed or
  cancelled) × the part price recorded at send time, plus the rewards (discounts, credit
  and points at the club's point value) the linked offer gave recipients in the window
  after the send. All of the recipients' rewards count, not only the extra ones the
  campaign brought, so the ROI errs on the low side.
- Branch and tier filters narrow both groups alike to members whose home branch is the
  branch and whose tier is the tier (the randomisation holds inside any such slice); the
  cost is then that slice's messages and rewards.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from backend.i18n import N_
from backend.models import (
    Campaign,
    CampaignRecipient,
    Member,
    Message,
    OfferRedemption,
    the_club,
)
from backend.services.reports.effectiveness import Effect, measure_effect
from backend.services.reports.sql import Filters, as_int
from backend.services.reports.tables import Chart, Column, Table

WINDOW_DAYS = 30
# Below this many members in either group the normal approximation behind the margin is
# poor: the page calls the result a hint.
MIN_GROUP_MEMBERS = 30
# Campaigns listed per report, newest first (a club sends a few a month).
MAX_CAMPAIGNS = 100
CHARGED_STATUSES = ("queued", "sending", "sent", "delivered")

VERDICTS = {
    "no_hold_out": N_("No held-out members: nothing to compare with."),
    "too_few": N_("Too few members to tell (under 30 in a group): a hint, not an answer."),
    "unclear": N_("Within the margin of chance: no clear effect."),
    "clear": N_("Beyond the margin of chance (95 percent confidence)."),
}


@dataclass(frozen=True)
class CampaignCost:
    sms_parts: int
    sms_rials: int
    offer_rials: int

    @property
    def total_rials(self) -> int:
        return self.sms_rials + self.offer_rials


@dataclass(frozen=True)
class CampaignEffect:
    campaign_id: int
    name: str
    sent_at: datetime
    window_days: int  # measured on each side of the send
    complete: bool    # the full WINDOW_DAYS have passed
    effect: Effect
    cost: CampaignCost

    @property
    def verdict(self) -> str:
        """One of VERDICTS: how far the incremental figure can be trusted."""
        treated, control = self.effect.treated.members, self.effect.control.members
        if control == 0:
            return "no_hold_out"
        margin = self.effect.margin_per_member_rials
        if margin is None or min(treated, control) < MIN_GROUP_MEMBERS:
            return "too_few"
        incremental = self.effect.incremental_per_member_rials
        return "clear" if incremental is not None and abs(incremental) > margin else "unclear"


def _group(campaign_id: int, held_out: bool, branch_id: int | None,
           tier_id: int | None) -> Select:
    statement = select(CampaignRecipient.member_id).where(
        CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.held_out.is_(held_out))
    if branch_id is not None or tier_id is not None:
        members = select(Member.id)
        if branch_id is not None:
            members = members.where(Member.home_branch_id == branch_id)
        if tier_id is not None:
            members = members.where(Member.tier_id == tier_id)
        statement = statement.where(CampaignRecipient.member_id.in_(members))
    return statement


def window_days(sent_at: datetime, now: datetime) -> int:
    """Whole days since the send, between 1 and WINDOW_DAYS."""
    return max(1, min(WINDOW_DAYS, (now - sent_at) // timedelta(days=1)))


def measure(session: Session, campaign: Campaign, now: datetime, *,
            branch_id: int | None = None, tier_id: int | None = None,
            point_value_rials: int | None = None) -> CampaignEffect:
    """One campaign's effect and cost as of `now` (see the module docstring)."""
    assert campaign.sent_at is not None, "a campaign is measured once it is sent"
    days = window_days(campaign.sent_at, now)
    treated = _group(campaign.id, False, branch_id, tier_id)
    control = _group(campaign.id, True, branch_id, tier_id)
    parts = as_int(session.scalar(
        select(func.sum(Message.parts)).where(
            Message.id.in_(select(CampaignRecipient.message_id).where(
                CampaignRecipient.member_id.in_(treated),
                CampaignRecipient.campaign_id == campaign.id)),
            Message.channel == "sms", Message.status.in_(CHARGED_STATUSES))))
    offer_rials = 0
    if campaign.offer_id is not None:
        if point_value_rials is None:
            club = the_club(session)
            point_value_rials = club.point_value_rials if club is not None else 0
        offer_rials = as_int(session.scalar(
            select(func.sum(OfferRedemption.discount_rials + OfferRedemption.credit_rials
                            + OfferRedemption.points * point_value_rials))
            .where(OfferRedemption.offer_id == campaign.offer_id,
                   OfferRedemption.member_id.in_(treated),
                   OfferRedemption.created_at >= campaign.sent_at,
                   OfferRedemption.created_at < campaign.sent_at + timedelta(days=days))))
    cost = CampaignCost(parts, parts * campaign.sms_part_price_rials, offer_rials)
    effect = measure_effect(session, treated=treated, exposed_at=campaign.sent_at,
                            control=control, window_days=days, cost_rials=cost.total_rials)
    return CampaignEffect(campaign.id, campaign.name, campaign.sent_at, days,
                          now - campaign.sent_at >= timedelta(days=WINDOW_DAYS), effect, cost)


def table(session: Session, filters: Filters) -> Table:
    """Campaigns sent in the period, newest first, each against its hold-out."""
    now = filters.now or datetime.now(UTC)
    club = the_club(session)
    point_value = club.point_value_rials if club is not None else 0
    sent = session.scalars(
        select(Campaign).where(Campaign.sent_at >= filters.period.start,
                               Campaign.sent_at < filters.period.end,
                               Campaign.sent_at <= now)
        .order_by(Campaign.sent_at.desc(), Campaign.id.desc()).limit(MAX_CAMPAIGNS)).all()
    rows = []
    for campaign in sent:
        result = measure(session, campaign, now, branch_id=filters.branch_id,
                         tier_id=filters.tier_id, point_value_rials=point_value)
        effect = result.effect
        rows.append({
            "campaign_id": campaign.id, "campaign": campaign.name, "sent": campaign.sent_at,
            "days": result.window_days, "recipients": effect.treated.members,
            "held_out": effect.control.members,
            "treated_change": _rounded(effect.treated.change_per_member),
            "control_change": _rounded(effect.control.change_per_member),
            "per_member": _rounded(effect.incremental_per_member_rials),
            "margin": _rounded(effect.margin_per_member_rials),
            "incremental": effect.incremental_sales_rials,
            "cost": result.cost.total_rials, "roi": effect.roi,
            "note": VERDICTS[result.verdict],
        })
    return Table(
        "campaigns", N_("Campaign effectiveness"),
        [Column("campaign", N_("Campaign"), "text"), Column("sent", N_("Sent on"), "datetime"),
         Column("days", N_("Days measured")), Column("recipients", N_("Recipients")),
         Column("held_out", N_("Held out")),
         Column("treated_change", N_("Sales change per recipient"), "money"),
         Column("control_change", N_("Sales change per held-out member"), "money"),
         Column("per_member", N_("Incremental sales per recipient"), "money"),
         Column("margin", N_("Margin of chance (±, 95 %)"), "money"),
         Column("incremental", N_("Incremental sales"), "money"),
         Column("cost", N_("Cost"), "money"), Column("roi", N_("ROI"), "percent"),
         Column("note", N_("How sure"), "msgid")],
        rows, [Chart("bar", "campaign", ("incremental", "cost"),
                     N_("Incremental sales and cost"))],
        align_by="campaign_id")


def _rounded(value: float | None) -> int | None:
    return None if value is None else round(value)
