"""The portal lists each offer with its conditions in Persian: minimum amount, weekdays
and hours, tiers, Jalali dates, the cap per member (issue 18 item 13)."""

import re
from datetime import date

from backend.engine.calendar import local_day_end_utc, local_day_start_utc
from backend.models import Offer
from backend.services import member_auth
from tests import factories
from tests.conftest import NOW


def conditions(html: str, offer_id: int) -> dict[str, str]:
    section = re.search(rf'data-offer="{offer_id}">(.*?)</section>', html, re.S).group(1)
    return {key: re.sub(r"\s+", " ", text).strip() for key, text in
            re.findall(r'<li data-condition="([\w-]+)"[^>]*>(.*?)</li>', section, re.S)}


def test_an_offer_is_shown_with_every_condition_in_persian(app, client, db):
    app.config["CLOCK"] = lambda: NOW
    try:
        factories.club(db)
        silver = factories.tier(db, code="silver", name="silver", name_fa="نقره‌ای")
        gold = factories.tier(db, code="gold", name="gold", name_fa="طلایی", rank=3)
        member = factories.member(db, tier_id=silver.id)
        member_auth.set_password(db, member.id, "member-pass-1")
        offer = Offer(name="عصرهای پنجشنبه و جمعه", reward_kind="percent_discount",
                      reward_value=1_000, min_amount_rials=500_000, weekdays=[6, 5],
                      from_minute=17 * 60, until_minute=19 * 60 + 30,
                      tier_codes=f"{silver.code},{gold.code}",
                      starts_at=local_day_start_utc(date(2026, 11, 1)),
                      ends_at=local_day_end_utc(date(2026, 12, 21)),
                      max_uses_per_member=2, exclusive=True)
        gift = Offer(name="هدیهٔ تولد", reward_kind="gift_credit", reward_value=200_000,
                     reward_expiry_days=7, birthday_window_days=3, first_purchase_only=False)
        db.add_all([offer, gift])
        db.flush()
        client.post("/portal/sign-in", data={"mobile": member.mobile,
                                             "password": "member-pass-1"})
        html = client.get("/portal/offers").get_data(as_text=True)
    finally:
        app.config.pop("CLOCK")
    assert "۱۰٪ تخفیف" in html
    assert conditions(html, offer.id) == {
        "min-amount": "برای خرید ۵۰۰٬۰۰۰ ریال یا بیشتر",
        "weekdays": "روزها: پنجشنبه، جمعه",
        "hours": "ساعت: از ۱۷:۰۰ تا ۱۹:۳۰",
        "tiers": "ویژهٔ اعضای سطح: نقره‌ای، طلایی",
        "dates": "تاریخ: از ۱۴۰۵/۰۸/۱۰ تا ۱۴۰۵/۰۹/۳۰",
        "cap": "برای هر عضو حداکثر ۲ بار",
        "exclusive": "با پیشنهادهای دیگر جمع نمی‌شود",
    }
    assert conditions(html, gift.id) == {
        "birthday": "تا ۳ روز پیش یا پس از روز تولد شما",
        "expiry": "این اعتبار تا ۷ روز قابل استفاده است",
    }
