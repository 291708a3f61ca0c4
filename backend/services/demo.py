"""The demo club (feature O3): 2 branches, admin and operator logins, three tiers, three
offers, 100 members each with a card, a welcome credit and up to two years of purchases,
an SMS campaign with a hold-out group, LRFM scores with a segment rule, and 2 terminals.

Every tier is earned: the members' pasts are simulated with the club's real rules
(backend.services.demo_history), so gold members spent what gold takes within the
club's tier window, and keep qualifying for at least `TIER_MARGIN_DAYS` more days
without buying — the nightly tier job run by the jobs process finds nothing to move.
Purchases stop a day before `now`, except a few earlier today (the dashboard's "today"),
whose happy calls are open.

Member 1 is the one the README's simulator command scans: Sara Ahmadi (سارا احمدی: the
demo's names are Persian), silver by ten purchases in the window, with a fixed past
(`SARA_PURCHASES`) so the README's numbers hold whatever day the demo is made (her
purchases are moved off Saturdays, when points count double, and away from the autumn
campaign's offer).

`history=False` makes the bare club the terminal tests use: the same members and cards
with tiers handed out at random and no past (the nightly job would move them).
"""

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from backend.engine.calendar import CLUB_TIMEZONE, local
from backend.models import (
    Branch,
    Campaign,
    CampaignRecipient,
    Card,
    Club,
    InstalmentPlan,
    InstrumentEvent,
    Member,
    Message,
    MessageSettings,
    Offer,
    PaymentInstrument,
    SegmentRule,
    StaffUser,
    Tier,
    the_club,
)
from backend.notifications import campaigns, sms
from backend.services import demo_history, devices, instruments, staff, terminal_policy
from backend.services.demo_history import PlannedMember, PlannedPurchase
from backend.unit_of_work import SYSTEM, unit_of_work
from card_spec import make_card_number

DEMO_PREFIX = "990001"
DEMO_MEMBER_COUNT = 100
DEMO_LOGINS = {"admin": "admin1234", "operator": "operator1234"}
DEMO_WELCOME_CREDIT_RIALS = 50_000
# Both demo branches' refund PIN (a real club sets its own on the branch page).
DEMO_REFUND_PIN = "1234"
# Tiers hold this long after the demo is made without a new purchase.
TIER_MARGIN_DAYS = 45
OLDEST_MEMBER_DAYS = 700
# Sara's past: (days before the demo's day, amount in rials). Ten purchases in the tier
# window make her silver at the tenth (55 days ago); none within 60 days of another, so
# the "back after 60 days" offer never applies to her.
SARA_JOINED_DAYS = 420
SARA_PURCHASES = ((290, 1_800_000), (262, 2_400_000), (231, 950_000), (203, 3_200_000),
                  (176, 1_500_000), (149, 2_750_000), (121, 1_200_000), (97, 4_100_000),
                  (72, 2_000_000), (55, 1_650_000), (19, 3_400_000), (6, 2_300_000))
CAMPAIGN_DAYS_AGO = 40
CAMPAIGN_OFFER_DAYS = 14
# A win-back campaign to bronze and silver members not seen for two weeks; half held
# out, the most a small club can learn from (its campaigns are mostly a hint).
CAMPAIGN_ABSENT_DAYS = 14
CAMPAIGN_HOLDOUT_PERCENT = 50
CAMPAIGN_BODY = "{first_name} عزیز، ۱۰٪ تخفیف پاییزی تا دو هفته. {club}"
DEMO_SMS_QUOTA = 1_000
DEMO_SMS_PART_PRICE_RIALS = 1_500

# Persian names for a Persian club (the panel and portal are Persian first); as many as
# before and in the same order, so the seeded random choices make the same club.
FIRST_NAMES = [
    "سارا", "علی", "مریم", "رضا", "زهرا", "حسین", "فاطمه", "محمد", "ندا",
    "امیر", "لیلا", "مهدی", "نرگس", "حمید", "شیرین", "امید", "پریسا", "سعید",
    "مینا", "کاوه",
]
LAST_NAMES = [
    "احمدی", "کریمی", "حسینی", "رضایی", "مرادی", "جعفری", "قاسمی", "صادقی",
    "رحیمی", "کاظمی", "محمدی", "هاشمی", "ابراهیمی", "نجفی", "شیرازی",
]


@dataclass(frozen=True)
class DemoResult:
    member_count: int
    terminals: list[devices.DeviceCredentials]
    purchases: int = 0


def club_exists(session: Session) -> bool:
    return the_club(session) is not None


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    """A Tehran wall-clock time on `day`, in UTC."""
    return datetime.combine(day, time(hour, minute), tzinfo=CLUB_TIMEZONE).astimezone(UTC)


def _shop_moment(rng: random.Random, day: date) -> datetime:
    return _at(day, rng.randint(9, 20), rng.randrange(60))


def _days(rng: random.Random, first: date, last: date, count: int) -> list[date]:
    """`count` distinct days from first to last (fewer if the range is shorter)."""
    span = (last - first).days + 1
    if span <= 0:
        return []
    return sorted(first + timedelta(days=offset)
                  for offset in rng.sample(range(span), min(count, span)))


def _amount(rng: random.Random, median_rials: int, cap_rials: int) -> int:
    value = int(rng.lognormvariate(math.log(median_rials), 0.6)) // 10_000 * 10_000
    return max(200_000, min(cap_rials, value))


def _not_saturday(day: date) -> date:
    """The day, or the Friday before it when it is a Saturday (double points)."""
    return day - timedelta(days=1) if day.weekday() == 5 else day


@dataclass
class _Person:
    serial: int
    first_name: str
    last_name: str
    home: Branch
    other: Branch
    joined: datetime
    tier_code: str
    birth_date: date | None = None
    wedding_date: date | None = None
    opted_out: bool = False
    referrer: "int | None" = None  # serial
    purchases: list | None = None


def _people(rng: random.Random, now: datetime, window_days: int, branches: list[Branch],
            history: bool) -> list[_Person]:
    today = local(now).date()
    last_day = today - timedelta(days=1)
    qualifying_from = today - timedelta(days=window_days - TIER_MARGIN_DAYS)
    people = []
    for serial in range(1, DEMO_MEMBER_COUNT + 1):
        home, other = (branches[0], branches[1]) if serial % 3 else (branches[1], branches[0])
        if serial == 1:
            people.append(_Person(1, FIRST_NAMES[0], LAST_NAMES[0], home, other,
                                  _at(today - timedelta(days=SARA_JOINED_DAYS), 10, 30),
                                  "silver", purchases=[
                                      PlannedPurchase(_at(_not_saturday(
                                          today - timedelta(days=days_ago)), 11 + index % 7,
                                          15), amount, home.id)
                                      for index, (days_ago, amount)
                                      in enumerate(SARA_PURCHASES) if history]))
            continue
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        code = rng.choices(("bronze", "silver", "gold"), weights=(60, 30, 10))[0]
        youngest = {"bronze": 3, "silver": 150, "gold": 260}[code] if history else 1
        joined = _shop_moment(rng, today - timedelta(days=rng.randint(youngest,
                                                                      OLDEST_MEMBER_DAYS)))
        person = _Person(serial, first, last, home, other, joined, code, purchases=[])
        people.append(person)
        if not history:
            continue
        if rng.random() < 0.6:
            person.birth_date = date(rng.randint(1965, 2004), rng.randint(1, 12),
                                     rng.randint(1, 28))
        if rng.random() < 0.25:
            person.wedding_date = date(rng.randint(1990, 2024), rng.randint(1, 12),
                                       rng.randint(1, 28))
        person.opted_out = rng.random() < 0.06
        earlier = [candidate.serial for candidate in people[1:-1]
                   if candidate.joined < joined - timedelta(days=1)]
        if earlier and rng.random() < 0.12:
            person.referrer = rng.choice(earlier)
        first_day = local(joined).date() + timedelta(days=1)
        span_from = max(first_day, qualifying_from)

        def buy(days: list[date], median: int, cap: int, credit_share: float,
                person=person) -> None:
            for day in days:
                branch = person.home if rng.random() < 0.85 else person.other
                person.purchases.append(PlannedPurchase(
                    _shop_moment(rng, day), _amount(rng, median, cap), branch.id,
                    rng.random() < credit_share))

        if code == "gold":
            # 24–30 purchases of 11–16 million in the window: ≥ 216 million paid even
            # at the gold discount (20 purchases and 200 million make gold).
            for day in _days(rng, span_from, last_day, rng.randint(24, 30)):
                branch = person.home if rng.random() < 0.85 else person.other
                person.purchases.append(PlannedPurchase(
                    _shop_moment(rng, day), rng.randint(1_100, 1_600) * 10_000, branch.id))
            buy(_days(rng, first_day, span_from - timedelta(days=1), rng.randint(0, 6)),
                3_000_000, 8_000_000, 0.0)
        elif code == "silver":
            # 10–16 purchases in the window (10 make silver); at most 8 million each, so
            # never the 200 million gold takes.
            buy(_days(rng, span_from, last_day, rng.randint(10, 16)), 2_500_000, 8_000_000,
                0.15)
            buy(_days(rng, first_day, span_from - timedelta(days=1), rng.randint(0, 4)),
                2_000_000, 8_000_000, 0.15)
        else:
            # Fewer than 10 purchases of at most 5 million: never silver. Some never
            # buy, some stopped coming, the rest come now and then.
            style = rng.random()
            if style < 0.12:
                continue
            if style < 0.42:
                middle = first_day + (last_day - first_day) / 2
                days = _days(rng, first_day, middle, rng.randint(2, 6))
            else:
                days = _days(rng, first_day, last_day, rng.randint(1, 7))
            buy(days, 1_200_000, 5_000_000, 0.15)
    return people


def _today_purchases(rng: random.Random, people: list[_Person], now: datetime) -> None:
    """A few purchases earlier today, for the dashboard, once the shops are open."""
    opening = _at(local(now).date(), 9, 0)
    if now - opening < timedelta(hours=1):
        return
    chosen = rng.sample([person for person in people[1:] if person.joined < opening], 6)
    for person in chosen:
        moment = opening + (now - timedelta(minutes=10) - opening) * rng.random()
        person.purchases.append(PlannedPurchase(moment, _amount(rng, 1_500_000, 5_000_000),
                                                person.home.id))


def _campaign_plan(rng: random.Random, session: Session, plans: list[PlannedMember],
                   card_ids: dict[int, int], tiers: list[Tier], now: datetime,
                   sent_at: datetime) -> tuple[list[Member], set[int], dict]:
    """The autumn campaign's audience as the campaign form would have picked it at
    `sent_at` — bronze and silver members not seen for CAMPAIGN_ABSENT_DAYS, from the
    simulated past up to then — the half held out, and the members it brings back.

    Recipients come back within the offer's two weeks more often than the held-out
    (40 % against 10 %); how far that shows through the members' other purchases is
    what the campaign's page measures, with its margin of chance."""
    segment = {"tier_ids": [tiers[0].id, tiers[1].id],
               "absent_for_days": CAMPAIGN_ABSENT_DAYS}
    then = demo_history.snapshots(session, plans, card_ids, now, sent_at)
    absent_since = sent_at - timedelta(days=CAMPAIGN_ABSENT_DAYS)
    eligible = [plan for plan in plans
                if plan.member.id in then and not plan.member.promotional_opt_out
                and then[plan.member.id].tier_code in (tiers[0].code, tiers[1].code)
                and (then[plan.member.id].last_visit is None
                     or then[plan.member.id].last_visit < absent_since)]
    held = {plan.member.id for plan in rng.sample(
        eligible, (len(eligible) * CAMPAIGN_HOLDOUT_PERCENT + 50) // 100)}
    first_day = local(sent_at).date() + timedelta(days=1)
    for plan in eligible:
        if plan.member.id == plans[0].member.id:
            continue  # Sara's past is fixed (the README's numbers)
        if rng.random() < (0.10 if plan.member.id in held else 0.40):
            [day] = _days(rng, first_day, first_day + timedelta(days=CAMPAIGN_OFFER_DAYS - 2), 1)
            plan.purchases.append(PlannedPurchase(
                _shop_moment(rng, day), _amount(rng, 2_500_000, 8_000_000),
                plan.member.home_branch_id))
            plan.purchases.sort(key=lambda item: item.moment)
    return [plan.member for plan in eligible], held, segment


def seed_demo(session: Session, now: datetime, rng_seed: int = 1403, *,
              history: bool = True) -> DemoResult:
    """Create the demo club in one unit of work. Refuses to run on a non-empty database."""
    with unit_of_work(session, SYSTEM):
        return _seed_demo(session, now, rng_seed, history)


def _seed_demo(session: Session, now: datetime, rng_seed: int, history: bool) -> DemoResult:
    if club_exists(session):
        raise RuntimeError("the database already has a club; the demo needs an empty one")
    rng = random.Random(rng_seed)
    club = Club(
        id=1, name="Vafa Demo Club", name_fa="باشگاه مشتریان وفا", point_value_rials=100,
        is_demo=True,
        # Double points on Saturdays, the first day of the Iranian week (L7).
        weekday_points_percent=[200, 100, 100, 100, 100, 100, 100],
        referral_join_bonus_rials=20_000, referral_first_purchase_bonus_rials=30_000,
        referral_commission_bp=100, max_transfer_rials=2_000_000,
        max_transfer_per_day_rials=5_000_000,
        # Members who join later (at the counter or by import) get what the demo's got.
        welcome_credit_rials=DEMO_WELCOME_CREDIT_RIALS, contact_phone="021-88776655",
        social_links={"instagram": "https://instagram.com/vafa.club"},
    )
    session.add(club)
    pin_hash = terminal_policy.hash_pin(DEMO_REFUND_PIN)
    central = Branch(code="tehran", name="شعبه مرکزی تهران", refund_pin_hash=pin_hash)
    second = Branch(code="isfahan", name="شعبه اصفهان", refund_pin_hash=pin_hash)
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
    admin = StaffUser(username="admin", full_name="مدیر باشگاه", role="admin",
                      password_hash=staff.hash_password(DEMO_LOGINS["admin"]))
    session.add(admin)
    session.flush()
    session.add(StaffUser(username="operator", full_name="اپراتور شعبه مرکزی",
                          role="operator", branch_id=central.id,
                          password_hash=staff.hash_password(DEMO_LOGINS["operator"])))
    tier_by_code = {tier.code: tier for tier in tiers}
    sent_at = _at(local(now).date() - timedelta(days=CAMPAIGN_DAYS_AGO), 10, 0)
    people = _people(rng, now, club.tier_window_days or 365, [central, second], history)
    autumn = None
    if history:
        autumn = Offer(name="جشنوارهٔ پاییز: ۱۰٪ تخفیف", reward_kind="percent_discount",
                       reward_value=1000, starts_at=sent_at,
                       ends_at=sent_at + timedelta(days=CAMPAIGN_OFFER_DAYS))
        session.add_all([
            Offer(name="بازگشت پس از ۶۰ روز: ۱۰٪ تخفیف", reward_kind="percent_discount",
                  reward_value=1000, min_days_since_last_visit=60),
            Offer(name="هفتهٔ تولد: ۱۵٪ تخفیف", reward_kind="percent_discount",
                  reward_value=1500, birthday_window_days=7),
            autumn,
        ])
        _today_purchases(rng, people, now)
    members = {}
    for person in people:
        members[person.serial] = Member(
            first_name=person.first_name, last_name=person.last_name,
            mobile=f"0912{person.serial:07d}",
            # With a past, everyone starts bronze and earns the rest.
            tier_id=(tiers[0] if history else tier_by_code[person.tier_code]).id,
            home_branch_id=person.home.id, joined_at=person.joined,
            birth_date=person.birth_date, wedding_date=person.wedding_date,
            promotional_opt_out=person.opted_out)
    session.add_all(members.values())
    session.flush()
    cards = {serial: Card(number=make_card_number(DEMO_PREFIX, serial),
                          member_id=member.id, issued_at=member.joined_at)
             for serial, member in members.items()}
    session.add_all(cards.values())
    for person in people:
        if person.referrer is not None:
            members[person.serial].referrer_id = members[person.referrer].id
    session.flush()
    plans = [PlannedMember(members[person.serial], DEMO_WELCOME_CREDIT_RIALS,
                           sorted(person.purchases or [], key=lambda item: item.moment),
                           start_tier=None if history else tier_by_code[person.tier_code])
             for person in people]
    card_ids = {member.id: cards[serial].id for serial, member in members.items()}
    if history:
        audience = _campaign_plan(rng, session, plans, card_ids, tiers, now, sent_at)
    result = demo_history.write_history(session, plans, card_ids, now, settle_tiers=history)
    if history:
        _campaign_rows(session, club, autumn, admin, sent_at, *audience)
        _segments(session, now)
        _instruments(session, list(members.values()), admin, now)
    terminals = [
        devices.register_device(session, actor=SYSTEM, device_id="t01",
                                branch_id=central.id, name="صندوق ۱ تهران"),
        devices.register_device(session, actor=SYSTEM, device_id="t02",
                                branch_id=second.id, name="صندوق ۱ اصفهان"),
    ]
    return DemoResult(DEMO_MEMBER_COUNT, terminals, result.purchases)


def _campaign_rows(session: Session, club: Club, offer: Offer, admin: StaffUser,
                   sent_at: datetime, eligible: list[Member], held: set[int],
                   segment: dict) -> None:
    """The autumn campaign as campaigns.send would have written it, delivered."""
    settings = session.get(MessageSettings, 1)
    settings.sms_quota = DEMO_SMS_QUOTA
    settings.sms_part_price_rials = DEMO_SMS_PART_PRICE_RIALS
    campaign = Campaign(
        name="جشنوارهٔ پاییز", channel="sms", language="fa", body=CAMPAIGN_BODY,
        segment=segment,
        holdout_percent=CAMPAIGN_HOLDOUT_PERCENT, offer_id=offer.id, status="sent",
        created_by_id=admin.id, created_at=sent_at, sent_at=sent_at,
        eligible_count=len(eligible), recipient_count=len(eligible) - len(held),
        held_out_count=len(held), sms_part_price_rials=DEMO_SMS_PART_PRICE_RIALS)
    session.add(campaign)
    session.flush()
    messages = {}
    for member in eligible:
        if member.id in held:
            continue
        body = campaigns.render_for(CAMPAIGN_BODY, member, "fa", club, offer, {})
        messages[member.id] = Message(
            channel="sms", kind="campaign", category="promotional", priority=2,
            member_id=member.id, campaign_id=campaign.id, recipient=member.mobile,
            language="fa", subject=campaign.name, body=body, parts=sms.parts(body),
            status="delivered", attempts=1, next_attempt_at=sent_at, provider="console",
            dedupe_key=f"campaign:{campaign.id}:{member.id}", created_at=sent_at,
            sent_at=sent_at + timedelta(minutes=1), delivered_at=sent_at + timedelta(minutes=2))
    session.add_all(messages.values())
    session.flush()
    campaign.sms_parts = sum(message.parts for message in messages.values())
    settings.sms_used += campaign.sms_parts
    session.add_all([CampaignRecipient(
        campaign_id=campaign.id, member_id=member.id, held_out=member.id in held,
        message_id=None if member.id in held else messages[member.id].id)
        for member in eligible])
    session.flush()


def _instruments(session: Session, people: list[Member], admin: StaffUser,
                 now: datetime) -> None:
    """A few cheques and an instalment plan (L13), so the panel's list, the due report and
    Sara's portal page have something to show: one overdue, one due this week, one
    bounced, one cleared, and a plan of six monthly instalments starting last month."""
    today = local(now).date()
    sara, others = people[0], people[1:4]
    cheques = [(sara, "mellat", "1403123456789012", today + timedelta(days=3), 25_000_000,
                ["pending"]),
               (others[0], "melli", "1403987654321098", today - timedelta(days=5), 12_000_000,
                ["pending"]),
               (others[1], "saderat", "1403555566667777", today - timedelta(days=20),
                8_500_000, ["pending", "bounced"]),
               (others[2], "tejarat", "1403111122223333", today - timedelta(days=40),
                4_000_000, ["pending", "cleared"])]
    created = now - timedelta(days=60)
    rows: list[tuple[PaymentInstrument, list[str]]] = []
    for member, bank, number, due, amount, statuses in cheques:
        rows.append((PaymentInstrument(
            member_id=member.id, kind="cheque", bank=bank, reference=number,
            amount_rials=amount, due_date=due, status=statuses[-1],
            branch_id=member.home_branch_id, created_at=created,
            settled_at=created + timedelta(days=40) if statuses[-1] == "cleared" else None),
            statuses))
    total, count = 18_000_000, 6
    plan = InstalmentPlan(member_id=sara.id, branch_id=sara.home_branch_id, total_rials=total,
                          count=count, schedule="monthly", first_due=today - timedelta(days=30),
                          note="خرید یخچال", created_by_id=admin.id, created_at=created)
    session.add(plan)
    session.flush()
    for sequence, (amount, due) in enumerate(zip(
            instruments.split_amounts(total, count),
            instruments.schedule_dates(plan.first_due, count, "monthly"), strict=True), 1):
        statuses = ["pending", "paid"] if sequence == 1 else ["pending"]
        rows.append((PaymentInstrument(
            member_id=sara.id, kind="instalment", amount_rials=amount, due_date=due,
            status=statuses[-1], branch_id=sara.home_branch_id, plan_id=plan.id,
            sequence=sequence, created_at=created,
            settled_at=now - timedelta(days=29) if sequence == 1 else None), statuses))
    session.add_all([row for row, _ in rows])
    session.flush()
    for row, statuses in rows:
        for before, after in zip([None, *statuses], statuses, strict=False):
            session.add(InstrumentEvent(instrument_id=row.id, staff_user_id=admin.id,
                                        before_status=before, after_status=after,
                                        at=row.settled_at or created if before else created))


def _segments(session: Session, now: datetime) -> None:
    """LRFM scores as the nightly job computes them, and a rule keeping the at-risk
    members as a campaign audience (the nightly job finds both done for today)."""
    from backend.services.reports import lrfm, segments

    session.add(SegmentRule(name="بازگرداندن اعضای در خطر ریزش", segment="at_risk",
                            action="audience", created_at=now - timedelta(days=30)))
    session.flush()
    lrfm.recompute(session, now)
    segments.run_rules(session, now)
