"""Daily jobs on a fixed clock: Jalali birthdays and anniversaries (Esfand 29/30 too),
expiring credit, the nightly loyalty jobs — each once per local day."""

from datetime import UTC, date, datetime, timedelta

import jdatetime
import pytest
from sqlalchemy import select

from backend import ledger
from backend.jobs import daily
from backend.jobs import scheduler as jobs
from backend.models import JobRun, Message
from backend.notifications import providers
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW  # 30 Aban 1405, 13:00 in Tehran


def jalali(year, month, day) -> date:
    return jdatetime.date(year, month, day).togregorian()


def queued(db, kind):
    return db.scalars(select(Message).where(Message.kind == kind).order_by(Message.id)).all()


def test_birthdays_by_jalali_month_and_day_once_per_day(db):
    factories.club(db)
    today = factories.member(db, birth_date=jalali(1370, 8, 30))
    also_today = factories.member(db, birth_date=jalali(1399, 8, 30))  # another year's 30 Aban
    factories.member(db, birth_date=jalali(1370, 8, 29))
    # 21 November as today, but in 2020 it was 1 Azar: a Jalali birthday, not Gregorian.
    factories.member(db, birth_date=date(2020, 11, 21))
    factories.member(db, birth_date=jalali(1370, 9, 30))
    opted_out = factories.member(db, birth_date=jalali(1365, 8, 30), promotional_opt_out=True)
    assert daily.birthday_messages(db, NOW) == "2 birthday messages queued"
    greeted = [message.member_id for message in queued(db, "birthday")]
    assert greeted == [today.id, also_today.id] and opted_out.id not in greeted
    [first] = [m for m in queued(db, "birthday") if m.member_id == today.id]
    assert first.dedupe_key == f"birthday:1405:{today.id}" and first.category == "promotional"
    # Tehran midnight ends the greeting's day: 1 Azar starts at 20:30 UTC.
    assert first.expires_at == datetime(2026, 11, 21, 20, 30, tzinfo=UTC)
    # Idempotent: again the same day (or later the same day) queues nothing more.
    assert daily.birthday_messages(db, NOW + timedelta(hours=5)) == "0 birthday messages queued"
    assert len(queued(db, "birthday")) == 2


@pytest.mark.parametrize(("today", "greeted"), [
    # 1404 is a common year: Esfand has 29 days, so the 30th's people come on the 29th.
    (jalali(1404, 12, 29), {"born_29", "born_30"}),
    # 1403 is a leap year: each on their own day.
    (jalali(1403, 12, 29), {"born_29"}),
    (jalali(1403, 12, 30), {"born_30"}),
    (jalali(1405, 1, 1), set()),
])
def test_esfand_29_and_30(db, today, greeted):
    factories.club(db)
    people = {"born_29": factories.member(db, birth_date=jalali(1399, 12, 29)),
              "born_30": factories.member(db, birth_date=jalali(1399, 12, 30))}
    noon = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    daily.birthday_messages(db, noon)
    ids = {message.member_id for message in queued(db, "birthday")}
    assert ids == {people[name].id for name in greeted}


def test_wedding_anniversaries(db):
    factories.club(db)
    couple = factories.member(db, wedding_date=jalali(1395, 8, 30))
    factories.member(db, wedding_date=jalali(1395, 8, 1), birth_date=jalali(1360, 8, 30))
    daily.anniversary_messages(db, NOW)
    assert [m.member_id for m in queued(db, "anniversary")] == [couple.id]


def test_expiring_credit_is_announced_once_per_expiry_day(db):
    factories.club(db)
    member = factories.member(db)
    locked = ledger.lock_member(db, member.id)
    soon = datetime(2026, 11, 25, 20, 29, tzinfo=UTC)  # 4 Azar, 23:59 in Tehran
    ledger.post(db, member=locked, idempotency_key="expiring-1", kind="grant", now=NOW,
                reason="gift", movements=[
                    ledger.Movement("credit", 30_000, expires_at=soon),
                    ledger.Movement("credit", 12_000, expires_at=soon - timedelta(hours=2)),
                    ledger.Movement("credit", 99_000, expires_at=NOW + timedelta(days=30)),
                    ledger.Movement("credit", 5_000)])
    assert daily.credit_expiry_reminders(db, NOW) == "1 expiry reminders queued"
    [reminder] = queued(db, "credit_expiring")
    assert reminder.params == {"amount": 42_000, "date": "2026-11-25"}
    assert reminder.category == "transactional"
    assert daily.credit_expiry_reminders(db, NOW + timedelta(days=1)) == (
        "0 expiry reminders queued")


def test_a_daily_job_runs_once_per_local_day(db):
    factories.club(db)
    factories.member(db, birth_date=jalali(1370, 8, 30))
    job = daily.JOBS_BY_NAME["birthdays"]
    assert daily.run_job(db, job, NOW) == "1 birthday messages queued"
    assert daily.run_job(db, job, NOW + timedelta(hours=2)) is None
    [run] = db.scalars(select(JobRun)).all()
    assert (run.name, run.day, run.status) == ("birthdays", date(2026, 11, 21), "done")
    # A run left "running" by a dead process is taken over once its lease is over.
    stuck = JobRun(name="anniversaries", day=date(2026, 11, 21), status="running",
                   started_at=NOW, lease_until=NOW + daily.JOB_LEASE)
    db.add(stuck)
    db.commit()
    assert daily.run_job(db, daily.JOBS_BY_NAME["anniversaries"],
                         NOW + timedelta(minutes=10)) is None
    assert daily.run_job(db, daily.JOBS_BY_NAME["anniversaries"],
                         NOW + timedelta(minutes=31)) == "0 anniversary messages queued"


def test_a_failed_job_step_leaves_nothing_and_the_other_jobs_run(db, monkeypatch):
    factories.club(db)
    factories.member(db, birth_date=jalali(1370, 8, 30))
    db.commit()
    enqueue = daily.outbox.enqueue

    def enqueue_then_fail(session, **fields):
        enqueue(session, **fields)
        if fields["kind"] == "birthday":  # the message is written, then the step breaks
            raise RuntimeError("the birthday step broke")

    monkeypatch.setattr(daily.outbox, "enqueue", enqueue_then_fail)
    ran = daily.run_due(db, NOW)
    assert "birthdays" not in ran and {"anniversaries", "credit_expiring"} <= set(ran)
    assert queued(db, "birthday") == []  # its unit of work rolled the message back
    runs = {run.name: run.status for run in db.scalars(select(JobRun))}
    assert runs["birthdays"] == "running"  # claimed: tried again when its lease ends
    assert runs["anniversaries"] == "done"


def test_jobs_wait_for_their_local_hour(db):
    factories.club(db)
    factories.member(db, birth_date=jalali(1370, 8, 30))
    early = datetime(2026, 11, 21, 4, 0, tzinfo=UTC)  # 07:30 in Tehran
    ran = daily.run_due(db, early)
    assert set(ran) == {"nightly", "cleanup"} and queued(db, "birthday") == []
    ran = daily.run_due(db, NOW)
    assert set(ran) == {"birthdays", "anniversaries", "credit_expiring", "instrument_due"}
    assert len(queued(db, "birthday")) == 1
    assert daily.run_due(db, NOW + timedelta(hours=1)) == {}


def test_the_scheduler_runs_the_nightly_jobs_and_sends(app, db, monkeypatch, tmp_path):
    factories.club(db)
    member = factories.member(db, birth_date=jalali(1370, 8, 30))
    locked = ledger.lock_member(db, member.id)
    ledger.post(db, member=locked, idempotency_key="nightly-expiry", kind="grant", now=NOW,
                reason="gift", movements=[ledger.Movement(
                    "credit", 8_000, expires_at=NOW - timedelta(hours=1))])
    db.commit()
    monkeypatch.setitem(app.config, "CLOCK", lambda: NOW)
    console = providers.ConsoleProvider(tmp_path, "sms")
    scheduler = jobs.Scheduler(app, provider_override={"sms": console, "email": console})
    report = scheduler.tick()
    assert report.daily["nightly"] == (
        "expired 8,000 rials of credit and 0 points; 0 tier changes; LRFM: 0 members scored; "
        "segment rules: 0 members moved or listed")
    assert report.daily["birthdays"] == "1 birthday messages queued"
    report = scheduler.tick()  # the birthday message queued by the first tick goes out
    assert report.dispatch.sent == 1 and report.daily == {}
    assert "زادروزتان خجسته باد" in (tmp_path / "sms.log").read_text(encoding="utf-8")


def test_jobs_command(app, runner, db, monkeypatch):
    factories.club(db)
    factories.member(db, wedding_date=jalali(1395, 8, 30))
    monkeypatch.setitem(app.config, "CLOCK", lambda: NOW)
    result = runner.invoke(args=["jobs", "--run", "anniversaries", "--run", "anniversaries"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["anniversaries: 1 anniversary messages queued",
                                          "anniversaries: already run today"]
    result = runner.invoke(args=["jobs", "--run", "horoscopes"])
    assert result.exit_code == 2 and "no daily job 'horoscopes'" in result.output
    result = runner.invoke(args=["jobs", "--once"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("sent 1, retried 0, failed 0, cancelled 0; daily: {")


def test_cheques_and_instalments_due_soon_are_reminded_once_each(db):
    from backend.notifications import dispatcher, templates
    from backend.services import instruments

    factories.club(db)
    member = factories.member(db)
    dispatcher.settings(db).instrument_reminder_days = 3
    cheque = instruments.record_cheque(db, actor=SYSTEM, member_id=member.id, bank="mellat",
                                       number="1234567890123456", due_date=jalali(1405, 9, 3),
                                       amount_rials=25_000_000, now=NOW)
    plan = instruments.create_plan(db, actor=SYSTEM,
                                   member_id=member.id, total_rials=10_000_000, count=3,
                                   schedule="monthly", first_due=jalali(1405, 8, 30), now=NOW)
    # beyond the window (4 Azar), already cleared, or past: no reminder
    instruments.record_cheque(db, actor=SYSTEM, member_id=member.id, bank="melli", number="2",
                              due_date=jalali(1405, 9, 4), amount_rials=1, now=NOW)
    cleared = instruments.record_cheque(db, actor=SYSTEM,
                                        member_id=member.id, bank="melli", number="3",
                                        due_date=jalali(1405, 9, 1), amount_rials=1, now=NOW)
    instruments.change_status(db, actor=SYSTEM, instrument_id=cleared.id, status="cleared", now=NOW)
    instruments.record_cheque(db, actor=SYSTEM, member_id=member.id, bank="melli", number="4",
                              due_date=jalali(1405, 8, 29), amount_rials=1, now=NOW)
    assert daily.instrument_reminders(db, NOW) == "2 cheque and instalment reminders queued"
    [instalment_message] = queued(db, "instalment_due")
    [cheque_message] = queued(db, "cheque_due")
    assert cheque_message.dedupe_key == f"cheque_due:{cheque.id}"
    assert instalment_message.dedupe_key == f"instalment_due:{plan.instalments[0].id}"
    assert cheque_message.category == "transactional"
    # The reminder is useless after the due day: it expires at Tehran midnight ending it.
    assert cheque_message.expires_at == datetime(2026, 11, 24, 20, 30, tzinfo=UTC)
    values = templates.values_for(cheque_message.params, "fa", "rial")
    text = templates.render(templates.DEFAULTS["cheque_due"]["fa"], {
        **values, "first_name": "سارا", "club": "وفا"})
    assert text == ("سارا عزیز، چک شماره 1234567890123456 بانک ملت به مبلغ ۲۵٬۰۰۰٬۰۰۰ ریال "
                    "در تاریخ ۱۴۰۵/۰۹/۰۳ سررسید می‌شود؛ لطفاً موجودی حساب را تأمین کنید.\nوفا")
    values = templates.values_for(instalment_message.params, "fa", "rial")
    assert (values["instalment"], values["amount"], values["date"]) == (
        "۱ از ۳", "۳٬۳۳۳٬۳۳۳ ریال", "۱۴۰۵/۰۸/۳۰")
    # The next days: the same items are not reminded again; the next one in its window is.
    assert daily.instrument_reminders(db, NOW + timedelta(days=1)) == (
        "1 cheque and instalment reminders queued")  # the cheque of 4 Azar
    assert daily.instrument_reminders(db, NOW + timedelta(days=2)) == (
        "0 cheque and instalment reminders queued")
    assert len(queued(db, "cheque_due")) == 2
