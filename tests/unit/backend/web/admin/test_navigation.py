"""The panel's sidebar (backend/web/admin/navigation.py): links grouped by task, only those the
user may open, the current page marked."""

import re

from tests import factories


def groups(html: str) -> dict[str, list[str]]:
    found = {}
    for key, body in re.findall(r'<section class="group" data-group="(\w+)">(.*?)</section>',
                                html, re.S):
        found[key] = re.findall(r"<a [^>]*>([^<]+)</a>", body)
    return found


def current(html: str) -> list[str]:
    return re.findall(r'<a [^>]*aria-current="page"[^>]*>([^<]+)</a>', html)


def test_admin_sees_every_group_in_persian_with_the_page_marked(client, auth, db):
    factories.staff_user(db)
    auth.login()
    html = client.get("/catalogue/offers").get_data(as_text=True)
    shown = groups(html)
    assert list(shown) == ["sales", "club", "members", "messages", "reports", "settings"]
    for title in ("فروش", "باشگاه", "اعضا", "پیام‌ها و اخبار", "گزارش‌ها", "تنظیمات"):
        assert f"<h2>{title}</h2>" in html
    assert shown["club"][:3] == ["سطح‌ها", "پیشنهادها و کمپین‌ها", "جایزه‌های امتیازی"]
    assert current(html) == ["پیشنهادها و کمپین‌ها"]
    assert 'aria-label="منو"' in html and 'id="nav-toggle"' in html


def test_a_members_page_marks_members(client, auth, db):
    factories.staff_user(db)
    member = factories.member(db)
    auth.login()
    html = client.get(f"/members/{member.id}").get_data(as_text=True)
    assert current(html) == ["اعضا"]
    assert current(client.get("/dashboard").get_data(as_text=True)) == ["پیشخوان"]
    assert current(client.get("/catalogue/offers/new").get_data(as_text=True)) == [
        "پیشنهادها و کمپین‌ها"]


def test_an_operator_sees_only_what_they_may_open(client, auth, db):
    branch = factories.branch(db)
    factories.staff_user(db, username="op", role="operator", branch_id=branch.id,
                         password="op-password-1")
    auth.login("op", "op-password-1")
    shown = groups(client.get("/dashboard").get_data(as_text=True))
    # Operators always record purchases, so they take cheques and instalments too.
    assert list(shown) == ["sales", "members"]
    assert shown["sales"] == ["چک‌ها و اقساط"]
    assert shown["members"] == ["اعضا", "عضو جدید", "درخواست‌ها", "تماس‌های رضایت‌سنجی"]


def test_firmware_updates_are_listed_for_admins_only(client, auth, db):
    branch = factories.branch(db)
    factories.staff_user(db)
    factories.staff_user(db, username="granted", role="operator", branch_id=branch.id,
                         password="granted-password-1", permissions=["devices"])
    auth.login()
    assert "به‌روزرسانی فرم‌افزار" in groups(client.get("/dashboard").get_data(as_text=True))[
        "sales"]
    auth.logout()
    auth.login("granted", "granted-password-1")
    shown = groups(client.get("/dashboard").get_data(as_text=True))
    assert "پایانه‌ها" in shown["sales"] and "به‌روزرسانی فرم‌افزار" not in shown["sales"]
