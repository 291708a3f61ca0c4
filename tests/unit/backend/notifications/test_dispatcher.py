"""The dispatcher: render, count the quota, send through the provider, retry with
backoff, give up, cancel what must not go — against the fake Kavenegar API through the
real `kavenegar` package, and the console provider."""

import json
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.extensions import db as flask_db
from backend.log_redaction import mask_mobiles
from backend.models import Club, Member, Message, MessageTemplate, Tier
from backend.notifications import dispatcher, outbox, providers
from backend.notifications.providers import SendResult
from backend.services import counter, verification
from backend.unit_of_work import SYSTEM, unit_of_work
from tests import factories
from tests.conftest import DATABASE_KINDS, NOW, build_app
from tests.unit.backend.notifications.conftest import message_settings


def buy(db, member, amount=250_000, key="dispatch-test-purchase-1"):
    branch = factories.branch(db)
    return counter.record_purchase(db, actor=SYSTEM, member_id=member.id, branch_id=branch.id,
                                   amount_rials=amount, use_credit_rials=0,
                                   request_key=key, now=NOW).purchase


def queued(db, **filters):
    statement = select(Message).order_by(Message.id)
    for name, value in filters.items():
        statement = statement.where(getattr(Message, name) == value)
    return db.scalars(statement).all()


def test_a_purchase_thank_you_goes_out_in_persian(db, clock, tmp_path):
    factories.club(db, name_fa="باشگاه وفا")
    member = factories.member(db, first_name="سارا", credit_rials=10_000)
    purchase = buy(db, member)
    [message] = queued(db, kind="purchase")
    assert (message.status, message.body, message.category) == ("queued", "", "transactional")
    console = providers.ConsoleProvider(tmp_path, "sms")
    report = dispatcher.dispatch_due(db, {"sms": console, "email": console}, clock)
    assert report.sent == 1
    db.refresh(message)
    assert message.status == "delivered" and message.provider == "console"
    assert message.language == "fa" and message.attempts == 1
    # silver: 5 % off 250,000 → pays 237,500; 5 % of that back as credit.
    assert message.body == (
        "سارا عزیز، از خرید ۲۵۰٬۰۰۰ ریال سپاسگزاریم. اعتبار کسب‌شده: ۱۱٬۸۷۵ ریال، "
        "امتیاز: ۲۵. موجودی اعتبار: ۲۱٬۸۷۵ ریال\nباشگاه وفا")
    assert message.parts == 2
    line = json.loads((tmp_path / "sms.log").read_text(encoding="utf-8").splitlines()[-1])
    assert (line["to"], line["body"]) == (mask_mobiles(member.mobile), message.body)
    assert purchase.credit_earned_rials == 11_875


def test_english_members_get_the_english_text_and_edited_templates_win(db, clock, tmp_path):
    factories.club(db, name="Vafa Club")
    member = factories.member(db, first_name="Sara", message_language="en")
    db.add(MessageTemplate(key="credit_increase", language="en",
                           body="{first_name}: +{amount} on {date}, now {credit_balance}."))
    db.flush()
    counter.top_up(db, actor=SYSTEM, member_id=member.id, amount_rials=40_000,
                   request_key="dispatch-test-topup-1", now=NOW)
    console = providers.ConsoleProvider(tmp_path, "sms")
    dispatcher.dispatch_due(db, {"sms": console, "email": console}, clock)
    [message] = queued(db, kind="credit_increase")
    assert message.body == "Sara: +40,000 rials on 2026-11-21, now 40,000 rials."
    assert message.parts == 1


def test_kavenegar_send_and_delivery_report(db, clock, kavenegar_api, kavenegar_provider):
    factories.club(db)
    member = factories.member(db)
    buy(db, member)
    report = dispatcher.dispatch_due(db, {"sms": kavenegar_provider}, clock)
    assert report.sent == 1
    [message] = queued(db)
    [sent] = kavenegar_api.sent
    assert sent["receptor"] == member.mobile and sent["message"] == message.body
    assert sent["sender"] == "10004346" and sent["localid"] == str(message.id)
    assert (message.status, message.provider, message.provider_ref) == (
        "sent", "kavenegar", str(sent["messageid"]))
    assert message.sent_at == NOW and message.delivered_at is None
    # The operator's network confirms a minute later.
    changed = dispatcher.check_deliveries(db, {"sms": kavenegar_provider},
                                          clock.advance(minutes=1).now)
    db.refresh(message)
    assert changed == 1 and message.status == "delivered"
    assert message.delivered_at == clock.now


def test_undelivered_is_a_failure_and_is_not_checked_again(db, clock, kavenegar_api,
                                                          kavenegar_provider):
    factories.club(db)
    buy(db, factories.member(db))
    dispatcher.dispatch_due(db, {"sms": kavenegar_provider}, clock)
    [message] = queued(db)
    kavenegar_api.delivery[int(message.provider_ref)] = 11  # undelivered
    dispatcher.check_deliveries(db, {"sms": kavenegar_provider}, clock.advance(minutes=1).now)
    db.refresh(message)
    assert message.status == "failed" and "could not deliver" in message.error
    asked = len(kavenegar_api.requests)
    dispatcher.check_deliveries(db, {"sms": kavenegar_provider}, clock.advance(minutes=10).now)
    assert len(kavenegar_api.requests) == asked


def test_retry_with_exponential_backoff_then_success(db, clock, kavenegar_api,
                                                     kavenegar_provider):
    factories.club(db)
    buy(db, factories.member(db))
    chosen = {"sms": kavenegar_provider}
    kavenegar_api.fail_next(2, http_status=502, api_status=502, message="bad gateway")
    assert dispatcher.dispatch_due(db, chosen, clock).retried == 1
    [message] = queued(db)
    assert (message.status, message.attempts) == ("queued", 1)
    assert message.next_attempt_at == NOW + timedelta(seconds=30)
    assert "502" in message.error
    assert dispatcher.settings(db).sms_used == 0  # a failed attempt gives its parts back
    # Not due before its time.
    assert dispatcher.dispatch_due(db, chosen, clock.advance(seconds=29)).handled == 0
    assert dispatcher.dispatch_due(db, chosen, clock.advance(seconds=1)).retried == 1
    db.refresh(message)
    assert message.attempts == 2 and message.next_attempt_at == clock.now + timedelta(minutes=1)
    assert dispatcher.dispatch_due(db, chosen, clock.advance(minutes=1)).sent == 1
    db.refresh(message)
    assert (message.status, message.attempts) == ("sent", 3)
    assert len(kavenegar_api.sent) == 1
    assert dispatcher.settings(db).sms_used == message.parts


def test_backoff_is_bounded():
    assert [dispatcher.backoff(n).total_seconds() for n in range(1, 9)] == [
        30, 60, 120, 240, 480, 960, 1800, 1800]


def test_gives_up_after_the_last_attempt(db, clock, kavenegar_api, kavenegar_provider):
    factories.club(db)
    buy(db, factories.member(db))
    kavenegar_api.fail_next(dispatcher.MAX_ATTEMPTS, api_status=418, message="اعتبار کافی نیست")
    for _ in range(dispatcher.MAX_ATTEMPTS):
        dispatcher.dispatch_due(db, {"sms": kavenegar_provider}, clock)
        clock.advance(hours=1)
    [message] = queued(db)
    assert (message.status, message.attempts) == ("failed", dispatcher.MAX_ATTEMPTS)
    assert "418" in message.error and "اعتبار کافی نیست" in message.error
    assert kavenegar_api.sent == [] and dispatcher.settings(db).sms_used == 0
    assert dispatcher.dispatch_due(db, {"sms": kavenegar_provider}, clock).handled == 0


def test_a_permanent_error_fails_at_once(db, clock, kavenegar_api, kavenegar_provider):
    factories.club(db)
    member = factories.member(db)
    outbox.enqueue(db, kind="birthday", recipient="0912", member=member, now=NOW)
    dispatcher.dispatch_due(db, {"sms": kavenegar_provider}, clock)
    [message] = queued(db)
    assert (message.status, message.attempts) == ("failed", 1)
    assert "411" in message.error


def test_a_wrong_api_key_is_retried_not_dropped(db, clock, kavenegar_api):
    factories.club(db)
    buy(db, factories.member(db))
    wrong = providers.KavenegarProvider("not-the-key", host=kavenegar_api.host)
    assert dispatcher.dispatch_due(db, {"sms": wrong}, clock).retried == 1
    [message] = queued(db)
    assert "403" in message.error and message.status == "queued"


def test_a_provider_that_never_answers_costs_a_timeout(db, clock, kavenegar_api,
                                                      kavenegar_provider, monkeypatch):
    monkeypatch.setattr(providers.kavenegar.requests, "timeout_s", 0.3)
    factories.club(db)
    buy(db, factories.member(db))
    kavenegar_api.fail_next(hang_s=2)
    assert dispatcher.dispatch_due(db, {"sms": kavenegar_provider}, clock).retried == 1
    [message] = queued(db)
    assert "unreachable" in message.error


def test_a_crashed_send_is_taken_over_after_its_lease_and_kavenegar_sends_once(
        db, clock, kavenegar_api, kavenegar_provider):
    factories.club(db)
    member = factories.member(db)
    buy(db, member)
    # A process claims the message, sends it and dies before recording the result.
    [message_id] = dispatcher.claim(db, NOW)
    message = db.get(Message, message_id)
    dispatcher._render(db, message, member, dispatcher.settings(db), {})
    db.commit()
    kavenegar_provider.send(providers.Outgoing(message.id, "sms", message.recipient, "",
                                               message.body))
    assert dispatcher.claim(db, clock.advance(minutes=4).now) == []  # its lease still holds
    clock.advance(minutes=2)
    assert dispatcher.dispatch_due(db, {"sms": kavenegar_provider}, clock).sent == 1
    db.refresh(message)
    assert message.status == "sent" and message.attempts == 2
    assert len(kavenegar_api.sent) == 1  # the repeated localid was not sent again


def test_quota_transactional_first_then_nothing(db, clock, tmp_path):
    factories.club(db)
    message_settings(db, sms_quota=4, sms_used=0, sms_promotional_reserve=1)
    member = factories.member(db, first_name="Sara", message_language="en")
    gold = {"tier": {"en": "gold", "fa": "طلایی"}}
    for index in range(3):  # one part each; promotional may use 4 - 1 = 3 parts in all
        outbox.enqueue(db, kind="campaign", category="promotional", recipient=member.mobile,
                       member=member, body=f"Sale {index}", now=NOW)
    for _ in range(2):
        outbox.enqueue(db, kind="tier_upgrade", recipient=member.mobile, member=member,
                       now=NOW, params=gold)
    console = providers.ConsoleProvider(tmp_path, "sms")
    dispatcher.dispatch_due(db, {"sms": console}, clock)
    # Transactional messages go first (priority) and take 2 parts; promotional ones find
    # one part above the reserve, then only the reserve.
    assert [m.status for m in queued(db, kind="tier_upgrade")] == ["delivered", "delivered"]
    campaign = queued(db, kind="campaign")
    assert [m.status for m in campaign] == ["delivered", "failed", "failed"]
    assert [m.error for m in campaign[1:]] == ["SMS quota used up"] * 2
    assert dispatcher.settings(db).sms_used == 3
    # The reserve is for transactional messages; after it, nothing goes.
    for _ in range(2):
        outbox.enqueue(db, kind="tier_upgrade", recipient=member.mobile, member=member,
                       now=NOW, params=gold)
    dispatcher.dispatch_due(db, {"sms": console}, clock)
    assert [m.status for m in queued(db, kind="tier_upgrade")][2:] == ["delivered", "failed"]
    assert dispatcher.settings(db).sms_used == 4


def test_opt_out_before_sending_cancels_promotional_but_not_transactional(db, clock,
                                                                          tmp_path):
    factories.club(db)
    member = factories.member(db)
    outbox.enqueue(db, kind="birthday", recipient=member.mobile, member=member, now=NOW)
    buy(db, member)
    member.promotional_opt_out = True
    db.flush()
    console = providers.ConsoleProvider(tmp_path, "sms")
    report = dispatcher.dispatch_due(db, {"sms": console}, clock)
    assert (report.sent, report.cancelled) == (1, 1)
    birthday, = queued(db, kind="birthday")
    assert birthday.status == "cancelled" and "opted out" in birthday.error
    assert queued(db, kind="purchase")[0].status == "delivered"


def test_switched_off_automatic_messages_are_cancelled_codes_never(db, clock, tmp_path):
    factories.club(db)
    message_settings(db, disabled_kinds=["purchase", "otp"])
    buy(db, factories.member(db))
    verification.request_code(db, mobile="09120000001", purpose="join", ip="10.0.0.1",
                              now=NOW, secret="s")
    console = providers.ConsoleProvider(tmp_path, "sms")
    dispatcher.dispatch_due(db, {"sms": console}, clock)
    assert queued(db, kind="purchase")[0].status == "cancelled"
    assert queued(db, kind="otp")[0].status == "delivered"


def test_codes_go_first_and_are_not_kept_readable(db, clock, tmp_path):
    factories.club(db)
    buy(db, factories.member(db))
    verification.request_code(db, mobile="09120000002", purpose="join", ip="10.0.0.1",
                              now=NOW, secret="s")
    console = providers.ConsoleProvider(tmp_path, "sms")
    dispatcher.dispatch_due(db, {"sms": console}, clock, limit=1)
    [code] = queued(db, kind="otp")
    assert code.status == "delivered" and queued(db, kind="purchase")[0].status == "queued"
    assert code.params == {} and code.body == dispatcher.REDACTED
    sent = json.loads((tmp_path / "sms.log").read_text(encoding="utf-8"))
    assert sent["to"] == "0912***0002" and sent["body"].split(": ")[1][:6].isdigit()


def test_an_expired_code_is_never_sent(db, clock, tmp_path):
    factories.club(db)
    verification.request_code(db, mobile="09120000003", purpose="join", ip="10.0.0.1",
                              now=NOW, secret="s")
    console = providers.ConsoleProvider(tmp_path, "sms")
    report = dispatcher.dispatch_due(db, {"sms": console}, clock.advance(minutes=3))
    [code] = queued(db, kind="otp")
    assert report.cancelled == 1 and code.status == "cancelled" and code.params == {}
    assert not (tmp_path / "sms.log").exists()


def test_a_provider_bug_is_retried_and_logged(db, clock):
    factories.club(db)
    buy(db, factories.member(db))

    class Broken:
        name = "broken"

        def send(self, message):
            raise KeyError("return")

    assert dispatcher.dispatch_due(db, {"sms": Broken()}, clock).retried == 1
    [message] = queued(db)
    assert message.status == "queued" and "KeyError" in message.error


def test_the_dispatcher_never_runs_inside_a_callers_unit_of_work(db, clock):
    """Its steps commit one by one, so a provider is never called with a row locked."""
    for step in (lambda: dispatcher.dispatch_due(db, {}, clock),
                 lambda: dispatcher.check_deliveries(db, {}, NOW)):
        with pytest.raises(AssertionError, match="commits between its steps"), \
                unit_of_work(db, SYSTEM):
            step()


@pytest.mark.parametrize("language", ["fa", "en"])
def test_a_broken_stored_text_falls_back_to_the_built_in_one(db, clock, tmp_path, language):
    factories.club(db)
    member = factories.member(db, message_language=language)
    db.add(MessageTemplate(key="purchase", language=language, body="{nonsense.x}"))
    buy(db, member)
    console = providers.ConsoleProvider(tmp_path, "sms")
    dispatcher.dispatch_due(db, {"sms": console}, clock)
    [message] = queued(db)
    assert message.status == "delivered"
    assert message.body.startswith("Dear Sara," if language == "en" else "Sara عزیز")


# Several jobs processes share one outbox: every message is sent exactly once.
#
# Runs on a database of its own (committed rows, real concurrent connections), on SQLite
# and, with TEST_DATABASE_URL, on PostgreSQL — where claims use FOR UPDATE SKIP LOCKED.
class Recorder:
    name = "console"

    def __init__(self):
        self.sent = []
        self.lock = threading.Lock()

    def send(self, message):
        with self.lock:
            self.sent.append(message.id)
        return SendResult(f"r-{message.id}", delivered=True)


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def engine(request, tmp_path_factory, databases):
    app = build_app(tmp_path_factory, databases, request.param)
    with app.app_context():
        flask_db.engine.app = app  # threads push the app's context (secrets need its key)
        yield flask_db.engine
        flask_db.engine.dispose()


def seed(engine, count: int) -> None:
    """`count` queued one-part SMS for one member (created the first time)."""
    with Session(engine) as session:
        member = session.scalars(select(Member)).first()
        if member is None:
            session.add(Club(id=1, name="Club"))
            tier = Tier(code="t", name="t")
            session.add(tier)
            session.flush()
            member = Member(first_name="Sara", last_name="A", mobile="09120000001",
                            tier_id=tier.id)
            session.add(member)
            session.flush()
        for index in range(count):
            outbox.enqueue(session, kind="campaign", category="promotional",
                           recipient=member.mobile, member=member, body=f"Hello {index}",
                           now=NOW)
        dispatcher.settings(session).sms_quota = 100_000
        session.commit()


def test_two_dispatchers_send_every_message_once(engine):
    seed(engine, 40)
    with Session(engine) as session:
        before = set(session.scalars(select(Message.id).where(Message.status != "queued")))
    recorder = Recorder()
    errors = []

    def work():
        try:
            with engine.app.app_context(), Session(engine) as session:
                for _ in range(100):  # bounded; 40 messages need far fewer rounds
                    report = dispatcher.dispatch_due(session, {"sms": recorder},
                                                     lambda: NOW, limit=3)
                    if report.handled == 0:
                        break
        except Exception as error:  # surfaced below: a thread's failure fails the test
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with Session(engine) as session:
        rows = session.execute(select(Message.id, Message.status)
                               .where(Message.id.not_in(before))).all()
    assert sorted(recorder.sent) == sorted(message_id for message_id, _ in rows)
    assert len(rows) == 40 and Counter(status for _, status in rows) == {"delivered": 40}


@pytest.mark.skipif("postgresql" not in DATABASE_KINDS, reason="needs PostgreSQL")
def test_claims_skip_rows_another_process_holds(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    seed(engine, 15)
    with Session(engine) as first, Session(engine) as second:
        held = list(first.scalars(dispatcher.due_rows(NOW, 5)))  # locked, not committed
        taken = dispatcher.claim(second, NOW, limit=10)
        assert len(held) == 5 and len(taken) == 10 and not set(held) & set(taken)
        first.rollback()
