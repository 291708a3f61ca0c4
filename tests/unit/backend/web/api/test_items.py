"""The API's purchase with item lines (issue 18 item 2) and its figures (item 6): the
counter's service, the terminal's `tx`, errors naming the line, a cap refusal with its
cap and what it still allows."""

from sqlalchemy import func, select

from backend.models import Product, Purchase, PurchaseItem
from tests.unit.backend.web.conftest import staff_headers

API = "/api/v1"


def count(db, model):
    return db.scalar(select(func.count()).select_from(model))


def stock(db, sku):
    db.expire_all()
    return db.scalars(select(Product.stock).where(Product.sku == sku)).one()


def headers(client, key):
    return {**staff_headers(client, "operator"), "Idempotency-Key": f"api-items-{key}-0000000"}


def test_a_sale_with_items_is_priced_by_each_product_and_answers_the_terminals_tx(
        client, db, api_world):
    db.add(Product(sku="COF", name="Coffee beans", price_rials=400_000, points_per_unit=5,
                   discount_percent_bp=1000, extra_credit_per_unit_rials=2_000, stock=10))
    db.flush()
    url = f"{API}/members/{api_world.own.id}/purchases"
    sent = {"amount_rials": 850_000,
            "items": [{"sku": "COF", "qty": "۲"}, {"sku": "tea", "qty": 1, "price": 50_000}]}
    response = client.post(url, headers=headers(client, "a"), json=sent)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    # 850,000; 10 % of 800,000 off = 80,000; the world's silver 5 % of 770,000 = 38,500;
    # points: 85 per 10,000, 2 × 5 of the product, 5 of the "Autumn" offer.
    assert body["tx"] == {"amount": 850_000, "discount": 118_500, "credit_used": 0,
                          "payable": 731_500, "credit_earned": 36_575 + 4_000,
                          "points_earned": 85 + 10 + 5, "offers": ["Autumn"]}
    assert body["purchase"]["payable_rials"] == 731_500
    assert body["items"] == [
        {"sku": "COF", "name": "Coffee beans", "qty": 2, "price": 400_000},
        {"sku": "tea", "name": "Tea", "qty": 1, "price": 50_000}]
    assert stock(db, "COF") == 8
    again = client.post(url, headers=headers(client, "a"), json=sent)
    assert again.status_code == 200 and again.get_json() == body and stock(db, "COF") == 8
    changed = client.post(url, headers=headers(client, "a"),
                          json={"amount_rials": 850_000, "items": [{"sku": "COF", "qty": 3}]})
    assert changed.status_code == 400 and changed.get_json()["field"] == "Idempotency-Key"


def test_bad_lines_are_refused_by_field_and_nothing_is_written(client, db, api_world):
    db.add(Product(sku="COF", name="Coffee", price_rials=400_000, stock=1))
    db.flush()
    url = f"{API}/members/{api_world.own.id}/purchases"
    before = count(db, Purchase)
    for index, (sent, status, code, field) in enumerate((
        ({"items": [{"sku": "NOPE", "qty": 1}]}, 400, "BAD_REQUEST", "items.0.sku"),
        ({"amount_rials": 850_000, "items": [{"sku": "tea", "qty": 1}, {"sku": "COF", "qty": 2}]},
         400, "BAD_REQUEST", "items.1.qty"),
        ({"amount_rials": 400_000, "items": [{"sku": "COF", "qty": 0}]}, 400, "BAD_REQUEST",
         "items.0.qty"),
        ({"items": [{"sku": "COF", "qty": -1}]}, 400, "BAD_REQUEST", "items.0.qty"),
        ({"amount_rials": 1, "items": [{"sku": "tea", "qty": 1, "price": 1}]}, 400,
         "BAD_REQUEST", "items.0.price"),
        ({"amount_rials": 51 * 50_000, "items": [{"sku": "tea", "qty": 1}] * 51}, 400,
         "BAD_REQUEST", "items"),
        ({"items": []}, 400, "BAD_REQUEST", "items"),
        ({"amount_rials": 1, "items": [{"sku": "tea", "qty": 1}]}, 400, "BAD_REQUEST",
         "amount_rials"),
        ({"amount_rials": None, "items": [{"sku": "tea", "qty": 1}]}, 400, "BAD_REQUEST",
         "amount_rials"),
    )):
        sent = {"amount_rials": 50_000, **sent}
        response = client.post(url, headers=headers(client, f"bad{index}"), json=sent)
        assert response.status_code == status, (sent, response.get_json())
        assert (response.get_json()["error"], response.get_json().get("field")) == (
            code, field), (sent, response.get_json())
    assert count(db, Purchase) == before and count(db, PurchaseItem) == 0
    assert stock(db, "COF") == 1


def test_a_cap_refusal_names_the_cap_and_what_it_allows(client, db, api_world):
    api_world.tier.max_credit_per_invoice_rials = 20_000
    db.flush()
    url = f"{API}/members/{api_world.own.id}/purchases"
    response = client.post(url, headers=headers(client, "cap"),
                           json={"amount_rials": 100_000, "use_credit_rials": 30_000})
    assert response.status_code == 409
    assert response.get_json() == {
        "error": "LIMIT", "message": "per-invoice credit cap allows 20000 rials here",
        "field": "use_credit_rials", "cap": "per-invoice", "allowed_rials": 20_000}
