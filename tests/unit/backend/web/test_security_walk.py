"""Web access, route by route: CSRF on every POST of the panel, the import and the
portal; the security headers on every page; sessions that are new at sign-in (fixation);
sign-in limits for staff and members. The role × page table lives in
test_permissions.py, member isolation in test_portal.py."""

import re
from datetime import timedelta

import pytest

from tests import factories
from tests.conftest import NOW, build_app
from tests.unit.backend.web.portal.test_home import member_with_password

WEB_BLUEPRINTS = ("admin.", "portal.")  # the import, reports and messages nest in admin
NESTED = ("admin.member_import", "admin.messages", "admin.reports")
DUMMY = "N0-such-upload-token-00000000000"


def concrete(rule) -> str:
    """A URL for the rule, with placeholder values for its arguments."""
    return re.sub(r"<int:[^>]+>", "1", re.sub(r"<(?:string:)?[^>:]+>", DUMMY, str(rule)))


@pytest.fixture(scope="module")
def strict(tmp_path_factory, databases):
    return build_app(tmp_path_factory, databases, "sqlite", WTF_CSRF_ENABLED=True)


def web_rules(app, method):
    return [rule for rule in app.url_map.iter_rules()
            if method in rule.methods and rule.endpoint.startswith(WEB_BLUEPRINTS)]


def test_every_post_without_its_csrf_token_is_refused(strict):
    rules = web_rules(strict, "POST")
    # The walk covers the panel with its nested panels, and the portal.
    assert {rule.endpoint.rpartition(".")[0] for rule in rules} == {
        "admin", "portal", *NESTED} and len(rules) >= 40
    client = strict.test_client()
    for rule in rules:
        response = client.post(concrete(rule), data={"name": "x", "amount": "1"})
        assert response.status_code == 400, f"POST {rule} without a CSRF token"


def test_every_post_with_a_token_from_another_session_is_refused(strict):
    victim, attacker = strict.test_client(), strict.test_client()
    page = attacker.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    victim.get("/login")
    assert victim.post("/login", data={"csrf_token": token, "username": "admin",
                                       "password": "x"}).status_code == 400


def test_every_page_carries_the_security_headers(client, db):
    factories.club(db)
    factories.staff_user(db)
    client.post("/login", data={"username": "admin", "password": "admin-password"})
    rules = web_rules(client.application, "GET")
    assert {rule.endpoint.rpartition(".")[0] for rule in rules} == {"admin", "portal", *NESTED}
    for rule in rules:
        response = client.get(concrete(rule))
        headers = response.headers
        where = f"GET {rule} ({response.status_code})"
        assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", ""), where
        assert headers.get("X-Frame-Options") == "DENY", where
        assert headers.get("X-Content-Type-Options") == "nosniff", where
        assert headers.get("Referrer-Policy") == "same-origin", where
        if response.status_code == 200 and response.mimetype == "text/html":
            assert headers.get("Cache-Control") == "no-store", where


def session_cookie(client) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def test_staff_sign_in_starts_a_new_session(app, client, db):
    factories.staff_user(db)
    client.post("/language/en")  # an anonymous session, as an attacker could plant one
    planted = session_cookie(client)
    assert planted
    assert client.post("/login", data={"username": "admin",
                                       "password": "admin-password"}).status_code == 302
    assert session_cookie(client) != planted
    assert client.get("/dashboard").status_code == 200
    # Whoever holds the planted cookie is still nobody.
    attacker = app.test_client()
    attacker.set_cookie("session", planted)
    assert attacker.get("/dashboard").headers["Location"].startswith("/login")


def test_member_sign_in_starts_a_new_session(app, client, db):
    member = member_with_password(db)
    client.post("/language/en")
    planted = session_cookie(client)
    response = client.post("/portal/sign-in", data={"mobile": member.mobile,
                                                    "password": "member-pass-1"})
    assert response.status_code == 302
    assert session_cookie(client) != planted
    attacker = app.test_client()
    attacker.set_cookie("session", planted)
    assert attacker.get("/portal/").headers["Location"].startswith("/portal/sign-in")


def test_member_sign_in_is_rate_limited(client, db, app, monkeypatch):
    """Per (account, address): the guesser waits, the member elsewhere gets in."""
    now = [NOW]
    monkeypatch.setitem(app.config, "CLOCK", lambda: now[0])
    member = member_with_password(db)
    guesser, member_phone = {"REMOTE_ADDR": "198.51.100.66"}, {"REMOTE_ADDR": "203.0.113.10"}
    for minute in range(5):  # a minute apart: past each wait (2 s, 4 s)
        now[0] = NOW + timedelta(minutes=minute)
        assert client.post("/portal/sign-in", data={"mobile": member.mobile,
                                                    "password": "wrong"},
                           environ_base=guesser).status_code == 401
    response = client.post("/portal/sign-in", data={"mobile": member.mobile,
                                                    "password": "member-pass-1"},
                           environ_base=guesser)
    assert response.status_code == 429
    response = client.post("/portal/sign-in", data={"mobile": member.mobile,
                                                    "password": "member-pass-1"},
                           environ_base=member_phone)
    assert response.status_code == 302
