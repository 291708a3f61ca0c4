"""The idle screen says when the printer is out of paper (vafa.hw Printer.paper_ok)."""

from mpytest import make_app


def test_the_idle_screen_shows_a_printer_without_paper():
    app, hw, net, clock = make_app()
    answers = []
    hw.printer.paper_ok = lambda now_ms=None: answers[-1] if answers else None
    app.show_ready()
    assert "No printer paper" not in hw.display.lines  # unknown: nothing claimed
    answers.append(False)
    app.show_ready()
    assert hw.display.lines[-1] == "No printer paper"
    assert len(hw.display.lines[-1]) <= 16  # one OLED row
    answers.append(True)
    app.show_ready()
    assert "No printer paper" not in hw.display.lines
