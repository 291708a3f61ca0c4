"""`provisioning image --logo FILE`: the club's logo made into logo.bin (provisioning/logo.py)
on the terminal's flash, exactly python-escpos's image() of its pixels; a file that cannot
be a logo is refused with a clear error and nothing is built."""

import json

import pytest
from escpos.printer import Dummy
from PIL import Image

from provisioning import image, logo
from tests.support.logos import club_logo
from tests.unit.provisioning.conftest import invoke

BASE = ["image", "--release", "1.24", "--seq-floor", "0"]


def test_a_logo_fits_the_paper_centred_and_is_python_escpos_image(tmp_path):
    source = club_logo(tmp_path / "logo.png", size=(512, 300))
    pixels = logo.logo_image(source)
    assert (pixels.mode, pixels.width) == ("1", 384)
    assert pixels.height == logo.LOGO_MAX_ROWS  # 512x300 scaled to 205x120, never stretched
    ink = Image.eval(pixels.convert("L"), lambda v: 255 - v).getbbox()
    left, right = ink[0], 384 - ink[2]
    assert abs(left - right) <= 2 and 190 <= ink[2] - ink[0] <= 205
    p = Dummy()
    p.image(pixels)
    data = logo.logo_bin(source)
    assert data == p.output and len(data) == 8 + 48 * 120


def test_a_small_logo_is_not_enlarged(tmp_path):
    source = club_logo(tmp_path / "small.png", size=(64, 40))
    pixels = logo.logo_image(source)
    assert (pixels.width, pixels.height) == (384, 40)


def test_image_puts_logo_bin_on_the_flash(tmp_path, config_path):
    source = club_logo(tmp_path / "logo.png")
    result = invoke(*BASE, "--config", config_path, "--out", tmp_path / "o", "--logo", source,
                    "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["logo"] is True and "logo.bin" in summary["files"]
    mounted = image.read_littlefs((tmp_path / "o" / "vfs.littlefs").read_bytes())
    assert mounted["logo.bin"] == logo.logo_bin(source)
    result = invoke(*BASE, "--config", config_path, "--out", tmp_path / "p")
    assert result.exit_code == 0, result.output
    assert "logo.bin" not in image.read_littlefs((tmp_path / "p" / "vfs.littlefs").read_bytes())


def _bad(tmp_path, kind):
    path = tmp_path / f"bad-{kind}"
    if kind == "text":
        path.write_text("not a picture\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "huge":
        Image.new("L", (2100, 2000), 0).save(path.with_suffix(".png"))
        path = path.with_suffix(".png")
    elif kind == "heavy":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(1_000_001))
    elif kind == "blank":
        Image.new("RGBA", (200, 80), (0, 0, 0, 0)).save(path.with_suffix(".png"))
        path = path.with_suffix(".png")
    elif kind == "tiff":
        Image.new("L", (20, 20), 0).save(path.with_suffix(".tif"))
        path = path.with_suffix(".tif")
    elif kind == "cut":
        club_logo(tmp_path / "whole.png")
        path.write_bytes((tmp_path / "whole.png").read_bytes()[:200])
    return path


@pytest.mark.parametrize("kind, message", [
    ("text", "not an image file"),
    ("empty", "the file is empty"),
    ("huge", "2100x2000 pixels is too large"),
    ("heavy", "a logo must be smaller than 1 MB"),
    ("blank", "the logo is blank on paper"),
    ("tiff", "a TIFF file; give a PNG"),
    ("cut", "not an image file"),
])
def test_a_bad_or_oversized_logo_is_refused(tmp_path, config_path, kind, message):
    path = _bad(tmp_path, kind)
    with pytest.raises(logo.LogoError, match=message):
        logo.logo_bin(path)
    out = tmp_path / "o"
    result = invoke(*BASE, "--config", config_path, "--out", out, "--logo", path)
    assert result.exit_code == 1, result.output
    assert f"--logo: {path}: " in result.output and message in result.output
    assert not out.exists()  # nothing built
