# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
# micropython-only: the real framebuf is the point (CPython has none).
# The ESP32 drivers (vafa.hw.esp32, vafa.hw.ssd1306) under the real MicroPython, with the
# real framebuf (built into the WebAssembly port: its 8x8 font, drawing a string byte by
# byte) and fake_machine's electrical keypad, SSD1306 RAM model and UARTs.
import sys

import fake_machine
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

# -- display: vafa.text's bitmap font, shaped, right-to-left, wrapped, paged ----------------
from vafa import text  # noqa: E402


def ink_columns(oled, y0, y1):
    return [x for x in range(128) if any(oled.pixel(x, y) for y in range(y0, y1))]


oled = fresh()
p = pins.MAPS["esp32"]
display = esp32.Display(p["i2c_scl"], p["i2c_sda"])
check(oled.on, "init sequence turns the panel on")
eq(oled.commands[-6:], [0x21, 0, 127, 0x22, 0, 7], "show() sets the whole window")
text.set_lang("en")
display.show(["Balance", "\u0645\u0631\u06cc\u0645"])
latin, persian = ink_columns(oled, 0, 16), ink_columns(oled, 16, 32)
check(latin and latin[0] < 4 and latin[-1] < 64, "a Latin line starts at the left")
check(persian and persian[-1] > 123 and persian[0] > 64, "a Persian line ends at the right")
frame = bytearray(1024)
text.draw_screen(frame, text.screen_rows(["Balance", "\u0645\u0631\u06cc\u0645"]))
eq(bytes(oled.ram), bytes(frame), "the panel's RAM is the buffer vafa.text drew")
# 10^13 rials: whole, on one row, never cut; a long label wraps instead.
amount = "10,000,000,000,000"
rows = text.screen_rows(["Credit: " + amount])
eq(rows, ["Credit:", amount], "label and amount wrap at the space")
check(text.font("d16.vft").width(text.shape(amount)) <= 128, "the longest amount fits")
# Shaping: the medial beh differs from the isolated one; lam-alef is one glyph.
eq(len(text.shape("\u0644\u0627")), 1, "lam-alef ligature")
beh = ord("\u0628") * 4
eq(text.shape("\u0628\u0628\u0628"), [beh + text.FINA, beh + text.MEDI, beh + text.INIT],
   "contextual forms, in display order")
text.set_lang("fa")
eq([chr(k >> 2) for k in text.shape("1,250")], ["\u06f1", "\u066c", "\u06f2", "\u06f5",
                                               "\u06f0"], "Persian digits, left to right")
text.set_lang("en")
# Six rows: two pages, turned by tick().
display.show(["one", "two", "three", "four", "five", "six"])
first = bytes(oled.ram)
display.tick(0)
eq(bytes(oled.ram), first, "no turn before the page time")
display.tick(text.PAGE_MS)
check(bytes(oled.ram) != first and ink_columns(oled, 32, 64) == [], "second page: two rows")
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
eq(printer.last_error, None, "answering printer: no error")
uart.busy = True
printer.print_lines(["Vafa", "Thanks"], qr="https://club.example/p")
eq(bytes(uart.written), b"\x10\x04\x04" * 2, "UART busy: nothing written, never waits")
uart.busy = False
for t in range(10):
    printer.tick(3000 + t)
check(bytes(uart.written).endswith(b"\x1dV\x00"), "receipt written and cut")
check(b"\x1d(k\x19\x001P0https://club.example/p" in bytes(uart.written), "portal QR stored")
eq(bytes(uart.written).count(b"\x10\x04\x04"), 2, "no status request inside a receipt")
# Silent printer (off, unplugged): the request of 2010 had no answer by the next poll.
eq(printer.paper_ok(now_ms=4100), None, "no answer: paper unknown again")
eq(printer.last_error, esp32.ERR_NO_ANSWER, "no answer reported")
uart.incoming.extend(b"\x12")
eq(printer.paper_ok(now_ms=4200), True, "answers again")
eq(printer.last_error, None, "error cleared by the answer")
uart.busy = True
for _ in range(esp32.MAX_JOBS + 1):
    printer.print_lines(["Vafa"])
eq(printer.last_error, esp32.ERR_QUEUE_FULL, "a receipt beyond the queue is reported")
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
