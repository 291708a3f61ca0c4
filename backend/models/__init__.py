"""SQLAlchemy 2.0 models. Every schema change comes with an Alembic migration."""

from backend.models.api_tokens import ApiToken
from backend.models.base import Base, UTCDateTime, utc_now
from backend.models.club import AuditLog, Branch, Club, LoginAttempt, StaffUser, Tier, the_club
from backend.models.devices import Device, TerminalRequest
from backend.models.engagement import (
    CallTask,
    FaqEntry,
    NewsPost,
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
)
from backend.models.firmware import FirmwareBuild, FirmwareBuildFile, FirmwareRollout
from backend.models.fleet import TerminalHealth
from backend.models.imports import MemberImport
from backend.models.ledger import LedgerEntry, LedgerTransaction, Purchase
from backend.models.loyalty import (
    CreditAllocation,
    CreditGrant,
    CreditLot,
    CreditTransfer,
    InstalmentPlan,
    InstrumentEvent,
    Offer,
    OfferRedemption,
    PaymentInstrument,
    PointsLot,
    Product,
    PurchaseItem,
    Refund,
    Reward,
    RewardRedemption,
    TierChange,
)
from backend.models.members import Card, Member, MemberField, MemberRequest
from backend.models.messages import (
    Campaign,
    CampaignRecipient,
    JobRun,
    Message,
    MessageSettings,
    MessageTemplate,
    VerificationCode,
)
from backend.models.provisioning import CardBatch, CardSerialCounter, EnrolmentToken
from backend.models.reports import (
    MemberMonthSales,
    MemberScore,
    ReportMonth,
    SegmentAudienceMember,
    SegmentRule,
    SegmentRuleRun,
)

__all__ = [
    "MemberMonthSales",
    "ReportMonth",
    "the_club",
    "ApiToken",
    "CallTask",
    "FaqEntry",
    "NewsPost",
    "Survey",
    "SurveyAnswer",
    "SurveyQuestion",
    "SurveyResponse",
    "AuditLog",
    "Base",
    "Branch",
    "Card",
    "CardBatch",
    "CardSerialCounter",
    "Club",
    "CreditAllocation",
    "CreditGrant",
    "CreditLot",
    "CreditTransfer",
    "InstalmentPlan",
    "InstrumentEvent",
    "Device",
    "FirmwareBuild",
    "FirmwareBuildFile",
    "FirmwareRollout",
    "TerminalHealth",
    "EnrolmentToken",
    "LedgerEntry",
    "LedgerTransaction",
    "LoginAttempt",
    "Member",
    "MemberField",
    "MemberImport",
    "MemberRequest",
    "MemberScore",
    "Offer",
    "OfferRedemption",
    "PaymentInstrument",
    "PointsLot",
    "Reward",
    "RewardRedemption",
    "Product",
    "Purchase",
    "PurchaseItem",
    "Refund",
    "SegmentAudienceMember",
    "SegmentRule",
    "SegmentRuleRun",
    "StaffUser",
    "TerminalRequest",
    "Tier",
    "TierChange",
    "UTCDateTime",
    "utc_now",
    # Messages (backend/models/messages.py).
    "Campaign",
    "CampaignRecipient",
    "JobRun",
    "Message",
    "MessageSettings",
    "MessageTemplate",
    "VerificationCode",
]
