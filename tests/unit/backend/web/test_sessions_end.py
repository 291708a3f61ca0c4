"""Issue 17 item 11: sessions are signed cookies, so signing out must end them on the
server side: signing out or changing the password ends every session of that user,
including a copy of the cookie taken while signed in."""

from backend.services import member_auth
from tests import factories


def copy_of_session(app, client):
    """Another browser holding a copy of `client`'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def staff_in(app, password="admin-password"):
    browser = app.test_client()
    assert browser.post("/login", data={"username": "admin", "password": password}
                        ).status_code == 302
    return browser


def signed_out(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_signing_out_ends_a_copied_staff_cookie_and_every_other_session(app, client, db):
    factories.staff_user(db)
    browser, other = staff_in(app), staff_in(app)
    thief = copy_of_session(app, browser)
    assert thief.get("/dashboard").status_code == 200
    assert browser.post("/logout").status_code == 302
    assert signed_out(thief.get("/dashboard"))
    assert signed_out(other.get("/dashboard"))
    assert staff_in(app).get("/dashboard").status_code == 200  # signing in again works


def test_a_password_change_ends_a_copied_staff_cookie(app, client, db):
    factories.staff_user(db, password="old-password")
    browser = staff_in(app, "old-password")
    thief = copy_of_session(app, browser)
    assert browser.post("/account/password", data={
        "current_password": "old-password", "new_password": "new-password-1"}).status_code == 302
    assert browser.get("/dashboard").status_code == 200  # the one who changed it stays in
    assert signed_out(thief.get("/dashboard"))


def member_in(app, member, password="member-pass-1"):
    browser = app.test_client()
    assert browser.post("/portal/sign-in", data={"mobile": member.mobile,
                                                 "password": password}).status_code == 302
    return browser


def portal_signed_out(response) -> bool:
    return response.status_code == 302 and "/portal/sign-in" in response.headers["Location"]


def test_signing_out_of_the_portal_ends_a_copied_member_cookie(app, client, db):
    factories.club(db)
    member = factories.member(db)
    member_auth.set_password(db, member.id, "member-pass-1")
    phone, laptop = member_in(app, member), member_in(app, member)
    thief = copy_of_session(app, phone)
    assert thief.get("/portal/").status_code == 200
    assert phone.post("/portal/sign-out").status_code == 302
    assert portal_signed_out(thief.get("/portal/"))
    assert portal_signed_out(laptop.get("/portal/"))
    assert member_in(app, member).get("/portal/").status_code == 200


def test_a_new_member_password_ends_a_copied_member_cookie(app, client, db):
    factories.club(db)
    member = factories.member(db)
    member_auth.set_password(db, member.id, "member-pass-1")
    phone = member_in(app, member)
    thief = copy_of_session(app, phone)
    response = phone.post("/portal/profile", data={
        "current_password": "member-pass-1", "new_password": "member-pass-2", "email": ""})
    assert response.status_code == 302
    assert phone.get("/portal/").status_code == 200
    assert portal_signed_out(thief.get("/portal/"))
