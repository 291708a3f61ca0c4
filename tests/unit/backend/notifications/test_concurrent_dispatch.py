"""Several jobs processes share one outbox: every message is sent exactly once.

Runs on a database of its own (committed rows, real concurrent connections), on SQLite
and, with TEST_DATABASE_URL, on PostgreSQL — where claims use FOR UPDATE SKIP LOCKED."""

import threading
from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.extensions import db as flask_db
from backend.models import Club, Member, Message, Tier
from backend.notifications import dispatcher, outbox
from backend.notifications.providers import SendResult
from tests.conftest import DATABASE_KINDS, NOW, build_app


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
