"""card_spec.text: the order and shapes of the glyphs the PDF draws (the OCR tests in
test_printing.py check the same as a reader would)."""

from card_spec import text


def runs(line: str) -> list[tuple[str, bool]]:
    return text._visual_runs(line)


def test_right_to_left_words_come_in_display_order_each_in_logical_order():
    assert runs("باشگاه وفا") == [("وفا", True), (" ", False), ("باشگاه", True)]


def test_numbers_keep_their_digit_order_in_a_persian_name():
    # Persian digits are of the Arabic script: guessed right-to-left they would print 42.
    assert runs("فروشگاه ۲۴") == [("۲۴ ", False), ("فروشگاه", True)]
    font = text.pdf_font_name("regular")
    shaped = text.shaped_line("فروشگاه ۲۴", font, 10)
    digits = [data.cluster for data in shaped.__shapeData__[:2]]
    assert digits == [0, 1]  # "۲" drawn left of "۴"


def test_brackets_in_right_to_left_context_are_mirrored():
    visual = "".join(run if not rtl else run[::-1] for run, rtl in runs("کافه (لمیز)"))
    assert visual == "(زیمل) هفاک"  # the glyph left of the word is "(", as read


def test_zwnj_stays_inside_the_run_and_breaks_the_joining():
    assert runs("می\u200cخرم") == [("می\u200cخرم", True)]
    font = text.pdf_font_name("bold")
    joined = text.shaped_line("میخرم", font, 10)
    broken = text.shaped_line("می\u200cخرم", font, 10)
    # With the ZWNJ, "ی" takes its final form and "خ" its initial one: other glyphs.
    assert str(joined) != str(broken).replace("\u200c", "")


def test_letters_are_joined_not_isolated():
    font = text.pdf_font_name("regular")
    isolated = "".join(str(text.shaped_line(letter, font, 10)) for letter in "بب")
    assert str(text.shaped_line("بب", font, 10)) != isolated


def test_widths_match_pillows_raqm_layout():
    font = text.pdf_font_name("bold")
    for line in ("باشگاه مشتریان وفا", "می\u200cخرم Café 24"):
        pdf_width = text.line_width(text.shaped_line(line, font, 1000), 1000)
        assert abs(pdf_width - text.pil_font(1000, "bold").getlength(line)) < 5
