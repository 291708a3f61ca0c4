"""Reports and analytics (issue 7): LRFM scores, segment rules and the indexes the report
queries need on tables other modules own."""

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Amount, Base, UTCDateTime, utc_now
from backend.models.ledger import LedgerTransaction, Purchase
from backend.models.loyalty import OfferRedemption
from backend.models.members import Member

# Segment names, in the order their rules are tried (docs/reports.md "Segments").
SEGMENTS = ("no_purchase", "new", "champions", "loyal", "potential", "at_risk", "lost",
            "needs_attention")
RULE_ACTIONS = ("move_tier", "audience")


class MemberScore(Base):
    """A member's LRFM scores (L12), recomputed nightly by services.reports.lrfm.

    Scores are 1 (worst) … 5 (best) quintiles among members with at least one purchase;
    members without one have no scores and the segment `no_purchase`."""

    __tablename__ = "member_score"

    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), primary_key=True)
    computed_on: Mapped[date] = mapped_column(Date())
    first_purchase_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_purchase_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    length_days: Mapped[int | None] = mapped_column()
    recency_days: Mapped[int | None] = mapped_column()
    frequency: Mapped[int] = mapped_column(default=0)
    monetary_rials: Mapped[int] = mapped_column(Amount, default=0)
    length_score: Mapped[int | None] = mapped_column()
    recency_score: Mapped[int | None] = mapped_column()
    frequency_score: Mapped[int | None] = mapped_column()
    monetary_score: Mapped[int | None] = mapped_column()
    segment: Mapped[str] = mapped_column(String(24), index=True)
    # The segment at the run before; a rule's tier move acts on members entering a segment.
    previous_segment: Mapped[str | None] = mapped_column(String(24))

    __table_args__ = (
        CheckConstraint("segment IN ('" + "', '".join(SEGMENTS) + "')", name="segment_known"),
        *(CheckConstraint(f"{name}_score IS NULL OR {name}_score BETWEEN 1 AND 5",
                          name=f"{name}_score_range")
          for name in ("length", "recency", "frequency", "monetary")),
    )


class SegmentRule(Base):
    """An admin's rule run by the nightly job: members of a segment move to a tier, or are
    kept in a campaign audience (the rule's own member list)."""

    __tablename__ = "segment_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    segment: Mapped[str] = mapped_column(String(24))
    action: Mapped[str] = mapped_column(String(16))
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("tier.id"))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    __table_args__ = (
        CheckConstraint("segment IN ('" + "', '".join(SEGMENTS) + "')", name="segment_known"),
        CheckConstraint("action IN ('" + "', '".join(RULE_ACTIONS) + "')", name="action_known"),
        CheckConstraint("action <> 'move_tier' OR tier_id IS NOT NULL", name="move_has_tier"),
    )


class SegmentRuleRun(Base):
    """One rule's run on one Tehran day: the row that makes the nightly run idempotent."""

    __tablename__ = "segment_rule_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("segment_rule.id"))
    run_on: Mapped[date] = mapped_column(Date())
    members_changed: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    __table_args__ = (UniqueConstraint("rule_id", "run_on"),)


class SegmentAudienceMember(Base):
    """A member of an `audience` rule's list: the campaign side targets these rows."""

    __tablename__ = "segment_audience_member"

    rule_id: Mapped[int] = mapped_column(ForeignKey("segment_rule.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


# Indexes the report queries need on other modules' tables (range scans by time, per
# branch and per member; joins by time on the ledger). Declared here so the migration
# test sees them; created by migration 0010. The (member, time) index also carries the
# columns the cohort report and a purchase's tier window read, so neither reads the
# table (migration 0022, issue 19).
REPORT_INDEXES = (
    Index("ix_purchase_created_at", Purchase.created_at),
    Index("ix_purchase_branch_created", Purchase.branch_id, Purchase.created_at),
    Index("ix_purchase_member_report", Purchase.member_id, Purchase.created_at,
          Purchase.amount_rials, Purchase.refunded_amount_rials, Purchase.payable_rials,
          Purchase.branch_id),
    Index("ix_member_joined_at", Member.joined_at),
    Index("ix_ledger_transaction_created_at", LedgerTransaction.created_at),
    Index("ix_offer_redemption_created_at", OfferRedemption.created_at),
)


class ReportMonth(Base):
    """The club's Jalali months as the UTC instants of their local midnights (filled by
    migration 0024 for 1380–1479): what the purchase triggers look a purchase's month up
    in, since neither database knows the Jalali calendar."""

    __tablename__ = "report_month"

    start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    end: Mapped[datetime] = mapped_column(UTCDateTime())


class MemberMonthSales(Base):
    """A member's counted purchases (not refunded in full) of one Jalali month at one
    branch, summed: kept by database triggers on purchase insert, update and delete
    (migration 0024), so the purchase path writes nothing itself. Rows whose purchases
    were all refunded stay with zeros; readers take `purchases > 0`."""

    __tablename__ = "member_month_sales"

    month_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), primary_key=True)
    purchases: Mapped[int] = mapped_column(Amount)
    sales_rials: Mapped[int] = mapped_column(Amount)
    credit_used_rials: Mapped[int] = mapped_column(Amount)
    credit_earned_rials: Mapped[int] = mapped_column(Amount)
    discount_rials: Mapped[int] = mapped_column(Amount)
    points_earned: Mapped[int] = mapped_column(Amount)

    # Rows in key order (month first), without SQLite's rowid: a report's months are one
    # contiguous range to read, not 177,000 lookups scattered over the table (3× faster).
    __table_args__ = {"sqlite_with_rowid": False}
