"""Files for the card-printing house (C1, C2): barcodes, artwork, a CSV and a PDF sheet.

Everything here works on card numbers alone (no database), so a batch can be rendered
again from its numbers at any time. Sizes are in millimetres; raster output is 300 dpi.
See docs/card-spec.md for the specification these functions implement.
"""

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from barcode.charsets import code128 as code128_charset
from barcode.codex import Code128
from barcode.writer import ImageWriter, SVGWriter
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.colors import CMYKColor, toColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas

from card_spec import text as card_text
from card_spec.numbers import CardNumberError, is_valid_card_number

DPI = 300
CARD_WIDTH_MM = 85.60  # ISO/IEC 7810 ID-1 (CR80)
CARD_HEIGHT_MM = 53.98
SAFE_MARGIN_MM = 3.0  # no text or barcode closer than this to the trim edge
# The front's background runs this far past the trim (PDFs and front-bleed.png): the
# usual 3 mm a card printer's cutting tolerance asks for.
BLEED_MM = 3.0
# Code 128 geometry: a module of exactly 4 pixels at 300 dpi (0.339 mm, 13.3 mil), so
# every bar is a whole number of printer dots; quiet zones of 10 modules each side.
MODULE_PX = 4
# A millionth of a dot more than 4 dots: python-barcode adds module widths up in floats
# and the rasteriser truncates, so an exact 4 * 25.4 / 300 sometimes lands on 87.9999…
# and yields a 3-dot bar next to a 5-dot one.
MODULE_MM = (MODULE_PX + 1e-6) * 25.4 / DPI
QUIET_ZONE_MODULES = 10
BAR_HEIGHT_MM = 12.0
# The sheet: A4 portrait, 2 × 4 cards with 6 mm gutters, crop marks in the margins.
SHEET_COLUMNS = 2
SHEET_ROWS = 4
GUTTER_MM = 6.0
CROP_MARK_MM = 5.0
CROP_MARK_GAP_MM = 3.0  # crop marks start where the bleed ends, never inside it
# The front's layout (both the PNGs and the PDFs draw it from these).
CONTENT_MARGIN_MM = SAFE_MARGIN_MM + 2  # logo and text keep clear of the safe area
LOGO_MM = 18.0
INITIAL_MM = 11.0  # type size of the club's initial in the disc (no logo)
NAME_MM = 6.5  # type size of the club's name, made smaller when a long name would not fit
NAME_RAISE_MM = 7.0  # the name's baseline above the tagline's
TAGLINE_MM = 3.2
DEFAULT_TAGLINES = {False: "Customer club card", True: "کارت باشگاه مشتریان"}


@dataclass(frozen=True)
class Artwork:
    """What the card's front shows: club name, optional logo and colours. Without a
    tagline, a Persian (right-to-left) name gets a Persian one."""

    club_name: str
    tagline: str | None = None
    logo: Path | None = None
    background: str = "#0f4c81"
    foreground: str = "#ffffff"

    def __post_init__(self):
        if self.tagline is None:
            object.__setattr__(self, "tagline", DEFAULT_TAGLINES[card_text.is_rtl(self.club_name)])


def mm_to_px(value_mm: float) -> int:
    return round(value_mm * DPI / 25.4)


def _checked(number: str) -> str:
    if not is_valid_card_number(number):
        raise CardNumberError(f"not a valid card number: {number!r}")
    return number


def grouped(number: str) -> str:
    """'9900010000000019' → '9900 0100 0000 0019', as printed under the barcode."""
    return " ".join(number[i:i + 4] for i in range(0, len(number), 4))


class _Code128(Code128):
    """python-barcode's Code 128 with its leading-"99" bug fixed.

    Up to 0.16.1 the start-code optimisation takes a first data pair "99" in code set C
    for a redundant "switch to C" and drops it, so 9900010000000019 would be printed as
    the 14 digits 00010000000019 (python-barcode issue #251, fixed upstream by pull
    request #263, not yet released). Every card of prefix 990001 starts with 99. Only a
    start code followed by a real switch to code set A or B is folded, as upstream now
    does; the barcode round-trip test through zxing-cpp guards this.
    """

    def _try_to_optimize(self, encoded: list[int]) -> list[int]:
        if encoded[0] == code128_charset.START_CODES["C"]:
            return encoded
        return super()._try_to_optimize(encoded)


def _code128(number: str, writer) -> Code128:
    return _Code128(_checked(number), writer=writer)


def _options(text: bool) -> dict:
    return {
        "module_width": MODULE_MM,
        "module_height": BAR_HEIGHT_MM,
        "quiet_zone": QUIET_ZONE_MODULES * MODULE_MM,
        "write_text": text,
        "font_size": 8,
        "text_distance": 3,
        "dpi": DPI,
    }


def barcode_svg(number: str, *, text: bool = True) -> bytes:
    """Code 128 (code set C) of the 16 digits as SVG, human-readable line below."""
    out = io.BytesIO()
    _code128(number, SVGWriter()).write(out, _options(text))
    return out.getvalue()


def barcode_image(number: str, *, text: bool = True) -> Image.Image:
    """The barcode as a 300 dpi raster, quiet zones included."""
    return _code128(number, ImageWriter(mode="L")).render(_options(text))


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(DPI, DPI))
    return out.getvalue()


def barcode_png(number: str, *, text: bool = True) -> bytes:
    return _png(barcode_image(number, text=text))


def _font(size_mm: float, weight: str = "regular") -> ImageFont.FreeTypeFont:
    """Vazirmatn, shaped by libraqm: Persian joins and runs right to left (Pillow's own
    font has Latin letters only and drew a Persian name as empty boxes)."""
    return card_text.pil_font(mm_to_px(size_mm), weight)


def _name_size_mm(width_of, available: float) -> float:
    """The club name's type size: NAME_MM, or smaller so that the name fits `available`
    (`width_of(size_mm)` measures it in the same unit)."""
    width = width_of(NAME_MM)
    # 3 % to spare: glyphs overhang their advance a little, and sizes round to pixels.
    return NAME_MM if width <= available else NAME_MM * available * 0.97 / width


def _cmyk_of_rgb(red: float, green: float, blue: float) -> tuple[float, float, float, float]:
    black = 1 - max(red, green, blue)
    if black >= 1:
        return 0.0, 0.0, 0.0, 1.0
    return tuple(round((1 - value - black) / (1 - black), 4)
                 for value in (red, green, blue)) + (round(black, 4),)


def cmyk(colour: str) -> tuple[float, float, float, float]:
    """An sRGB colour ('#0f4c81', a name) as CMYK fractions with the grey component in
    black (K = 1 - max(R, G, B), C = (1 - R - K) / (1 - K), …): dark colours do not pile
    up three inks, and (1 - C)(1 - K) gives R back. No ICC profile: the printing house
    matches it to its press from a proof."""
    rgb = toColor(colour)
    return _cmyk_of_rgb(rgb.red, rgb.green, rgb.blue)


def cmyk_image(image: Image.Image) -> Image.Image:
    """`image` (opaque) in CMYK by the same formula as `cmyk`, pixel by pixel (Pillow's
    own convert("CMYK") leaves K at 0). Logos are at most 213 x 213 pixels."""
    rgb = image.convert("RGB")
    raw = rgb.tobytes()
    table: dict[bytes, bytes] = {}
    out = bytearray()
    for offset in range(0, len(raw), 3):
        pixel = raw[offset:offset + 3]
        if pixel not in table:
            table[pixel] = bytes(round(value * 255) for value in
                                 _cmyk_of_rgb(*(channel / 255 for channel in pixel)))
        out += table[pixel]
    return Image.frombytes("CMYK", rgb.size, bytes(out))


def _logo_image(artwork: Artwork) -> Image.Image:
    """The logo fitted in its square, flattened onto the background (no transparency
    reaches the printer)."""
    with Image.open(artwork.logo) as logo:
        logo = logo.convert("RGBA")
        logo.thumbnail((mm_to_px(LOGO_MM), mm_to_px(LOGO_MM)))
        flat = Image.new("RGB", logo.size, artwork.background)
        flat.paste(logo, (0, 0), logo)
        return flat


def card_front(artwork: Artwork, *, bleed_mm: float = 0) -> Image.Image:
    """The front: logo (or the club's initial in a disc) and the club's name. With
    `bleed_mm`, the background runs that far past the trim on every side and the content
    stays where it is relative to the trim. A right-to-left (Persian) name is set from the
    right edge and the logo moves to the top right."""
    bleed = mm_to_px(bleed_mm)
    image = Image.new("RGB", (mm_to_px(CARD_WIDTH_MM) + 2 * bleed,
                              mm_to_px(CARD_HEIGHT_MM) + 2 * bleed), artwork.background)
    draw = ImageDraw.Draw(image)
    margin = mm_to_px(CONTENT_MARGIN_MM) + bleed
    rtl = card_text.is_rtl(artwork.club_name)
    logo_size = mm_to_px(LOGO_MM)
    logo_left = image.width - margin - logo_size if rtl else margin
    if artwork.logo is not None:
        logo = _logo_image(artwork)
        image.paste(logo, (logo_left + logo_size - logo.width if rtl else logo_left, margin))
    else:
        box = (logo_left, margin, logo_left + logo_size, margin + logo_size)
        draw.ellipse(box, fill=artwork.foreground)
        draw.text(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), _initial(artwork),
                  font=_font(INITIAL_MM, "bold"), fill=artwork.background, anchor="mm")
    bottom = image.height - margin
    x, anchor = (image.width - margin, "rs") if rtl else (margin, "ls")
    available = mm_to_px(CARD_WIDTH_MM - 2 * CONTENT_MARGIN_MM)
    name_mm = _name_size_mm(lambda size: _font(size, "bold").getlength(artwork.club_name),
                            available)
    draw.text((x, bottom - mm_to_px(NAME_RAISE_MM)), artwork.club_name,
              font=_font(name_mm, "bold"), fill=artwork.foreground, anchor=anchor)
    draw.text((x, bottom), artwork.tagline, font=_font(TAGLINE_MM), fill=artwork.foreground,
              anchor=anchor)
    return image


def _initial(artwork: Artwork) -> str:
    return (artwork.club_name.strip()[:1] or "V").upper()


def draw_front_pdf(pdf: canvas.Canvas, artwork: Artwork, x: float, y: float) -> None:
    """The front as vectors at the trim's bottom-left corner (`x`, `y`, points): the
    background runs BLEED_MM past the trim; every colour is CMYK; the text is Vazirmatn,
    shaped (card_spec.text), embedded in the PDF as a subset. Same layout as card_front."""
    width, height = CARD_WIDTH_MM * mm, CARD_HEIGHT_MM * mm
    bleed, margin = BLEED_MM * mm, CONTENT_MARGIN_MM * mm
    background, foreground = CMYKColor(*cmyk(artwork.background)), \
        CMYKColor(*cmyk(artwork.foreground))
    rtl = card_text.is_rtl(artwork.club_name)
    pdf.setFillColor(background)
    pdf.rect(x - bleed, y - bleed, width + 2 * bleed, height + 2 * bleed, stroke=0, fill=1)
    logo_size = LOGO_MM * mm
    logo_left = x + width - margin - logo_size if rtl else x + margin
    logo_top = y + height - margin
    bold, regular = card_text.pdf_font_name("bold"), card_text.pdf_font_name("regular")
    if artwork.logo is not None:
        logo = _logo_image(artwork)
        logo_w, logo_h = logo.width * 25.4 / DPI * mm, logo.height * 25.4 / DPI * mm
        left = logo_left + logo_size - logo_w if rtl else logo_left
        pdf.drawImage(ImageReader(cmyk_image(logo)), left, logo_top - logo_h, logo_w, logo_h)
    else:
        centre_x, centre_y = logo_left + logo_size / 2, logo_top - logo_size / 2
        pdf.setFillColor(foreground)
        pdf.circle(centre_x, centre_y, logo_size / 2, stroke=0, fill=1)
        size = INITIAL_MM * mm
        ascent, descent = pdfmetrics.getAscentDescent(bold, size)
        pdf.setFillColor(background)
        pdf.setFont(bold, size)
        pdf.drawCentredString(centre_x, centre_y - (ascent + descent) / 2,
                              card_text.shaped_line(_initial(artwork), bold, size))
    available = (CARD_WIDTH_MM - 2 * CONTENT_MARGIN_MM) * mm
    name_mm = _name_size_mm(lambda size: card_text.line_width(
        card_text.shaped_line(artwork.club_name, bold, size * mm), size * mm), available)
    draw = pdf.drawRightString if rtl else pdf.drawString
    text_x = x + width - margin if rtl else x + margin
    pdf.setFillColor(foreground)
    for font, size_mm, baseline, line in (
            (bold, name_mm, margin + NAME_RAISE_MM * mm, artwork.club_name),
            (regular, TAGLINE_MM, margin, artwork.tagline)):
        pdf.setFont(font, size_mm * mm)
        draw(text_x, y + baseline, card_text.shaped_line(line, font, size_mm * mm))


def _print_canvas(path: Path, artwork: Artwork, pagesize: tuple[float, float],
                  title: str) -> canvas.Canvas:
    """A canvas that refuses any RGB colour (enforceColorSpace) and whose only font is
    the embedded Vazirmatn (the initial font too: else an unembedded Helvetica is listed)."""
    pdf = canvas.Canvas(str(path), pagesize=pagesize, enforceColorSpace="cmyk",
                        initialFontName=card_text.pdf_font_name("regular"))
    pdf.setTitle(title)
    return pdf


def write_front_pdf(path: Path, artwork: Artwork) -> None:
    """The front alone, the file a printing house imposes itself: one page of the card
    plus BLEED_MM on every side, TrimBox the card, BleedBox the page, CMYK, fonts
    embedded."""
    bleed = BLEED_MM * mm
    width, height = CARD_WIDTH_MM * mm, CARD_HEIGHT_MM * mm
    page = (width + 2 * bleed, height + 2 * bleed)
    pdf = _print_canvas(path, artwork, page, f"{artwork.club_name} card front")
    pdf.setTrimBox((bleed, bleed, bleed + width, bleed + height))
    pdf.setBleedBox((0, 0, *page))
    draw_front_pdf(pdf, artwork, bleed, bleed)
    pdf.showPage()
    pdf.save()


def card_back(number: str, artwork: Artwork) -> Image.Image:
    """The back: the barcode (quiet zones kept white) and the number in groups of 4.

    Black on white, so a greyscale image: a third of the bytes to write and embed."""
    image = Image.new("L", (mm_to_px(CARD_WIDTH_MM), mm_to_px(CARD_HEIGHT_MM)), 255)
    draw = ImageDraw.Draw(image)
    margin = mm_to_px(SAFE_MARGIN_MM + 1)
    header = f"{artwork.club_name} · {artwork.tagline}"
    if card_text.is_rtl(header):
        draw.text((image.width - margin, margin), header, font=_font(3), fill=0, anchor="rt")
    else:
        draw.text((margin, margin), header, font=_font(3), fill=0, anchor="lt")
    bars = barcode_image(number, text=False)
    left = (image.width - bars.width) // 2
    top = image.height - margin - mm_to_px(6) - bars.height
    image.paste(bars, (left, top))
    draw.text((image.width // 2, top + bars.height + mm_to_px(1)), grouped(number),
              font=_font(3.6), fill=0, anchor="mt")
    return image


def write_csv(path: Path, numbers: Sequence[str], batch_label: str) -> None:
    """The printing house's list: one row per card, in print order."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sequence", "number", "barcode_text", "printed_text", "batch"])
        for sequence, number in enumerate(numbers, start=1):
            writer.writerow([sequence, _checked(number), number, grouped(number), batch_label])


def _sheet_origin() -> tuple[float, float]:
    """Bottom-left corner of the card grid on the page, in points; the grid is centred."""
    width, height = A4
    grid_w = (SHEET_COLUMNS * CARD_WIDTH_MM + (SHEET_COLUMNS - 1) * GUTTER_MM) * mm
    grid_h = (SHEET_ROWS * CARD_HEIGHT_MM + (SHEET_ROWS - 1) * GUTTER_MM) * mm
    return (width - grid_w) / 2, (height - grid_h) / 2


def card_slots() -> list[tuple[float, float]]:
    """Bottom-left corners (points) of the card positions, in reading order."""
    left, bottom = _sheet_origin()
    slots = []
    for row in range(SHEET_ROWS):
        for column in range(SHEET_COLUMNS):
            x = left + column * (CARD_WIDTH_MM + GUTTER_MM) * mm
            y = bottom + (SHEET_ROWS - 1 - row) * (CARD_HEIGHT_MM + GUTTER_MM) * mm
            slots.append((x, y))
    return slots


def _grid_box() -> tuple[float, float, float, float]:
    """The card grid on the sheet (points): the TrimBox of the sheet's pages."""
    left, bottom = _sheet_origin()
    right = max(x for x, _ in card_slots()) + CARD_WIDTH_MM * mm
    top = max(y for _, y in card_slots()) + CARD_HEIGHT_MM * mm
    return left, bottom, right, top


def _crop_marks(pdf: canvas.Canvas) -> None:
    """Trim lines continued into the page margins, clear of the cards and their bleed;
    in black ink only (K 100 %)."""
    left, bottom, right, top = _grid_box()
    slots = card_slots()
    xs = sorted({x for x, _ in slots} | {x + CARD_WIDTH_MM * mm for x, _ in slots})
    ys = sorted({y for _, y in slots} | {y + CARD_HEIGHT_MM * mm for _, y in slots})
    gap, length = CROP_MARK_GAP_MM * mm, CROP_MARK_MM * mm
    pdf.setLineWidth(0.25)
    pdf.setStrokeColor(CMYKColor(0, 0, 0, 1))
    for x in xs:
        pdf.line(x, bottom - gap, x, bottom - gap - length)
        pdf.line(x, top + gap, x, top + gap + length)
    for y in ys:
        pdf.line(left - gap, y, left - gap - length, y)
        pdf.line(right + gap, y, right + gap + length, y)


class PdfSheet:
    """Print-ready A4 sheets for duplex (flip on long edge): a page of 8 fronts, then a
    page with the same 8 backs mirrored left-right so each back lands behind its front.

    The front is drawn once as vectors (a form XObject placed in every slot: CMYK, the
    club's name in embedded Vazirmatn); the backs are the 300 dpi greyscale images. Every
    page has a TrimBox (the card grid) and a BleedBox (the grid plus BLEED_MM); the crop
    marks lie outside both. Cards are added one at a time (`add`), so a batch of any
    size is never held in memory whole: at most one sheet's backs wait for their page."""

    _FRONT_FORM = "card-front"

    def __init__(self, path: Path, artwork: Artwork):
        self.artwork = artwork
        self.pdf = _print_canvas(path, artwork, A4, f"{artwork.club_name} cards")
        left, bottom, right, top = _grid_box()
        bleed = BLEED_MM * mm
        self.pdf.setTrimBox((left, bottom, right, top))
        self.pdf.setBleedBox((left - bleed, bottom - bleed, right + bleed, top + bleed))
        width, height = CARD_WIDTH_MM * mm + 2 * bleed, CARD_HEIGHT_MM * mm + 2 * bleed
        self.pdf.beginForm(self._FRONT_FORM, 0, 0, width, height)
        draw_front_pdf(self.pdf, artwork, bleed, bleed)
        self.pdf.endForm()
        self.pending: list[Image.Image] = []
        self.pages = 0

    def add(self, back: Image.Image) -> None:
        self.pending.append(back)
        if len(self.pending) == SHEET_COLUMNS * SHEET_ROWS:
            self._sheet()

    def _sheet(self) -> None:
        pdf = self.pdf
        width_pt, height_pt = CARD_WIDTH_MM * mm, CARD_HEIGHT_MM * mm
        bleed = BLEED_MM * mm
        slots = card_slots()
        for x, y in slots[:len(self.pending)]:
            pdf.saveState()
            pdf.translate(x - bleed, y - bleed)
            pdf.doForm(self._FRONT_FORM)
            pdf.restoreState()
        _crop_marks(pdf)
        pdf.showPage()
        for index, back in enumerate(self.pending):
            row, column = divmod(index, SHEET_COLUMNS)
            x, y = slots[row * SHEET_COLUMNS + (SHEET_COLUMNS - 1 - column)]
            pdf.drawImage(ImageReader(back), x, y, width_pt, height_pt)
        _crop_marks(pdf)
        pdf.showPage()
        self.pages += 2
        self.pending = []

    def close(self) -> int:
        """Write the last, partly filled sheet and the file; returns the page count."""
        if self.pending:
            self._sheet()
        self.pdf.save()
        return self.pages


CORNER_RADIUS_MM = 3.18  # ISO/IEC 7810 ID-1
PVC_MICRONS = 760


def print_specification(numbers: Sequence[str], *, batch_label: str, artwork: Artwork) -> str:
    """README.txt of a batch: everything the printing house needs, with the numbers of
    this batch, so nobody has to call (docs/card-spec.md is the long form)."""
    quiet_mm = QUIET_ZONE_MODULES * MODULE_MM
    bleed_w, bleed_h = CARD_WIDTH_MM + 2 * BLEED_MM, CARD_HEIGHT_MM + 2 * BLEED_MM
    mark_end_mm = CROP_MARK_GAP_MM + CROP_MARK_MM
    bg, fg = cmyk(artwork.background), cmyk(artwork.foreground)
    return f"""{artwork.club_name} — club cards, batch {batch_label}
{"=" * 60}
Cards: {len(numbers)}, numbers {numbers[0]} to {numbers[-1]}, in print order in cards.csv.
Every number is different; every card is printed once.

CARD
  PVC {PVC_MICRONS} micron, ISO/IEC 7810 ID-1 (CR80):
  {CARD_WIDTH_MM:.2f} x {CARD_HEIGHT_MM:.2f} mm, corners rounded {CORNER_RADIUS_MM} mm.
  Safe area: nothing within {SAFE_MARGIN_MM:.0f} mm of the trim.

FRONT (the same on every card)
  artwork/front.pdf        use this one: vectors, one page of {bleed_w:.2f} x {bleed_h:.2f} mm
                           = the card and {BLEED_MM:.0f} mm bleed on every side; TrimBox the
                           card, BleedBox the page. All colours DeviceCMYK, fonts embedded
                           (Vazirmatn, subset), no RGB and no transparency.
  Background C {bg[0]:.0%} M {bg[1]:.0%} Y {bg[2]:.0%} K {bg[3]:.0%}, \
text C {fg[0]:.0%} M {fg[1]:.0%} Y {fg[2]:.0%} K {fg[3]:.0%}
  (from the club's sRGB {artwork.background} and {artwork.foreground}, black generated:
  please match to your press from a proof).
  artwork/front-bleed.png  the same as a {DPI} dpi sRGB image with the bleed, for houses that
                           take images only; artwork/front.png at trim size, for proofs.

BACK (one per card, black on white: no bleed needed)
  artwork/<number>-back.png  {DPI} dpi greyscale, trim size. The barcode and the number
  under it must print in black on white, at 100 %, never scaled or re-rasterised.

BARCODE (on the back)
  Code 128, code set C; content: exactly the 16 digits of the card number.
  Module (narrowest bar) {MODULE_MM:.3f} mm = {MODULE_PX} dots at {DPI} dpi; bar height
  {BAR_HEIGHT_MM:.0f} mm; quiet zones {quiet_mm:.1f} mm left and right, kept white.
  Under the bars: the number in groups of four, e.g. {grouped(numbers[0])}.
  barcodes/<number>.svg (vector) and .png ({DPI} dpi): the barcode alone, if you lay
  out the back yourselves.

PRINT-READY SHEETS
  sheet.pdf: A4 portrait, {SHEET_COLUMNS} x {SHEET_ROWS} cards a sheet, {GUTTER_MM:.0f} mm gutters.
  Pages go fronts, backs, fronts, backs…: print duplex, flip on the LONG edge,
  at 100 % (no "fit to page"). The fronts are the vector front of front.pdf (CMYK,
  fonts embedded) and run {BLEED_MM:.0f} mm past the trim; the backs are {DPI} dpi greyscale.
  TrimBox: the card grid; BleedBox: the grid plus {BLEED_MM:.0f} mm. Crop marks continue every
  trim line {CROP_MARK_GAP_MM:.0f}–{mark_end_mm:.0f} mm outside the card grid, in black only.

LIST
  cards.csv (UTF-8, comma separated, header row):
  sequence, number, barcode_text, printed_text, batch.

CHECK BEFORE DELIVERY
  Scan the first and the last card of every sheet with a 1D barcode scanner: it must
  read exactly the number printed under the bars. Back and front must belong to the
  same sheet position (duplex registration).
"""


@dataclass(frozen=True)
class BatchFiles:
    directory: Path
    csv: Path
    pdf: Path
    front: Path
    pages: int


def write_batch(out_dir: Path, numbers: Sequence[str], *, batch_label: str,
                artwork: Artwork) -> BatchFiles:
    """Every file of a batch under `out_dir`:

    README.txt (the print specification), cards.csv, sheet.pdf, artwork/front.pdf,
    artwork/front.png and artwork/front-bleed.png (the front is the same on every card),
    artwork/<number>-back.png, barcodes/<number>.svg and barcodes/<number>.png.
    """
    for number in numbers:
        _checked(number)
    (out_dir / "barcodes").mkdir(parents=True, exist_ok=True)
    (out_dir / "artwork").mkdir(exist_ok=True)
    csv_path = out_dir / "cards.csv"
    write_csv(csv_path, numbers, batch_label)
    front = card_front(artwork)
    front_path = out_dir / "artwork" / "front.png"
    front.save(front_path, dpi=(DPI, DPI))
    card_front(artwork, bleed_mm=BLEED_MM).save(out_dir / "artwork" / "front-bleed.png",
                                                 dpi=(DPI, DPI))
    (out_dir / "README.txt").write_text(
        print_specification(numbers, batch_label=batch_label, artwork=artwork), encoding="utf-8")
    pdf_path = out_dir / "sheet.pdf"
    write_front_pdf(out_dir / "artwork" / "front.pdf", artwork)
    sheet = PdfSheet(pdf_path, artwork)
    for number in numbers:
        (out_dir / "barcodes" / f"{number}.svg").write_bytes(barcode_svg(number))
        (out_dir / "barcodes" / f"{number}.png").write_bytes(barcode_png(number))
        back = card_back(number, artwork)  # rendered once, for the PNG and the sheet
        back.save(out_dir / "artwork" / f"{number}-back.png", dpi=(DPI, DPI), compress_level=3)
        sheet.add(back)
    pages = sheet.close()
    return BatchFiles(out_dir, csv_path, pdf_path, front_path, pages)


def write_batch_zip(zip_path: Path, numbers: Sequence[str], *, batch_label: str,
                    artwork: Artwork) -> Path:
    """Every file of `write_batch` in one zip (the panel's download), under a folder named
    after the batch. Written next to `zip_path` and renamed over it when complete, so a
    reader never sees half a zip."""
    import os
    import tempfile
    import zipfile

    zip_path.parent.mkdir(parents=True, exist_ok=True)
    folder = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in batch_label) or "cards"
    with tempfile.TemporaryDirectory(dir=zip_path.parent, prefix=".building-") as work:
        files_dir = Path(work) / folder
        write_batch(files_dir, numbers, batch_label=batch_label, artwork=artwork)
        partial = Path(work) / "batch.zip"
        # PNG and PDF are compressed already: storing them saves time for nothing lost.
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
            for path in sorted(files_dir.rglob("*")):
                if path.is_file():
                    compress = zipfile.ZIP_DEFLATED if path.suffix in (".csv", ".svg") \
                        else zipfile.ZIP_STORED
                    archive.write(path, path.relative_to(work).as_posix(),
                                  compress_type=compress)
        os.replace(partial, zip_path)
    return zip_path
