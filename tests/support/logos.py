"""A club logo as the panel keeps one (backend/services/branding.py: an RGBA PNG), for the
receipt-logo tests of provisioning and the firmware."""

from pathlib import Path

from PIL import Image, ImageDraw


def club_logo(path: Path, size=(512, 300)) -> Path:
    """A coloured disc with a dark bar across it, on transparency."""
    picture = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((8, 8, size[0] - 8, size[1] - 8), fill=(200, 40, 40, 255))
    draw.rectangle((size[0] // 4, size[1] // 2 - 20, size[0] * 3 // 4, size[1] // 2 + 20),
                   fill=(10, 10, 10, 255))
    picture.save(path)
    return path
