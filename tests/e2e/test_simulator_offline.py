"""Outage (T5) end to end: the simulator's real firmware journals earn-only sales while the
network is off, a power cut tears the last journal record, and after a reboot with the
network back exactly the intact sales are credited, once each, in order."""

import subprocess
import sys

from sqlalchemy import select

from backend.extensions import db
from backend.models import Card, Member, Purchase, TerminalRequest

SARA_CARD = "9900010000000019"


def steps(stack, text, timeout_s=60):
    return subprocess.run(
        [sys.executable, "-m", "simulator", "--headless", "--device", "t01",
         "--instance-dir", str(stack.instance_dir), "--timeout-s", "10", "--steps", text],
        capture_output=True, text=True, timeout=timeout_s,
    )


def sara_purchases(stack):
    with stack.app.app_context():
        member = db.session.scalars(
            select(Member).join(Card).where(Card.number == SARA_CARD)).one()
        rows = db.session.scalars(select(Purchase).where(Purchase.member_id == member.id)
                                  .order_by(Purchase.id)).all()
        return ([(p.amount_rials, p.offline) for p in rows],
                member.credit_balance_rials, member.points_balance)


def request_ids(stack):
    with stack.app.app_context():
        return db.session.scalars(select(TerminalRequest.request_id)
                                  .order_by(TerminalRequest.id)).all()


def test_outage_power_cut_reboot_replays_the_intact_sales_once_in_order(stack):
    device_dir = stack.instance_dir / "devices" / "t01"
    # 1. network off, three earn-only sales: all journaled, nothing reaches the backend.
    r = steps(stack, f"net:off,scan:{SARA_CARD},keys:100000E,key:C,"
                     f"scan:{SARA_CARD},keys:200000E,key:C,scan:{SARA_CARD},keys:300000E")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("Saved offline") == 3
    assert r.stdout.count("Points will be added later") == 3  # on each receipt
    assert "[journal] queued 3" in r.stdout
    assert sara_purchases(stack)[0] == [] and request_ids(stack) == []

    # 2. power cut while the third sale was being written: its record is torn.
    log = device_dir / "journal.log"
    data = log.read_bytes()
    log.write_bytes(data[:len(data) - 40])

    # 3. reboot (a new process), network on: the journal drains before anything else.
    r = steps(stack, "net:on,drain:15000")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[journal] dropped 1 torn record" in r.stdout
    assert "confirmed 2, refused 0" in r.stdout
    assert "[journal] queued 0" in r.stdout
    purchases, credit, points = sara_purchases(stack)
    assert purchases == [(100_000, True), (200_000, True)]
    assert request_ids(stack) == ["t01-000001", "t01-000002"]
    # silver: 5 % off, 5 % of the payable back as credit
    assert credit == 50_000 + 95_000 * 5 // 100 + 190_000 * 5 // 100
    assert not log.exists()

    # 4. nothing is credited twice, and seq kept growing across the reboot.
    r = steps(stack, f"scan:{SARA_CARD},keys:1000E")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Pay: 950" in r.stdout
    assert [a for a, _ in sara_purchases(stack)[0]] == [100_000, 200_000, 1_000]
    assert request_ids(stack) == ["t01-000001", "t01-000002", "t01-000004"]


def test_spend_and_lookup_need_the_backend(stack):
    r = steps(stack, f"net:off,scan:{SARA_CARD},keys:5000UE,key:C,scan:{SARA_CARD},key:L")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("Needs connection") == 2
    assert "[journal] queued 0" in r.stdout
    assert request_ids(stack) == []


def test_power_cut_keeps_a_saved_sale_and_dates_the_replay_by_its_age(stack):
    # A sale saved offline while the clock was synced, then a power cut: the board's
    # clock restarts at 2000-01-01, but the journaled sale keeps its own ts and is
    # credited once when the network is back.
    r = steps(stack, f"net:off,scan:{SARA_CARD},keys:100000E,power-cut,net:on,drain:15000")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[clock] power cut: the board's clock restarts at 946684800" in r.stdout
    assert "confirmed 1, refused 0" in r.stdout
    assert sara_purchases(stack)[0] == [(100_000, True)]
    assert request_ids(stack) == ["t01-000001"]


def test_sale_after_a_power_cut_is_not_refused_for_the_terminal_clock(stack):
    r = steps(stack, f"power-cut,net:off,scan:{SARA_CARD},keys:100000E,net:on,drain:15000")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "confirmed 1, refused 0" in r.stdout, r.stdout
    assert sara_purchases(stack)[0] == [(100_000, True)]
