"""The firmware's ESC/POS encoder against python-escpos, the reference no one here wrote:
for the same receipt content both must produce the same bytes."""

import pytest
from escpos.printer import Dummy
from vafa import escpos

from simulator import hardware

RECEIPTS = {
    "demo purchase": ["Vafa Demo Club", "Card ****0019", "t01-000001", "Amount: 250,000",
                      "Discount: 12,500", "Credit used: 0", "To pay: 237,500",
                      "Credit: 61,875", "Points: 25"],
    "offline sale": ["Vafa Demo Club", "Card ****0019", "t01-000007", "Amount: 90,000",
                     "OFFLINE - not yet confirmed", "Points will be added later"],
    "blank lines and punctuation": ["", "  indented  ", "#1 @ 10% ~ {x}|[y]", ""],
    "exactly one printer line": ["x" * escpos.WIDTH],
    "one line": ["Thank you"],
}


def reference(lines: list[str], width: int = escpos.WIDTH) -> bytes:
    """python-escpos: init, each line as text (cut at the printer width), feed and cut."""
    p = Dummy()
    p.hw("INIT")
    for line in lines:
        chunks = [line[i:i + width] for i in range(0, len(line), width)] or [""]
        for chunk in chunks:
            p.text(chunk + "\n")
    p.cut()
    return p.output


@pytest.mark.parametrize("name", RECEIPTS)
def test_same_bytes_as_python_escpos(name):
    lines = RECEIPTS[name]
    assert escpos.encode_receipt(lines) == reference(lines)


def test_long_lines_wrap_at_the_printer_width_like_the_reference():
    lines = ["A" * 70, "Offer: Saturday double points for every member"]
    assert escpos.encode_receipt(lines) == reference(lines)
    assert escpos.encode_receipt(["abc" * 10], width=16) == reference(["abc" * 10], width=16)


def test_a_different_receipt_gives_different_bytes():
    # Guards the comparison itself: the two encoders are not trivially equal.
    assert escpos.encode_receipt(["Amount: 1"]) != reference(["Amount: 2"])
    assert escpos.encode_receipt([]) == reference([])  # init, feed, cut only


def test_simulator_renders_the_reference_bytes():
    lines = RECEIPTS["demo purchase"]
    assert hardware.render_escpos(reference(lines)) == lines
    assert hardware.count_cuts(reference(lines)) == 1


def _band_image(band: bytes):
    """The raster band's pixels as a 1-bit PIL image (ink black), to hand to the reference."""
    from PIL import Image

    stride, rows = band[4] | band[5] << 8, band[6] | band[7] << 8
    image = Image.frombytes("1", (stride * 8, rows), bytes(band[8:]))
    return Image.eval(image.convert("L"), lambda v: 255 - v).convert("1")


@pytest.mark.parametrize("line", ["باشگاه وفا", "اعتبار: 1,357,375", "کارت ****0019"])
def test_persian_line_is_the_raster_python_escpos_sends(line):
    # The firmware's raster band for a Persian line and python-escpos's image() (GS v 0,
    # its default) of the same pixels: the same bytes, so any ESC/POS printer that
    # prints python-escpos images prints these lines.
    band = escpos.raster_band(line)
    assert band[:4] == b"\x1dv0\x00" and any(band[8:])
    p = Dummy()
    p.image(_band_image(band), impl="bitImageRaster")
    assert p.output == band
    receipt = escpos.encode_receipt(["Vafa", line])
    assert receipt == b"\x1b@\x1bt\x00Vafa\n" + band + b"\x1bd\x06\x1dV\x00"


def test_portal_qr_is_the_one_python_escpos_sends():
    url = "https://club.example/portal"
    p = Dummy()
    p.qr(url, native=True, size=escpos.QR_MODULE)
    assert escpos.qr_code(url) == p.output
    assert escpos.encode_receipt(["Thanks"], qr=url) == (
        reference(["Thanks"])[:-len(b"\x1bd\x06\x1dV\x00")] + p.output + b"\x1bd\x06\x1dV\x00")
