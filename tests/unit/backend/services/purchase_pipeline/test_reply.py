"""The reply step: the `tx` keys in the protocol's order, optional keys only when due."""

import json
from types import SimpleNamespace

from backend.services.purchase_pipeline import reply

PURCHASE = SimpleNamespace(amount_rials=250_000, discount_rials=12_500, credit_used_rials=0,
                           payable_rials=237_500, credit_earned_rials=11_875,
                           points_earned=25)


def test_a_plain_purchase_has_the_protocols_keys_in_order():
    assert json.dumps(reply.of_purchase(PURCHASE, ("Welcome",))) == (
        '{"amount": 250000, "discount": 12500, "credit_used": 0, "payable": 237500, '
        '"credit_earned": 11875, "points_earned": 25, "offers": ["Welcome"]}')


def test_points_and_tier_up_come_last_and_only_when_due():
    tx = reply.of_purchase(PURCHASE, (), tier_up="gold", points=(40, 4_000))
    assert list(tx)[-3:] == ["points_used", "points_credit", "tier_up"]
    assert (tx["points_used"], tx["points_credit"], tx["tier_up"]) == (40, 4_000, "gold")
    assert "tier_up" not in reply.of_purchase(PURCHASE, (), points=(0, 0))
