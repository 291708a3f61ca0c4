"""The demo club (feature O3): 2 branches, admin and operator logins, three tiers,
100 members each with a valid card and some history, and 2 terminals."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.models import Branch, Card, Club, JobRun, Member, StaffUser, Tier
from backend.services import devices, staff
from card_spec import make_card_number

DEMO_PREFIX = "990001"
DEMO_MEMBER_COUNT = 100
DEMO_LOGINS = {"admin": "admin1234", "operator": "operator1234"}
DEMO_WELCOME_CREDIT_RIALS = 50_000

FIRST_NAMES = [
    "Sara", "Ali", "Maryam", "Reza", "Zahra", "Hossein", "Fatemeh", "Mohammad", "Neda",
    "Amir", "Leila", "Mehdi", "Narges", "Hamid", "Shirin", "Omid", "Parisa", "Saeed",
    "Mina", "Kaveh",
]
LAST_NAMES = [
    "Ahmadi", "Karimi", "Hosseini", "Rezaei", "Moradi", "Jafari", "Ghasemi", "Sadeghi",
    "Rahimi", "Kazemi", "Mohammadi", "Hashemi", "Ebrahimi", "Najafi", "Shirazi",
]


@dataclass(frozen=True)
class DemoResult:
    member_count: int
    terminals: list[devices.DeviceCredentials]


def club_exists(session: Session) -> bool:
    return session.get(Club, 1) is not None


def seed_demo(session: Session, now: datetime, rng_seed: int = 1403) -> DemoResult:
    """Create the demo club in one transaction. Refuses to run on a non-empty database."""
    if club_exists(session):
        raise RuntimeError("the database already has a club; the demo needs an empty one")
    rng = random.Random(rng_seed)
    session.add(Club(
        id=1, name="Vafa Demo Club", name_fa="باشگاه مشتریان وفا", point_value_rials=100,
        # Double points on Saturdays, the first day of the Iranian week (L7).
        weekday_points_percent=[200, 100, 100, 100, 100, 100, 100],
        referral_join_bonus_rials=20_000, referral_first_purchase_bonus_rials=30_000,
        referral_commission_bp=100, max_transfer_rials=2_000_000,
        max_transfer_per_day_rials=5_000_000,
        # Members who join later (at the counter or by import) get what the demo's got.
        welcome_credit_rials=50_000, contact_phone="021-88776655",
        social_links={"instagram": "https://instagram.com/vafa.club"},
    ))
    central = Branch(code="tehran", name="شعبه مرکزی تهران")
    second = Branch(code="isfahan", name="شعبه اصفهان")
    session.add_all([central, second])
    tiers = [
        Tier(code="bronze", name="bronze", name_fa="برنزی", rank=1, credit_percent_bp=200,
             discount_percent_bp=0, points_per_step=1, point_step_rials=10_000),
        # Silver: 5 million toman or 10 purchases in a year; gold: 20 million toman and
        # 20 purchases (L3).
        Tier(code="silver", name="silver", name_fa="نقره‌ای", rank=2, credit_percent_bp=500,
             discount_percent_bp=500, points_per_step=1, point_step_rials=10_000,
             min_spend_rials=50_000_000, min_purchases=10, qualify_mode="any",
             max_credit_per_invoice_rials=5_000_000),
        Tier(code="gold", name="gold", name_fa="طلایی", rank=3, credit_percent_bp=800,
             discount_percent_bp=1000, points_per_step=2, point_step_rials=10_000,
             min_spend_rials=200_000_000, min_purchases=20, qualify_mode="all"),
    ]
    session.add_all(tiers)
    session.flush()
    session.add_all([
        StaffUser(username="admin", full_name="مدیر باشگاه", role="admin",
                  password_hash=staff.hash_password(DEMO_LOGINS["admin"])),
        StaffUser(username="operator", full_name="اپراتور شعبه مرکزی", role="operator",
                  branch_id=central.id,
                  password_hash=staff.hash_password(DEMO_LOGINS["operator"])),
    ])
    for serial in range(1, DEMO_MEMBER_COUNT + 1):
        # Member 1 is the one the README's simulator command scans: Sara Ahmadi, silver.
        first = FIRST_NAMES[0] if serial == 1 else rng.choice(FIRST_NAMES)
        last = LAST_NAMES[0] if serial == 1 else rng.choice(LAST_NAMES)
        tier = tiers[1] if serial == 1 else rng.choices(tiers, weights=[60, 30, 10])[0]
        member = Member(
            first_name=first,
            last_name=last,
            mobile=f"0912{serial:07d}",
            tier_id=tier.id,
            home_branch_id=central.id if serial % 3 else second.id,
            joined_at=now - timedelta(days=rng.randint(1, 700)),
        )
        session.add(member)
        session.flush()
        session.add(Card(number=make_card_number(DEMO_PREFIX, serial), member_id=member.id,
                         issued_at=member.joined_at))
        ledger.post(
            session,
            member=member,
            idempotency_key=f"demo:welcome:{member.id}",
            kind="welcome",
            movements=[ledger.Movement("credit", DEMO_WELCOME_CREDIT_RIALS)],
            reason="welcome bonus",
            now=member.joined_at,
        )
    # The demo's tiers are handed out, not earned; the jobs process would re-evaluate them
    # the moment `make run` starts. Counting the seed day's nightly run as done keeps
    # the tiers (and the README's numbers) for the first day; from the next night on,
    # tiers follow the rules.
    from backend.notifications.daily import local_day

    session.add(JobRun(name="nightly", day=local_day(now), status="done", started_at=now,
                       lease_until=now, finished_at=now, summary="demo: tiers as seeded"))
    terminals = [
        devices.register_device(session, device_id="t01", branch_id=central.id,
                                name="صندوق ۱ تهران"),
        devices.register_device(session, device_id="t02", branch_id=second.id,
                                name="صندوق ۱ اصفهان"),
    ]
    session.commit()
    return DemoResult(DEMO_MEMBER_COUNT, terminals)


def demo_members(session: Session, limit: int = 3) -> list[Member]:
    return session.scalars(select(Member).order_by(Member.id).limit(limit)).all()
