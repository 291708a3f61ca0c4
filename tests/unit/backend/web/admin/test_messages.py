"""The panel's message pages: SMS texts, settings, campaigns with preview and hold-out,
the outbox, and login details sent when a member is registered at the counter (M2)."""

from datetime import date

from sqlalchemy import select

from backend.models import (
    Campaign,
    CampaignRecipient,
    MemberScore,
    Message,
    MessageTemplate,
    SegmentAudienceMember,
    SegmentRule,
)
from backend.notifications import dispatcher
from tests import factories


def admin(db, client):
    factories.club(db, name_fa="باشگاه وفا")
    factories.staff_user(db, username="admin", role="admin")
    assert client.post("/login", data={"username": "admin",
                                       "password": "admin-password"}).status_code == 302


def text(response):
    return response.get_data(as_text=True)


def texts_form(db, **changes):
    from backend.notifications import admin as messages_admin
    data = {f"text_{kind}_{language}": body for (kind, language), body
            in messages_admin.template_texts(db).items()}
    data.update({f"enabled_{kind}": "1" for kind in ("purchase", "credit_increase",
                                                       "tier_upgrade", "credit_expiring",
                                                       "points_expiring", "cheque_due",
                                                       "instalment_due",
                                                       "welcome", "birthday", "anniversary")})
    data.update(changes)
    return data


def test_sms_texts_page_shows_samples_and_checks_placeholders(client, db):
    admin(db, client)
    page = text(client.get("/messages/texts"))
    assert "تبریک سارا عزیز! سطح عضویت شما به نقره‌ای ارتقا یافت." in page
    assert "۱۴۰۵/۰۸/۳۰" in page  # the sample expiry date, Jalali
    response = client.post("/messages/texts", data=texts_form(
        db, text_purchase_fa="{first_name} عزیز، {balance}"))
    assert response.status_code == 400
    assert "متغیر ناشناخته {balance}" in text(response)
    assert db.scalars(select(MessageTemplate)).all() == []
    data = texts_form(db, text_purchase_fa="{first_name} جان، ممنون از خرید {amount}.")
    del data["enabled_birthday"]
    assert client.post("/messages/texts", data=data).status_code == 302
    [row] = db.scalars(select(MessageTemplate)).all()
    assert (row.key, row.language, row.body) == (
        "purchase", "fa", "{first_name} جان، ممنون از خرید {amount}.")
    assert dispatcher.settings(db).disabled_kinds == ["birthday"]
    assert "سارا جان، ممنون از خرید ۲۵۰٬۰۰۰ ریال." in text(client.get("/messages/texts"))


def test_message_settings_keep_secrets_out_of_the_page(client, db):
    admin(db, client)
    data = {"sms_provider": "kavenegar", "kavenegar_api_key": "", "sms_sender": "10004346",
            "email_provider": "console", "smtp_port": "587", "smtp_security": "starttls",
            "sms_quota": "۱۰۰۰", "sms_promotional_reserve": "50", "sms_part_price": "1200",
            "default_language": "fa", "expiry_reminder_days": "7", "instrument_reminder_days": "۳",
            "holdout_percent": "10"}
    response = client.post("/messages/settings", data=data)
    assert response.status_code == 400 and "کاوه‌نگار" in text(response)
    data["kavenegar_api_key"] = "secret-key-987"
    assert client.post("/messages/settings", data=data).status_code == 302
    current = dispatcher.settings(db)
    assert (current.sms_provider, current.kavenegar_api_key, current.sms_quota) == (
        "kavenegar", "secret-key-987", 1000)
    page = text(client.get("/messages/settings"))
    assert "secret-key-987" not in page
    data["kavenegar_api_key"] = ""  # empty keeps the key
    assert client.post("/messages/settings", data=data).status_code == 302
    assert dispatcher.settings(db).kavenegar_api_key == "secret-key-987"
    assert "secret-key-987" not in text(client.get("/audit"))


def test_campaign_preview_then_send_with_hold_out(client, db):
    admin(db, client)
    gold = factories.tier(db, code="gold", name="gold", name_fa="طلایی", rank=3)
    for _ in range(10):
        factories.member(db, tier_id=gold.id)
    factories.member(db)  # another tier
    form = {"name": "طلایی‌ها", "channel": "sms", "language": "fa",
            "body": "{first_name} عزیز، هفتهٔ طلایی آغاز شد!", "tier_ids": str(gold.id),
            "branch_id": "0", "birthday_month": "0", "offer_id": "0",
            "holdout_percent": "20", "request_key": "panel-campaign-key-01",
            "action": "preview"}
    response = client.post("/messages/campaigns/new", data=form)
    page = text(response)
    assert response.status_code == 200
    assert 'id="preview-eligible">۱۰<' in page and 'id="preview-recipients">۸<' in page
    assert 'id="preview-held-out">۲<' in page and 'id="preview-parts">۱<' in page
    assert "Sara عزیز، هفتهٔ طلایی آغاز شد!" in page
    assert db.scalars(select(Campaign)).all() == []
    response = client.post("/messages/campaigns/new", data={**form, "action": "send"})
    assert response.status_code == 302, text(response)[-3000:]
    [campaign] = db.scalars(select(Campaign)).all()
    recipients = db.scalars(select(CampaignRecipient)).all()
    assert len(recipients) == 10 and sum(row.held_out for row in recipients) == 2
    detail = text(client.get(response.headers["Location"]))
    assert 'id="campaign-held-out">۲<' in detail and "در صف" in detail
    # Submitting the same form again sends nothing more.
    client.post("/messages/campaigns/new", data={**form, "action": "send"})
    assert len(db.scalars(select(Campaign)).all()) == 1
    assert campaign.created_by_id is not None
    assert "طلایی‌ها" in text(client.get("/messages/campaigns"))


def test_campaign_for_an_lrfm_segment_or_a_rule_audience(client, db):
    admin(db, client)
    members = [factories.member(db) for _ in range(5)]
    for member, segment in zip(members, ("at_risk", "at_risk", "at_risk", "lost",
                                         "champions"), strict=True):
        db.add(MemberScore(member_id=member.id, computed_on=date(2026, 11, 21),
                           segment=segment))
    rule = SegmentRule(name="بازگرداندن", segment="lost", action="audience")
    db.add(rule)
    db.flush()
    db.add(SegmentAudienceMember(rule_id=rule.id, member_id=members[3].id))
    db.flush()
    page = text(client.get("/messages/campaigns/new"))
    # Each segment with its size as of the last scoring; the audience rule to pick.
    assert 'value="at_risk"' in page and "در خطر ریزش (۳)" in page
    assert f'<option value="{rule.id}">بازگرداندن</option>' in page
    form = {"name": "Win back", "channel": "sms", "language": "en", "body": "We miss you",
            "branch_id": "0", "birthday_month": "0", "offer_id": "0", "holdout_percent": "0",
            "request_key": "panel-campaign-key-03", "audience_rule_id": "0",
            "action": "preview"}
    page = text(client.post("/messages/campaigns/new",
                            data={**form, "lrfm_segments": ["at_risk", "champions"]}))
    assert 'id="preview-eligible">۴<' in page
    page = text(client.post("/messages/campaigns/new",
                            data={**form, "lrfm_segments": "lost",
                                  "audience_rule_id": str(rule.id)}))
    assert 'id="preview-eligible">۱<' in page
    response = client.post("/messages/campaigns/new", data={
        **form, "lrfm_segments": "lost", "audience_rule_id": str(rule.id), "action": "send"})
    assert response.status_code == 302
    [campaign] = db.scalars(select(Campaign)).all()
    assert campaign.segment == {"lrfm_segments": ["lost"], "audience_rule_id": rule.id}
    detail = text(client.get(response.headers["Location"]))
    assert "ازدست‌رفته" in detail and "بازگرداندن" in detail
    refused = client.post("/messages/campaigns/new", data={**form, "lrfm_segments": "vip"})
    assert refused.status_code == 400


def test_a_campaign_above_the_quota_cannot_be_sent(client, db):
    admin(db, client)
    for _ in range(3):
        factories.member(db)
    settings = dispatcher.settings(db)
    settings.sms_quota, settings.sms_promotional_reserve = 12, 10
    db.flush()
    form = {"name": "Big", "channel": "sms", "language": "en", "body": "Hello {first_name}",
            "branch_id": "0", "birthday_month": "0", "offer_id": "0", "holdout_percent": "0",
            "request_key": "panel-campaign-key-02"}
    page = text(client.post("/messages/campaigns/new", data={**form, "action": "preview"}))
    assert "send-campaign" not in page and 'id="preview-available">۲<' in page
    response = client.post("/messages/campaigns/new", data={**form, "action": "send"})
    assert response.status_code == 400 and db.scalars(select(Campaign)).all() == []


def test_outbox_lists_and_retries_failed_messages(client, db):
    admin(db, client)
    member = factories.member(db)
    failed = Message(kind="birthday", category="promotional", recipient=member.mobile,
                     member_id=member.id, status="failed", attempts=5, error="Kavenegar 418")
    db.add(failed)
    db.flush()
    page = text(client.get("/messages/outbox?status=failed"))
    assert "Kavenegar 418" in page and member.mobile in page
    response = client.post(f"/messages/outbox/{failed.id}/retry")
    assert response.status_code == 302
    db.refresh(failed)
    assert (failed.status, failed.attempts, failed.error) == ("queued", 0, "")


def test_overview_shows_the_quota(client, db):
    admin(db, client)
    settings = dispatcher.settings(db)
    settings.sms_quota, settings.sms_used = 100, 95
    db.flush()
    page = text(client.get("/messages/"))
    assert 'id="sms-left">۵<' in page and "فقط ذخیره" in page


def test_registering_at_the_counter_sends_the_login_details(client, db):
    admin(db, client)
    factories.tier(db)
    response = client.post("/members/new", data={
        "first_name": "Reza", "last_name": "Moradi", "mobile": "09127654321",
        "card_number": factories.card_number(555001), "gender": "", "home_branch_id": "0"})
    assert response.status_code == 302, text(response)[:400]
    [welcome] = db.scalars(select(Message).where(Message.kind == "welcome")).all()
    assert welcome.recipient == "09127654321"
    assert welcome.params == {"card": factories.card_number(555001)}
