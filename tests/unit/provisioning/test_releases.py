"""The MicroPython releases a terminal image may target (provisioning/releases.py)."""

from provisioning import releases


def test_the_mpy_format_must_be_the_releases():
    bytecode = b"M\x06\x00\x1f" + b"\x00" * 8  # mpy-cross's default: no native code
    for release in releases.RELEASES:
        assert releases.mpy_problem(bytecode, release) is None
    assert "version 5" in releases.mpy_problem(b"M\x05\x00\x1f", "1.24")
    native_63 = bytes([ord("M"), 6, (3 << 2) | 3, 0x1F])  # xtensawin, sub-version 3
    assert releases.mpy_problem(native_63, "1.23") is None
    assert "needs 6.2" in releases.mpy_problem(native_63, "1.22")
    assert releases.mpy_problem(b"#!/usr", "1.24") == "not an .mpy file"
