"""Card batches against the database: serials start after existing cards, never repeat,
and two batches running at the same time on separate connections get disjoint ranges."""

import json
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import BadRequest
from backend.extensions import db as flask_db
from backend.models import Card, CardBatch
from backend.services import cards
from backend.unit_of_work import SYSTEM, unit_of_work
from card_spec import make_card_number
from tests import factories


def issue_demo_cards(session, serials=range(1, 101)):
    session.add_all(Card(number=make_card_number("990001", serial)) for serial in serials)
    session.flush()


def test_first_batch_starts_after_the_existing_cards(db):
    issue_demo_cards(db)
    batch = cards.create_batch(db, actor=SYSTEM, prefix="990001", count=5)
    assert batch.first_serial == 101
    assert batch.numbers[0] == "9900010000001017"
    assert len(batch.numbers) == 5


def test_batches_follow_each_other_without_gaps(db):
    issue_demo_cards(db)
    first = cards.create_batch(db, actor=SYSTEM, prefix="990001", count=3, label="a")
    second = cards.create_batch(db, actor=SYSTEM, prefix="990001", count=4)
    assert (first.first_serial, second.first_serial) == (101, 104)
    assert second.label == f"batch-{second.id}"
    recorded = db.scalars(select(CardBatch).order_by(CardBatch.id)).all()
    assert [(row.first_serial, row.last_serial) for row in recorded] == [(101, 103), (104, 107)]


def test_each_prefix_has_its_own_counter(db):
    issue_demo_cards(db)
    other = cards.create_batch(db, actor=SYSTEM, prefix="۹۹۰۰۰۲", count=2)  # Persian digits
    assert (other.prefix, other.first_serial) == ("990002", 1)


@pytest.mark.parametrize(("prefix", "count", "field"), [
    ("99001", 5, "prefix"), ("99000a", 5, "prefix"), ("990001", 0, "count"),
    ("990001", 100_001, "count"),
])
def test_bad_batches_are_refused(db, prefix, count, field):
    with pytest.raises(BadRequest) as raised:
        cards.create_batch(db, actor=SYSTEM, prefix=prefix, count=count)
    assert raised.value.field == field


def test_cli_allocates_and_writes_the_files(app, db, tmp_path):
    factories.club(db, name="Vafa Demo Club")
    issue_demo_cards(db)
    out = tmp_path / "batch"
    result = app.test_cli_runner().invoke(
        args=["cards", "batch", "--count", "۳", "--prefix", "990001", "--out", str(out),
              "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["first_serial"] == 101 and summary["count"] == 3
    assert summary["first_number"] == "9900010000001017"
    assert (out / "cards.csv").read_text().count("\n") == 4
    assert (out / "sheet.pdf").exists()
    assert db.get(CardBatch, summary["batch_id"]).count == 3


def test_cli_refuses_bad_input_with_reasons(app, db, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["cards", "batch", "--count", "x", "--out",
                                 str(tmp_path / "o")])
    assert result.exit_code == 2 and "not a whole number" in result.output
    result = runner.invoke(args=["cards", "batch", "--count", "2", "--prefix", "12", "--out",
                                 str(tmp_path / "o")])
    assert result.exit_code == 2 and "6 digits" in result.output
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    result = runner.invoke(args=["cards", "batch", "--count", "2", "--out",
                                 str(tmp_path / "full")])
    assert result.exit_code == 1 and "not empty" in result.output


def test_help_has_an_example(app):
    result = app.test_cli_runner().invoke(args=["cards", "batch", "--help"])
    assert "Example: vafa cards batch --count 500" in result.output


@pytest.mark.parametrize("with_counter", [False, True], ids=["first-batches", "later-batches"])
def test_concurrent_batches_get_disjoint_contiguous_ranges(
    tmp_path_factory, databases, app, with_counter
):
    """Two batch runs on separate connections, released together by a barrier; each
    holds its transaction open a moment so the second must wait for the first's lock."""
    from tests.conftest import build_app

    live = build_app(tmp_path_factory, databases, app.database_kind)
    with live.app_context():
        engine = flask_db.engine
        with Session(engine) as session:
            issue_demo_cards(session)
            if with_counter:
                cards.create_batch(session, actor=SYSTEM, prefix="990001", count=10)
            session.commit()
        start = threading.Barrier(2)
        results, errors = [], []

        def run(count):
            try:
                with Session(engine) as session:
                    start.wait(5)
                    # An outer unit the batch joins: it keeps the counter's lock a moment.
                    with unit_of_work(session, SYSTEM):
                        batch = cards.create_batch(session, actor=SYSTEM, prefix="990001",
                                                   count=count)
                        threading.Event().wait(0.3)
                    results.append(batch)
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=run, args=(count,)) for count in (7, 9)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        with Session(engine) as session:
            stocked = session.scalars(select(Card.number).where(
                Card.batch_id.in_([batch.id for batch in results]))).all()
        engine.dispose()
    assert errors == []
    first_free = 111 if with_counter else 101
    ranges = sorted((b.first_serial, b.first_serial + b.count - 1) for b in results)
    assert len(ranges) == 2
    assert ranges[0][0] == first_free
    assert ranges[1][0] == ranges[0][1] + 1  # contiguous, no overlap, no gap
    assert ranges[1][1] == first_free + 16 - 1
    # Both batches' cards are in stock, each number once.
    expected = {make_card_number("990001", serial) for serial in range(first_free, first_free + 16)}
    assert sorted(stocked) == sorted(expected)


def test_files_writes_a_recorded_batch_again_without_allocating(app, db, tmp_path):
    factories.club(db, name="Vafa Demo Club")
    batch = cards.create_batch(db, actor=SYSTEM, prefix="990003", count=2, label="reprint")
    db.commit()
    out = tmp_path / "again"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["cards", "files", "--batch", str(batch.id), "--out", str(out),
                                 "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["first_number"], summary["count"]) == (batch.numbers[0], 2)
    assert (out / "cards.csv").read_text().count("reprint") == 2
    assert db.scalars(select(CardBatch)).all() == [db.get(CardBatch, batch.id)]
    result = runner.invoke(args=["cards", "files", "--batch", "999", "--out",
                                 str(tmp_path / "x")])
    assert result.exit_code == 1 and "no batch 999" in result.output
    assert "Example: vafa cards files" in runner.invoke(args=["cards", "files", "--help"]).output
