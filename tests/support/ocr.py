"""Reading rendered pixels back as a person would: Tesseract OCR, Persian and English.

`read_text(image)` runs the `tesseract` command (Debian's tesseract-ocr with the
tesseract-ocr-fas and -eng models, which `make test` installs) on a PIL image and returns
what it read. Nothing here skips: without tesseract or a model every call raises
`OcrUnavailable` naming the package, so a test that checks pixels cannot pass unchecked.

OCR of a short word is fuzzy (a dot or a ZWNJ more or less), so tests compare
`normalise`d text, or `similarity` with a bound, never raw strings.
"""

import difflib
import shutil
import subprocess
import tempfile
import unicodedata
from functools import cache
from pathlib import Path

from PIL import Image, ImageOps, ImageStat

LANGUAGE_PACKAGES = {"fas": "tesseract-ocr-fas", "eng": "tesseract-ocr-eng"}
# Page segmentation modes (tesseract --help-psm) the tests use.
PSM_BLOCK = 6  # a uniform block of text: several lines
PSM_LINE = 7  # one text line
PSM_WORD = 8  # one word
TIMEOUT_S = 60  # one image; a stuck tesseract fails the test instead of stalling it
# Tesseract reads dark text on a light page best, with a margin, ink ~40 px high.
BORDER_PX = 10
LINE_HEIGHT_PX = 40


class OcrUnavailable(RuntimeError):
    """tesseract or one of its language models is not installed."""


@cache
def installed_languages() -> frozenset[str]:
    if shutil.which("tesseract") is None:
        raise OcrUnavailable("tesseract is not installed: `make test` installs it (Debian "
                             "packages tesseract-ocr tesseract-ocr-fas tesseract-ocr-eng)")
    listing = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True,
                             timeout=TIMEOUT_S, check=True)
    # The first line is 'List of available languages in "…" (N):'.
    return frozenset(line.strip() for line in listing.stdout.splitlines()[1:] if line.strip())


def require_languages(lang: str) -> None:
    """Raise OcrUnavailable unless every model of `lang` ("fas+eng") is installed."""
    missing = [code for code in lang.split("+") if code not in installed_languages()]
    if missing:
        packages = " ".join(LANGUAGE_PACKAGES.get(code, f"tesseract-ocr-{code}")
                            for code in missing)
        raise OcrUnavailable(f"Tesseract has no model for {', '.join(missing)}: install the "
                             f"Debian package(s) {packages} (`make test` does)")


def prepare(image: Image.Image, *, scale: float | None = None) -> Image.Image:
    """Black text on white, sized as Tesseract reads best: greyscale, a dark background
    (the card) inverted, contrast stretched (light text on a tinted ground reads as "Va."
    for "Vafa"), cut to the ink with a white margin, and scaled by `scale` or, when None,
    so that the ink is LINE_HEIGHT_PX high (Tesseract returns nothing at all for some
    lines of 300 dpi display type)."""
    grey = image.convert("L")
    if ImageStat.Stat(grey).mean[0] < 128:
        grey = ImageOps.invert(grey)
    grey = ImageOps.autocontrast(grey, cutoff=1)
    ink = ImageOps.invert(grey).point(lambda value: 255 if value > 64 else 0).getbbox()
    if ink is None:
        raise ValueError("the image has no ink to read")
    grey = grey.crop(ink)
    if scale is None:
        scale = LINE_HEIGHT_PX / grey.height
    if scale != 1.0:
        grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
                           Image.Resampling.LANCZOS)
    return ImageOps.expand(grey, border=BORDER_PX, fill=255)


def read_text(image: Image.Image, *, lang: str = "fas+eng", psm: int = PSM_LINE,
              scale: float | None = None, dpi: int = 300) -> str:
    """What Tesseract reads in `image` (stripped; lines joined by newlines). `scale`:
    see `prepare`; give one for several lines (PSM_BLOCK), the default sizes one line."""
    if scale is None and psm not in (PSM_LINE, PSM_WORD):
        scale = 1.0
    require_languages(lang)
    with tempfile.TemporaryDirectory(prefix="ocr-") as work:
        path = Path(work) / "in.png"
        prepare(image, scale=scale).save(path, dpi=(dpi, dpi))
        result = subprocess.run(
            ["tesseract", str(path), "stdout", "-l", lang, "--psm", str(psm),
             "--dpi", str(dpi)],
            capture_output=True, text=True, timeout=TIMEOUT_S)
    if result.returncode != 0:
        raise RuntimeError(f"tesseract failed ({result.returncode}): {result.stderr.strip()}")
    # Tesseract marks direction changes with LRM/RLM; they are not text.
    return result.stdout.replace("\u200e", "").replace("\u200f", "").strip()


def read_lines(image: Image.Image, *, lang: str = "fas+eng", scale: float = 1.0) -> list[str]:
    """The non-empty lines Tesseract reads in a block of text (a whole receipt)."""
    read = read_text(image, lang=lang, psm=PSM_BLOCK, scale=scale)
    return [line.strip() for line in read.splitlines() if line.strip()]


# Letters OCR (and people) use interchangeably: Arabic kaf/yeh for the Persian ones.
_FOLD = str.maketrans({"ك": "ک", "ي": "ی", "ى": "ی", "ة": "ه", "ۀ": "ه", "أ": "ا", "إ": "ا",
                       "٬": ",", "،": ","})
_DROP = {"\u200c", "\u200d", "\u0640", "\u200e", "\u200f"}  # ZWNJ, ZWJ, tatweel, marks


def normalise(text: str) -> str:
    """`text` without spaces, ZWNJ/ZWJ, tatweel, diacritics and presentation forms, with
    Arabic letter variants folded to Persian and lower-cased: what a reader compares."""
    text = unicodedata.normalize("NFKC", text).translate(_FOLD)
    return "".join(ch for ch in text.lower()
                   if not ch.isspace() and ch not in _DROP
                   and unicodedata.category(ch) != "Mn")


def similarity(read: str, expected: str) -> float:
    """0…1: how close the normalised OCR result is to the expected text."""
    return difflib.SequenceMatcher(None, normalise(read), normalise(expected)).ratio()
