from backend.unit_of_work import SYSTEM
from tests import factories


def test_member_list_needs_a_signed_in_staff_user(client):
    response = client.get("/members")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_wrong_password_is_refused_with_a_message(client, db):
    factories.staff_user(db)
    response = client.post("/login", data={"username": "admin", "password": "nope"})
    assert response.status_code == 401
    assert "نام کاربری یا گذرواژه نادرست است" in response.get_data(as_text=True)


def test_member_list_shows_balances(client, auth, db):
    factories.staff_user(db)
    member = factories.member(db, credit_rials=1_234_500, points=77, first_name="Neda")
    assert auth.login().status_code == 302
    page = client.get("/members").get_data(as_text=True)
    assert "Neda Ahmadi" in page
    assert factories.card_of(member) in page
    assert 'data-credit="1234500">۱٬۲۳۴٬۵۰۰<' in page
    assert 'data-points="77">۷۷<' in page


def test_member_search_by_card_number(client, auth, db):
    factories.staff_user(db)
    wanted = factories.member(db, first_name="Kaveh")
    factories.member(db, first_name="Mina")
    auth.login()
    # An exact card number goes straight to the member's page, as a cashier expects.
    response = client.get("/members", query_string={"q": factories.card_of(wanted)})
    assert response.headers["Location"] == f"/members/{wanted.id}"
    page = client.get("/members", query_string={"q": "Kav"}).get_data(as_text=True)
    assert "Kaveh" in page and "Mina" not in page


def test_login_does_not_redirect_off_site(client, auth, db):
    factories.staff_user(db)
    response = client.post("/login?next=//evil.example/", data={
        "username": "admin", "password": "admin-password"})
    assert response.headers["Location"] == "/dashboard"


def test_health(client):
    assert client.get("/api/v1/health").get_json() == {"ok": True}


def test_login_form_without_csrf_token_is_refused(tmp_path_factory, databases, db):
    from tests.conftest import build_app

    strict = build_app(tmp_path_factory, databases, "sqlite", WTF_CSRF_ENABLED=True)
    client = strict.test_client()
    assert client.post("/login", data={"username": "a", "password": "b"}).status_code == 400
    form = client.get("/login").get_data(as_text=True)
    assert 'name="csrf_token"' in form


def test_nightly_command_expires_credit_and_reports(app, runner, db, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from backend.services import wallet

    factories.club(db)
    member = factories.member(db)
    db.commit()
    # The run's clock is pinned (CLOCK): the grant expired an hour before it.
    run_at = datetime(2031, 3, 21, 9, 30, tzinfo=UTC)  # after the wall clock: it must be used
    monkeypatch.setitem(app.config, "CLOCK", lambda: run_at)
    wallet.grant_credit(db, actor=SYSTEM, member_id=member.id, amount_rials=5_000, reason="test",
                        expires_at=run_at - timedelta(hours=1), now=run_at - timedelta(days=1))
    db.refresh(member)
    assert member.credit_balance_rials == 5_000
    result = runner.invoke(args=["nightly"])
    assert result.exit_code == 0, result.output
    assert "expired 5,000 rials" in result.output
    db.refresh(member)
    assert member.credit_balance_rials == 0
