"""``python -m simulator``: the terminal as a Tk window, running the same firmware App as
the headless mode and the ESP32 (simulator.terminal.SimTerminal).

Left: the OLED: the SSD1306 buffer the firmware drew (vafa.text, the device's own bitmap
font), each pixel drawn 3x; the status LED, the 4x4 keypad. Right: the scanner (type a
code or pick a demo card), the network switch, the
journal's queued count, and the printed receipts as a paper strip: the ESC/POS bytes the
simulated printer received, printed by simulator.escpos_render (384 dots a line, one
screen pixel a dot), the newest receipt last, the last MAX_RECEIPTS kept.

Keyboard: digits, Enter = E, BackSpace = B, Escape = C, u = use credit, l = balance,
r = refund last, F2 = scan the selected card, F5 = network on/off.

``--steps ... --screenshot FILE`` runs the steps in the window, saves a PNG of it and
exits (used by the tests under Xvfb and for the README picture).
"""

from __future__ import annotations

import base64
import collections
import io
import sys
import tkinter as tk
from pathlib import Path
from tkinter import ttk

from card_spec.numbers import make_card_number
from simulator import escpos_render

OLED_SCALE = 3
OLED_W, OLED_H = 128 * OLED_SCALE, 64 * OLED_SCALE
OLED_ON, OLED_OFF = "#9fe8ff", "#000000"
LOOP_MS = 20
MAX_RECEIPTS = 8  # the paper strip keeps the newest receipts only
STRIP_VIEW_H = 420  # screen pixels of paper in view; the strip scrolls
TEAR_ROWS = 12  # between two receipts: the window's background, the paper torn off
TEAR = 0x2B  # the grey of the window's background (#2b2b2b), on the "L" strip
DEMO_CARDS = [make_card_number("990001", serial) for serial in range(1, 6)] + [
    "9900011234567898",  # valid, not issued: CARD_UNKNOWN
    "9900010000000018",  # bad check digit: refused on the terminal
]
# (label, key) row by row, as on the membrane keypad (vafa.hw.esp32.DEFAULT_KEYMAP)
KEYPAD = [
    [("1", "1"), ("2", "2"), ("3", "3"), ("Credit", "U")],
    [("4", "4"), ("5", "5"), ("6", "6"), ("Back", "B")],
    [("7", "7"), ("8", "8"), ("9", "9"), ("Clear", "C")],
    [("Refund", "R"), ("0", "0"), ("Enter", "E"), ("Balance", "L")],
]
SHORTCUTS = {"Return": "E", "KP_Enter": "E", "BackSpace": "B", "Escape": "C",
             "u": "U", "l": "L", "r": "R"}


class TerminalWindow:
    def __init__(self, root: tk.Tk, term, title: str):
        self.root = root
        self.term = term
        self.frames_seen = 0
        self.receipts_seen = 0
        self.events_seen = 0
        root.title(title)
        root.configure(bg="#2b2b2b")
        root.resizable(False, False)

        body = tk.Frame(root, bg="#2b2b2b", padx=12, pady=12)
        body.pack()
        device = tk.Frame(body, bg="#3c3f41", padx=14, pady=14, relief="ridge", bd=3)
        device.grid(row=0, column=0, sticky="n")
        self.oled = tk.Label(device, bg="black", bd=0, highlightthickness=4,
                             highlightbackground="#111")
        self.oled_image = tk.PhotoImage(width=OLED_W, height=OLED_H)
        self.oled.configure(image=self.oled_image)
        self.oled.pack()
        status = tk.Frame(device, bg="#3c3f41")
        status.pack(fill="x", pady=(8, 8))
        self.led = tk.Canvas(status, width=18, height=18, bg="#3c3f41", highlightthickness=0)
        self.led_dot = self.led.create_oval(2, 2, 16, 16, fill="#333")
        self.led.pack(side="left")
        self.net_label = tk.Label(status, text="", fg="#ddd", bg="#3c3f41",
                                  font=("TkDefaultFont", 10))
        self.net_label.pack(side="left", padx=8)
        pad = tk.Frame(device, bg="#3c3f41")
        pad.pack()
        for r, row in enumerate(KEYPAD):
            for c, (label, key) in enumerate(row):
                tk.Button(pad, text=label, width=7, height=2,
                          command=lambda k=key: self.press(k)).grid(row=r, column=c,
                                                                     padx=3, pady=3)

        side = tk.Frame(body, bg="#2b2b2b", padx=12)
        side.grid(row=0, column=1, sticky="n")
        tk.Label(side, text="Scan card", fg="#ddd", bg="#2b2b2b").pack(anchor="w")
        scan_row = tk.Frame(side, bg="#2b2b2b")
        scan_row.pack(fill="x")
        self.card = tk.StringVar(value=DEMO_CARDS[0])
        self.card_box = ttk.Combobox(scan_row, textvariable=self.card, values=DEMO_CARDS,
                                     width=20)
        self.card_box.pack(side="left")
        tk.Button(scan_row, text="Scan (F2)", command=self.scan).pack(side="left", padx=6)
        self.net_on = tk.BooleanVar(value=term.link.up)
        tk.Checkbutton(side, text="Network (F5)", variable=self.net_on,
                       command=self.network_switched, fg="#ddd", bg="#2b2b2b",
                       selectcolor="#2b2b2b", activebackground="#2b2b2b").pack(anchor="w",
                                                                               pady=6)
        self.queued_label = tk.Label(side, text="", fg="#ddd", bg="#2b2b2b")
        self.queued_label.pack(anchor="w")
        tk.Label(side, text="Receipt", fg="#ddd", bg="#2b2b2b").pack(anchor="w", pady=(8, 0))
        paper_box = tk.Frame(side, bg="#2b2b2b")
        paper_box.pack(anchor="w")
        self.paper = tk.Canvas(paper_box, width=escpos_render.PAPER_DOTS, height=STRIP_VIEW_H,
                               bg="#2b2b2b", bd=0, highlightthickness=0)
        scroll = tk.Scrollbar(paper_box, orient="vertical", command=self.paper.yview)
        self.paper.configure(yscrollcommand=scroll.set)
        self.paper.pack(side="left")
        scroll.pack(side="left", fill="y")
        self.papers: collections.deque = collections.deque(maxlen=MAX_RECEIPTS)
        self.strip = None  # the strip as a PIL image ("L"), what the canvas shows
        self.strip_image = None  # its Tk image
        self._strip_item = None

        for keysym, key in SHORTCUTS.items():
            root.bind(f"<KeyPress-{keysym}>", lambda e, k=key: self._key_event(e, k))
        for d in "0123456789":
            root.bind(f"<KeyPress-{d}>", lambda e, k=d: self._key_event(e, k))
        root.bind("<F2>", lambda e: self.scan())
        root.bind("<F5>", lambda e: self.toggle_network())
        self.refresh()

    # ---- input ----------------------------------------------------------------------
    def _key_event(self, event, key):
        if event.widget is self.card_box:
            return None  # typing a card number into the scan field
        self.press(key)
        return "break"

    def press(self, key: str) -> None:
        self.term.hw.keypad.press(key)

    def scan(self) -> None:
        from card_spec import normalize_digits

        code = normalize_digits(self.card.get().strip())
        if code:
            self.term.hw.scanner.scan(code)
        self.root.focus_set()

    def network_switched(self) -> None:
        self.term.set_network(self.net_on.get())

    def toggle_network(self) -> None:
        self.net_on.set(not self.net_on.get())
        self.network_switched()

    # ---- output ---------------------------------------------------------------------
    def refresh(self) -> None:
        hw = self.term.hw
        if hw.display.frames != self.frames_seen:
            self.frames_seen = hw.display.frames
            self.oled_image.put(oled_rows(hw.display), to=(0, 0))
        if len(hw.printer.receipts) != self.receipts_seen:
            # Only the newest MAX_RECEIPTS are printed on the strip: older ones would
            # fall off it at once.
            new = hw.printer.receipts[self.receipts_seen:][-MAX_RECEIPTS:]
            self.receipts_seen = len(hw.printer.receipts)
            for raw in new:
                self.papers.append(paper_of(raw))
            self.show_strip()
        events = hw.indicator.events
        if len(events) != self.events_seen:
            self.events_seen = len(events)
            self.led.itemconfigure(self.led_dot,
                                   fill="#3c3" if events[-1] == "ok" else "#e33")
        if self.net_on.get() != self.term.link.up:  # switched by a script step
            self.net_on.set(self.term.link.up)
        net = self.term.net
        self.net_label.configure(text=("MQTT connected " if net.connected else "offline ")
                                 + self.term.broker)
        self.queued_label.configure(text=f"Journal: {len(self.term.journal)} queued")

    def show_strip(self) -> None:
        """The kept receipts, newest last, as one image on the canvas, scrolled to its
        end (the paper just printed)."""
        self.strip = stack_papers(list(self.papers))
        self.strip_image = tk.PhotoImage(data=png_base64(self.strip), format="png")
        if self._strip_item is None:
            self._strip_item = self.paper.create_image(0, 0, anchor="nw",
                                                       image=self.strip_image)
        else:
            self.paper.itemconfigure(self._strip_item, image=self.strip_image)
        self.paper.configure(scrollregion=(0, 0, self.strip.width, self.strip.height))
        self.paper.yview_moveto(1.0)

    def tick(self) -> None:
        self.term.step()
        self.refresh()
        self.root.after(LOOP_MS, self.tick)


def oled_rows(display) -> str:
    """The display's framebuffer as Tk image data, OLED_SCALE times: one colour a pixel."""
    rows = []
    for y in range(64):
        row = []
        for x in range(128):
            colour = OLED_ON if display.pixel(x, y) else OLED_OFF
            row.extend([colour] * OLED_SCALE)
        text = "{" + " ".join(row) + "}"
        rows.extend([text] * OLED_SCALE)
    return " ".join(rows)


def paper_of(raw: bytes):
    """A receipt's ESC/POS bytes as the printer prints them: a PIL "L" image, 0 a dot.
    A stream the printer would refuse (or a machine without fonts-dejavu-core) shows as
    a short paper naming the error, so the window never hides a fault by showing
    nothing."""
    from PIL import Image, ImageDraw

    try:
        return escpos_render.render(raw).image
    except (escpos_render.EscposError, FileNotFoundError) as error:  # no DejaVu font
        note = Image.new("L", (escpos_render.PAPER_DOTS, 40), escpos_render.PAPER)
        ImageDraw.Draw(note).text((4, 4), f"ESC/POS error: {error}"[:60],
                                  fill=escpos_render.INK)
        return note


def stack_papers(papers: list):
    """Receipts one under the other, TEAR_ROWS of background between them."""
    from PIL import Image

    height = sum(p.height for p in papers) + TEAR_ROWS * max(len(papers) - 1, 0)
    strip = Image.new("L", (escpos_render.PAPER_DOTS, max(height, 1)), TEAR)
    y = 0
    for paper in papers:
        strip.paste(paper, (0, y))
        y += paper.height + TEAR_ROWS
    return strip


def png_base64(image) -> str:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode("ascii")


def screenshot(root: tk.Tk, path: Path) -> None:
    from PIL import ImageGrab

    root.update()
    x, y = root.winfo_rootx(), root.winfo_rooty()
    w, h = root.winfo_width(), root.winfo_height()
    path.parent.mkdir(parents=True, exist_ok=True)
    ImageGrab.grab(bbox=(x, y, x + w, y + h)).save(path)


def main(args) -> int:
    from vafa import config as vconfig

    from simulator import options, script
    from simulator.terminal import SimTerminal

    try:
        root = tk.Tk()
    except tk.TclError as e:
        print(f"error: cannot open the window ({e}); use --headless, or run under "
              "xvfb-run", file=sys.stderr)
        return options.EXIT_NO_RESPONSE
    log = (lambda s: print(f"[firmware] {s}", file=sys.stderr)) if args.verbose else None
    try:
        term = SimTerminal(options.config_path(args), log=log)
    except vconfig.ConfigError as e:
        root.destroy()
        print(f"error: {e} (config for device {args.device!r}; run `make run` first or pass "
              "--config)", file=sys.stderr)
        return options.EXIT_NO_RESPONSE
    win = TerminalWindow(root, term, f"Vafa terminal {term.cfg['device_id']}")
    code = options.EXIT_OK
    try:
        if args.screenshot is not None:
            # Automation: steps in the window, then a picture of it.
            out = []
            code = script.run(term, args.step_list or [], timeout_s=args.timeout_s,
                              out=out.append, err=lambda s: print(f"error: {s}",
                                                                  file=sys.stderr))
            win.refresh()
            screenshot(root, args.screenshot)
            print("\n".join(out))
            print(f"[screenshot] {args.screenshot}")
        else:
            root.after(LOOP_MS, win.tick)
            root.mainloop()
    finally:
        term.close()
        try:
            root.destroy()
        except tk.TclError:
            pass  # already closed by the window manager
    return code
