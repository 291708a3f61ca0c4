"""A club logo as the panel keeps one (backend/services/branding.py: an RGBA PNG), for the
receipt-logo tests of provisioning and the firmware."""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"  # Debian fonts-dejavu-core


def club_logo(path: Path, size=(512, 300)) -> Path:
    """A coloured disc with a dark bar across it lettered VAFA in white, on
    transparency."""
    picture = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((8, 8, size[0] - 8, size[1] - 8), fill=(200, 40, 40, 255))
    bar = (size[0] // 4, size[1] // 2 - size[1] // 7, size[0] * 3 // 4,
           size[1] // 2 + size[1] // 7)
    draw.rectangle(bar, fill=(10, 10, 10, 255))
    font = ImageFont.truetype(FONT, max(8, (bar[3] - bar[1]) * 3 // 4))
    draw.text((size[0] // 2, size[1] // 2), "VAFA", font=font, fill=(255, 255, 255, 255),
              anchor="mm")
    picture.save(path)
    return path
