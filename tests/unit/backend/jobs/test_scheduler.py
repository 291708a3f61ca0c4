"""The jobs process's loop (backend/jobs/scheduler.py): a tick sends what is due, asks
for delivery reports at most once a minute, survives a failing provider (logged, the next
tick goes on), and the loop stops when told, without a tick after that."""

import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.jobs import scheduler
from backend.models import Message
from backend.notifications import dispatcher, outbox
from backend.notifications.providers import SendResult
from tests import factories
from tests.conftest import NOW


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now


class Recorder:
    name = "console"

    def __init__(self):
        self.sent, self.checked = [], []

    def send(self, message):
        self.sent.append(message.body)
        return SendResult(f"r-{message.id}")

    def delivery_status(self, references):
        self.checked.append(list(references))
        return {}


@pytest.fixture
def clock(app, monkeypatch):
    pinned = Clock()
    monkeypatch.setitem(app.config, "CLOCK", pinned)
    return pinned


def queue(db, *bodies):
    member = factories.member(db)
    for body in bodies:
        outbox.enqueue(db, kind="campaign", category="promotional", recipient=member.mobile,
                       member=member, body=body, now=NOW)
    dispatcher.settings(db).sms_quota = 1_000
    db.commit()


def test_a_tick_sends_what_is_due_and_uses_the_apps_clock(app, db, clock):
    queue(db, "Hello", "Again")
    sms = Recorder()
    report = scheduler.Scheduler(app, provider_override={"sms": sms}, run_daily=False).tick()
    assert report.dispatch.sent == 2
    assert sorted(sms.sent) == ["Again", "Hello"]
    statuses = db.scalars(select(Message.status)).all()
    assert statuses == ["sent", "sent"]


def test_delivery_reports_are_asked_for_at_most_once_a_minute(app, db, clock, monkeypatch):
    asked = []
    monkeypatch.setattr(dispatcher, "check_deliveries",
                        lambda session, chosen, now: asked.append(now) or 0)
    jobs = scheduler.Scheduler(app, provider_override={"sms": Recorder()}, run_daily=False)
    jobs.tick()
    clock.now += timedelta(seconds=59)
    jobs.tick()
    clock.now += timedelta(seconds=1)
    jobs.tick()
    assert asked == [NOW, NOW + timedelta(seconds=60)]


def test_a_failing_tick_is_logged_and_the_next_one_goes_on(app, db, clock, monkeypatch,
                                                           caplog):
    queue(db, "Hello")
    calls = []

    def dispatch_due(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return dispatcher.DispatchReport(sent=1)

    monkeypatch.setattr(dispatcher, "dispatch_due", dispatch_due)
    jobs = scheduler.Scheduler(app, provider_override={"sms": Recorder()}, run_daily=False)
    with caplog.at_level(logging.ERROR, logger="backend.jobs.scheduler"):
        assert jobs.tick().dispatch.sent == 0
    assert "jobs tick failed; the next tick tries again" in caplog.text
    assert jobs.tick().dispatch.sent == 1


def test_the_loop_stops_when_told_and_ticks_no_more(app, db, clock, monkeypatch):
    ticks = []
    stop = threading.Event()

    def tick(self):
        ticks.append(1)
        if len(ticks) == 3:
            stop.set()
        return scheduler.TickReport()

    monkeypatch.setattr(scheduler.Scheduler, "tick", tick)
    jobs = scheduler.Scheduler(app, run_daily=False)
    # A tick of zero: the loop's pace is not under test, only that it ends on the event.
    loop = threading.Thread(target=jobs.run_forever, args=(stop, 0.0))
    loop.start()
    loop.join(timeout=10)
    assert not loop.is_alive()
    assert len(ticks) == 3
