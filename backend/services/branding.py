"""The club's logo: an uploaded image, checked and re-encoded before it is kept.

Re-encoding with Pillow means what is stored is always a plain PNG we wrote ourselves —
never the uploaded bytes, whatever they claimed to be — and its name is ours too, so an
upload can neither smuggle a script nor choose a path."""

import hashlib
import io
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from backend.errors import BadRequest

MAX_LOGO_BYTES = 1_000_000
MAX_LOGO_PIXELS = 2_000 * 2_000
LOGO_BOX = (512, 512)


def store_logo(data: bytes, uploads_dir: Path) -> str:
    return store_image(data, uploads_dir, field="logo", prefix="logo", box=LOGO_BOX)


NEWS_IMAGE_BOX = (1200, 1200)


def store_image(data: bytes, uploads_dir: Path, *, field: str, prefix: str,
                box: tuple[int, int]) -> str:
    """Check an uploaded image, re-encode it as PNG within `box` and keep it under a
    name of ours; errors name `field`."""
    if not data:
        raise BadRequest(field, "Choose an image file.")
    if len(data) > MAX_LOGO_BYTES:
        raise BadRequest(field, "The logo must be smaller than 1 MB." if field == "logo"
                         else "The image must be smaller than 1 MB.")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ("PNG", "JPEG", "WEBP", "GIF"):
                raise BadRequest(field, "Upload a PNG, JPEG or WebP image.")
            if probe.width * probe.height > MAX_LOGO_PIXELS:
                raise BadRequest(field, "The image is too large.")
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image = image.convert("RGBA")
            image.thumbnail(box)
            output = io.BytesIO()
            image.save(output, format="PNG")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise BadRequest(field, "This file is not an image we can read.") from None
    png = output.getvalue()
    name = f"{prefix}-{hashlib.sha256(png).hexdigest()[:16]}.png"
    uploads_dir.mkdir(parents=True, exist_ok=True)
    (uploads_dir / name).write_bytes(png)
    return name
