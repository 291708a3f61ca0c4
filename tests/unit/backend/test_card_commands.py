"""`vafa cards …` (backend/card_commands.py): what the commands accept before they touch
the database — counts and ids in any digit script within bounds, a 6-digit issuer prefix,
an empty output directory. Batches themselves: tests/unit/card_spec/test_batches.py."""

import click
import pytest

from backend.card_commands import DigitsInt, cards_group


@pytest.mark.parametrize(("typed", "number"), [("۵۰۰", 500), ("٣", 3), (" 42 ", 42), (7, 7)])
def test_counts_are_read_in_any_digit_script(typed, number):
    assert DigitsInt(1, 100_000).convert(typed, None, None) == number


@pytest.mark.parametrize(("typed", "message"), [
    ("0", "must be 1–100000, got 0"),
    ("100001", "must be 1–100000, got 100001"),
    ("12.5", "is not a whole number"),
    ("-3", "is not a whole number"),
    ("²", "is not a whole number"),  # a digit to str.isdigit, not a number to a cashier
])
def test_counts_outside_the_bounds_or_not_whole_are_refused(typed, message):
    with pytest.raises(click.BadParameter, match=message):
        DigitsInt(1, 100_000).convert(typed, None, None)


def test_a_prefix_must_have_six_digits(runner, tmp_path):
    result = runner.invoke(cards_group, ["batch", "--count", "5", "--prefix", "99001",
                                         "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "an issuer prefix has 6 digits" in result.output
    assert not (tmp_path / "out").exists()


def test_a_directory_with_files_in_it_is_refused(runner, tmp_path):
    (tmp_path / "earlier.csv").write_text("kept")
    result = runner.invoke(cards_group, ["batch", "--count", "5", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "is not empty; choose a new directory" in result.output
    assert [path.name for path in tmp_path.iterdir()] == ["earlier.csv"]


def test_files_of_an_unknown_batch_are_refused(runner, db, tmp_path):
    result = runner.invoke(cards_group, ["files", "--batch", "۹۹۹", "--out",
                                         str(tmp_path / "out")])
    assert result.exit_code == 1
    assert not (tmp_path / "out").exists()
