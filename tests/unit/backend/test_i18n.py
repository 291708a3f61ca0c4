from datetime import UTC, date, datetime

import pytest

from backend import i18n
from backend.validators import parse_jalali_or_gregorian_date


@pytest.mark.parametrize(("amount", "language", "unit", "expected"), [
    (1_234_500, "fa", "rial", "۱٬۲۳۴٬۵۰۰ ریال"),
    (1_234_500, "fa", "toman", "۱۲۳٬۴۵۰ تومان"),
    (1_234_505, "fa", "toman", "۱۲۳٬۴۵۰٫۵ تومان"),
    (1_234_500, "en", "rial", "1,234,500 rials"),
    (0, "en", "toman", "0 toman"),
])
def test_amounts(amount, language, unit, expected):
    assert i18n.format_amount(amount, language, unit) == expected


@pytest.mark.parametrize(("typed", "unit", "rials"), [
    ("۲۵۰٬۰۰۰", "rial", 250_000), ("٢٥٠,٠٠٠", "rial", 250_000), ("25 000", "toman", 250_000),
    ("0", "rial", 0),
])
def test_typed_amounts_in_any_digits(typed, unit, rials):
    assert i18n.parse_amount(typed, unit) == rials


@pytest.mark.parametrize("typed", ["-5", "12.5", "abc", "1e6", "", "۱۲۳۴۵۶۷۸۹۰۱۲۳۴۵۶"])
def test_bad_amounts_are_refused(typed):
    with pytest.raises(ValueError):
        i18n.parse_amount(typed)


def test_dates_are_jalali_in_persian_and_tehran_local():
    moment = datetime(2026, 11, 21, 21, 0, tzinfo=UTC)  # 00:30 on 1 Azar in Tehran
    assert i18n.format_datetime(moment, "fa") == "۱۴۰۵/۰۹/۰۱ ۰۰:۳۰"
    assert i18n.format_datetime(moment, "en") == "2026-11-22 00:30"
    assert i18n.format_date(date(2026, 3, 21), "fa") == "۱۴۰۵/۰۱/۰۱"


@pytest.mark.parametrize(("typed", "expected"), [
    ("۱۴۰۵/۰۸/۳۰", date(2026, 11, 21)), (" 1405-8-30 ", date(2026, 11, 21)),
    ("٢٠٢٦-١١-٢١", date(2026, 11, 21)), ("1403/12/30", date(2025, 3, 20)),
])
def test_jalali_or_gregorian_dates(typed, expected):
    assert parse_jalali_or_gregorian_date(typed) == expected


@pytest.mark.parametrize("typed", ["1404/12/30", "1405/13/01", "2026-02-29", "30/08/1405", "x"])
def test_impossible_dates_are_refused(typed):
    with pytest.raises(ValueError):
        parse_jalali_or_gregorian_date(typed)


def test_ledger_reasons_read_in_persian():
    assert i18n.explain_reason("purchase of 250,000 rials", "fa") == "خرید ۲۵۰٬۰۰۰ ریالی"
    assert i18n.explain_reason("transfer to member 7", "fa") == "انتقال به عضو شمارهٔ ۷"
    assert i18n.explain_reason("Nowruz gift", "fa") == "Nowruz gift"
    assert i18n.explain_reason("purchase of 250,000 rials", "en") == "purchase of 250,000 rials"


def test_catalogue_compiles_and_every_template_string_is_translated(tmp_path):
    """Every msgid in the code and templates has a Persian translation (no English leaks
    into the Persian panel)."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    with (i18n.TRANSLATIONS_DIR / "fa/LC_MESSAGES/messages.po").open("rb") as source:
        catalogue = read_po(source)
    method_map = [("backend/**.py", "python"), ("backend/templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "N_": None,
                "ngettext": (1, 2)}
    missing = set()
    for _, _, message, _, _ in extract_from_dir(".", method_map, keywords=keywords):
        msgid = message[0] if isinstance(message, tuple) else message
        entry = catalogue.get(msgid)
        if not msgid or entry is None or not entry.string:
            missing.add(msgid)
    assert not missing, f"untranslated: {sorted(missing)}"
    # Babel's own checks (what `pybabel compile` reports): a translation whose %(name)s
    # placeholders differ from its msgid would raise at render time.
    problems = [(message.id, [str(error) for error in errors])
                for message, errors in catalogue.check()]
    assert not problems, problems
    compiled = i18n.compile_catalogues(tmp_path)
    assert (compiled / "fa/LC_MESSAGES/messages.mo").stat().st_size > 1000


def test_processes_starting_together_compile_the_catalogue_side_by_side(tmp_path):
    """`make run` starts gunicorn's workers, the MQTT worker and the jobs process at once;
    each compiles the catalogue into the same directory."""
    from concurrent.futures import ThreadPoolExecutor

    from babel.messages.mofile import read_mo

    from backend.i18n import compile_catalogues

    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            list(pool.map(lambda _: compile_catalogues(tmp_path), range(8)))
    mo_path = tmp_path / "fa" / "LC_MESSAGES" / "messages.mo"
    with mo_path.open("rb") as compiled:
        assert read_mo(compiled).get("Members").string == "اعضا"
    assert [path.name for path in mo_path.parent.iterdir()] == ["messages.mo"]
