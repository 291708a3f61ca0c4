"""The dashboard page shows the service's figures: today against the same weekday last
week, and the 30-day sales chart's data."""

import json
import re
from html import unescape

from tests import factories
from tests.conftest import NOW
from tests.unit.backend.services.test_dashboard import club_with_a_fortnight


def test_dashboard_shows_today_against_last_saturday(app, client, auth, db):
    club_with_a_fortnight(db)
    factories.staff_user(db)
    app.config["CLOCK"] = lambda: NOW
    try:
        auth.login()
        html = client.get("/dashboard").get_data(as_text=True)
    finally:
        app.config.pop("CLOCK")
    assert "هر رقم در برابر شنبه هفتهٔ گذشته تا همین ساعت از روز." in html
    sales = re.search(r'<div class="tile compared" id="sales"(.*?)</div>', html, re.S).group(0)
    assert 'data-today="250000" data-last-week="150000" data-direction="up"' in sales
    assert "۲۵۰٬۰۰۰ ریال" in sales and "▲ ۶۷٪" in sales
    assert "شنبه هفتهٔ گذشته: ۱۵۰٬۰۰۰ ریال" in sales
    issued = re.search(r'id="credit-issued"(.*?)</div>', html, re.S).group(0)
    assert "▼ ۲۵٪" in issued
    spent = re.search(r'id="credit-spent"(.*?)</div>', html, re.S).group(0)
    assert "▲ ۲۰٬۰۰۰ ریال" in spent  # nothing last week: the difference, not a percent
    chart = json.loads(unescape(re.search(r"data-chart='([^']*)'", html).group(1)))
    assert chart["labels"][-1] == "۰۸/۳۰" and len(chart["labels"]) == 30
    assert chart["datasets"][0]["data"][-1] == 250_000
    assert chart["datasets"][0]["data"][-8] == 1_149_000


def test_a_toman_club_sees_its_dashboard_in_toman(app, client, auth, db):
    club_with_a_fortnight(db)
    factories.club(db).currency_display = "toman"
    factories.staff_user(db)
    app.config["CLOCK"] = lambda: NOW
    try:
        auth.login()
        html = client.get("/dashboard").get_data(as_text=True)
    finally:
        app.config.pop("CLOCK")
    sales = re.search(r'<div class="tile compared" id="sales"(.*?)</div>', html, re.S).group(0)
    assert "۲۵٬۰۰۰ تومان" in sales and 'data-today="250000"' in sales
    chart = json.loads(unescape(re.search(r"data-chart='([^']*)'", html).group(1)))
    assert chart["datasets"][0]["label"] == "فروش (تومان)"
    assert chart["datasets"][0]["data"][-1] == 25_000
