"""Segments (L12): how many members each LRFM segment holds, and the admin's rules that
act on them every night — move a segment's members to a tier, or keep them in a
campaign audience (the rule's own member list, `segment_audience_member`).

Rules run after the scores (`nightly`), each at most once per Tehran day
(`segment_rule_run` is unique by rule and day). A tier move acts on members who entered
the segment since the previous scoring, so the nightly tier evaluation
(services.tiers.evaluate_all, by spend thresholds) and a segment rule do not undo each
other every night; each move is a `tier_change` row with the rule in its reason. An
audience follows its segment: members who entered are added, members who left removed.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from backend.errors import BadRequest
from backend.i18n import N_
from backend.models import (
    Member,
    MemberScore,
    SegmentAudienceMember,
    SegmentRule,
    SegmentRuleRun,
    Tier,
    TierChange,
)
from backend.models.base import UTCDateTime
from backend.models.reports import RULE_ACTIONS, SEGMENTS
from backend.services.reports import lrfm
from backend.services.reports.periods import local_date
from backend.services.reports.sql import Filters, member_conditions
from backend.services.reports.tables import Chart, Column, Table
from backend.unit_of_work import SYSTEM, Actor, unit_of_work

SEGMENT_TITLES = {
    "no_purchase": N_("No purchase yet"),
    "new": N_("New"),
    "champions": N_("Champions"),
    "loyal": N_("Loyal"),
    "potential": N_("Promising"),
    "at_risk": N_("At risk"),
    "lost": N_("Lost"),
    "needs_attention": N_("Needs attention"),
}
SEGMENT_RULES = {
    "no_purchase": N_("No purchase yet."),
    "new": N_("First purchase within the last 30 days."),
    "champions": N_("Recency, frequency and monetary scores all 4 or 5."),
    "loyal": N_("Frequency 4 or 5 and recency at least 3."),
    "potential": N_("Recency 4 or 5, not yet frequent."),
    "at_risk": N_("Recency 1 or 2 but frequency or monetary 4 or 5: valuable members "
                  "slipping away."),
    "lost": N_("Recency 1: the longest since their last purchase."),
    "needs_attention": N_("Everyone else."),
}
assert set(SEGMENT_TITLES) == set(SEGMENTS) == set(SEGMENT_RULES)


def summary(session: Session, filters: Filters) -> Table:
    """Members per segment with their average scores (as of the last nightly run)."""
    stats = {row.segment: row for row in session.execute(
        select(MemberScore.segment, func.count().label("members"),
               func.avg(MemberScore.length_score).label("length"),
               func.avg(MemberScore.recency_score).label("recency"),
               func.avg(MemberScore.frequency_score).label("frequency"),
               func.avg(MemberScore.monetary_score).label("monetary"),
               func.coalesce(func.sum(MemberScore.monetary_rials), 0).label("spend"))
        .join(Member, Member.id == MemberScore.member_id)
        .where(*member_conditions(filters)).group_by(MemberScore.segment))}
    rows = []
    for code in SEGMENTS:
        row = stats.get(code)
        rows.append({"code": code, "segment": code, "members": row.members if row else 0,
                     **{name: (float(getattr(row, name)) if row and getattr(row, name)
                               is not None else None)
                        for name in ("length", "recency", "frequency", "monetary")},
                     "spend": int(row.spend) if row else 0,
                     "rule": SEGMENT_RULES[code]})
    return Table("segments", N_("LRFM segments"),
                 [Column("segment", N_("Segment"), "segment"),
                  Column("members", N_("Members")),
                  Column("length", "L", "float"), Column("recency", "R", "float"),
                  Column("frequency", "F", "float"), Column("monetary", "M", "float"),
                  Column("spend", N_("Total spend"), "money"),
                  Column("rule", N_("Rule"), "msgid")],
                 rows, [Chart("bar", "segment", ("members",), N_("Members"))],
                 align_by="code")


def last_computed(session: Session):
    return session.scalar(select(func.max(MemberScore.computed_on)))


def create_rule(session: Session, *, name: str, segment: str, action: str,
                tier_id: int | None, actor: Actor) -> SegmentRule:
    """A segment rule, audited `create_segment_rule` with what was asked for."""
    with unit_of_work(session, actor) as work:
        work.audit("create_segment_rule", "segment_rule", "", {
            "name": name, "segment": segment, "action": action, "tier_id": tier_id})
        return _create_rule(session, name, segment, action, tier_id)


def _create_rule(session: Session, name: str, segment: str, action: str,
                 tier_id: int | None) -> SegmentRule:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise BadRequest("name", "give the rule a name of at most 120 characters")
    if segment not in SEGMENTS:
        raise BadRequest("segment", "choose a segment")
    if action not in RULE_ACTIONS:
        raise BadRequest("action", "choose what the rule does")
    if action == "move_tier":
        if tier_id is None or session.get(Tier, tier_id) is None:
            raise BadRequest("tier_id", "choose the tier to move members to")
    else:
        tier_id = None
    rule = SegmentRule(name=name, segment=segment, action=action, tier_id=tier_id)
    session.add(rule)
    session.flush()
    return rule


def set_rule_active(session: Session, rule_id: int, active: bool, *,
                    actor: Actor) -> SegmentRule:
    """Switch a rule on or off, audited `set_segment_rule_active`."""
    with unit_of_work(session, actor) as work:
        rule = session.get(SegmentRule, rule_id)
        if rule is None:
            raise BadRequest("rule", "no such rule")
        rule.is_active = active
        work.audit("set_segment_rule_active", "segment_rule", rule_id, {"active": active})
        return rule


@dataclass(frozen=True)
class RuleRun:
    rule_id: int
    members_changed: int
    skipped: bool  # already ran today


def _entered(rule: SegmentRule):
    """Members who are in the rule's segment and were not at the previous scoring."""
    return select(MemberScore.member_id).where(
        MemberScore.segment == rule.segment,
        or_(MemberScore.previous_segment.is_(None),
            MemberScore.previous_segment != rule.segment))


def _move_tier(session: Session, rule: SegmentRule, now: datetime) -> int:
    movers = select(Member.id).where(Member.id.in_(_entered(rule)),
                                     Member.tier_id != rule.tier_id,
                                     Member.is_gift_account.is_(False))
    # Lock first, as ledger.lock_member does, so a purchase's tier upgrade cannot slip in
    # between reading a member's tier and moving it.
    session.execute(update(Member).where(Member.id.in_(movers))
                    .values(lock_version=Member.lock_version + 1)
                    .execution_options(synchronize_session=False))
    reason = f"segment {rule.segment}: rule {rule.id} ({rule.name})"[:255]
    changes = select(Member.id, Member.tier_id, literal(rule.tier_id), literal(reason),
                     literal(now, UTCDateTime())).where(Member.id.in_(movers))
    session.execute(insert(TierChange).from_select(
        ["member_id", "from_tier_id", "to_tier_id", "reason", "created_at"], changes))
    moved = session.execute(update(Member).where(Member.id.in_(movers))
                            .values(tier_id=rule.tier_id)
                            .execution_options(synchronize_session=False)).rowcount
    return moved


def _sync_audience(session: Session, rule: SegmentRule, now: datetime) -> int:
    in_segment = select(MemberScore.member_id).join(Member, Member.id == MemberScore.member_id) \
        .where(MemberScore.segment == rule.segment, Member.is_gift_account.is_(False))
    listed = select(SegmentAudienceMember.member_id).where(
        SegmentAudienceMember.rule_id == rule.id)
    removed = session.execute(delete(SegmentAudienceMember).where(
        SegmentAudienceMember.rule_id == rule.id,
        SegmentAudienceMember.member_id.not_in(in_segment))).rowcount
    added = session.execute(insert(SegmentAudienceMember).from_select(
        ["rule_id", "member_id", "added_at"],
        select(literal(rule.id), in_segment.selected_columns[0], literal(now, UTCDateTime()))
        .select_from(MemberScore).join(Member, Member.id == MemberScore.member_id)
        .where(MemberScore.segment == rule.segment, Member.is_gift_account.is_(False),
               MemberScore.member_id.not_in(listed)))).rowcount
    return added + removed


def run_rules(session: Session, now: datetime) -> list[RuleRun]:
    """Run every active rule once for today's Tehran date; rules that ran today are
    skipped. The caller commits."""
    today = local_date(now)
    runs = []
    for rule in session.scalars(select(SegmentRule).where(SegmentRule.is_active)
                                .order_by(SegmentRule.id)):
        done = session.scalar(select(SegmentRuleRun.id).where(
            SegmentRuleRun.rule_id == rule.id, SegmentRuleRun.run_on == today))
        if done is not None:
            runs.append(RuleRun(rule.id, 0, True))
            continue
        changed = _move_tier(session, rule, now) if rule.action == "move_tier" \
            else _sync_audience(session, rule, now)
        session.add(SegmentRuleRun(rule_id=rule.id, run_on=today, members_changed=changed,
                                   created_at=now))
        session.flush()
        runs.append(RuleRun(rule.id, changed, False))
    return runs


@dataclass(frozen=True)
class NightlyResult:
    scores: lrfm.ScoreRun
    rules: list[RuleRun]


def nightly(session: Session, now: datetime) -> NightlyResult:
    """The nightly job's report step: LRFM scores, then segment rules, one unit of work."""
    with unit_of_work(session, SYSTEM):
        scores = lrfm.recompute(session, now)
        rules = run_rules(session, now)
    return NightlyResult(scores, rules)
