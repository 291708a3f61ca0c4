"""Card batches from the panel: the same allocation and files as the CLI, the batch's cards
in stock, and a stock card handed out at the counter."""

import csv
import io
import zipfile

import zxingcpp
from PIL import Image
from sqlalchemy import select

from backend.models import AuditLog, Card, CardBatch, Member
from backend.services import cards
from backend.unit_of_work import SYSTEM
from card_spec import make_card_number
from tests import factories


def admin(client, auth, db):
    factories.club(db, name="Vafa Demo Club")
    factories.tier(db, rank=1)
    factories.staff_user(db)
    assert auth.login().status_code == 302


def test_admin_creates_a_batch_and_sees_it_in_stock(client, auth, db):
    admin(client, auth, db)
    page = client.get("/card-batches").get_data(as_text=True)
    assert 'value="990001"' in page  # the default prefix
    response = client.post("/card-batches", data={"count": "۳", "prefix": "۹۹۰۰۰۵",
                                                  "label": "Spring"})
    assert response.status_code == 302, response.get_data(as_text=True)
    batch = db.scalars(select(CardBatch)).one()
    assert (batch.prefix, batch.first_serial, batch.count, batch.label) == ("990005", 1, 3,
                                                                           "Spring")
    numbers = [make_card_number("990005", serial) for serial in (1, 2, 3)]
    assert sorted(db.scalars(select(Card.number).where(Card.status == "issued"))) == numbers
    page = client.get("/card-batches").get_data(as_text=True)
    assert numbers[0] in page and numbers[-1] in page
    assert f'href="/card-batches/{batch.id}/files.zip"' in page
    assert 'value="990005"' in page  # the next batch defaults to the last prefix
    assert "create_card_batch" in db.scalars(select(AuditLog.action)).all()
    client.post("/card-batches", data={"count": "2", "prefix": "990005"})
    second = db.scalars(select(CardBatch).order_by(CardBatch.id.desc())).first()
    assert second.first_serial == 4  # follows the first batch, no gap


def test_bad_batches_are_refused_next_to_their_field(client, auth, db):
    admin(client, auth, db)
    for data, field in (({"count": "0", "prefix": "990001"}, "count"),
                        ({"count": "1001", "prefix": "990001"}, "count"),
                        ({"count": "x", "prefix": "990001"}, "count"),
                        ({"count": "5", "prefix": "99001"}, "prefix"),
                        ({"count": "5", "prefix": "9900a1"}, "prefix")):
        response = client.post("/card-batches", data=data)
        assert response.status_code == 400
        assert f'data-error-for="{field}"' in response.get_data(as_text=True), data
    assert db.scalars(select(CardBatch)).all() == []
    assert db.scalars(select(Card)).all() == []


def test_the_zip_holds_the_printing_files(app, client, auth, db):
    admin(client, auth, db)
    batch = cards.create_batch(db, actor=SYSTEM, prefix="990005", count=3, label="b1")
    db.commit()
    cache = app.config["INSTANCE_DIR"] / "card-batches"
    # The app is the session's: other tests' batches may already be cached there.
    before = set(cache.glob("*.zip"))
    response = client.get(f"/card-batches/{batch.id}/files.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert f"cards-batch-{batch.id}.zip" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    names = set(archive.namelist())
    number = batch.numbers[0]
    assert {"b1/cards.csv", "b1/sheet.pdf", "b1/artwork/front.png",
            f"b1/artwork/{number}-back.png", f"b1/barcodes/{number}.svg",
            f"b1/barcodes/{number}.png"} <= names
    rows = list(csv.DictReader(io.StringIO(archive.read("b1/cards.csv").decode())))
    assert [(row["number"], row["batch"]) for row in rows] == [(n, "b1") for n in batch.numbers]
    barcode = Image.open(io.BytesIO(archive.read(f"b1/barcodes/{number}.png")))
    assert [found.text for found in zxingcpp.read_barcodes(barcode)] == [number]
    assert archive.read("b1/sheet.pdf").startswith(b"%PDF")
    cached = list(set(cache.glob("*.zip")) - before)
    assert len(cached) == 1
    mtime = cached[0].stat().st_mtime_ns
    assert client.get(f"/card-batches/{batch.id}/files.zip").status_code == 200
    assert cached[0].stat().st_mtime_ns == mtime  # made once
    assert client.get("/card-batches/999/files.zip").status_code == 404


def test_a_large_batch_points_to_the_command_line(client, auth, db):
    admin(client, auth, db)
    batch = cards.create_batch(db, actor=SYSTEM, prefix="990005", count=cards.MAX_FILES_BATCH + 1)
    db.commit()
    response = client.get(f"/card-batches/{batch.id}/files.zip", follow_redirects=True)
    assert f"vafa cards files --batch {batch.id}" in response.get_data(as_text=True)


def test_a_stock_card_typed_at_the_counter_starts_a_new_member(client, auth, db):
    admin(client, auth, db)
    batch = cards.create_batch(db, actor=SYSTEM, prefix="990005", count=1)
    db.commit()
    number = batch.numbers[0]
    response = client.get("/members", query_string={"q": number})
    assert response.headers["Location"] == f"/members/new?card={number}"
    form = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f'value="{number}"' in form
    response = client.post("/members/new", data={"first_name": "Nika", "last_name": "Sadeghi",
                                                 "mobile": "09121234567",
                                                 "card_number": number, "home_branch_id": "0",
                                                 "gender": "f"})
    assert response.status_code == 302, response.get_data(as_text=True)
    member = db.scalars(select(Member)).one()
    card = db.scalars(select(Card).where(Card.number == number)).one()
    assert (card.member_id, card.status, card.batch_id) == (member.id, "active", batch.id)
    never_issued = make_card_number("990005", 7)
    response = client.post("/members/new", data={"first_name": "Ali", "last_name": "Rad",
                                                 "mobile": "09121234568",
                                                 "card_number": never_issued,
                                                 "home_branch_id": "0", "gender": "m"})
    assert response.status_code == 400
    assert 'data-error-for="card_number"' in response.get_data(as_text=True)


def test_the_page_is_in_persian(client, auth, db):
    admin(client, auth, db)
    page = client.get("/card-batches").get_data(as_text=True)
    assert "دسته‌های کارت" in page and "Card batches" not in page
