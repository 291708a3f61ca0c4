"""The terminal's bitmap fonts: the committed files are what provisioning.fonts makes from
Vazirmatn, and they hold every form the firmware's shaping asks for."""

import struct

import pytest

from provisioning import fonts
from simulator import shim

shim.install()  # the firmware on sys.path
from vafa import text  # noqa: E402


@pytest.fixture(scope="module")
def built():
    return fonts.build_all()


def test_committed_fonts_are_the_generated_ones(built):
    for name, blob in built.items():
        assert (fonts.OUT_DIR / name).read_bytes() == blob, (
            f"{name} is stale: run `python -m provisioning.fonts`")


def _keys(blob):
    n = struct.unpack_from("<H", blob, 4)[0]
    return {struct.unpack_from("<I", blob, 8 + 10 * i)[0] for i in range(n)}


def test_every_contextual_form_is_there(built):
    for name, blob in built.items():
        keys = _keys(blob)
        for char in fonts.DUAL:
            assert {ord(char) * 4 + form for form in range(4)} <= keys, (name, char)
        for char in fonts.RIGHT:
            assert {ord(char) * 4, ord(char) * 4 + 3} <= keys, (name, char)
        for code in range(32, 127):
            assert code * 4 in keys
        for digit in "۰۱۲۳۴۵۶۷۸۹٬":
            assert ord(digit) * 4 in keys


def test_forms_differ_and_sizes_fit_the_screen_and_the_paper(built):
    display, receipt = built["d16.vft"], built["r32.vft"]
    assert display[2] == 0 and display[3] <= text.ROW_PX  # columns, one 16-pixel row
    assert receipt[2] == 1 and receipt[3] <= 30  # rows, one 30-dot raster band
    for name in built:
        font = text.Font(name)  # the firmware's own reader
        beh = ord("ب") * 4
        assert len({font.glyph(beh + form)[3] for form in range(4)}) == 4, name
        lam_alef = font.glyph(0xFEFB * 4)
        assert lam_alef[3] != font.glyph(ord("ل") * 4)[3] and any(lam_alef[3])
        assert font.glyph(0x1F600 * 4) == font.glyph(ord("?") * 4)  # missing: '?'
        font.close()
