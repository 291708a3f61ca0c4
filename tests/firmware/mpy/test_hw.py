# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
# micropython-only: the real framebuf is the point (CPython has none).
# The ESP32 drivers (vafa.hw.esp32, vafa.hw.ssd1306) under the real MicroPython, with the
# real framebuf (built into the WebAssembly port: its 8x8 font, drawing a string byte by
# byte) and fake_machine's electrical keypad, SSD1306 RAM model and UARTs.
import sys

import fake_machine
import framebuf
from mpytest import check, done, eq

sys.modules["machine"] = fake_machine
from vafa import pins  # noqa: E402
from vafa.hw import esp32  # noqa: E402

board = fake_machine.board


def fresh():
    board.reset()
    oled = fake_machine.SSD1306Model()
    board.i2c_devices[0x3C] = oled
    return oled


# -- keypad: two keys in one column never short two pins ----------------------------------
for chip in pins.CHIPS:
    fresh()
    p = pins.MAPS[chip]
    keypad = esp32.MatrixKeypad(p["keypad_rows"], p["keypad_cols"])
    eq(keypad.get_key(), None, chip + ": no key")
    # "1" and "4": rows 0 and 1, column 0, held together.
    board.pressed.append((p["keypad_rows"][0], p["keypad_cols"][0]))
    board.pressed.append((p["keypad_rows"][1], p["keypad_cols"][0]))
    seen = [keypad.get_key() for _ in range(3)]  # raises ShortCircuit with driven rows
    eq(seen, [None, "1", None], chip + ": two keys in a column read, no short")
    board.pressed = []
    eq([keypad.get_key() for _ in range(2)], [None, None], chip + ": released")
    board.pressed.append((p["keypad_rows"][3], p["keypad_cols"][2]))
    eq([keypad.get_key() for _ in range(2)], [None, "E"], chip + ": # is enter")
    keypad.deinit()

# -- display: 16 glyphs a row, one per character, as the real framebuf draws them ----------


def expected(lines):
    frame = framebuf.FrameBuffer(bytearray(1024), 128, 64, framebuf.MONO_VLSB)
    frame.fill(0)
    for i, text in enumerate(lines):
        frame.text(text, 0, i * 8, 1)
    return frame


def same_pixels(oled, frame, what):
    for y in range(64):
        for x in range(128):
            if oled.pixel(x, y) != frame.pixel(x, y):
                raise AssertionError("%s: pixel %d,%d differs" % (what, x, y))
    check(True, what)


# The double is the device's own framebuf: it draws a str byte by byte, any byte outside
# 32-127 as glyph 127, so one Persian letter (2 UTF-8 bytes) is two garbage glyphs.
f1, f2 = expected(["\u0633"]), expected(["\x7f\x7f"])
check(all(f1.pixel(x, y) == f2.pixel(x, y) for x in range(24) for y in range(8))
      and any(f1.pixel(x, y) for x in range(8, 16) for y in range(8)),
      "framebuf draws UTF-8 bytes, as on the board")

oled = fresh()
p = pins.MAPS["esp32"]
display = esp32.Display(p["i2c_scl"], p["i2c_sda"])
check(oled.on, "init sequence turns the panel on")
eq(oled.commands[-6:], [0x21, 0, 127, 0x22, 0, 7], "show() sets the whole window")
display.show(["Balance", "1,250,000 rials", "Abcdefghijklmnopqrst"])
same_pixels(oled, expected(["Balance", "1,250,000 rials", "Abcdefghijklmnop"]),
            "ASCII lines, cut at 16 columns")
# A Persian name: 5 characters, 10 UTF-8 bytes. framebuf would draw 10 garbage glyphs and
# push "OK" to columns 11-12; each character becomes one "?" and "OK" stays at 6-7.
display.show(["\u0645\u0631\u06cc\u0645 OK"])
same_pixels(oled, expected(["???? OK"]), "non-ASCII: one glyph per character")
display.show(["\u06f1" * 20 + "X"])
same_pixels(oled, expected(["?" * 16]), "never past 16 columns, in glyphs")
eq(esp32.fit_line("\u0633\u0644\u0627\u0645 " * 5), "???? ???? ???? ?", "fit_line")
display.deinit()
check(not oled.on, "deinit powers the panel off")

# -- printer: paper status over the UART RX, never blocking --------------------------------
fresh()
printer = esp32.ReceiptPrinter(p["printer_uart"], p["printer_tx"], p["printer_rx"])
uart = board.uarts[p["printer_uart"]]
eq(printer.paper_ok(now_ms=0), None, "unknown before the first answer")
eq(bytes(uart.written), b"\x10\x04\x04", "DLE EOT 4 asked")
uart.incoming.extend(b"\x72")  # bits 5-6: paper end (fixed bits 1 and 4 set)
eq(printer.paper_ok(now_ms=10), False, "paper end read")
eq(bytes(uart.written), b"\x10\x04\x04", "not asked again within the poll interval")
uart.incoming.extend(b"\x12")
eq(printer.paper_ok(now_ms=2010), True, "paper back")
eq(bytes(uart.written), b"\x10\x04\x04" * 2, "asked again after the interval")
uart.incoming.extend(b"\xff")  # not a status byte (fixed bits wrong): ignored
eq(printer.paper_ok(now_ms=2020), True, "noise ignored")
printer.print_lines(["Vafa", "Thanks"])
check(bytes(uart.written).endswith(b"\x1dV\x00"), "receipt written and cut")
printer.deinit()

# -- the C3 map: scanner and printer share one UART, no LED --------------------------------
fresh()
c3 = pins.MAPS["esp32c3"]
hw = esp32.build(c3)
shared = board.uarts[1]
eq(shared.options.get("tx"), c3["printer_tx"], "shared UART: TX to the printer")
eq(shared.options.get("rx"), c3["scanner_rx"], "shared UART: RX from the scanner")
eq(hw.printer.paper_ok(), None, "no printer RX: paper unknown, nothing asked")
eq(bytes(shared.written), b"", "no status request on a shared UART")
shared.incoming.extend(b"9900010000000019\r\n")
eq(hw.scanner.read(), "9900010000000019", "scanner reads the shared RX")
hw.indicator.ok()
eq(hw.indicator._pwm.duty_u16(), esp32.BEEP_DUTY_U16, "beep on, duty_u16")
hw.deinit()
check(shared.closed, "shared UART freed once, by Hardware")

# -- every chip's map builds (the drivers accept it; provisioning/chips.py validates it) ---
for chip in pins.CHIPS:
    fresh()
    esp32.build(pins.pin_map(chip)).deinit()
    check(True, chip + ": build and deinit")

done("test_hw.py")
