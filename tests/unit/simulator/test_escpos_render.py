"""The reference ESC/POS printer (simulator/escpos_render.py) against streams that
python-escpos, the library no one here wrote, generates: the paper comes out with the
expected dots in the expected places, QR codes decode, and broken streams are refused."""

import pytest
import zxingcpp
from escpos.printer import Dummy
from PIL import Image, ImageChops, ImageDraw

from simulator.escpos_render import (
    DEFAULT_LINE_SPACING,
    INK,
    MAX_HEIGHT_DOTS,
    PAPER,
    PAPER_DOTS,
    EscposError,
    render,
)


def printer() -> Dummy:
    # python-escpos's default profile, as the firmware's reference test uses: it selects
    # PC437 as ESC t 0 (the 58 mm profiles' tables put other pages first for ASCII).
    return Dummy()


def pattern(width: int = 64, height: int = 32) -> Image.Image:
    """An asymmetric 1-bit picture (a frame, a diagonal, a block in one corner), so a
    shift, a flip or a bit-order mistake changes the pixels."""
    image = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width - 1, height - 1), outline=0)
    draw.line((0, 0, width - 1, height - 1), fill=0)
    draw.rectangle((width - 12, 3, width - 4, 10), fill=0)
    return image


def as_paper(image: Image.Image) -> Image.Image:
    """A 1-bit picture as the renderer's paper: ink 0, paper 255."""
    return image.convert("L").point(lambda value: PAPER if value else INK)


def ink_box(image: Image.Image) -> tuple[int, int, int, int] | None:
    return ImageChops.invert(image).getbbox()


def test_text_and_images_land_on_the_expected_dots():
    picture = pattern()
    p = printer()
    p.hw("INIT")
    p.text("Vafa\n")
    p.image(picture)
    p.set(align="center")
    p.image(picture)
    p.set(align="right")
    p.image(picture)
    p.cut()
    receipt = render(p.output)
    assert receipt.image.width == PAPER_DOTS
    assert receipt.text_lines == ["Vafa"]

    expected = Image.new("L", (PAPER_DOTS, receipt.image.height), PAPER)
    top = DEFAULT_LINE_SPACING  # one text line
    for row, x in enumerate((0, (PAPER_DOTS - 64) // 2, PAPER_DOTS - 64)):
        expected.paste(as_paper(picture), (x, top + row * 32))
    below_text = (0, top, PAPER_DOTS, receipt.image.height)
    assert receipt.image.crop(below_text).tobytes() == expected.crop(below_text).tobytes()

    # "Vafa" in font A: four 12 x 24 cells from the left edge, nothing beyond them.
    text_band = receipt.image.crop((0, 0, PAPER_DOTS, top))
    left, upper, right, lower = ink_box(text_band)
    assert left < 12 and 3 * 12 < right <= 4 * 12 and lower <= 24
    # python-escpos feeds 6 lines before a full cut (GS V 0): the cut is at the end.
    assert receipt.cuts == [receipt.image.height]
    assert receipt.image.height == top + 3 * 32 + 6 * DEFAULT_LINE_SPACING


def test_bit_order_and_double_size_raster():
    # One byte 0b10000001 per row: dots at x 0 and 7 only.
    stream = b"\x1b@" + b"\x1dv0\x00\x01\x00\x02\x00\x81\x81"
    image = render(stream).image
    assert [image.getpixel((x, 0)) for x in range(8)] == [INK] + [PAPER] * 6 + [INK]
    quad = render(b"\x1b@" + b"\x1dv0\x03\x01\x00\x01\x00\x80").image
    assert ink_box(quad) == (0, 0, 2, 2)  # one dot, twice as wide and twice as tall


def test_text_sizes_alignment_and_wrapping():
    p = printer()
    p.hw("INIT")
    p.set(align="center", double_width=True, double_height=True)
    p.text("AB\n")
    p.set(align="left", normal_textsize=True)
    p.text("x" * 40 + "\n")  # 32 cells a line: the printer wraps after 32
    receipt = render(p.output)
    assert receipt.text_lines == ["AB", "x" * 32, "x" * 8]
    big = receipt.image.crop((0, 0, PAPER_DOTS, 48))
    left, _, right, lower = ink_box(big)
    # Two 24 x 48 cells centred: from dot 168 to 216.
    assert 168 <= left < 180 and 204 < right <= 216 and lower > 24


def test_reverse_and_bold_text():
    p = printer()
    p.hw("INIT")
    p.set(invert=True, bold=True)
    p.text("AB\n")
    receipt = render(p.output)
    cells = receipt.image.crop((0, 0, 24, 24))
    plain = render(b"\x1b@AB\n").image.crop((0, 0, 24, 24))
    # Reverse: mostly ink (white letters on black), where plain text is mostly paper.
    ink = sum(1 for value in cells.tobytes() if value == INK)
    assert ink > 24 * 24 / 2 > sum(1 for value in plain.tobytes() if value == INK)
    assert receipt.image.getpixel((30, 10)) == PAPER  # only the two cells are reversed


def test_native_qr_code_decodes_to_the_stored_link():
    link = "https://club.example/p/9900010000000019"
    p = printer()
    p.hw("INIT")
    p.set(align="center")
    p.qr(link, size=5, native=True)
    p.text("\n")
    p.cut()
    receipt = render(p.output)
    found = zxingcpp.read_barcodes(receipt.image)
    assert [(code.text, code.format.name) for code in found] == [(link, "QRCode")]
    left, _, right, _ = ink_box(receipt.image)
    assert abs((left + right) / 2 - PAPER_DOTS / 2) <= 3  # centred
    assert (right - left) % 5 == 0  # whole modules of 5 dots


def test_image_qr_code_from_python_escpos_decodes_too():
    link = "https://club.example/p/1"
    p = printer()
    p.qr(link, size=4, native=False)
    found = zxingcpp.read_barcodes(render(p.output).image)
    assert [code.text for code in found] == [link]


@pytest.mark.parametrize("stream, message", [
    (b"\x1b", "truncated"),
    (b"\x1dv0\x00\x02\x00\x02\x00\xff", "truncated"),
    (b"\x1b\x99", "unknown command ESC 0x99"),
    (b"\x1d\x99", "unknown command GS 0x99"),
    (b"\x1dv0\x00\x31\x00\x01\x00" + b"\x00" * 49, "392 dots wide"),
    (b"Hi\x1dv0\x00\x01\x00\x01\x00\x80", "text in the line buffer"),
    (b"\x1bt\x63", "code page 99"),
    (b"\x1d(k\x03\x001Q0", "no data stored"),
    (b"\x07", "control byte 0x07"),
])
def test_broken_streams_are_refused_with_their_offset(stream, message):
    with pytest.raises(EscposError, match="byte 0|byte 2") as error:
        render(stream)
    assert message in str(error.value)


def test_paper_is_bounded():
    with pytest.raises(EscposError, match=f"more than {MAX_HEIGHT_DOTS} dots"):
        render(b"\x1bd\xff" * 10_000)
