"""The club's logo for the receipt: an image file made into `logo.bin` on the terminal's
flash, which the firmware (vafa.escpos.logo_parts) sends as it is at the top of every
receipt.

`logo.bin` is the ESC/POS raster command itself, byte for byte what python-escpos's
`image()` sends for the same pixels: `GS v 0 0 xL xH yL yH` (bytes a row, rows) and the
rows, MSB the leftmost dot, 1 = ink. The picture is scaled to fit PAPER_DOTS x
LOGO_MAX_ROWS (never enlarged), laid on white (transparency is paper), made 1-bit by
Pillow (Floyd-Steinberg dithering) and centred on the 384-dot line.
"""

import io
from pathlib import Path

from PIL import Image, UnidentifiedImageError

PAPER_DOTS = 384  # vafa.escpos.PAPER_DOTS: 58 mm paper, 8 dots/mm
LOGO_MAX_ROWS = 120  # vafa.escpos.LOGO_MAX_ROWS
MAX_FILE_BYTES = 1_000_000  # the panel's bound (backend/services/branding.py)
MAX_PIXELS = 2_000 * 2_000
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")


class LogoError(ValueError):
    """The file cannot be a receipt logo; the message says why, for the technician."""


def logo_image(path: Path) -> Image.Image:
    """The logo as the printer prints it: mode "1", PAPER_DOTS wide, at most
    LOGO_MAX_ROWS tall, ink black (0)."""
    data = path.read_bytes()
    if not data:
        raise LogoError(f"{path}: the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise LogoError(f"{path}: {len(data)} bytes; a logo must be smaller than 1 MB")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in FORMATS:
                raise LogoError(f"{path}: a {probe.format} file; give a PNG, JPEG, WebP, "
                                "GIF or BMP image")
            if probe.width * probe.height > MAX_PIXELS:
                raise LogoError(f"{path}: {probe.width}x{probe.height} pixels is too large "
                                "(2000x2000 at most)")
            probe.verify()
        with Image.open(io.BytesIO(data)) as source:
            source.load()
            picture = source.convert("RGBA")
    except LogoError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError,
            Image.DecompressionBombError):
        raise LogoError(f"{path}: not an image file (PNG, JPEG, WebP, GIF or BMP)") from None
    paper = Image.new("RGBA", picture.size, "white")
    grey = Image.alpha_composite(paper, picture).convert("L")
    grey.thumbnail((PAPER_DOTS, LOGO_MAX_ROWS), Image.Resampling.LANCZOS)
    dots = grey.convert("1")  # Floyd-Steinberg
    inverted = Image.eval(dots.convert("L"), lambda v: 255 - v)
    if inverted.getbbox() is None:
        raise LogoError(f"{path}: the logo is blank on paper (nothing dark enough to print)")
    band = Image.new("1", (PAPER_DOTS, dots.height), 1)
    band.paste(dots, ((PAPER_DOTS - dots.width) // 2, 0))
    return band


def raster(image: Image.Image) -> bytes:
    """GS v 0 of a mode "1" image (ink 0), as python-escpos's image() sends it."""
    if image.mode != "1" or image.width % 8 or image.width > PAPER_DOTS \
            or not 0 < image.height <= LOGO_MAX_ROWS:
        raise LogoError(f"not a receipt raster: {image.mode} {image.width}x{image.height}")
    stride = image.width // 8
    ink = Image.eval(image.convert("L"), lambda v: 255 - v).convert("1")
    head = bytes([0x1D, 0x76, 0x30, 0, stride & 0xFF, stride >> 8,
                  image.height & 0xFF, image.height >> 8])
    return head + ink.tobytes()


def logo_bin(path: Path) -> bytes:
    """The contents of logo.bin for the image file at `path`; LogoError when it is not
    a usable image."""
    return raster(logo_image(Path(path)))
