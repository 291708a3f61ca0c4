"""A member's history names the other party of a credit transfer, masked
(backend/services/statements.py), in the portal and in the panel."""

from backend.services import statements, wallet
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW
from tests.unit.backend.web.portal.test_home import member_with_password, sign_in


def test_masked_name_keeps_each_words_first_letter():
    assert statements.masked_name("سارا", "احمدی") == "س*** ا***"
    assert statements.masked_name("محمد\u200cرضا", "نیک‌پور") == "م*** ر*** ن*** پ***"
    assert statements.masked_name("Neda", None) == "N***"
    assert statements.masked_name("", "") == "***"


def two_friends_who_transfer(db):
    factories.club(db, max_transfer_rials=1_000_000, max_transfer_per_day_rials=5_000_000)
    sender = member_with_password(db, first_name="سارا", last_name="احمدی",
                                  credit_rials=100_000)
    receiver = member_with_password(db, first_name="بهرام", last_name="کریمی")
    wallet.transfer_credit(db, actor=SYSTEM, from_member_id=sender.id, to_member_id=receiver.id,
                           amount_rials=30_000, idempotency_key="friends-1", now=NOW)
    wallet.transfer_credit(db, actor=SYSTEM, from_member_id=receiver.id, to_member_id=sender.id,
                           amount_rials=5_000, idempotency_key="friends-2", now=NOW)
    return sender, receiver


def test_transfer_parties_name_the_other_member_of_each_row(db):
    sender, receiver = two_friends_who_transfer(db)
    rows = db.execute(statements.history_statement(sender.id)).all()
    parties = statements.transfer_parties(db, rows)
    by_kind = {row.kind: parties.get(row.id) for row in rows}
    assert by_kind == {"transfer-out": "ب*** ک***", "transfer-in": "ب*** ک***", "grant": None}
    rows = db.execute(statements.history_statement(receiver.id)).all()
    assert sorted(statements.transfer_parties(db, rows).values()) == ["س*** ا***"] * 2
    assert statements.transfer_parties(db, []) == {}


def test_the_portal_and_the_panel_show_the_masked_name(client, auth, db):
    sender, receiver = two_friends_who_transfer(db)
    sign_in(client, sender)
    history = client.get("/portal/history").get_data(as_text=True)
    assert '<span class="party">به ب*** ک***</span>' in history
    assert '<span class="party">از ب*** ک***</span>' in history
    assert "کریمی" not in history and "بهرام" not in history
    assert '<span class="party">به ب*** ک***</span>' in client.get("/portal/").get_data(
        as_text=True)
    factories.staff_user(db)
    auth.login()
    page = client.get(f"/members/{receiver.id}").get_data(as_text=True)
    assert f"انتقال از عضو شمارهٔ {sender.id}".translate(
        str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")) + ' · <bdi class="party">س*** ا***</bdi>' \
        in page
