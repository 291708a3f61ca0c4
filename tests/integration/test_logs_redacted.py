"""Logs of real flows through the worker, the panel and the API hold no card number."""

import logging
import re

from tests.conftest import AuthActions

CARD = "9900010000000019"


def test_a_whole_purchase_flow_logs_no_card_number(stack, caplog):
    """The same sale through the terminal worker, the panel's counter and the API, with
    SQL logging on (its parameters hold card numbers): no 16-digit number in any line."""
    from backend.extensions import db
    from backend.models import Card

    app = stack.app
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    with stack.terminal("t01") as till:
        till.send(till.request(1, card=CARD))
        assert till.wait_reply()["ok"] is True
        till.send(till.request(2, card="9900010000000018"))  # Luhn fails: logged refusal
        assert till.wait_reply()["code"] == "CARD_INVALID"
    client = app.test_client()
    with app.app_context():
        member_id = db.session.query(Card.member_id).filter(Card.number == CARD).scalar()
    app.config["WTF_CSRF_ENABLED"] = False
    assert AuthActions(client).login("admin", "admin1234").status_code == 302
    assert client.get(f"/members?q={CARD}").status_code in (200, 302)
    sold = client.post(f"/members/{member_id}/purchase",
                       data={"amount": "120000", "request_key": "log-redaction-test-0001"})
    assert sold.status_code == 302, re.findall(r'class="[^"]*error[^"]*"[^>]*>([^<]+)',
                                               sold.get_data(as_text=True))
    token = client.post("/api/v1/tokens", json={"username": "admin", "password": "admin1234"})
    headers = {"Authorization": f"Bearer {token.get_json()['token']}"}
    found = client.get(f"/api/v1/members?card={CARD}", headers=headers)
    assert found.status_code == 200
    bought = client.post(f"/api/v1/members/{member_id}/purchases", headers={
        **headers, "Idempotency-Key": "log-redaction-test-0002"}, json={"amount_rials": 50_000})
    assert bought.status_code == 201, bought.get_json()
    lines = caplog.text
    assert "…0019" in lines  # the flows did log the card, redacted
    assert not re.search(r"(?<!\d)\d{16}(?!\d)", lines)
    assert not re.search(r"(?<!\d)(?:\d[ -]?){15}\d(?!\d)", lines)
