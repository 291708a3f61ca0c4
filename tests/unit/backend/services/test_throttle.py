"""Issue 17 item 7: guessing is slowed per (account, address) with a doubling wait, so
nobody can lock the real user out; staff, members and SMS codes. Pinned clock only."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.models import LoginAttempt, VerificationCode
from backend.services import member_auth, staff, throttle, verification
from backend.services.throttle import TooManyAttempts
from tests import factories
from tests.conftest import NOW

ATTACKER, OFFICE = "198.51.100.66", "203.0.113.10"


def test_the_wait_doubles_after_the_free_failures_up_to_fifteen_minutes():
    assert [throttle.delay_after(n).total_seconds() for n in range(8)] == [
        0, 0, 0, 2, 4, 8, 16, 32]
    assert throttle.delay_after(12) == throttle.delay_after(10_000) == timedelta(minutes=15)


def test_guessing_a_staff_password_slows_the_guesser_not_the_user(db):
    factories.staff_user(db)  # admin / admin-password
    now = NOW
    for _ in range(throttle.FREE_FAILURES):
        assert staff.authenticate(db, "admin", "guess", ip=ATTACKER, now=now) is None
    with pytest.raises(TooManyAttempts) as refused:
        staff.authenticate(db, "admin", "admin-password", ip=ATTACKER, now=now)
    assert refused.value.retry_after_s == 2
    # The real user, elsewhere, at the same moment: in at once.
    assert staff.authenticate(db, "admin", "admin-password", ip=OFFICE, now=now) is not None
    # The guesser waits 2 s, then 4 s, 8 s…: each wait is measured from its last failure.
    for expected in (2, 4, 8, 16):
        with pytest.raises(TooManyAttempts) as refused:
            staff.authenticate(db, "admin", "guess", ip=ATTACKER,
                               now=now + timedelta(seconds=expected - 1))
        assert refused.value.retry_after_s == 1
        now += timedelta(seconds=expected)
        assert staff.authenticate(db, "admin", "guess", ip=ATTACKER, now=now) is None
    # Refused tries are not recorded: only the real ones count.
    assert db.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.ip == ATTACKER)) == throttle.FREE_FAILURES + 4
    assert staff.authenticate(db, "admin", "admin-password", ip=OFFICE, now=now) is not None


def test_a_long_guessing_run_never_locks_the_account(db):
    factories.staff_user(db)
    now = NOW
    for _ in range(40):  # far past the old "5 failures, 15 minutes" lock
        now += throttle.delay_after(40)
        staff.authenticate(db, "admin", "guess", ip=ATTACKER, now=now)
    assert staff.authenticate(db, "admin", "admin-password", ip=OFFICE, now=now) is not None
    with pytest.raises(TooManyAttempts) as refused:
        staff.authenticate(db, "admin", "admin-password", ip=ATTACKER, now=now)
    assert refused.value.retry_after_s == 15 * 60


def test_a_success_from_an_address_starts_its_count_again(db):
    factories.staff_user(db)
    now = NOW
    for _ in range(throttle.FREE_FAILURES):
        staff.authenticate(db, "admin", "typo", ip=OFFICE, now=now)
    now += timedelta(seconds=2)
    assert staff.authenticate(db, "admin", "admin-password", ip=OFFICE, now=now) is not None
    for _ in range(throttle.FREE_FAILURES):
        assert staff.authenticate(db, "admin", "typo", ip=OFFICE, now=now) is None


def test_an_address_spraying_many_accounts_is_held_back_alone(db):
    factories.staff_user(db)
    for number in range(throttle.MAX_FAILURES_PER_ADDRESS):
        staff.authenticate(db, f"guess{number}", "x", ip=ATTACKER, now=NOW)
    with pytest.raises(TooManyAttempts) as refused:
        staff.authenticate(db, "admin", "admin-password", ip=ATTACKER, now=NOW)
    assert refused.value.retry_after_s == 15 * 60
    assert staff.authenticate(db, "admin", "admin-password", ip=OFFICE, now=NOW) is not None
    later = NOW + throttle.ADDRESS_WINDOW
    assert staff.authenticate(db, "admin", "admin-password", ip=ATTACKER, now=later)


def test_member_sign_in_is_slowed_per_address_too(db):
    factories.club(db)
    member = factories.member(db, mobile="09121110000")
    member_auth.set_password(db, member.id, "member-pass-1")
    for _ in range(throttle.FREE_FAILURES):
        assert member_auth.authenticate(db, "09121110000", "x", ip=ATTACKER, now=NOW) is None
    with pytest.raises(TooManyAttempts):
        member_auth.authenticate(db, "09121110000", "member-pass-1", ip=ATTACKER, now=NOW)
    assert member_auth.authenticate(db, "09121110000", "member-pass-1", ip=OFFICE,
                                    now=NOW).id == member.id


def ask(db, ip, now, mobile="09120001111", purpose="sign_in"):
    verification.request_code(db, mobile=mobile, purpose=purpose, ip=ip, now=now,
                              secret="s")


def test_codes_asked_for_from_elsewhere_do_not_stop_the_member_asking(db):
    now = NOW
    for _ in range(verification.MAX_PER_MOBILE_AND_IP):
        ask(db, ATTACKER, now)
        now += verification.RESEND_AFTER
    with pytest.raises(verification.TooManyCodes, match="an hour"):
        ask(db, ATTACKER, now)
    ask(db, OFFICE, now)  # the member, from their own address
    with pytest.raises(verification.TooManyCodes, match="a minute"):
        ask(db, OFFICE, now + timedelta(seconds=30))
    assert db.scalar(select(func.count()).select_from(VerificationCode)) == 6


def test_a_mobile_gets_a_bounded_number_of_codes_an_hour_whoever_asks(db):
    for number in range(verification.MAX_PER_MOBILE):
        ask(db, f"10.0.0.{number}", NOW + timedelta(minutes=number))
    with pytest.raises(verification.TooManyCodes, match="an hour"):
        ask(db, "10.0.1.1", NOW + timedelta(minutes=20))
    ask(db, "10.0.1.1", NOW + timedelta(hours=1, seconds=1))  # the window moved on


def test_a_burst_of_tries_at_once_gets_only_the_free_ones(db):
    """Tries racing each other: each is written before it is checked, so a burst sent
    before any of them finished still reaches the password check only FREE_FAILURES
    times; the refused ones are not kept."""
    started = []
    with pytest.raises(TooManyAttempts):
        for _ in range(10):
            started.append(throttle.begin(db, "admin", ATTACKER, NOW))
    assert len(started) == throttle.FREE_FAILURES
    assert db.scalar(select(func.count()).select_from(LoginAttempt)) == throttle.FREE_FAILURES
    assert throttle.begin(db, "admin", OFFICE, NOW) is not None


def test_a_try_is_recorded_in_its_own_unit_never_inside_a_use_case(db):
    """A failure must survive its use case's rollback, so the throttle refuses to join
    a caller's unit rather than be rolled back with it."""
    from backend.unit_of_work import unit_of_work
    with pytest.raises(AssertionError, match="own unit"), unit_of_work(db):
        throttle.begin(db, "admin", ATTACKER, NOW)
    attempt = throttle.begin(db, "admin", ATTACKER, NOW)
    throttle.finish(attempt, False)
    db.rollback()
    assert db.scalars(select(LoginAttempt.succeeded)).all() == [False]
