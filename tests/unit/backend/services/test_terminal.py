import json
import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend import ledger, protocol
from backend.errors import UnknownDevice
from backend.extensions import db as flask_db
from backend.models import Device, LedgerEntry, Purchase, TerminalRequest
from backend.protocol import Request
from backend.services import terminal
from tests import factories
from tests.conftest import NOW


def request(card, seq=1, op="purchase", amount=250_000, use_credit=0, offline=False, ts=None,
            request_id=None, clk=True, age_s=None):
    return Request(id=request_id or f"t01-{seq:06d}", seq=seq,
                   ts=ts if ts is not None else int(NOW.timestamp()), op=op, card=card,
                   amount=amount if op == "purchase" else None, use_credit=use_credit,
                   items=None, ref=None, offline=offline, clk=clk, age_s=age_s)


@pytest.fixture
def till(db):
    factories.device(db, device_id="t01")
    db.commit()
    return "t01"


def count(db, model):
    return db.scalar(select(func.count()).select_from(model))


def test_purchase_is_priced_recorded_and_answered(db, till):
    member = factories.member(db, credit_rials=50_000)
    body = json.loads(terminal.answer(db, till, request(factories.card_of(member)), NOW))
    assert body["ok"] is True and body["code"] == "OK"
    assert body["member"] == {"name": "Sara A.", "tier": "silver"}
    assert body["tx"] == {"amount": 250_000, "discount": 12_500, "credit_used": 0,
                          "payable": 237_500, "credit_earned": 11_875, "points_earned": 25,
                          "offers": []}
    assert body["bal"] == {"credit": 61_875, "points": 25}
    assert "To pay: 237,500" in body["receipt"]
    purchase = db.scalars(select(Purchase).where(Purchase.member_id == member.id)).one()
    assert (purchase.payable_rials, purchase.device_id) == (237_500, "t01")
    assert ledger.balance_from_entries(db, member.id, "credit") == 61_875
    assert db.get(Device, till).last_seq == 1


def test_spending_credit_goes_through_the_ledger(db, till):
    member = factories.member(db, credit_rials=123_000)
    body = json.loads(terminal.answer(
        db, till, request(factories.card_of(member), use_credit=100_000), NOW))
    assert body["tx"]["credit_used"] == 100_000 and body["tx"]["payable"] == 137_500
    assert body["bal"]["credit"] == 123_000 - 100_000 + 6_875
    amounts = db.scalars(select(LedgerEntry.amount).where(
        LedgerEntry.member_id == member.id, LedgerEntry.account == "credit")
        .order_by(LedgerEntry.id)).all()
    assert amounts == [123_000, -100_000, 6_875]


def test_repeated_id_gets_the_stored_bytes_and_changes_nothing(db, till):
    member = factories.member(db)
    card = factories.card_of(member)
    first = terminal.answer(db, till, request(card), NOW)
    entries = count(db, LedgerEntry)
    again = terminal.answer(db, till, request(card), NOW + timedelta(minutes=3))
    assert again == first
    assert count(db, LedgerEntry) == entries
    assert count(db, Purchase) == 1


def test_new_id_with_an_old_seq_is_a_replay_that_tells_the_floor(db, till):
    member = factories.member(db)
    card = factories.card_of(member)
    terminal.answer(db, till, request(card, seq=5), NOW)
    db.commit()
    replay = terminal.answer(db, till, request(card, seq=5, request_id="t01-other"), NOW)
    body = json.loads(replay)
    assert (body["ok"], body["code"], body["last_seq"]) == (False, "REPLAY", 5)
    assert count(db, Purchase) == 1
    # Stored like any answer: the retry of that frame gets the same bytes.
    assert terminal.answer(db, till, request(card, seq=5, request_id="t01-other"),
                           NOW + timedelta(minutes=5)) == replay


def test_a_known_id_with_another_request_is_id_reused_never_the_old_answer(db, till):
    """Issue 15 item 2: a reflashed terminal restarts at seq 1; its new sale under an old
    id must not get the old sale's receipt."""
    sara = factories.member(db)
    other = factories.member(db)
    first = terminal.answer(db, till, request(factories.card_of(sara), amount=250_000), NOW)
    db.commit()
    reused = terminal.answer(db, till, request(factories.card_of(other), amount=5_000_000), NOW)
    body = json.loads(reused)
    assert (body["ok"], body["code"], body["id"], body["last_seq"]) == (
        False, "ID_REUSED", "t01-000001", 1)
    assert reused != first and "receipt" not in body
    assert count(db, Purchase) == 1
    # The stored answer still answers its own request's retry.
    assert terminal.answer(db, till, request(factories.card_of(sara), amount=250_000),
                           NOW) == first
    row = db.scalars(select(TerminalRequest)).one()
    assert (row.code, row.offline, row.card_number, row.amount_rials) == (
        "OK", False, factories.card_of(sara), 250_000)
    assert row.digest == protocol.request_digest(request(factories.card_of(sara)))


def test_a_row_stored_before_digests_answers_its_id_as_before(db, till):
    member = factories.member(db)
    first = terminal.answer(db, till, request(factories.card_of(member)), NOW)
    db.execute(TerminalRequest.__table__.update().values(digest=None))
    assert terminal.answer(db, till, request(factories.card_of(member), amount=9), NOW) == first


def test_lookup_answers_balances_without_a_transaction(db, till):
    member = factories.member(db, credit_rials=7_000, points=12)
    body = json.loads(terminal.answer(db, till, request(factories.card_of(member), op="lookup"),
                                      NOW))
    assert body["bal"] == {"credit": 7_000, "points": 12}
    assert "tx" not in body
    assert count(db, Purchase) == 0


@pytest.mark.parametrize(("setup", "code"), [
    ("unknown", "CARD_UNKNOWN"), ("blocked", "CARD_BLOCKED"),
    ("overspend", "INSUFFICIENT_CREDIT"), ("stale", "STALE"),
])
def test_refusals_change_nothing_and_are_stored(db, till, setup, code):
    member = factories.member(db, credit_rials=1_000,
                              card_status="blocked" if setup == "blocked" else "active")
    card = "9900011234567898" if setup == "unknown" else factories.card_of(member)
    db.commit()  # the service rolls back on refusal; the set-up must survive that
    entries = count(db, LedgerEntry)
    req = request(card, use_credit=5_000 if setup == "overspend" else 0,
                  offline=setup == "stale",
                  ts=int((NOW - timedelta(days=8)).timestamp()) if setup == "stale" else None)
    refusal = terminal.answer(db, till, req, NOW)
    body = json.loads(refusal)
    assert (body["ok"], body["code"], body["id"]) == (False, code, "t01-000001")
    assert count(db, LedgerEntry) == entries
    assert count(db, Purchase) == 0
    row = db.scalars(select(TerminalRequest)).one()
    assert (row.code, row.offline, row.response_body.encode()) == (
        code, setup == "stale", refusal)
    assert row.ledger_transaction_id is None
    assert db.get(Device, till).last_seq == 1  # the refused seq is used up


def test_a_refused_sale_retried_after_the_balance_changed_is_still_refused(db, till):
    """Issue 17 item 3: the retry of a refused spend must not be charged once the member
    has the credit: same bytes, nothing spent."""
    member = factories.member(db, credit_rials=1_000)
    card = factories.card_of(member)
    db.commit()
    spend = request(card, use_credit=100_000)
    refusal = terminal.answer(db, till, spend, NOW)
    assert json.loads(refusal)["code"] == "INSUFFICIENT_CREDIT"
    ledger.post(db, member=ledger.lock_member(db, member.id), idempotency_key="cash-in",
                kind="grant", movements=[ledger.Movement("credit", 500_000)], reason="t",
                now=NOW)
    db.commit()
    assert terminal.answer(db, till, spend, NOW + timedelta(seconds=5)) == refusal
    assert count(db, Purchase) == 0
    assert ledger.balance_from_entries(db, member.id, "credit") == 501_000


def test_a_refused_body_with_a_readable_id_is_stored_once(db, till):
    factories.member(db)
    db.commit()
    raw = (b'{"v":1,"id":"t01-000003","seq":3,"ts":1,"op":"purchase",'
           b'"card":"9900010000000019","amount":-5,"use_credit":0}')
    with pytest.raises(protocol.ProtocolError) as refused:
        protocol.parse_request(raw)
    first = terminal.refuse_body(db, till, refused.value, NOW)
    assert json.loads(first)["code"] == "BAD_REQUEST"
    assert terminal.refuse_body(db, till, refused.value, NOW + timedelta(minutes=1)) == first
    row = db.scalars(select(TerminalRequest)).one()
    assert (row.request_id, row.seq, row.code, row.op) == ("t01-000003", 3, "BAD_REQUEST",
                                                           "purchase")


def test_offline_sale_from_an_unsynced_clock_is_dated_by_its_age(db, till):
    """Issue 15 item 3: after a power cut the terminal's clock says 2000-01-01; the sale is
    dated arrival minus age_s and accepted, not STALE."""
    member = factories.member(db)
    req = request(factories.card_of(member), offline=True, clk=False, age_s=3_600,
                  ts=946_684_800 + 120)
    body = json.loads(terminal.answer(db, till, req, NOW))
    assert body["ok"] is True
    purchase = db.scalars(select(Purchase)).one()
    assert purchase.created_at == NOW - timedelta(hours=1)


def test_offline_sale_older_than_the_window_by_its_age_is_stale(db, till):
    member = factories.member(db)
    req = request(factories.card_of(member), offline=True, clk=False,
                  age_s=8 * 24 * 3600, ts=946_684_800)
    assert json.loads(terminal.answer(db, till, req, NOW))["code"] == "STALE"


def test_offline_sale_from_a_synced_clock_keeps_its_ts_and_the_window(db, till):
    member = factories.member(db)
    sold_at = NOW - timedelta(days=2, minutes=3)
    req = request(factories.card_of(member), offline=True, ts=int(sold_at.timestamp()))
    assert json.loads(terminal.answer(db, till, req, NOW))["ok"] is True
    assert db.scalars(select(Purchase)).one().created_at == sold_at


def test_an_offline_ts_far_ahead_of_our_clock_is_dated_on_arrival(db, till, caplog,
                                                                  monkeypatch):
    """Issue 17 item 6: a ts years ahead no longer skips the STALE check; it is clamped."""
    monkeypatch.setattr(terminal.log, "disabled", False)  # Alembic's fileConfig disables it
    member = factories.member(db)
    ahead = NOW + timedelta(days=3 * 365)
    req = request(factories.card_of(member), offline=True, ts=int(ahead.timestamp()))
    assert terminal.clock_ahead(req, NOW)
    with caplog.at_level(logging.WARNING, logger="backend.services.terminal"):
        assert json.loads(terminal.answer(db, till, req, NOW))["ok"] is True
    assert db.scalars(select(Purchase)).one().created_at == NOW
    assert "ahead of the backend's clock" in caplog.text
    slightly = request(factories.card_of(member), seq=2, offline=True,
                       ts=int((NOW + timedelta(seconds=200)).timestamp()))
    assert not terminal.clock_ahead(slightly, NOW)


def test_concurrent_answers_to_a_refused_frame_and_its_retry_agree(tmp_path_factory, databases,
                                                                    app, monkeypatch):
    """Issue 17 item 3, concurrent case, on separate connections (two workers): worker A
    refuses a spend; before A stores its refusal, the member is credited and worker B
    answers the retry of the same frame. Both replies are the same bytes and the money
    matches them: B's OK was charged once, A's refusal was never stored."""
    from tests.conftest import build_app

    live = build_app(tmp_path_factory, databases, app.database_kind)
    with live.app_context():
        session = flask_db.session
        factories.device(session, device_id="t01")
        member = factories.member(session, credit_rials=1_000)
        member_id, card = member.id, factories.card_of(member)
        session.commit()
        session.remove()
    spend = request(card, use_credit=100_000)
    a_refused, b_done = threading.Event(), threading.Event()
    original = terminal._store_refusal
    replies: dict[str, bytes] = {}

    def store_refusal_late(*args, **kwargs):
        if threading.current_thread().name == "worker-a":
            a_refused.set()
            assert b_done.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(terminal, "_store_refusal", store_refusal_late)

    def worker(name: str):
        with live.app_context():
            try:
                if name == "worker-b":
                    assert a_refused.wait(30)
                    session = flask_db.session
                    ledger.post(session, member=ledger.lock_member(session, member_id),
                                idempotency_key="cash-in", kind="grant", reason="t", now=NOW,
                                movements=[ledger.Movement("credit", 500_000)])
                    session.commit()
                replies[name] = terminal.answer(flask_db.session, "t01", spend, NOW)
            finally:
                flask_db.session.remove()
                if name == "worker-b":
                    b_done.set()

    threads = [threading.Thread(target=worker, args=(name,), name=name)
               for name in ("worker-a", "worker-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert replies["worker-a"] == replies["worker-b"]
    body = json.loads(replies["worker-a"])
    assert body["ok"] is True and body["tx"]["credit_used"] == 100_000
    with live.app_context():
        session = flask_db.session
        assert session.scalar(select(func.count()).select_from(Purchase)) == 1
        assert session.scalar(select(func.count()).select_from(TerminalRequest)) == 1
        assert ledger.balance_from_entries(session, member_id, "credit") == (
            501_000 - 100_000 + body["tx"]["credit_earned"])
        session.remove()
    with live.app_context():
        flask_db.engine.dispose()


def test_offline_replay_inside_the_window_is_accepted(db, till):
    member = factories.member(db)
    req = request(factories.card_of(member), offline=True,
                  ts=int((NOW - timedelta(days=6)).timestamp()))
    body = json.loads(terminal.answer(db, till, req, NOW))
    assert body["ok"] is True
    assert db.scalars(select(Purchase.offline)).one() is True


def test_revoked_device_is_refused(db, till):
    db.get(Device, till).status = "revoked"
    member = factories.member(db)
    db.commit()
    with pytest.raises(UnknownDevice):
        terminal.answer(db, till, request(factories.card_of(member)), NOW)


def test_the_terminal_config_and_the_enrolment_reply_carry_the_seq_floor(db, till):
    """Issue 15 item 2: a reflashed terminal learns its floor from its config."""
    from backend.services import devices, enrolment

    member = factories.member(db)
    terminal.answer(db, till, request(factories.card_of(member), seq=41), NOW)
    credentials = devices.DeviceCredentials(till, "password", "00" * 32)
    config = devices.terminal_config(db, credentials, mqtt_host="h", mqtt_port=1)
    assert config["seq_floor"] == 41
    issued = enrolment.issue_token(db, device_id="t77", branch_id=db.get(Device, till).branch_id,
                                   now=NOW)
    enrolled = enrolment.redeem_token(db, issued.token, now=NOW)
    assert devices.terminal_config(db, enrolled, mqtt_host="h", mqtt_port=1)["seq_floor"] == 0


def test_terminal_config_carries_the_portal_address_for_the_receipt_qr(db, till):
    """The backend's public URL becomes the receipts' portal QR (issue 16); the firmware's
    own config check accepts what the backend writes."""
    from backend.services import devices
    from simulator import shim

    shim.install()
    from vafa import config as vconfig

    credentials = devices.DeviceCredentials(till, "password", "00" * 32)
    config = devices.terminal_config(db, credentials, mqtt_host="h", mqtt_port=1,
                                     public_url="https://club.example/")
    assert config["portal_url"] == "https://club.example/portal/"
    assert vconfig.validate(dict(config))["portal_url"] == "https://club.example/portal/"
    bare = devices.terminal_config(db, credentials, mqtt_host="h", mqtt_port=1)
    assert bare["portal_url"] == ""
    assert devices.portal_url("https://" + "x" * 200) == ""
