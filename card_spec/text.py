"""Persian (and any) text on the card: shaped, in right-to-left order, in Vazirmatn.

Two renderers draw the card's text and both must join Persian letters and lay words out
right to left:

- the PDF (reportlab): reportlab shapes TrueType text with HarfBuzz (uharfbuzz), but its
  right-to-left ordering needs rlbidi, which is not published on PyPI. So the line is put
  in display order with python-bidi (the Unicode Bidirectional Algorithm), and each
  right-to-left run is shaped by HarfBuzz in its logical order with its direction given
  (HarfBuzz returns its glyphs in display order); the result is the ShapedStr reportlab
  draws with the font embedded (subset).
- the PNGs (Pillow): Pillow's libraqm layout does both bidi and HarfBuzz shaping.

The font is Vazirmatn (SIL Open Font License 1.1, card_spec/fonts/OFL.txt), vendored
from its npm package so card files can be made on any machine.
"""

import unicodedata
from functools import cache
from pathlib import Path

import uharfbuzz
from bidi import get_base_level, get_display
from bidi.mirror import MIRRORED
from PIL import ImageFont, features
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import ShapeData, ShapedStr, TTFont

FONT_DIR = Path(__file__).with_name("fonts")
FONT_FILES = {"regular": FONT_DIR / "Vazirmatn-Regular.ttf",
              "bold": FONT_DIR / "Vazirmatn-Bold.ttf"}
PDF_FONT_NAMES = {"regular": "Vazirmatn", "bold": "Vazirmatn-Bold"}
# Kerning and the standard ligatures; HarfBuzz applies the Arabic joining forms
# (init/medi/fina/isol) by itself.
_FEATURES = {"kern": True, "liga": True}
# Bidi classes drawn inside a right-to-left run: the letters, their marks (harakat) and
# the zero-width (non-)joiners, which must reach HarfBuzz to join or break the letters.
_RTL_CLASSES = frozenset({"R", "AL", "NSM", "BN"})
# For neutrals (N1): numbers count as right-to-left context.
_RTL_CONTEXT = frozenset({"R", "AL", "EN", "AN"})


class TextError(ValueError):
    """The text cannot be drawn as it should (a missing font or shaping engine)."""


def is_rtl(text: str) -> bool:
    """The paragraph direction (UBA rules P2/P3): the first strong letter's."""
    return get_base_level(text) == 1


def pdf_font_name(weight: str = "regular") -> str:
    """The registered reportlab name of Vazirmatn in `weight` ("regular" or "bold")."""
    name = PDF_FONT_NAMES[weight]
    try:
        pdfmetrics.getFont(name)
    except KeyError:
        pdfmetrics.registerFont(TTFont(name, str(FONT_FILES[weight])))
    return name


def _mirror_neutrals(visual: str, rtl_base: bool) -> str:
    """Mirror brackets that stand in a right-to-left context ('(' drawn as ')').

    python-bidi's reordering does not apply rule L4 (mirroring): a neutral between two
    right-to-left strong characters (or one and the paragraph's edge, when the
    paragraph is right-to-left) is right-to-left (rule N1/N2), and its mirror glyph is
    drawn. Characters inside right-to-left runs are mirrored by HarfBuzz instead."""
    classes = [unicodedata.bidirectional(ch) for ch in visual]
    out = list(visual)
    index = 0
    while index < len(visual):
        if classes[index] in _RTL_CONTEXT or classes[index] == "L":
            index += 1
            continue
        end = index
        while end < len(visual) and classes[end] not in _RTL_CONTEXT and classes[end] != "L":
            end += 1
        before = classes[index - 1] in _RTL_CONTEXT if index else rtl_base
        after = classes[end] in _RTL_CONTEXT if end < len(visual) else rtl_base
        if before and after:
            for position in range(index, end):
                out[position] = MIRRORED.get(out[position], out[position])
        index = end
    return "".join(out)


def _visual_runs(text: str) -> list[tuple[str, bool]]:
    """The line in display order as (run, right_to_left) pairs, each run in logical
    order (what HarfBuzz shapes)."""
    rtl_base = is_rtl(text)
    visual = _mirror_neutrals(get_display(text), rtl_base)
    runs: list[tuple[str, bool]] = []
    for ch in visual:
        rtl = unicodedata.bidirectional(ch) in _RTL_CLASSES
        if runs and runs[-1][1] == rtl:
            runs[-1] = (runs[-1][0] + ch, rtl)
        else:
            runs.append((ch, rtl))
    # A right-to-left run was put in display order by the reordering: back to logical.
    return [(run[::-1] if rtl else run, rtl) for run, rtl in runs]


def _shape_run(run: str, right_to_left: bool, font_name: str, font_size: float) -> ShapedStr:
    """HarfBuzz's glyphs for one run, as reportlab's ShapedStr (as in its shapeStr, but
    with the direction given: HarfBuzz guesses right-to-left for Persian digits, which
    are of the Arabic script, and would reverse a number)."""
    font = pdfmetrics.getFont(font_name)
    hb_font = font.hbFont(font_size)
    buffer = uharfbuzz.Buffer()
    buffer.cluster_level = uharfbuzz.BufferClusterLevel.MONOTONE_CHARACTERS
    buffer.add_str(run)
    buffer.guess_segment_properties()
    buffer.direction = "rtl" if right_to_left else "ltr"
    uharfbuzz.shape(hb_font, buffer, _FEATURES)
    chars, data = [], []
    for info, position in zip(buffer.glyph_infos, buffer.glyph_positions, strict=True):
        glyph = info.codepoint
        try:
            code = font.face.glyphToChar[glyph][0]
        except KeyError:  # a contextual form with no code point of its own
            code = font.hbAddPrivate(hb_font.glyph_to_string(glyph), glyph, position.x_advance)
        chars.append(chr(code))
        data.append(ShapeData(info.cluster, font.pdfScale(position.x_advance),
                              font.pdfScale(position.y_advance), font.pdfScale(position.x_offset),
                              font.pdfScale(position.y_offset), font.face.charWidths[code]))
    return ShapedStr("".join(chars), shapeData=data)


def shaped_line(text: str, font_name: str, font_size: float) -> ShapedStr:
    """`text` (one line, logical order) as glyphs in display order for reportlab's
    drawString and friends; its width is `line_width`."""
    line = ShapedStr("", shapeData=[])
    for run, rtl in _visual_runs(text):
        line = line + _shape_run(run, rtl, font_name, font_size)
    return line


def line_width(line: ShapedStr, font_size: float) -> float:
    """The advance of a shaped line in points."""
    return sum(glyph.x_advance for glyph in line.__shapeData__) * font_size / 1000


@cache
def pil_font(size_px: int, weight: str = "regular") -> ImageFont.FreeTypeFont:
    """Vazirmatn for Pillow, laid out by libraqm (bidi and HarfBuzz shaping)."""
    if not features.check("raqm"):
        raise TextError("Pillow was built without libraqm (or cannot load libfribidi), so "
                        "it cannot shape Persian: install Debian's libfribidi0 (libraqm0)")
    return ImageFont.truetype(str(FONT_FILES[weight]), size_px,
                              layout_engine=ImageFont.Layout.RAQM)

