"""Cheques and instalments through the API (L13): Persian digits and Jalali dates in,
amounts to the rial out, refused changes change nothing, branches and members kept apart."""

from sqlalchemy import func, select

from backend.models import InstrumentEvent, PaymentInstrument
from backend.services import instruments
from backend.unit_of_work import SYSTEM
from tests.conftest import NOW
from tests.unit.backend.web.conftest import member_headers, staff_headers


def test_staff_record_a_cheque_and_clear_it_with_its_history(client, db, api_world, clock):
    headers = staff_headers(client, "operator")
    response = client.post(f"/api/v1/members/{api_world.own.id}/cheques", headers=headers,
                           json={"bank": "mellat", "number": "۱۲۳۴-۵۶۷۸",
                                 "due_date": "۱۴۰۵/۰۹/۱۵", "amount_rials": "۲۵٬۰۰۰٬۰۰۰"})
    assert response.status_code == 400 and response.get_json()["field"] == "amount_rials"
    response = client.post(f"/api/v1/members/{api_world.own.id}/cheques", headers=headers,
                           json={"bank": "mellat", "number": "۱۲۳۴-۵۶۷۸",
                                 "due_date": "۱۴۰۵/۰۹/۱۵", "amount_rials": "۲۵۰۰۰۰۰۰"})
    assert response.status_code == 201, response.get_json()
    cheque = response.get_json()
    assert (cheque["number"], cheque["due_date"], cheque["amount_rials"], cheque["status"],
            cheque["branch_id"]) == ("12345678", "2026-12-06", 25_000_000, "pending",
                                     api_world.own_branch.id)
    url = f"/api/v1/instruments/{cheque['id']}/status"
    response = client.post(url, headers=headers, json={"status": "paid"})
    assert response.status_code == 400 and response.get_json()["field"] == "status"
    response = client.post(url, headers=headers, json={"status": "cleared", "note": "وصول"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "cleared"
    assert [(e["before_status"], e["after_status"]) for e in body["history"]] == [
        (None, "pending"), ("pending", "cleared")]
    assert client.post(url, headers=headers, json={"status": "bounced"}).status_code == 400
    assert db.scalar(select(func.count(InstrumentEvent.id))) == 2
    listed = client.get("/api/v1/instruments?status=cleared", headers=headers).get_json()
    assert [row["id"] for row in listed["items"]] == [cheque["id"]]


def test_a_plan_adds_up_to_the_total_and_operators_stay_on_their_branch(client, db,
                                                                           api_world, clock):
    headers = staff_headers(client, "operator")
    sent = {"total_rials": 10_000_000, "count": "۳", "schedule": "monthly",
            "first_due": "1405/06/31"}
    url = f"/api/v1/members/{api_world.other.id}/instalment-plans"
    assert client.post(url, headers=headers, json=sent).status_code == 400  # no key
    keyed = {**headers, "Idempotency-Key": "plan-0001-aaaa-bbbb"}
    response = client.post(url, headers=keyed, json=sent)
    assert response.status_code == 201, response.get_json()
    plan = response.get_json()
    again = client.post(url, headers=keyed, json=sent)  # a retry: the same plan, no new one
    assert (again.status_code, again.get_json()["id"]) == (201, plan["id"])
    assert len(again.get_json()["instalments"]) == 3
    assert [row["amount_rials"] for row in plan["instalments"]] == [
        3_333_333, 3_333_333, 3_333_334]
    assert [row["due_date"] for row in plan["instalments"]] == [
        "2026-09-22", "2026-10-22", "2026-11-21"]
    response = client.post(f"/api/v1/members/{api_world.own.id}/instalment-plans",
                           headers={**headers, "Idempotency-Key": "plan-0002-aaaa-bbbb"},
                           json={"total_rials": 900, "count": 3,
                                                  "schedule": "days",
                                                  "first_due": "1405/09/01"})
    assert response.status_code == 400 and response.get_json()["field"] == "interval_days"
    response = client.post(f"/api/v1/members/{api_world.own.id}/cheques", headers=headers,
                           json={"bank": "melli", "number": "1", "due_date": "2026-12-01",
                                 "amount_rials": 5, "branch_id": api_world.other_branch.id})
    assert response.status_code == 403
    elsewhere = instruments.record_cheque(db, actor=SYSTEM, member_id=api_world.own.id, bank="dey",
                                          number="77", due_date=NOW.date(), amount_rials=9,
                                          now=NOW, branch_id=api_world.other_branch.id)
    assert client.get(f"/api/v1/instruments/{elsewhere.id}", headers=headers).status_code == 403
    assert client.post(f"/api/v1/instruments/{elsewhere.id}/status", headers=headers,
                       json={"status": "cleared"}).status_code == 403
    listed = client.get("/api/v1/instruments", headers=headers).get_json()
    assert elsewhere.id not in [row["id"] for row in listed["items"]] and listed["total"] == 3
    admin = staff_headers(client, "admin")
    assert client.get(f"/api/v1/instruments/{elsewhere.id}", headers=admin).status_code == 200
    assert db.get(PaymentInstrument, elsewhere.id).status == "pending"
    banks = client.get("/api/v1/banks", headers=headers).get_json()["items"]
    assert {"code": "mellat", "name": "Bank Mellat", "name_fa": "بانک ملت"} in banks


def test_a_member_reads_only_their_own(client, db, api_world, clock):
    mine = instruments.record_cheque(db,
                                     actor=SYSTEM, member_id=api_world.own.id, bank="saman",
                                     number="5",
                                     due_date=NOW.date(), amount_rials=1_000, now=NOW)
    instruments.record_cheque(db,
                              actor=SYSTEM, member_id=api_world.other.id, bank="saman", number="6",
                              due_date=NOW.date(), amount_rials=2_000, now=NOW)
    headers = member_headers(client, api_world.own)
    listed = client.get("/api/v1/me/instruments", headers=headers).get_json()
    assert [(row["id"], row["amount_rials"]) for row in listed["items"]] == [(mine.id, 1_000)]
    assert client.post(f"/api/v1/instruments/{mine.id}/status", headers=headers,
                       json={"status": "cleared"}).status_code == 404
