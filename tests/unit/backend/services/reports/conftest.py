"""A small club whose numbers a reader can check on paper (docs/reports.md uses it too).

Periods (Jalali, 1405): Shahrivar = 2026-08-23…09-22, Mehr = 09-23…10-22,
Aban = 10-23…11-21. Purchases happen at noon Tehran time. Tier A and tier B; branch X
and branch Y. Amounts in rials.

member  tier joined       Shahrivar   Mehr                      Aban
m1      A    1405/01/10               1,000,000                 1,000,000 (100 points);
                                                                3,000,000 (300 points,
                                                                credit +150,000 −100,000)
m2      A    1405/02/01               2,000,000                 2,000,000 (credit −50,000)
m3      A    1405/03/01               500,000 + 500,000          —
m4      B    1405/04/01               4,000,000 at branch Y      —
m5      B    1405/05/01               —                         3 × 1,000,000, each with
                                                                100,000 discount, 100 points
                                                                and credit +50,000
m6      A    1405/08/10                                         600,000
m7      A    1405/08/15                                         —
m8      B    1404/12/01  1,000,000    —                         —
m9      A    1405/01/01               1,000,000                 5,000,000 refunded in full
m10     B    1405/01/01               1,000,000 at branch Y     2,000,000 at branch Y,
                                                                500,000 of it refunded
m11     A    1405/07/05               800,000                   700,000
m12     A    1405/07/20               —                         —
gift    A    1405/08/20   (a gift card's holder account: never a member in the reports)
"""

from dataclasses import dataclass
from datetime import datetime

import jdatetime
import pytest

from backend.engine.calendar import CLUB_TIMEZONE
from backend.models import LedgerTransaction, Purchase
from tests import factories


def noon(jalali_date: str) -> datetime:
    """Noon in Tehran on a Jalali date like '1405/08/05', as an aware datetime."""
    year, month, day = (int(part) for part in jalali_date.split("/"))
    gregorian = jdatetime.date(year, month, day).togregorian()
    return datetime(gregorian.year, gregorian.month, gregorian.day, 12, tzinfo=CLUB_TIMEZONE)


@dataclass
class PaperClub:
    db: object
    tier_a: object
    tier_b: object
    branch_x: object
    branch_y: object
    members: dict

    def buy(self, name, when, amount, *, branch=None, **fields):
        return record_purchase(self.db, self.members[name], noon(when), amount,
                               (branch or self.branch_x).id, **fields)


def record_purchase(db, member, moment, amount, branch_id, *, discount=0, credit_used=0,
                    credit_earned=0, points=0, refunded=0):
    """A purchase row with its ledger transaction, numbers as given (no engine): report
    tests need exact, hand-picked numbers."""
    transaction = LedgerTransaction(
        idempotency_key=f"paper:{member.id}:{moment.isoformat()}:{amount}:{points}",
        kind="purchase", member_id=member.id, reason=f"purchase of {amount:,} rials",
        created_at=moment)
    db.add(transaction)
    db.flush()
    purchase = Purchase(
        member_id=member.id, card_id=member.cards[0].id, branch_id=branch_id,
        ledger_transaction_id=transaction.id, amount_rials=amount, discount_rials=discount,
        credit_used_rials=credit_used, payable_rials=amount - discount - credit_used,
        credit_earned_rials=credit_earned, points_earned=points, refunded_amount_rials=refunded,
        created_at=moment)
    db.add(purchase)
    db.flush()
    return purchase


@pytest.fixture
def paper(db):
    factories.club(db, point_value_rials=100)
    tier_a = factories.tier(db, code="tier-a", name="A", rank=1)
    tier_b = factories.tier(db, code="tier-b", name="B", rank=2)
    branch_x, branch_y = factories.branch(db, name="X"), factories.branch(db, name="Y")
    joined = {"m1": ("A", "1405/01/10"), "m2": ("A", "1405/02/01"), "m3": ("A", "1405/03/01"),
              "m4": ("B", "1405/04/01"), "m5": ("B", "1405/05/01"), "m6": ("A", "1405/08/10"),
              "m7": ("A", "1405/08/15"), "m8": ("B", "1404/12/01"), "m9": ("A", "1405/01/01"),
              "m10": ("B", "1405/01/01"), "m11": ("A", "1405/07/05"),
              "m12": ("A", "1405/07/20")}
    members = {}
    for name, (tier, when) in joined.items():
        members[name] = factories.member(
            db, first_name=name, tier_id=(tier_a if tier == "A" else tier_b).id,
            home_branch_id=branch_x.id, joined_at=noon(when))
    members["gift"] = factories.member(db, first_name="gift", tier_id=tier_a.id,
                                       mobile=None, is_gift_account=True,
                                       joined_at=noon("1405/08/20"))
    club = PaperClub(db, tier_a, tier_b, branch_x, branch_y, members)
    club.buy("m8", "1405/06/10", 1_000_000)
    club.buy("m1", "1405/07/05", 1_000_000)
    club.buy("m2", "1405/07/06", 2_000_000)
    club.buy("m3", "1405/07/07", 500_000)
    club.buy("m3", "1405/07/20", 500_000)
    club.buy("m4", "1405/07/08", 4_000_000, branch=branch_y)
    club.buy("m9", "1405/07/09", 1_000_000)
    club.buy("m10", "1405/07/10", 1_000_000, branch=branch_y)
    club.buy("m11", "1405/07/11", 800_000)
    club.buy("m1", "1405/08/02", 1_000_000, points=100)
    club.buy("m1", "1405/08/20", 3_000_000, points=300, credit_earned=150_000,
             credit_used=100_000)
    club.buy("m2", "1405/08/03", 2_000_000, credit_used=50_000)
    for day in ("1405/08/04", "1405/08/11", "1405/08/18"):
        club.buy("m5", day, 1_000_000, discount=100_000, points=100, credit_earned=50_000)
    club.buy("m6", "1405/08/12", 600_000)
    club.buy("m9", "1405/08/05", 5_000_000, refunded=5_000_000)
    club.buy("m10", "1405/08/06", 2_000_000, branch=branch_y, refunded=500_000)
    club.buy("m11", "1405/08/07", 700_000)
    db.commit()
    return club
