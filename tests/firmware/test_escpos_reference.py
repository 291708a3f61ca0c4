"""The firmware's ESC/POS encoder against python-escpos, the reference no one here wrote:
for the same receipt content both must produce the same bytes."""


import pytest
from escpos.printer import Dummy
from vafa import escpos
from vafa.hw import Printer

from provisioning import logo as logos
from simulator import hardware
from tests.support.logos import club_logo

from .test_micropython import _require_package, _run

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


def reference(lines: list[str], width: int = escpos.WIDTH, logo=None) -> bytes:
    """python-escpos: init, the logo's image() when given, each line as text (cut at the
    printer width), feed and cut."""
    p = Dummy()
    p.hw("INIT")
    if logo is not None:
        p.image(logo)
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


# -- the club's logo (logo.bin, provisioning/logo.py) ----------------------------------------

@pytest.fixture
def logo_file(tmp_path):
    """logo.bin as `provisioning image --logo` puts it on the flash, and its pixels."""
    source = club_logo(tmp_path / "logo.png")
    path = tmp_path / escpos.LOGO_FILE
    path.write_bytes(logos.logo_bin(source))
    return path, logos.logo_image(source)


def test_the_logo_band_is_python_escpos_image_of_the_same_pixels(logo_file):
    path, pixels = logo_file
    assert pixels.width == escpos.PAPER_DOTS and 0 < pixels.height <= escpos.LOGO_MAX_ROWS
    p = Dummy()
    p.image(pixels)  # GS v 0, python-escpos's default
    assert path.read_bytes() == p.output
    assert escpos.logo_size(str(path)) == (escpos.PAPER_DOTS // 8, pixels.height)
    pieces = list(escpos.logo_parts(str(path)))
    assert b"".join(pieces) == p.output
    assert max(map(len, pieces)) <= escpos.LOGO_PIECE and len(pieces) > 1


@pytest.mark.parametrize("name", RECEIPTS)
def test_a_receipt_with_the_logo_is_the_reference_with_its_image(name, logo_file):
    path, pixels = logo_file
    lines = RECEIPTS[name]
    assert escpos.encode_receipt(lines, logo=str(path)) == reference(lines, logo=pixels)


def test_a_persian_receipt_with_logo_and_qr(logo_file):
    path, pixels = logo_file
    url = "https://club.example/portal"
    band = escpos.raster_band("باشگاه وفا")
    p = Dummy()
    p.hw("INIT")
    p.image(pixels)
    p.image(_band_image(band))
    p.text("Thanks\n")
    p.qr(url, native=True, size=escpos.QR_MODULE)
    p.cut()
    assert escpos.encode_receipt(["باشگاه وفا", "Thanks"], qr=url, logo=str(path)) == p.output


def test_without_a_logo_file_the_receipt_is_unchanged(tmp_path):
    for name, lines in RECEIPTS.items():
        without = escpos.encode_receipt(lines, logo=str(tmp_path / "logo.bin"))
        assert without == escpos.encode_receipt(lines) == reference(lines), name
    assert Printer.logo is None


@pytest.mark.parametrize("damage", ["not raster", "truncated", "extra", "too tall",
                                    "too wide", "empty", "no rows"])
def test_a_bad_logo_file_prints_nothing_extra(logo_file, damage):
    path, _pixels = logo_file
    good = path.read_bytes()
    bad = {
        "not raster": b"\x89PNG\r\n\x1a\n" + good[8:],
        "truncated": good[:-1],
        "extra": good + b"\x00",
        "too tall": b"\x1dv0\x00\x30\x00" + bytes([121, 0]) + bytes(48 * 121),
        "too wide": b"\x1dv0\x00\x31\x00" + bytes([10, 0]) + bytes(49 * 10),
        "empty": b"",
        "no rows": b"\x1dv0\x00\x30\x00\x00\x00",
    }[damage]
    path.write_bytes(bad)
    assert escpos.logo_size(str(path)) is None
    lines = RECEIPTS["demo purchase"]
    assert escpos.encode_receipt(lines, logo=str(path)) == reference(lines)


def test_the_simulated_printer_prints_the_logo_when_the_flash_has_it(logo_file, tmp_path):
    path, pixels = logo_file
    printer = hardware.CapturePrinter(logo=str(path))
    printer.print_lines(["Thanks"])
    printer.logo = str(tmp_path / "missing" / "logo.bin")
    printer.print_lines(["Thanks"])
    assert printer.receipts == [reference(["Thanks"], logo=pixels), reference(["Thanks"])]


MPY_LOGO = """
import sys
import fake_machine
from mpytest import check, done, eq
sys.modules["machine"] = fake_machine
from vafa import escpos, pins
from vafa.hw import esp32

LOGO = %r
WANT = %r
WANT_PLAIN = %r
LINES = %r
with open("/tmp/logo.bin", "wb") as f:
    f.write(LOGO)
eq(escpos.logo_size("/tmp/logo.bin"), (48, LOGO[6]), "logo size read")
eq(escpos.encode_receipt(LINES, logo="/tmp/logo.bin"), WANT, "receipt with the logo")
eq(escpos.encode_receipt(LINES, logo="/tmp/none.bin"), WANT_PLAIN, "no logo file: unchanged")

# The ESP32 driver: the receipt written piece by piece, one piece a tick.
fake_machine.board.reset()
p = pins.MAPS["esp32"]
printer = esp32.ReceiptPrinter(p["printer_uart"], p["printer_tx"], None,
                               logo="/tmp/logo.bin")
uart = fake_machine.board.uarts[p["printer_uart"]]
sizes = []
write = uart.write
def counted(data):
    sizes.append(len(data))
    return write(data)
uart.write = counted
printer.print_lines(LINES)
for t in range(200):
    printer.tick(t)
eq(bytes(uart.written), WANT, "the driver sends the same bytes")
check(max(sizes[1:-1]) <= escpos.LOGO_PIECE, "logo pieces of LOGO_PIECE bytes at most")
check(len(sizes) > len(LOGO) // escpos.LOGO_PIECE, "the logo went in several pieces")
printer.deinit()
done("test_logo_mpy")
"""


def test_the_logo_under_the_real_micropython(logo_file, tmp_path):
    _require_package()
    path, pixels = logo_file
    lines = ["Vafa Demo Club", "Amount: 250,000"]
    script = tmp_path / "test_logo_mpy.py"
    script.write_text(MPY_LOGO % (path.read_bytes(), reference(lines, logo=pixels),
                                  reference(lines), lines))
    r = _run(script)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASS test_logo_mpy.py" in r.stdout, r.stdout + r.stderr
