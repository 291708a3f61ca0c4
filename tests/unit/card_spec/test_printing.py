"""The printing house's files, checked by reading them back: barcodes through a real
decoder (zxing-cpp), image sizes and resolution, the CSV and the PDF sheet."""

import csv
import io

import pytest
import zxingcpp
from PIL import Image

from card_spec import CardNumberError, make_card_number, printing

ARTWORK = printing.Artwork("Vafa Demo Club")


def decode(image: Image.Image) -> list[tuple[str, str]]:
    return [(found.text, found.format.name) for found in zxingcpp.read_barcodes(image)]


@pytest.mark.parametrize("serial", [1, 101, 12_345, 999_999_999])
def test_barcode_png_decodes_to_the_same_16_digits(serial):
    number = make_card_number("990001", serial)  # every such number starts with "99"
    image = Image.open(io.BytesIO(printing.barcode_png(number)))
    assert decode(image) == [(number, "Code128")]
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)


def test_card_back_decodes_and_is_cr80_at_300_dpi():
    number = make_card_number("990001", 4242)
    back = printing.card_back(number, ARTWORK)
    assert back.size == (1011, 638)  # 85.60 × 53.98 mm at 300 dpi
    assert decode(back) == [(number, "Code128")]


def test_bars_are_whole_printer_dots_with_quiet_zones():
    image = printing.barcode_image(make_card_number("990001", 7), text=False)
    row = [image.getpixel((x, image.height // 2)) for x in range(image.width)]
    runs, previous, length = [], row[0], 0
    for value in row:
        if value == previous:
            length += 1
        else:
            runs.append(length)
            previous, length = value, 1
    runs.append(length)
    assert runs[0] >= 10 * printing.MODULE_PX and runs[-1] >= 10 * printing.MODULE_PX
    assert {width % printing.MODULE_PX for width in runs[1:-1]} == {0}
    # start + 8 digit pairs + check + stop = 123 modules (code set C throughout).
    assert sum(runs[1:-1]) == 123 * printing.MODULE_PX


def test_barcode_svg_is_vector_and_refuses_bad_numbers():
    svg = printing.barcode_svg(make_card_number("990001", 5))
    assert svg.lstrip().startswith(b"<?xml") and b"<rect" in svg
    with pytest.raises(CardNumberError):
        printing.barcode_svg("9900010000000018")


def test_write_batch_writes_every_file(tmp_path):
    numbers = [make_card_number("990001", serial) for serial in range(101, 110)]
    files = printing.write_batch(tmp_path, numbers, batch_label="b7", artwork=ARTWORK)
    with files.csv.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["number"] for row in rows] == numbers
    assert all(row["barcode_text"] == row["number"] and row["batch"] == "b7" for row in rows)
    assert rows[0]["printed_text"] == "9900 0100 0000 1017"
    for number in numbers:
        assert (tmp_path / "barcodes" / f"{number}.svg").stat().st_size > 0
        png = Image.open(tmp_path / "barcodes" / f"{number}.png")
        assert decode(png) == [(number, "Code128")]
        assert Image.open(tmp_path / "artwork" / f"{number}-back.png").size == (1011, 638)
    front = Image.open(files.front)
    assert front.size == (1011, 638)
    # 3 mm bleed each side (35 px at 300 dpi), the content kept in place.
    bleed = Image.open(tmp_path / "artwork" / "front-bleed.png")
    assert bleed.size == (1011 + 2 * 35, 638 + 2 * 35)
    assert bleed.crop((35, 35, 35 + 1011, 35 + 638)).tobytes() == front.convert("RGB").tobytes()
    assert (tmp_path / "artwork" / "front.pdf").read_bytes().startswith(b"%PDF")
    readme = (tmp_path / "README.txt").read_text(encoding="utf-8")
    assert f"Cards: 9, numbers {numbers[0]} to {numbers[-1]}" in readme
    assert "Code 128, code set C" in readme and "flip on the LONG edge" in readme
    assert "artwork/front.pdf" in readme and "DeviceCMYK" in readme
    assert "C 88% M 41% Y 0% K 49%" in readme  # the default #0f4c81, black generated
    pdf = files.pdf.read_bytes()
    assert pdf.startswith(b"%PDF")
    # 9 cards: two sheets of 8 slots, each a fronts page and a backs page.
    assert files.pages == 4
    assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 4


def test_sheet_slots_stay_on_a4_with_room_for_crop_marks():
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm

    slots = printing.card_slots()
    assert len(slots) == 8
    reach = (printing.CROP_MARK_GAP_MM + printing.CROP_MARK_MM) * mm
    assert min(x for x, _ in slots) - reach > 0
    assert max(x for x, _ in slots) + printing.CARD_WIDTH_MM * mm + reach < A4[0]
    assert min(y for _, y in slots) - reach > 0
    assert max(y for _, y in slots) + printing.CARD_HEIGHT_MM * mm + reach < A4[1]


def test_front_uses_a_given_logo(tmp_path):
    logo = tmp_path / "logo.png"
    Image.new("RGBA", (400, 400), (255, 0, 0, 255)).save(logo)
    front = printing.card_front(printing.Artwork("Club", logo=logo))
    margin = printing.mm_to_px(printing.SAFE_MARGIN_MM + 2)
    assert front.getpixel((margin + 10, margin + 10)) == (255, 0, 0)
