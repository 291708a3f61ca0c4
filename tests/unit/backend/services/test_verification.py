"""One-time codes: hashed with the app's key, expire, a bounded number of attempts,
single use, the newest replaces older ones, rate-limited per mobile and address."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.models import Message, VerificationCode
from backend.services import verification
from backend.services.verification import CodeRefused, TooManyCodes
from backend.unit_of_work import unit_of_work
from tests.conftest import NOW

SECRET = "test-secret"


def ask(db, mobile="09120001111", purpose="sign_in", ip="10.1.1.1", now=NOW):
    verification.request_code(db, mobile=mobile, purpose=purpose, ip=ip, now=now,
                              secret=SECRET)
    return db.scalars(select(Message).where(Message.recipient == mobile)
                      .order_by(Message.id.desc())).first().params["code"]


def check(db, code, mobile="09120001111", purpose="sign_in", now=NOW):
    code_id = verification.check_code(db, mobile=mobile, purpose=purpose, code=code, now=now,
                                      secret=SECRET)
    with unit_of_work(db):
        verification.consume_code(db, code_id, now)


def test_a_code_is_used_once(db):
    code = ask(db)
    check(db, code)
    db.commit()
    with pytest.raises(CodeRefused, match="Ask for a code first"):
        check(db, code)


def test_only_a_keyed_hash_is_stored(db):
    code = ask(db)
    [row] = db.scalars(select(VerificationCode)).all()
    assert len(row.code_hash) == 64 and code not in row.code_hash
    assert row.expires_at == NOW + timedelta(minutes=2)
    with pytest.raises(CodeRefused, match="not right"):
        verification.check_code(db, mobile="09120001111", purpose="sign_in", code=code,
                                now=NOW, secret="another-secret")


def test_codes_are_bound_to_their_purpose_and_the_newest_wins(db):
    first = ask(db)
    with pytest.raises(CodeRefused):
        check(db, first, purpose="reset")
    second = ask(db, now=NOW + timedelta(seconds=61))
    if first != second:
        with pytest.raises(CodeRefused, match="not right"):
            check(db, first, now=NOW + timedelta(seconds=62))
    check(db, second, now=NOW + timedelta(seconds=62))


def test_expiry_and_attempts(db):
    code = ask(db)
    with pytest.raises(CodeRefused, match="expired"):
        check(db, code, now=NOW + timedelta(minutes=2))
    code = ask(db, mobile="09120002222")
    for _ in range(verification.MAX_ATTEMPTS):
        with pytest.raises(CodeRefused, match="not right"):
            check(db, "abc", mobile="09120002222")
    with pytest.raises(CodeRefused, match="Too many wrong codes"):
        check(db, code, mobile="09120002222")


def test_limits_per_mobile_and_per_address(db):
    ask(db)
    with pytest.raises(TooManyCodes, match="Wait a minute"):
        ask(db, now=NOW + timedelta(seconds=30))
    for minute in range(1, verification.MAX_PER_MOBILE_AND_IP):
        ask(db, now=NOW + timedelta(minutes=minute))
    with pytest.raises(TooManyCodes, match="an hour"):
        ask(db, now=NOW + timedelta(minutes=10))
    ask(db, now=NOW + timedelta(hours=1, minutes=1))  # the window has moved on
    for index in range(verification.MAX_PER_IP):
        ask(db, mobile=f"0912555{index:04d}", ip="10.9.9.9")
    with pytest.raises(TooManyCodes, match="an hour"):
        ask(db, mobile="09125559999", ip="10.9.9.9")


def test_bad_mobile_is_refused(db):
    with pytest.raises(verification.BadRequest):
        ask(db, mobile="12345")


def test_a_wrong_code_stays_counted_when_its_use_case_is_refused(db):
    """The try is counted in its own unit, so the refusal's rollback keeps it."""
    code = ask(db)
    with pytest.raises(CodeRefused, match="not right"):
        check(db, "x" + code)
    db.rollback()
    [row] = db.scalars(select(VerificationCode)).all()
    assert (row.attempts, row.consumed_at) == (1, None)


def test_a_code_checked_for_a_refused_use_case_stays_unused(db):
    code = ask(db)
    code_id = verification.check_code(db, mobile="09120001111", purpose="sign_in", code=code,
                                      now=NOW, secret=SECRET)
    with pytest.raises(RuntimeError), unit_of_work(db):
        verification.consume_code(db, code_id, NOW)
        raise RuntimeError("the use case is refused after the code was used")
    check(db, code)  # still usable: its use was rolled back with the use case
