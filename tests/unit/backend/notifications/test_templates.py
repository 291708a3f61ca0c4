"""Template texts: only known placeholders, never Python objects; values in the
message's language with Jalali dates and Persian digits."""

import pytest

from backend.notifications import templates
from backend.notifications.templates import TemplateError


def test_every_built_in_text_passes_its_own_check():
    for kind, texts in templates.DEFAULTS.items():
        for language, text in texts.items():
            assert templates.check(text, templates.allowed_placeholders(kind),
                                   templates.KINDS[kind].required) == text, (kind, language)


@pytest.mark.parametrize(("text", "message"), [
    ("", "Write the text of the message."),
    ("Hi {first_name.__class__}", "Unknown placeholder {first_name.__class__}."),
    ("Hi {first_name[0]}", "Unknown placeholder {first_name[0]}."),
    ("Hi {0}", "Unknown placeholder {0}."),
    ("Hi {}", "Unknown placeholder {}."),
    ("Hi {first_name!r}", "Unknown placeholder {first_name}."),
    ("Hi {first_name:>30}", "Unknown placeholder {first_name}."),
    ("Hi {code}", "Unknown placeholder {code}."),
    ("Hi {first_name", "A brace is not closed; write {{ and }} for braces."),
    ("x" * 1001, "A message has at most 1000 characters."),
])
def test_bad_texts_are_refused(text, message):
    with pytest.raises(TemplateError) as caught:
        templates.check(text, templates.allowed_placeholders("purchase"))
    assert str(caught.value) == message


def test_a_code_message_must_carry_the_code():
    with pytest.raises(TemplateError, match=r"must contain \{code\}"):
        templates.check("Welcome!", templates.allowed_placeholders("otp"), ("code",))


def test_literal_braces_and_lookups_by_whole_name_only():
    assert templates.render("{{x}} {first_name}", {"first_name": "Sara"}) == "{x} Sara"
    with pytest.raises(KeyError):
        templates.render("{first_name.upper}", {"first_name": "Sara"})


def test_values_in_persian_use_jalali_dates_persian_digits_and_the_club_unit():
    values = templates.values_for(
        {"amount": 250_000, "points_earned": 1234, "date": "2026-11-21T09:30:00+00:00",
         "tier": {"fa": "نقره‌ای", "en": "silver"}, "code": "048213"}, "fa", "toman")
    assert values == {"amount": "۲۵٬۰۰۰ تومان", "points_earned": "۱٬۲۳۴",
                      "date": "۱۴۰۵/۰۸/۳۰", "tier": "نقره‌ای", "code": "048213"}


def test_values_in_english_use_gregorian_dates_and_latin_digits():
    values = templates.values_for(
        {"amount": 250_000, "date": "2026-03-20", "tier": {"fa": "طلایی", "en": "gold"}},
        "en", "rial")
    assert values == {"amount": "250,000 rials", "date": "2026-03-20", "tier": "gold"}


def test_a_persian_date_late_in_the_utc_day_is_the_next_tehran_day():
    # 21:00 UTC on 21 November is 00:30 on 22 November in Tehran: 1 Azar 1405.
    assert templates.format_day("2026-11-21T21:00:00+00:00", "fa") == "۱۴۰۵/۰۹/۰۱"


def test_samples_fill_every_placeholder():
    for kind in templates.KINDS:
        for language in templates.LANGUAGES:
            text = templates.DEFAULTS[kind][language]
            rendered = templates.render(text, templates.sample_values(kind, language, "rial"))
            assert "{" not in rendered, (kind, language)
