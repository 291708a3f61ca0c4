"""Simulated hardware and the ESC/POS rendering of the simulated printer."""

import pytest
from vafa import escpos

from simulator import hardware


def test_queue_scanner_and_keypad():
    s = hardware.QueueScanner(["9900010000000019"])
    assert s.read() == "9900010000000019"
    assert s.read() is None
    k = hardware.QueueKeypad("12E")
    assert [k.get_key() for _ in range(4)] == ["1", "2", "E", None]
    with pytest.raises(ValueError):
        k.press("X")


def test_display_keeps_history():
    d = hardware.CaptureDisplay()
    d.show(["a", 1])
    d.show(["b"])
    assert d.lines == ["b"] and d.history == [["a", "1"], ["b"]]
    assert d.text() == "b"


def test_printer_captures_escpos_bytes_and_renders_text():
    p = hardware.CapturePrinter()
    p.print_lines(["Vafa Demo Club", "Pay: 237,500", "x" * 40])
    raw = p.receipts[0]
    assert raw == escpos.encode_receipt(["Vafa Demo Club", "Pay: 237,500", "x" * 40])
    assert raw.startswith(b"\x1b@\x1bt\x00") and raw.endswith(b"\x1bd\x06\x1dV\x00")
    assert p.text_lines() == ["Vafa Demo Club", "Pay: 237,500", "x" * 32, "x" * 8]
    assert hardware.count_cuts(bytes(p.data)) == 1


def test_render_escpos_skips_commands():
    data = b"\x1b@\x1b\x61\x01Centered\n\x1bE\x01Bold\x1bE\x00\r\n\x1bd\x02\x1dV\x00tail"
    assert hardware.render_escpos(data) == ["Centered", "Bold", "tail"]


def test_persian_is_a_raster_band_not_question_marks():
    p = hardware.CapturePrinter()
    p.print_lines(["سارا", "Thanks"])
    assert p.text_lines() == ["[raster]", "Thanks"]
    assert b"\x1dv0\x00" in p.receipts[0]
    assert p.printed == [["سارا", "Thanks"]]


def test_indicator_records():
    i = hardware.RecordingIndicator()
    i.ok()
    i.error()
    i.tick(0)
    assert i.events == ["ok", "error"]


def test_build_has_all_parts():
    hw = hardware.build()
    for part in ("scanner", "keypad", "display", "printer", "indicator"):
        assert getattr(hw, part) is not None
    hw.deinit()


def test_an_offline_receipt_carries_the_logo_of_the_simulated_flash(tmp_path):
    """SimTerminal's printer reads logo.bin from the device's root (the config's
    directory, as ca.pem), as the board reads /logo.bin: an offline sale's receipt starts
    with it; without the file the same receipt has no logo."""
    import json

    from escpos.printer import Dummy
    from vafa import escpos

    from provisioning import logo as logos
    from simulator.terminal import Link, SimTerminal
    from tests.support.logos import club_logo

    def offline_sale(root):
        root.mkdir()
        config = root / "config.json"
        config.write_text(json.dumps({"device_id": "t01", "key_hex": "00" * 32,
                                      "mqtt": {"host": "127.0.0.1", "port": 1,
                                               "tls": False}}))
        if logo is not None:
            (root / escpos.LOGO_FILE).write_bytes(logo)
        term = SimTerminal(config, link=Link(False))
        term.hw.scanner.scan("9900010000000019")
        term.hw.keypad.press(*"90000E")
        for _ in range(20):
            if term.hw.printer.receipts:
                break
            term.step()
        assert term.app.outcome == "offline"
        return term.hw.printer.receipts[-1]

    logo = None
    plain = offline_sale(tmp_path / "plain")
    logo = logos.logo_bin(club_logo(tmp_path / "logo.png"))
    with_logo = offline_sale(tmp_path / "logo")
    p = Dummy()
    p.hw("INIT")
    assert plain.startswith(p.output + escpos.CODEPAGE_PC437)
    assert with_logo == p.output + logo + plain[len(p.output):]
