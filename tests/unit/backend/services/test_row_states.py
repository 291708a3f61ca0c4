"""Where a listed row stands (issue 20: templates render, services decide): each rule is
the one its service applies to the database, for one row, at the boundary instants."""

from datetime import UTC, date, datetime, timedelta

import pytest

from backend.models import ApiToken, CallTask, Message, NewsPost, PaymentInstrument
from backend.notifications import admin as messages_admin
from backend.services import api_tokens, content, happy_calls, instruments

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(("is_active", "publish_from", "publish_until", "state"), [
    (False, NOW - HOUR, None, "off"),
    (True, NOW + HOUR, None, "scheduled"),
    (True, NOW, None, "shown"),  # shown from its first instant
    (True, NOW - HOUR, NOW, "ended"),  # and no longer at its last
    (True, NOW - HOUR, NOW + HOUR, "shown"),
    (False, NOW + HOUR, NOW - HOUR, "off"),  # off wins over the dates
])
def test_a_post_state_follows_its_switch_and_dates(is_active, publish_from, publish_until,
                                                   state):
    post = NewsPost(is_active=is_active, publish_from=publish_from, publish_until=publish_until)
    assert content.post_state(post, NOW) == state


@pytest.mark.parametrize(("revoked_at", "expires_at", "state"), [
    (None, None, "live"),
    (None, NOW + HOUR, "live"),
    (None, NOW, "expired"),
    (NOW - HOUR, NOW + HOUR, "revoked"),
    (NOW - HOUR, NOW - HOUR, "revoked"),  # revoked is said first
])
def test_a_token_state_is_revoked_then_expired_then_live(revoked_at, expires_at, state):
    assert api_tokens.token_state(ApiToken(revoked_at=revoked_at, expires_at=expires_at),
                                  NOW) == state


@pytest.mark.parametrize(("status", "due_date", "overdue"), [
    ("pending", date(2026, 2, 28), True),
    ("pending", date(2026, 3, 1), False),  # due today is not late yet
    ("bounced", date(2026, 2, 1), False),  # owed, but not "overdue": it has an answer
    ("cleared", date(2026, 2, 1), False),
])
def test_only_a_pending_instrument_past_its_date_is_overdue(status, due_date, overdue):
    row = PaymentInstrument(status=status, due_date=due_date)
    assert instruments.is_overdue(row, date(2026, 3, 1)) is overdue


@pytest.mark.parametrize(("status", "due_at", "state"), [
    ("done", NOW - HOUR, "answered"),
    ("no_answer", NOW - HOUR, "no_answer"),
    ("open", NOW, "overdue"),
    ("open", NOW + HOUR, "due"),
])
def test_a_call_state(status, due_at, state):
    assert happy_calls.call_state(CallTask(status=status, due_at=due_at), NOW) == state


@pytest.mark.parametrize(("status", "kind", "retry"), [
    ("failed", "sms", True),
    ("failed", "otp", False),  # a code is never sent twice
    ("sent", "sms", False),
    ("queued", "sms", False),
])
def test_only_a_failed_message_that_is_no_code_can_be_sent_again(status, kind, retry):
    assert messages_admin.can_retry(Message(status=status, kind=kind)) is retry
