"""The printing house's files, checked by reading them back: barcodes through a real
decoder (zxing-cpp), image sizes and resolution, the CSV and the PDF sheet."""

import csv
import io
import subprocess
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import ContentStream
from reportlab.lib.units import mm

from card_spec import CardNumberError, make_card_number, printing
from tests.support import ocr

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


# The card front as the printing house and a member see it: the PDFs pass a print
# house's preflight (fonts embedded, CMYK only, TrimBox and BleedBox with 3 mm bleed), and
# the Persian club name, rendered to pixels, reads back through Tesseract's Persian model.
#
# Rendered pages are kept in tests/artifacts/ (gitignored) to look at.
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
PERSIAN = printing.Artwork("باشگاه مشتریان وفا", tagline="کارت باشگاه")
# A ZWNJ (می‌خانه-style break) and a Latin word in a right-to-left name.
MIXED = printing.Artwork("کافه\u200cی Vafa", tagline="Customer club card")
RENDER_DPI = 300


def write_sheet(path: Path, numbers: list[str], artwork: printing.Artwork) -> int:
    """The PDF sheets of `numbers`, as the batch writer lays them out; the page count."""
    sheet = printing.PdfSheet(path, artwork)
    for number in numbers:
        sheet.add(printing.card_back(number, artwork))
    return sheet.close()


def rasterise(pdf: Path, page: int = 1, dpi: int = RENDER_DPI) -> Image.Image:
    """Poppler's rendering of one page, as a viewer or a RIP would draw it."""
    prefix = pdf.with_suffix("")
    subprocess.run(["pdftoppm", "-r", str(dpi), "-f", str(page), "-l", str(page), "-png",
                    "-singlefile", str(pdf), str(prefix)], check=True, timeout=60)
    return Image.open(prefix.with_suffix(".png")).convert("RGB")


def pdffonts(pdf: Path) -> list[dict[str, str]]:
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True,
                         timeout=60).stdout.splitlines()
    header, rule, rows = out[0], out[1], out[2:]
    # Columns are fixed-width, as wide as the rule's dash groups.
    spans, start = [], 0
    for group in rule.split(" "):
        spans.append((start, start + len(group)))
        start += len(group) + 1
    names = [header[a:b].strip() for a, b in spans]
    return [{name: row[a:b].strip() for name, (a, b) in zip(names, spans, strict=True)}
            for row in rows]


def colour_problems(pdf: Path) -> list[str]:
    """Every RGB colour in the file: rg/RG operators, RGB colour spaces set with cs/CS,
    RGB or ICC-less images, in page content and in form XObjects."""
    problems: list[str] = []
    reader = PdfReader(pdf)

    def check_resources(resources, where):
        if resources is None:
            return
        resources = resources.get_object()
        for name, xobject in (resources.get("/XObject") or {}).items():
            xobject = xobject.get_object()
            if xobject.get("/Subtype") == "/Image":
                space = xobject.get("/ColorSpace")
                if space not in ("/DeviceCMYK", "/DeviceGray"):
                    problems.append(f"{where}: image {name} in {space}")
            elif xobject.get("/Subtype") == "/Form":
                check_stream(ContentStream(xobject, reader), f"{where} form {name}")
                check_resources(xobject.get("/Resources"), f"{where} form {name}")

    def check_stream(stream, where):
        for operands, operator in stream.operations:
            if operator in (b"rg", b"RG"):
                problems.append(f"{where}: {operator.decode()} {operands}")
            if operator in (b"cs", b"CS") and operands[0] not in ("/DeviceCMYK", "/DeviceGray"):
                problems.append(f"{where}: colour space {operands[0]}")
            if operator in (b"sc", b"SC", b"scn", b"SCN") and len(operands) == 3:
                problems.append(f"{where}: {operator.decode()} {operands}")

    for number, page in enumerate(reader.pages, start=1):
        check_stream(ContentStream(page.get_contents(), reader), f"page {number}")
        check_resources(page.get("/Resources"), f"page {number}")
    return problems


def box(page, name: str) -> tuple[float, ...]:
    return tuple(round(float(value), 2) for value in page[name])


def name_zone(front: Image.Image, bleed_px: int = 0) -> Image.Image:
    """The strip of the front where the club's name is set (above the tagline)."""
    px = printing.mm_to_px
    bottom = front.height - bleed_px - px(printing.CONTENT_MARGIN_MM + printing.NAME_RAISE_MM)
    return front.crop((bleed_px, bottom - px(printing.NAME_MM * 1.1),
                       front.width - bleed_px, bottom + px(printing.NAME_MM * 0.45)))


def assert_reads(image: Image.Image, expected: str, artifact: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    image.save(ARTIFACTS / f"{artifact}.png")
    read = ocr.read_text(image, lang="fas", psm=ocr.PSM_LINE)
    assert ocr.similarity(read, expected) >= 0.8, (read, expected)


def test_front_png_name_reads_back_in_persian():
    front = printing.card_front(PERSIAN)
    ARTIFACTS.mkdir(exist_ok=True)
    front.save(ARTIFACTS / "card-front.png")
    assert_reads(name_zone(front), PERSIAN.club_name, "card-front-name")


def test_sheet_pdf_front_name_reads_back_in_persian(tmp_path):
    """The print sheet's first card, rendered by poppler: the name is legible Persian."""
    pdf = tmp_path / "sheet.pdf"
    write_sheet(pdf, [make_card_number("990001", 1)], PERSIAN)
    page = rasterise(pdf)
    x, y = printing.card_slots()[0]
    scale = RENDER_DPI / 72
    width, height = printing.mm_to_px(printing.CARD_WIDTH_MM), \
        printing.mm_to_px(printing.CARD_HEIGHT_MM)
    left, top = round(x * scale), round(page.height - y * scale - height)
    card = page.crop((left, top, left + width, top + height))
    ARTIFACTS.mkdir(exist_ok=True)
    page.save(ARTIFACTS / "card-sheet-page1.png")
    assert_reads(name_zone(card), PERSIAN.club_name, "card-sheet-name")


def split_at_widest_gap(zone: Image.Image) -> tuple[Image.Image, Image.Image]:
    """The text strip cut at its widest run of inkless columns (between two words)."""
    grey = zone.convert("L")
    background = grey.getpixel((0, 0))
    inked = [any(abs(grey.getpixel((x, y)) - background) > 60 for y in range(grey.height))
             for x in range(grey.width)]
    first, last = inked.index(True), len(inked) - 1 - inked[::-1].index(True)
    best, start = (0, 0), None
    for x in range(first, last + 1):
        if not inked[x] and start is None:
            start = x
        elif inked[x] and start is not None:
            best, start = max(best, (x - start, (start + x) // 2)), None
    middle = best[1]
    return zone.crop((0, 0, middle, zone.height)), zone.crop((middle, 0, zone.width, zone.height))


def test_front_pdf_mixed_name_keeps_zwnj_and_puts_the_latin_word_left(tmp_path):
    """"کافه‌ی Vafa" is right-to-left: the Persian word (with its ZWNJ) on the right, the
    Latin word after it, on the left. Tesseract reads mixed scripts poorly in one pass,
    so each word is read with its own model."""
    pdf = tmp_path / "front.pdf"
    printing.write_front_pdf(pdf, MIXED)
    zone = name_zone(rasterise(pdf), printing.mm_to_px(printing.BLEED_MM))
    ARTIFACTS.mkdir(exist_ok=True)
    zone.save(ARTIFACTS / "card-front-mixed-name.png")
    left, right = split_at_widest_gap(zone)
    assert ocr.normalise(ocr.read_text(left, lang="eng", psm=ocr.PSM_WORD)) == "vafa"
    persian = ocr.read_text(right, lang="fas", psm=ocr.PSM_WORD)
    assert ocr.similarity(persian, "کافه\u200cی") >= 0.8, persian


def test_back_header_reads_back_in_persian_from_the_right():
    back = printing.card_back(make_card_number("990001", 7), PERSIAN)
    margin = printing.mm_to_px(printing.SAFE_MARGIN_MM + 1)
    header = back.crop((0, margin - 5, back.width, margin + printing.mm_to_px(4)))
    ARTIFACTS.mkdir(exist_ok=True)
    header.save(ARTIFACTS / "card-back-header.png")
    read = ocr.read_text(header, lang="fas")
    assert ocr.similarity(read.replace("·", ""), PERSIAN.club_name + PERSIAN.tagline) >= 0.8, read
    left, _, right, _ = header.point(lambda value: 255 - value).getbbox()
    assert right == pytest.approx(back.width - margin, abs=3) and left > margin


def test_persian_name_is_set_right_to_left_from_the_right_edge():
    """A right-to-left name ends at the right margin (and the disc moves to the right)."""
    front = printing.card_front(PERSIAN).convert("L")
    zone = name_zone(front)
    ink = [x for x in range(zone.width)
           if any(zone.getpixel((x, y)) > 128 for y in range(zone.height))]
    margin = printing.mm_to_px(printing.CONTENT_MARGIN_MM)
    assert front.width - margin - 15 <= max(ink) <= front.width - margin
    assert min(ink) > front.width // 3  # not from the left edge
    disc_centre = (front.width - margin - printing.mm_to_px(printing.LOGO_MM) // 2,
                   margin + 5)
    assert front.getpixel(disc_centre) > 200  # the white disc, top right


def test_a_long_name_is_made_smaller_to_fit_between_the_margins():
    name = "Kafe Lamiz, the coffee house with a name far too long for one card"
    front = printing.card_front(printing.Artwork(name)).convert("L")
    zone = name_zone(front)
    margin = printing.mm_to_px(printing.CONTENT_MARGIN_MM)
    left, _, right, _ = zone.point(lambda value: 255 if value > 128 else 0).getbbox()
    assert margin - 5 <= left and right <= front.width - margin


def test_a_persian_name_gets_a_persian_tagline():
    assert printing.Artwork("کافه لمیز").tagline == "کارت باشگاه مشتریان"
    assert printing.Artwork("Cafe Lamiz").tagline == "Customer club card"
    assert printing.Artwork("کافه لمیز", tagline="Since 1400").tagline == "Since 1400"


@pytest.mark.parametrize("artwork", [PERSIAN, MIXED], ids=["persian", "mixed"])
def test_front_pdf_passes_print_house_checks(tmp_path, artwork):
    pdf = tmp_path / "front.pdf"
    printing.write_front_pdf(pdf, artwork)
    fonts = pdffonts(pdf)
    assert fonts and all(font["emb"] == "yes" for font in fonts), fonts
    assert {font["name"].split("+")[-1] for font in fonts} <= {"Vazirmatn-Regular",
                                                               "Vazirmatn-Bold"}
    assert colour_problems(pdf) == []
    (page,) = PdfReader(pdf).pages
    bleed = printing.BLEED_MM * mm
    width, height = printing.CARD_WIDTH_MM * mm, printing.CARD_HEIGHT_MM * mm
    assert box(page, "/TrimBox") == tuple(round(v, 2) for v in
                                         (bleed, bleed, bleed + width, bleed + height))
    assert box(page, "/BleedBox") == box(page, "/MediaBox") == tuple(
        round(v, 2) for v in (0, 0, width + 2 * bleed, height + 2 * bleed))
    # The background covers the bleed: the page's corner pixel is the club colour.
    corner = rasterise(pdf, dpi=72).getpixel((0, 0))
    assert max(corner) < 200 and corner[2] > corner[0] + 30  # blue, not white paper


def test_sheet_pdf_passes_print_house_checks(tmp_path):
    logo = tmp_path / "logo.png"
    Image.new("RGBA", (300, 300), (200, 30, 30, 255)).save(logo)
    artwork = printing.Artwork(PERSIAN.club_name, logo=logo)
    pdf = tmp_path / "sheet.pdf"
    pages = write_sheet(pdf, [make_card_number("990001", n) for n in (1, 2, 3)],
                                     artwork)
    assert pages == 2
    fonts = pdffonts(pdf)
    assert fonts and all(font["emb"] == "yes" for font in fonts), fonts
    assert colour_problems(pdf) == []
    left = min(x for x, _ in printing.card_slots())
    bottom = min(y for _, y in printing.card_slots())
    for page in PdfReader(pdf).pages:
        trim = box(page, "/TrimBox")
        bleed = box(page, "/BleedBox")
        assert trim[:2] == (round(left, 2), round(bottom, 2))
        assert bleed[0] == pytest.approx(trim[0] - printing.BLEED_MM * mm, abs=0.01)
        assert bleed[3] == pytest.approx(trim[3] + printing.BLEED_MM * mm, abs=0.01)
    assert printing.CROP_MARK_GAP_MM >= printing.BLEED_MM  # marks never inside the bleed


def test_colour_check_catches_rgb(tmp_path):
    """The preflight above can fail: an RGB fill and an RGB image are reported."""
    from reportlab.pdfgen import canvas

    pdf = tmp_path / "rgb.pdf"
    sheet = canvas.Canvas(str(pdf))
    sheet.setFillColorRGB(1, 0, 0)
    sheet.rect(0, 0, 10, 10, fill=1)
    from reportlab.lib.utils import ImageReader
    sheet.drawImage(ImageReader(Image.new("RGB", (4, 4), "red")), 20, 20, 10, 10)
    sheet.save()
    problems = colour_problems(pdf)
    assert any("rg" in problem for problem in problems)
    assert any("image" in problem and "RGB" in problem for problem in problems)
    assert any(font["emb"] == "no" for font in pdffonts(pdf))  # Helvetica, not embedded


def test_cmyk_conversion_generates_black():
    assert printing.cmyk("#ffffff") == (0, 0, 0, 0)
    assert printing.cmyk("#000000") == (0, 0, 0, 1)
    c, m, y, k = printing.cmyk("#0f4c81")
    assert (round(c, 2), round(m, 2), y, round(k, 2)) == (0.88, 0.41, 0, 0.49)
    # Multiplied back, the inks give the sRGB colour again.
    assert [round(255 * (1 - ink) * (1 - k)) for ink in (c, m, y)] == [0x0f, 0x4c, 0x81]
    image = printing.cmyk_image(Image.new("RGB", (1, 1), "#0f4c81"))
    assert image.mode == "CMYK"
    assert image.getpixel((0, 0)) == tuple(round(v * 255) for v in (c, m, y, k))
