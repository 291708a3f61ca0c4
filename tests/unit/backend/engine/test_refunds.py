"""Full and partial refunds reverse each component in proportion (backend/engine/refunds.py,
docs "Refunds")."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.engine import Components, refund_components
from backend.engine.refunds import share
from backend.errors import BadRequest

# 250,000 rials at silver, 100,000 of credit spent (tests/unit/backend/engine/test_rules.py):
# pays 137,500, earns 6,875 credit and 25 points; a 2 % referral commission on the payable.
PURCHASE = Components(payable_rials=137_500, credit_used_rials=100_000,
                      credit_earned_rials=6_875, points_earned=25, commission_rials=2_750)
AMOUNT = 250_000


def test_refunding_everything_reverses_everything():
    assert refund_components(PURCHASE, AMOUNT, 0, AMOUNT) == PURCHASE


def test_a_partial_refund_reverses_its_share_rounded_down():
    # 100,000 of 250,000 is 40 %: 55,000 / 40,000 / 2,750 / 10 points / 1,100.
    assert refund_components(PURCHASE, AMOUNT, 0, 100_000) == Components(
        55_000, 40_000, 2_750, 10, 1_100)
    # 1 rial of 250,000: every share rounds down to nothing.
    assert refund_components(PURCHASE, AMOUNT, 0, 1) == Components(0, 0, 0, 0, 0)


def test_partial_refunds_add_up_exactly_to_the_whole():
    # Thirds of 250,000: 83,333 + 83,333 + 83,334. 25 points: 8.33 → 8, 16.67 → 16 (8
    # more), the rest 9. 137,500 payable: 45,833.15 → 45,833, 91,666.3 → 91,666, the rest.
    parts = [refund_components(PURCHASE, AMOUNT, 0, 83_333),
             refund_components(PURCHASE, AMOUNT, 83_333, 83_333),
             refund_components(PURCHASE, AMOUNT, 166_666, 83_334)]
    assert [part.points_earned for part in parts] == [8, 8, 9]
    assert [part.payable_rials for part in parts] == [45_833, 45_833, 45_834]
    assert Components(*(sum(values) for values in zip(
        *[(p.payable_rials, p.credit_used_rials, p.credit_earned_rials, p.points_earned,
           p.commission_rials) for p in parts], strict=True))) == PURCHASE


def test_share_is_the_difference_of_rounded_down_cumulative_shares():
    assert share(25, 250_000, 0, 83_333) == 8            # 8.33
    assert share(25, 250_000, 83_333, 83_333) == 8       # 16.66 → 16, minus 8
    assert share(25, 250_000, 166_666, 83_334) == 9      # 25 − 16


@pytest.mark.parametrize("before, refund, message", [
    (0, 0, "positive"),
    (0, -1, "positive"),
    (0, 1.5, "positive"),
    (0, True, "positive"),
    (0, AMOUNT + 1, "at most 250000 rials"),
    (200_000, 50_001, "at most 50000 rials"),
    (AMOUNT, 1, "at most 0 rials"),
])
def test_a_refund_beyond_what_is_left_or_not_whole_is_refused(before, refund, message):
    with pytest.raises(BadRequest) as raised:
        refund_components(PURCHASE, AMOUNT, before, refund)
    assert raised.value.field == "amount"
    assert message in str(raised.value)


components = st.builds(Components, *(st.integers(0, 10**9) for _ in range(5)))


def as_tuple(part: Components) -> tuple[int, ...]:
    return (part.payable_rials, part.credit_used_rials, part.credit_earned_rials,
            part.points_earned, part.commission_rials)


@given(components, st.integers(1, 10**9), st.lists(st.integers(1, 10**9), max_size=8))
def test_any_sequence_of_partial_refunds_adds_up_to_the_whole(original, amount, cuts):
    # Refund at the drawn cut points, then the rest.
    points = sorted({cut for cut in cuts if cut < amount}) + [amount]
    refunded, totals = 0, (0,) * 5
    for point in points:
        part = as_tuple(refund_components(original, amount, refunded, point - refunded))
        assert all(value >= 0 for value in part)
        totals = tuple(total + value for total, value in zip(totals, part, strict=True))
        refunded = point
    assert Components(*totals) == original
