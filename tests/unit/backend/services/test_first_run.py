"""First run of a real club (issue 21): `vafa init` and the /setup page create the club,
its first branch and its first admin with a password they choose; the page is there only
until then; the demo is marked in the panel."""

import io
import stat
from datetime import UTC, datetime

import pytest
from PIL import Image
from sqlalchemy import func, select

from backend.errors import BadRequest
from backend.models import AuditLog, Branch, StaffUser, the_club
from backend.services import demo, first_run, staff
from tests import factories

STRONG = "گل‌سرخ-۱۴۰۳-باغ"  # Persian letters and digits, as typed on a Persian keyboard


@pytest.mark.parametrize("password, reason", [
    ("short-1", "at least 10"),
    ("password123", "first ones guessed"),
    ("Admin1234!!", "first ones guessed"),
    ("qwertyuiop", "first ones guessed"),
    ("۱۲۳۴۵۶۷۸۹۰", "first ones guessed"),      # 1234567890 in Persian digits
    ("۹۸۷۶۵۴۳۲۱۰", "first ones guessed"),
    ("abcdefghijk", "too easy"),
    ("zzzzzzzzzzzz", "too easy"),
    ("owner-of-the-shop", "username"),
    ("ShirinBakery-2026", "club's name"),
])
def test_weak_passwords_are_refused_with_the_reason(password, reason):
    with pytest.raises(BadRequest) as refused:
        first_run.check_password_strength(password, "owner", also_not=("Shirin Bakery",
                                                                        "shirinbakery"))
    assert refused.value.field == "password" and reason in refused.value.message


@pytest.mark.parametrize("password", [STRONG, "correct horse battery", "Tajrish#Branch-7"])
def test_strong_passwords_pass(password):
    first_run.check_password_strength(password, "owner", also_not=("Shirin Bakery",))


def invoke_init(runner, password: str, *extra: str):
    return runner.invoke(args=[
        "init", "--name", "Shirin Bakery", "--name-fa", "شیرینی شیرین", "--currency",
        "toman", "--branch", "تجریش", "--branch-code", "tajrish", "--admin", "Owner",
        "--admin-name", "Sara Ahmadi", "--password-stdin", *extra], input=password + "\n")


def test_init_creates_the_club_its_branch_and_admin(runner, db, client, auth):
    result = invoke_init(runner, STRONG)
    assert result.exit_code == 0, result.output
    club = the_club(db)
    assert (club.name, club.name_fa, club.currency_display, club.is_demo) == (
        "Shirin Bakery", "شیرینی شیرین", "toman", False)
    assert [(b.code, b.name) for b in db.scalars(select(Branch))] == [("tajrish", "تجریش")]
    admin = db.scalars(select(StaffUser)).one()
    assert (admin.username, admin.role, admin.full_name) == ("owner", "admin", "Sara Ahmadi")
    assert db.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "club_created")) == 1
    # The password chosen signs in; no demo password does.
    assert auth.login("admin", "admin1234").status_code == 401
    assert auth.login("owner", STRONG).status_code == 302
    page = client.get("/dashboard").get_data(as_text=True)
    assert "شیرینی شیرین" in page and 'id="demo-banner"' not in page
    # Once: a second init is refused and changes nothing.
    again = invoke_init(runner, STRONG)
    assert again.exit_code != 0 and "already has a club" in again.output
    assert db.scalar(select(func.count()).select_from(StaffUser)) == 1


def test_init_refuses_a_weak_password_and_writes_nothing(runner, db):
    result = invoke_init(runner, "tehran1234")
    assert result.exit_code != 0 and "first ones guessed" in result.output
    assert the_club(db) is None and db.scalar(select(func.count()).select_from(StaffUser)) == 0
    result = invoke_init(runner, "a-good-password-but-bad-code", "--branch-code", "Bad Code!")
    assert result.exit_code != 0 and "branch_code" in result.output
    assert the_club(db) is None and db.scalar(select(func.count()).select_from(Branch)) == 0


def test_init_asks_interactively_and_again_after_a_weak_password(runner, db):
    typed = "\n".join(["Shirin Bakery", "", "toman", "Tajrish", "owner", "Sara",
                       "password123", "password123", STRONG, STRONG]) + "\n"
    result = runner.invoke(args=["init"], input=typed)
    assert result.exit_code == 0, result.output
    assert "first ones guessed" in result.output
    assert staff.authenticate(db, "owner", STRONG) is not None


def test_create_admin_adds_a_second_admin(runner, db):
    assert invoke_init(runner, STRONG).exit_code == 0
    result = runner.invoke(args=["create-admin", "--username", "reza", "--name", "Reza",
                                 "--password-stdin"], input="second-admin-of-7-shops\n")
    assert result.exit_code == 0, result.output
    assert db.scalars(select(StaffUser).where(StaffUser.username == "reza")).one().role == "admin"
    weak = runner.invoke(args=["create-admin", "--username", "ali", "--name", "Ali",
                               "--password-stdin"], input="ali-password\n")
    assert weak.exit_code != 0 and "username" in weak.output


def png_bytes() -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (40, 40), (200, 30, 30)).save(output, format="PNG")
    return output.getvalue()


def setup_form(code: str, **changes) -> dict:
    form = {"setup_code": code, "name": "Shirin Bakery", "name_fa": "شیرینی شیرین",
            "currency_display": "rial", "branch_name": "تجریش", "branch_code": "main",
            "admin_full_name": "Sara Ahmadi", "admin_username": "owner",
            "password": STRONG, "password_confirm": STRONG}
    form.update(changes)
    return form


def test_setup_page_creates_the_club_once_then_is_gone(client, db, app):
    login = client.get("/login").get_data(as_text=True)
    assert 'id="first-run"' in login and "/setup" in login
    page = client.get("/setup")
    assert page.status_code == 200 and 'name="setup_code"' in page.get_data(as_text=True)
    assert "باشگاه خود را راه‌اندازی کنید" in page.get_data(as_text=True)  # Persian first
    code_file = app.config["INSTANCE_DIR"] / first_run.SETUP_CODE_FILE
    assert stat.S_IMODE(code_file.stat().st_mode) == 0o600
    code = code_file.read_text().strip()

    wrong = client.post("/setup", data=setup_form("0000-0000-0000"))
    assert wrong.status_code == 403 and the_club(db) is None
    weak = client.post("/setup", data=setup_form(code, password="owner12345",
                                                 password_confirm="owner12345"))
    assert weak.status_code == 400 and the_club(db) is None
    assert 'data-error-for="password"' in weak.get_data(as_text=True)
    assert "نباید نام کاربری" in weak.get_data(as_text=True)

    done = client.post("/setup", data={**setup_form(code.upper()),
                                       "logo": (io.BytesIO(png_bytes()), "logo.png")},
                       content_type="multipart/form-data")
    assert done.status_code == 302 and done.headers["Location"].endswith("/dashboard")
    club = the_club(db)
    assert club.currency_display == "rial" and club.logo_filename.startswith("logo-")
    assert not code_file.exists()
    # Signed in as the new admin; the page is gone for everyone.
    assert client.get("/dashboard").status_code == 200
    assert client.get("/setup").status_code == 404
    assert client.post("/setup", data=setup_form(code)).status_code == 404
    assert 'id="first-run"' not in client.get("/login").get_data(as_text=True)


def test_setup_page_is_404_once_an_admin_exists(client, db):
    factories.staff_user(db)
    assert client.get("/setup").status_code == 404


def test_the_demo_is_marked_on_every_panel_page(client, db):
    demo.seed_demo(db, datetime.now(UTC), history=False)
    assert the_club(db).is_demo
    assert client.get("/setup").status_code == 404
    assert client.post("/login", data={"username": "admin",
                                       "password": demo.DEMO_LOGINS["admin"]}).status_code == 302
    for path in ("/dashboard", "/members"):
        assert 'id="demo-banner"' in client.get(path).get_data(as_text=True)
