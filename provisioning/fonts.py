"""The terminal's bitmap fonts, made from Vazirmatn at build time.

The ESP32 cannot shape text with HarfBuzz or hold a TrueType font in its heap, so the
image carries two small 1-bit fonts (firmware/vafa/fonts/*.vft) that vafa.text reads one
glyph at a time from flash: every Persian letter in each of its contextual forms
(isolated, initial, medial, final: drawn by HarfBuzz through Pillow's libraqm, the form
forced with zero-width joiners around the letter), the lam-alef ligatures, Persian and
Latin digits, ASCII and the Persian punctuation.

File layout (little-endian):

- bytes 0-1: magic `VF`; 2: layout, 0 = columns (SSD1306 pages: a column is
  ceil(height/8) bytes, bit 0 on top), 1 = rows (ESC/POS raster: a row is
  ceil(width/8) bytes, MSB on the left); 3: cell height in pixels; 4-5: glyph count n;
  6-7: reserved (0).
- 8 + 10 i: glyph i, sorted by key: key u32 (code point * 4 + form), data offset u24,
  advance u8, bitmap width u8, x offset s8 (bitmap's left edge relative to the pen).
- 8 + 10 n on: the bitmaps.

Forms: 0 isolated, 1 initial, 2 medial, 3 final (vafa.text). `python -m provisioning.fonts`
rewrites the files; tests/provisioning/test_fonts.py checks that the committed files are
what this module makes.
"""

import struct
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, features

from card_spec.text import FONT_FILES

OUT_DIR = Path(__file__).resolve().parents[1] / "firmware" / "vafa" / "fonts"
ZWJ = "\u200d"
# Font (file name, Vazirmatn pixel size, layout): the display's (128x64 SSD1306, four
# 16-pixel lines) and the receipt's (384-dot raster lines).
FONTS = {"display": ("d16.vft", 13, 0, "bold"), "receipt": ("r32.vft", 22, 1, "bold")}
# Joining types (Unicode ArabicShaping.txt), the letters the terminal draws. Arabic kaf and
# yeh, alef maksura and Arabic-Indic digits are folded to the Persian ones by vafa.text.
DUAL = "ئبپتثجچحخسشصضطظعغفقکگلمنهیـ"
RIGHT = "آأؤإادذرزژوۀة"
NONE = "ء"
PUNCTUATION = "،؛؟«»٫٬" + "".join(chr(c) for c in range(0x6F0, 0x6FA))
LAM_ALEF = {"آ": 0xFEF5, "أ": 0xFEF7, "إ": 0xFEF9, "ا": 0xFEFB}
ISO, INIT, MEDI, FINA = 0, 1, 2, 3


def _text_for(char: str, form: int) -> str:
    return {ISO: char, INIT: char + ZWJ, MEDI: ZWJ + char + ZWJ, FINA: ZWJ + char}[form]


def glyph_strings() -> dict[int, str]:
    """key -> the string whose drawing is that glyph."""
    out = {}
    for code in range(32, 127):
        out[code * 4] = chr(code)
    for char in PUNCTUATION + NONE:
        out[ord(char) * 4] = char
    for char in DUAL:
        for form in (ISO, INIT, MEDI, FINA):
            out[ord(char) * 4 + form] = _text_for(char, form)
    for char in RIGHT:
        for form in (ISO, FINA):
            out[ord(char) * 4 + form] = _text_for(char, form)
    for alef, code in LAM_ALEF.items():
        out[code * 4 + ISO] = "ل" + alef
        out[code * 4 + FINA] = ZWJ + "ل" + alef
    return out


def _font(size: int, weight: str = "regular") -> ImageFont.FreeTypeFont:
    if not features.check("raqm"):
        raise RuntimeError("Pillow has no libraqm: cannot shape Persian (install libraqm0)")
    return ImageFont.truetype(str(FONT_FILES[weight]), size,
                              layout_engine=ImageFont.Layout.RAQM)


def _draw(font: ImageFont.FreeTypeFont, text: str, size: int) -> Image.Image:
    pad = size * 2
    image = Image.new("1", (pad * 3 + size * 4, size * 3), 0)
    draw = ImageDraw.Draw(image)
    draw.fontmode = "1"  # FreeType's monochrome rasteriser: crisp 1-bit strokes
    draw.text((pad, size), text, font=font, fill=1, anchor="ls")
    return image


def build_font(size: int, layout: int, weight: str = "regular") -> bytes:
    font = _font(size, weight)
    pad = size * 2
    glyphs = {}
    for key, text in sorted(glyph_strings().items()):
        image = _draw(font, text, size)
        advance = round(font.getlength(text))
        glyphs[key] = (image, advance)
    # One cell height for all: the ink of every glyph, from the highest to the lowest.
    top = min(im.getbbox()[1] for im, _ in glyphs.values() if im.getbbox())
    bottom = max(im.getbbox()[3] for im, _ in glyphs.values() if im.getbbox())
    height = bottom - top
    index, data = [], bytearray()
    for key, (image, advance) in glyphs.items():
        box = image.getbbox()
        if box is None:  # space
            left, width = 0, 0
        else:
            left, width = box[0], box[2] - box[0]
        cell = image.crop((left, top, left + width, bottom))
        offset = len(data)
        data += _bitmap(cell, width, height, layout)
        index.append(struct.pack("<IHBBBb", key, offset & 0xFFFF, offset >> 16, advance,
                                 width, left - pad))
    header = b"VF" + bytes([layout, height]) + struct.pack("<HH", len(index), 0)
    return header + b"".join(index) + bytes(data)


def _bitmap(cell: Image.Image, width: int, height: int, layout: int) -> bytes:
    px = cell.load()
    out = bytearray()
    if layout == 0:
        for x in range(width):
            column = 0
            for y in range(height):
                if px[x, y]:
                    column |= 1 << y
            out += column.to_bytes((height + 7) // 8, "little")
    else:
        for y in range(height):
            row = 0
            for x in range(width):
                if px[x, y]:
                    row |= 1 << (((width + 7) // 8) * 8 - 1 - x)
            out += row.to_bytes((width + 7) // 8, "big")
    return bytes(out)


def build_all() -> dict[str, bytes]:
    """File name -> contents."""
    return {name: build_font(size, layout, weight)
            for name, size, layout, weight in FONTS.values()}


def main() -> int:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, blob in build_all().items():
        (OUT_DIR / name).write_bytes(blob)
        print(f"{OUT_DIR / name}: {len(blob)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
