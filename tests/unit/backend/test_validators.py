import pytest

from backend.validators import is_valid_national_code, normalize_mobile, parse_national_code


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
