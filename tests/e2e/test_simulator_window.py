"""The Tk window under Xvfb: a purchase against the live stack, then a screenshot kept as
a test artefact (tests/artifacts/, gitignored) and, when missing or when
VAFA_UPDATE_SCREENSHOT=1, as docs/images/simulator.png for the README."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.e2e.test_simulator_offline import SARA_CARD, sara_purchases

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
DOCS_IMAGE = ROOT / "docs" / "images" / "simulator.png"
XVFB_RUN = shutil.which("xvfb-run")


def test_window_purchase_and_screenshot(stack):
    if XVFB_RUN is None:
        pytest.fail("xvfb-run is missing: install Debian's xvfb (make test does)")
    shot = ARTIFACTS / "simulator-window.png"
    shot.unlink(missing_ok=True)
    r = subprocess.run(
        [XVFB_RUN, "-a", "-s", "-screen 0 1280x900x24", sys.executable, "-m", "simulator",
         "--device", "t01", "--instance-dir", str(stack.instance_dir), "--timeout-s", "10",
         "--steps", f"scan:{SARA_CARD},keys:250000E", "--screenshot", str(shot)],
        capture_output=True, text=True, timeout=90, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Pay: 237,500" in r.stdout
    assert sara_purchases(stack)[0] == [(250_000, False)]
    with Image.open(shot) as img:
        assert img.format == "PNG"
        w, h = img.size
        assert w >= 600 and h >= 400, img.size
        rgb = img.convert("RGB")
        # The OLED is drawn black with light-blue text; the receipt strip is the printed
        # paper (simulator.escpos_render): white, black dots.
        colors = {c for _, c in rgb.getcolors(maxcolors=w * h)}
        assert len(colors) > 20, "screenshot looks blank"
        assert (0, 0, 0) in colors and (255, 255, 255) in colors
    if not DOCS_IMAGE.exists() or os.environ.get("VAFA_UPDATE_SCREENSHOT") == "1":
        DOCS_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_IMAGE)
