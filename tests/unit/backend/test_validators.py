
from datetime import date, timedelta

import jdatetime
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.validators import (
    is_valid_national_code,
    normalize_mobile,
    parse_gender,
    parse_jalali_or_gregorian_date,
    parse_national_code,
    parse_weight,
)
from card_spec import CardNumberError, make_card_number, parse_card_number


@pytest.mark.parametrize("code", ["0013542419", "0084575948", "4608968882"])
def test_protocol_national_code_vectors_are_valid(code):
    assert is_valid_national_code(code)


@pytest.mark.parametrize("code", ["1234567890", "0000000000", "001354241", "00135424190",
                                  "001354241x", "1111111111"])
def test_invalid_national_codes_are_refused(code):
    assert not is_valid_national_code(code)


def test_national_code_accepts_persian_digits():
    assert parse_national_code("۰۰۱۳۵۴۲۴۱۹") == "0013542419"
    with pytest.raises(ValueError):
        parse_national_code("۱۲۳۴۵۶۷۸۹۰")


@pytest.mark.parametrize("text", ["09121234567", "+98 912 123 4567", "00989121234567",
                                  "989121234567", "9121234567", "۰۹۱۲۱۲۳۴۵۶۷", "٠٩١٢١٢٣٤٥٦٧",
                                  "0912-123-4567"])
def test_mobile_numbers_normalise(text):
    assert normalize_mobile(text) == "09121234567"


@pytest.mark.parametrize("text", ["0212345678", "0912123456", "091212345678", "phone", ""])
def test_bad_mobile_numbers_are_refused(text):
    with pytest.raises(ValueError, match="09xxxxxxxxx"):
        normalize_mobile(text)


@pytest.mark.parametrize("text", ["", "f", "m"])
def test_stored_genders_pass(text):
    assert parse_gender(text) == text


@pytest.mark.parametrize(("text", "gender"), [
    ("زن", "f"), ("خانم", "f"), ("Female", "f"), (" F ", "f"),
    ("مرد", "m"), ("آقا", "m"), ("MALE", "m"), ("m", "m")])
def test_spelled_genders_are_read(text, gender):
    assert parse_gender(text, spelled=True) == gender


@pytest.mark.parametrize("text", ["x", "F", "female", " f", "زن"])
def test_unstored_genders_are_refused(text):
    with pytest.raises(ValueError, match="Choose a gender."):
        parse_gender(text)


@pytest.mark.parametrize("text", ["", "x", "fm", "زنان", "1"])
def test_unknown_spelled_genders_are_refused(text):
    with pytest.raises(ValueError, match="Choose a gender."):
        parse_gender(text, spelled=True)


@pytest.mark.parametrize(("value", "weight"), [
    (1, 1), (500, 500), ("62", 62), ("۶۲", 62), ("٦٢", 62), (" ۵۰۰ ", 500), ("007", 7)])
def test_weights_in_any_digits_within_bounds(value, weight):
    assert parse_weight(value) == weight


@pytest.mark.parametrize("value", [
    0, 501, -3, "0", "۵۰۱", "-5", "+5", "62.5", "6 2", "", "abc", "²", True, 62.0, None])
def test_bad_weights_are_refused(value):
    with pytest.raises(ValueError, match="Enter a weight between 1 and 500."):
        parse_weight(value)


def test_weight_bounds_are_the_documented_ones():
    # The bounds as parse_weight applies them (not the constants compared with themselves):
    # the documented 1 and 500 pass, one beyond either is refused with the message.
    assert (parse_weight("۱"), parse_weight(500)) == (1, 500)
    for outside in ("0", 501):
        with pytest.raises(ValueError, match="between 1 and 500"):
            parse_weight(outside)


# Property tests of every identifier boundary (O4): card numbers, mobiles, national codes
# and Jalali/Gregorian dates typed with Persian or Arabic-Indic digits, stray spaces and
# separators normalise to one form, and anything else is refused with a message — never
# another exception.
SCRIPTS = ["0123456789", "۰۱۲۳۴۵۶۷۸۹", "٠١٢٣٤٥٦٧٨٩"]
spaces = st.text(alphabet=" ", max_size=3)


@st.composite
def typed(draw, ascii_digits: str, separators: str = "") -> str:
    """`ascii_digits` as a person might type it: each digit in any script, separators
    between some of them, and stray spaces around."""
    out = []
    for index, char in enumerate(ascii_digits):
        if char.isdigit():
            char = SCRIPTS[draw(st.integers(0, 2))][int(char)]
        out.append(char)
        if separators and index % 4 == 3 and index < len(ascii_digits) - 1 and draw(
                st.booleans()):
            out.append(draw(st.sampled_from(separators)))
    return draw(spaces) + "".join(out) + draw(spaces)


cards = st.integers(0, 10**9 - 1).map(lambda serial: make_card_number("990001", serial))


@given(data=st.data(), number=cards)
def test_card_numbers_normalise_from_any_script_and_grouping(data, number):
    assert parse_card_number(data.draw(typed(number, " -"))) == number


@given(number=cards, position=st.integers(0, 15), delta=st.integers(1, 9))
def test_a_card_number_with_one_wrong_digit_is_refused(number, position, delta):
    wrong = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1:]
    with pytest.raises(CardNumberError, match="check digit"):
        parse_card_number(wrong)


@given(text=st.text(max_size=40))
def test_any_text_is_a_card_number_or_refused_with_a_message(text):
    try:
        number = parse_card_number(text)
    except CardNumberError as error:
        assert str(error)
    else:
        assert len(number) == 16 and number.isascii() and number.isdigit()


subscribers = st.integers(0, 10**9 - 1).map(lambda n: f"9{n:09d}")


@given(data=st.data(), subscriber=subscribers,
       prefix=st.sampled_from(["0", "+98", "0098", "98", "", "+98 ", "0098-"]))
def test_mobiles_normalise(data, subscriber, prefix):
    text = data.draw(spaces) + prefix + data.draw(typed(subscriber, " -")).strip()
    assert normalize_mobile(text) == "0" + subscriber


@given(text=st.text(max_size=30))
def test_any_text_is_a_mobile_or_refused_with_a_message(text):
    try:
        mobile = normalize_mobile(text)
    except ValueError as error:
        assert "09xxxxxxxxx" in str(error)
    else:
        assert len(mobile) == 11 and mobile.startswith("09") and mobile.isascii()


def with_check_digit(first_nine: str) -> str:
    remainder = sum(int(first_nine[i]) * (10 - i) for i in range(9)) % 11
    return first_nine + str(remainder if remainder < 2 else 11 - remainder)


national_codes = st.integers(0, 10**9 - 1).map(lambda n: with_check_digit(f"{n:09d}")).filter(
    lambda code: len(set(code)) > 1)


@given(data=st.data(), code=national_codes)
def test_national_codes_normalise(data, code):
    assert parse_national_code(data.draw(typed(code))) == code


@given(code=national_codes, delta=st.integers(1, 9))
def test_a_national_code_with_a_wrong_check_digit_is_refused(code, delta):
    wrong = code[:9] + str((int(code[9]) + delta) % 10)
    if with_check_digit(code[:9]) == wrong:  # remainders 0 and 1 share check digit 0/1
        return
    with pytest.raises(ValueError, match="not valid"):
        parse_national_code(wrong)


@given(text=st.text(max_size=20))
def test_any_text_is_a_national_code_or_refused(text):
    try:
        code = parse_national_code(text)
    except ValueError as error:
        assert "not valid" in str(error)
    else:
        assert len(code) == 10 and code.isascii()


days = st.integers(0, 60_000).map(lambda n: date(1950, 1, 1) + timedelta(days=n))


@given(data=st.data(), day=days, separator=st.sampled_from(["/", "-", ".", " / "]),
       jalali=st.booleans(), padded=st.booleans())
def test_dates_in_either_calendar_and_any_script_parse(data, day, separator, jalali, padded):
    shown = jdatetime.date.fromgregorian(date=day) if jalali else day
    month, dom = (f"{shown.month:02d}", f"{shown.day:02d}") if padded else (
        str(shown.month), str(shown.day))
    text = data.draw(typed(f"{shown.year}{separator}{month}{separator}{dom}"))
    assert parse_jalali_or_gregorian_date(text) == day


@given(text=st.text(max_size=24))
def test_any_text_is_a_date_or_refused_with_a_message(text):
    try:
        parse_jalali_or_gregorian_date(text)
    except ValueError as error:
        assert str(error)


@pytest.mark.parametrize("text", ["1405/12/30", "1403/13/01", "2026-02-29", "1405/00/10"])
def test_days_that_do_not_exist_are_refused(text):
    with pytest.raises(ValueError, match="does not exist"):
        parse_jalali_or_gregorian_date(text)


def test_item_lines_add_up_to_the_amount_or_not():
    from backend.validators import items_add_up

    assert items_add_up(250_000, [(2, 100_000), (1, 50_000)])
    assert not items_add_up(250_001, [(2, 100_000), (1, 50_000)])
    assert items_add_up(0, [])
