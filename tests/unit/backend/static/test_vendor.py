"""Vendored front-end files (backend/static/vendor/): each comes from the npm registry
unchanged, with its licence and a VERSION file naming the package and the sha256 of each
file, so a changed or truncated copy is caught."""

import hashlib
import re
from pathlib import Path

import pytest

VENDOR = Path(__file__).resolve().parents[4] / "backend" / "static" / "vendor"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_chartjs_is_the_file_its_version_names():
    version = (VENDOR / "chartjs" / "VERSION").read_text()
    (expected,) = re.findall(r"sha256 ([0-9a-f]{64})", version)
    assert digest(VENDOR / "chartjs" / "chart.umd.min.js") == expected
    assert "MIT" in (VENDOR / "chartjs" / "LICENSE").read_text()


@pytest.mark.parametrize("name", ["Vazirmatn-Regular.woff2", "Vazirmatn-Bold.woff2"])
def test_vazirmatn_files_are_the_ones_its_version_names(name):
    version = (VENDOR / "vazirmatn" / "VERSION").read_text()
    assert version.startswith("vazirmatn 33.0.3 from the npm registry")
    pairs = re.findall(r"sha256 ([0-9a-f]{64}) (\S+)", version)
    expected = {file: sha for sha, file in pairs}
    path = VENDOR / "vazirmatn" / name
    assert path.read_bytes()[:4] == b"wOF2"
    assert digest(path) == expected[name]


def test_vazirmatn_comes_with_its_licence_and_swaps_in():
    assert "SIL OPEN FONT LICENSE Version 1.1" in (VENDOR / "vazirmatn" / "OFL.txt").read_text()
    css = (VENDOR / "vazirmatn" / "vazirmatn.css").read_text()
    faces = re.findall(r"@font-face \{(.*?)\}", css, re.S)
    assert len(faces) == 2
    for face in faces:
        assert "font-family: Vazirmatn" in face and "font-display: swap" in face
        (file,) = re.findall(r'url\("([^"]+)"\)', face)
        assert (VENDOR / "vazirmatn" / file).exists()
