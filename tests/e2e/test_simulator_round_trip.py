"""Simulator (real firmware app) → Mosquitto → worker → database → reply → display."""

import subprocess
import sys
import time

from sqlalchemy import func, select

from backend import ledger
from backend.extensions import db
from backend.models import Card, Member, Purchase, TerminalRequest
from tests.support.waiting import wait_for

SARA_CARD = "9900010000000019"


def simulate(stack, *args, timeout_s=30):
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "simulator", "--headless", "--device", "t01",
         "--instance-dir", str(stack.instance_dir), "--timeout-s", "10", *args],
        capture_output=True, text=True, timeout=timeout_s,
    )
    result.elapsed_s = time.monotonic() - started
    return result


def member_state(stack, card_number=SARA_CARD):
    with stack.app.app_context():
        member = db.session.scalars(
            select(Member).join(Card).where(Card.number == card_number)).one()
        return {
            "credit": member.credit_balance_rials,
            "points": member.points_balance,
            "credit_from_entries": ledger.balance_from_entries(db.session, member.id, "credit"),
            "purchases": db.session.scalar(select(func.count()).select_from(Purchase)
                                           .where(Purchase.member_id == member.id)),
        }


def test_purchase_round_trip_shows_balance_on_display_and_receipt(stack):
    result = simulate(stack, "--scan", SARA_CARD, "--amount", "250000")
    assert result.returncode == 0, result.stdout + result.stderr
    display, _, receipt = result.stdout.partition("[receipt]")
    assert "سارا ا." in display  # the demo's Persian names
    assert "silver" in display
    assert "61,875" in display  # 50,000 welcome + 11,875 earned
    assert "25" in display
    assert "To pay: 237,500" in receipt
    assert "Credit: 61,875" in receipt
    assert member_state(stack) == {"credit": 61_875, "points": 25,
                                   "credit_from_entries": 61_875, "purchases": 1}
    with stack.app.app_context():
        stored = db.session.scalars(select(TerminalRequest)).one()
        assert (stored.device_id, stored.op, stored.seq) == ("t01", "purchase", 1)


def test_second_purchase_spends_all_credit_and_uses_the_next_seq(stack):
    assert simulate(stack, "--scan", SARA_CARD, "--amount", "250000").returncode == 0
    result = simulate(stack, "--scan", SARA_CARD, "--amount", "100000", "--use-credit", "-1")
    assert result.returncode == 0, result.stdout + result.stderr
    # 100,000 − 5,000 discount = 95,000 due; 61,875 credit covers part of it.
    assert "33,125" in result.stdout  # payable
    state = member_state(stack)
    assert state["purchases"] == 2
    assert state["credit"] == state["credit_from_entries"] == 33_125 * 5 // 100
    with stack.app.app_context():
        seqs = db.session.scalars(select(TerminalRequest.seq).order_by(TerminalRequest.id)).all()
    assert seqs == [1, 2]


def test_balance_lookup_changes_nothing(stack):
    result = simulate(stack, "--scan", SARA_CARD, "--lookup")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "50,000" in result.stdout
    assert member_state(stack)["purchases"] == 0


def test_unknown_card_is_refused_by_the_backend(stack):
    result = simulate(stack, "--scan", "9900011234567898", "--amount", "1000")
    assert result.returncode == 1
    assert "CARD_UNKNOWN" in result.stdout + result.stderr


def test_invalid_card_is_refused_on_the_terminal_and_nothing_is_sent(stack):
    result = simulate(stack, "--scan", "9900010000000018", "--amount", "1000")
    assert result.returncode == 1
    assert sum(stack.worker.counters.values()) == 0
    assert member_state(stack)["purchases"] == 0


def test_terminal_state_reaches_the_panel(stack):
    """The firmware's retained `state` message marks the terminal online with its
    firmware version; the panel's terminals page shows it."""
    from backend.models import Device

    assert simulate(stack, "--lookup", "--scan", SARA_CARD).returncode == 0
    def recorded_state():
        with stack.app.app_context():
            device = db.session.get(Device, "t01")
            return device if device.state_at is not None else None

    device = wait_for(recorded_state, 10, "the terminal's state message was recorded")
    assert device.firmware_version and device.queued_count == 0
