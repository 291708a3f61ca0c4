"""Panel security: rate-limited sign-in, sessions that end, CSRF, headers, append-only
audit log, uploads checked before they are kept."""

import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from backend.models import AuditLog, LoginAttempt, the_club
from backend.services import throttle
from tests import factories
from tests.conftest import NOW

ATTACKER, OFFICE = {"REMOTE_ADDR": "198.51.100.66"}, {"REMOTE_ADDR": "203.0.113.10"}


def test_guessing_from_one_address_does_not_lock_the_user_out(client, db, clock):
    """Issue 17 item 7: five wrong passwords used to lock the account for everyone."""
    factories.staff_user(db)
    for minute in range(5):  # a minute apart: past each wait (2 s, 4 s)
        clock.now = NOW + timedelta(minutes=minute)
        assert client.post("/login", data={"username": "admin", "password": "wrong"},
                           environ_base=ATTACKER).status_code == 401
    # The guesser waits, even with the right password (checked before the password)…
    response = client.post("/login", data={"username": "admin", "password": "admin-password"},
                           environ_base=ATTACKER)
    assert response.status_code == 429
    assert "ثانیهٔ دیگر دوباره تلاش کنید" in response.get_data(as_text=True)
    # …and refused tries are not counted, so the wait does not grow while refused.
    assert len(db.scalars(select(LoginAttempt)).all()) == 5
    # The real user, from the office, signs in at the same moment.
    response = client.post("/login", data={"username": "admin", "password": "admin-password"},
                           environ_base=OFFICE)
    assert response.status_code == 302


def test_sign_in_is_rate_limited_per_address(client, db, clock):
    factories.staff_user(db)
    for number in range(throttle.MAX_FAILURES_PER_ADDRESS):
        client.post("/login", data={"username": f"guess{number}", "password": "x"},
                    environ_base=ATTACKER)
    response = client.post("/login", data={"username": "admin", "password": "admin-password"},
                           environ_base=ATTACKER)
    assert response.status_code == 429
    assert client.post("/login", data={"username": "admin", "password": "admin-password"},
                       environ_base=OFFICE).status_code == 302


def test_the_address_is_the_client_behind_trusted_proxies_only(tmp_path_factory, databases):
    """VAFA_TRUSTED_PROXIES=1: the proxy's X-Forwarded-For names the client; without it a
    forwarded header is anyone's claim and the peer's address counts."""
    from backend.extensions import db as flask_db
    from tests.conftest import build_app

    def office_gets_in(app) -> bool:
        app.config["CLOCK"] = lambda: NOW
        with app.app_context():
            factories.club(flask_db.session)
            factories.staff_user(flask_db.session)
            flask_db.session.commit()
            client = app.test_client()
            for _ in range(throttle.FREE_FAILURES):
                client.post("/login", data={"username": "admin", "password": "x"},
                            headers={"X-Forwarded-For": "198.51.100.66"})
            return client.post("/login", data={"username": "admin",
                                               "password": "admin-password"},
                               headers={"X-Forwarded-For": "203.0.113.10"}).status_code == 302

    assert office_gets_in(build_app(tmp_path_factory, databases, "sqlite", TRUSTED_PROXIES=1))
    assert not office_gets_in(build_app(tmp_path_factory, databases, "sqlite"))


def test_password_change_ends_other_sessions(app, client, db):
    factories.staff_user(db, password="old-password")
    other = app.test_client()
    for each in (client, other):
        assert each.post("/login", data={"username": "admin",
                                         "password": "old-password"}).status_code == 302
    response = client.post("/account/password", data={"current_password": "old-password",
                                                      "new_password": "new-password-1"})
    assert response.status_code == 302
    assert client.get("/dashboard").status_code == 200
    assert other.get("/dashboard").headers["Location"].startswith("/login")


def test_deactivated_staff_is_signed_out(client, db):
    user = factories.staff_user(db, username="op", role="operator",
                                branch_id=factories.branch(db).id)
    client.post("/login", data={"username": "op", "password": "admin-password"})
    assert client.get("/dashboard").status_code == 200
    user.is_active = False
    user.session_version += 1
    db.flush()
    assert client.get("/dashboard").status_code == 302


def test_session_cookie_flags_and_security_headers(client, db):
    factories.staff_user(db)
    response = client.post("/login", data={"username": "admin", "password": "admin-password"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/dashboard")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/members/new", "/settings", "/staff/new", "/gift-cards",
                                  "/catalogue/tiers/new", "/logout", "/language/en"])
def test_every_form_needs_its_csrf_token(tmp_path_factory, databases, path):
    from tests.conftest import build_app

    strict = build_app(tmp_path_factory, databases, "sqlite", WTF_CSRF_ENABLED=True)
    response = strict.test_client().post(path, data={"name": "x"})
    assert response.status_code == 400


def test_audit_log_is_append_only(client, db):
    factories.staff_user(db)
    client.post("/login", data={"username": "admin", "password": "admin-password"})
    row = db.scalars(select(AuditLog).where(AuditLog.action == "sign_in")).one()
    for statement in ("UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"):
        with pytest.raises(DatabaseError):
            with db.begin_nested():
                db.execute(text(statement))
    db.expire_all()
    assert db.get(AuditLog, row.id).action == "sign_in"


def _png(width=40, height=20) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height), "navy").save(output, format="PNG")
    return output.getvalue()


def test_logo_upload_is_reencoded_and_bad_files_are_refused(client, db, app):
    factories.club(db)
    factories.staff_user(db)
    client.post("/login", data={"username": "admin", "password": "admin-password"})
    base = {"name": "Club", "currency_display": "rial", "offline_window_days": "7",
            "tier_window_days": "365"}
    bad = client.post("/settings", data={**base, "logo": (io.BytesIO(b"<svg onload=alert(1)>"),
                                                           "../../evil.png")},
                      content_type="multipart/form-data")
    assert bad.status_code == 400
    assert "این پرونده تصویری قابل خواندن نیست." in bad.get_data(as_text=True)
    assert the_club(db).logo_filename == ""
    good = client.post("/settings", data={**base, "logo": (io.BytesIO(_png()), "logo.png")},
                       content_type="multipart/form-data")
    assert good.status_code == 302
    name = the_club(db).logo_filename
    assert name.startswith("logo-") and name.endswith(".png") and ".." not in name
    served = client.get("/club-logo")
    assert served.status_code == 200 and served.data.startswith(b"\x89PNG")
    assert (app.config["INSTANCE_DIR"] / "uploads" / name).exists()
