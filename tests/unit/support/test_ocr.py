"""The OCR wrapper (tests/support/ocr.py) reads printed receipts back: an English text
line printed in the printer's own font, and a Persian line drawn with Vazirmatn as a
raster image (as a terminal must print Persian), both through python-escpos and the
reference ESC/POS renderer. Images are kept in tests/artifacts/."""

from pathlib import Path

import pytest
from escpos.printer import Dummy
from PIL import Image, ImageDraw, features

from card_spec import text as card_text
from simulator.escpos_render import PAPER_DOTS, render
from tests.support import ocr

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
ENGLISH = "Amount: 250,000"
PERSIAN = "مانده اعتبار: ۱٬۳۵۷٬۳۷۵ ریال"


def persian_raster(line: str, *, size_px: int = 28) -> Image.Image:
    """`line` as a 1-bit image the width of the paper, right-aligned: shaped and laid out
    right to left by Pillow's libraqm, with Vazirmatn."""
    assert features.check("raqm"), "Pillow cannot shape Persian without libraqm"
    font = card_text.pil_font(size_px)
    image = Image.new("1", (PAPER_DOTS, round(size_px * 1.6)), 1)
    ImageDraw.Draw(image).text((PAPER_DOTS - 4, round(size_px * 1.1)), line, font=font,
                               fill=0, anchor="rs", direction="rtl", language="fa")
    return image


def save(image: Image.Image, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    image.save(ARTIFACTS / f"{name}.png")


def test_english_text_line_reads_back():
    p = Dummy()
    p.hw("INIT")
    p.text(ENGLISH + "\n")
    p.cut()
    paper = render(p.output).image
    save(paper, "ocr-receipt-english")
    assert ocr.normalise(ocr.read_text(paper, lang="eng")) == ocr.normalise(ENGLISH)


def test_persian_raster_line_reads_back():
    p = Dummy()
    p.hw("INIT")
    p.image(persian_raster(PERSIAN))
    p.cut()
    paper = render(p.output).image
    save(paper, "ocr-receipt-persian")
    read = ocr.read_text(paper, lang="fas")
    assert ocr.similarity(read, PERSIAN) >= 0.8, read


def test_a_whole_receipt_reads_back_line_by_line():
    p = Dummy()
    p.hw("INIT")
    p.text("Vafa Demo Club\n")
    p.image(persian_raster("باشگاه مشتریان وفا"))
    p.text(ENGLISH + "\n")
    p.cut()
    paper = render(p.output).image
    save(paper, "ocr-receipt-mixed")
    english = ocr.read_lines(paper, lang="eng")
    assert [ocr.normalise(line) for line in (english[0], english[-1])] == [
        ocr.normalise("Vafa Demo Club"), ocr.normalise(ENGLISH)]
    persian = ocr.read_lines(paper, lang="fas")
    assert max(ocr.similarity(line, "باشگاه مشتریان وفا") for line in persian) >= 0.8, persian


def test_unshaped_persian_does_not_pass():
    """The check can fail: letters drawn one by one, unjoined and left to right (what a
    renderer without shaping prints), do not read back as the line."""
    font = card_text.pil_font(28)
    image = Image.new("1", (PAPER_DOTS, 45), 1)
    draw = ImageDraw.Draw(image)
    x = 4
    for char in PERSIAN:
        draw.text((x, 30), char, font=font, fill=0, anchor="ls", features=["-init", "-medi",
                                                                          "-fina"])
        x += font.getlength(char)
    save(image, "ocr-unshaped-persian")
    read = ocr.read_text(image, lang="fas")
    assert ocr.similarity(read, PERSIAN) < 0.8, read


def test_normalise_ignores_what_ocr_gets_wrong_harmlessly():
    assert ocr.normalise("می\u200cخرم  كافي") == ocr.normalise("میخرم کافی")
    assert ocr.similarity("Vafa", "VAFA") == 1.0
    assert ocr.similarity("Vafa", "Points") < 0.5


def test_missing_tesseract_fails_loudly(monkeypatch):
    ocr.installed_languages.cache_clear()
    monkeypatch.setenv("PATH", "/nonexistent")
    try:
        with pytest.raises(ocr.OcrUnavailable, match="tesseract-ocr-fas"):
            ocr.read_text(Image.new("L", (10, 10), 0))
    finally:
        ocr.installed_languages.cache_clear()


def test_missing_language_model_fails_loudly():
    with pytest.raises(ocr.OcrUnavailable, match="tesseract-ocr-xyz"):
        ocr.require_languages("fas+xyz")
    ocr.require_languages("fas+eng")  # what make test installs


def test_blank_paper_is_an_error_not_an_empty_reading():
    with pytest.raises(ValueError, match="no ink"):
        ocr.read_text(Image.new("L", (100, 30), 255))
