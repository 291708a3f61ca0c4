"""Issue 17 item 5 through the real broker and worker: a terminal's signed top-up is
refused NOT_ALLOWED by default (nothing credited, the refusal audited and shown on the
terminal's page), and allowed once the admin turns top-ups on with limits in the panel —
up to the limit, with the refusal above it saying how much is still allowed."""

from sqlalchemy import select

from backend.extensions import db
from backend.models import AuditLog, Card, Member
from backend.services.demo import DEMO_LOGINS
from tests.conftest import AuthActions

SARA_CARD = "9900010000000019"


def sara_credit(stack) -> int:
    with stack.app.app_context():
        credit = db.session.scalars(select(Member.credit_balance_rials).join(Card)
                                    .where(Card.number == SARA_CARD)).one()
        db.session.rollback()
        return credit


def test_top_up_refused_by_default_then_allowed_within_the_limit(stack):
    before = sara_credit(stack)
    with stack.terminal("t01") as till:
        till.send(till.request(1, op="topup", card=SARA_CARD, amount=10**13, use_credit=None))
        reply = till.wait_reply()
        assert reply["ok"] is False and reply["code"] == "NOT_ALLOWED", reply
        assert reply["msg"] == ("Not allowed on this terminal: "
                                "top-up is off here; set it in the panel")
        assert sara_credit(stack) == before

        panel = stack.app.test_client()
        assert AuthActions(panel).login("admin", DEMO_LOGINS["admin"]).status_code == 302
        page = panel.get("/terminals/t01").get_data(as_text=True)
        refusals = page.split('id="terminal-refusals"')[1].split("</table>")[0]
        assert "شارژ کیف پول در این پایانه خاموش است." in refusals
        assert "…0019" in refusals
        response = panel.post("/terminals/t01", data={
            "topup_allowed": "y", "topup_max_rials": "۲۰۰٬۰۰۰",
            "topup_max_per_day_rials": "۳۰۰٬۰۰۰", "refund_allowed": "y"})
        assert response.status_code == 302, response.get_data(as_text=True)

        till.send(till.request(2, op="topup", card=SARA_CARD, amount=200_000, use_credit=None))
        reply = till.wait_reply()
        assert reply["ok"] is True and reply["tx"] == {"topup": 200_000}, reply
        assert sara_credit(stack) == before + 200_000
        till.send(till.request(3, op="topup", card=SARA_CARD, amount=150_000, use_credit=None))
        reply = till.wait_reply()
        assert reply["code"] == "NOT_ALLOWED", reply
        assert reply["msg"] == ("Not allowed on this terminal: "
                                "daily top-up limit 300,000, 100,000 left today")
    assert sara_credit(stack) == before + 200_000
    with stack.app.app_context():
        reasons = [row.details["reason"] for row in db.session.scalars(
            select(AuditLog).where(AuditLog.action == "terminal_refused",
                                   AuditLog.entity_id == "t01").order_by(AuditLog.id))]
        assert reasons == ["topup_off", "topup_day"]
        changed = db.session.scalars(select(AuditLog).where(
            AuditLog.action == "terminal_settings")).one()
        assert changed.details["changes"]["topup_allowed"] is True
        db.session.rollback()
