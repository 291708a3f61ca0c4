import pytest

from backend.validators import (
    WEIGHT_MAX_KG,
    WEIGHT_MIN_KG,
    is_valid_national_code,
    normalize_mobile,
    parse_gender,
    parse_national_code,
    parse_weight,
)


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
    assert (WEIGHT_MIN_KG, WEIGHT_MAX_KG) == (1, 500)
