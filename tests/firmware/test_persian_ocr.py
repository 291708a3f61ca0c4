"""A Persian terminal read as a person would: the firmware App on the simulator's hardware
(the SSD1306 buffer vafa.text draws, the ESC/POS bytes vafa.escpos sends), rendered to
images, read back by Tesseract's Persian model.

Images are kept in tests/artifacts/ (gitignored); docs/images/terminal-screen-fa.png and
terminal-receipt-fa.png (docs/terminal.md) are written when missing or when
VAFA_UPDATE_SCREENSHOT=1.
"""

import json
import os
import re
from pathlib import Path

import pytest
import zxingcpp
from mpytest import KEY, Clock, FakeNet, config
from PIL import Image, ImageFilter
from vafa import app as A
from vafa import labels, protocol, text
from vafa.journal import Journal
from vafa.store import Store

from simulator import hardware
from simulator.escpos_render import render
from tests.support import ocr

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
DOCS_IMAGES = ROOT / "docs" / "images"
CARD = "9900010000000019"
PORTAL = "https://club.example/portal"
NAME = "سارا احمدی"
CLUB = "باشگاه وفا"
ROW = text.ROW_PX
TEN_TO_13 = 10**13


@pytest.fixture(autouse=True)
def _english_after():
    yield
    labels.TEXT.update(labels.TEXT_EN)
    text.set_lang("en")


def terminal(tmp_path, lang="fa", net=None):
    cfg = config("t01")
    cfg.update(lang=lang, club_name=CLUB if lang == "fa" else "Vafa Club", portal_url=PORTAL)
    hw = hardware.build()
    app = A.App(cfg, hw, net or FakeNet(), Store(str(tmp_path)), ticks_fn=Clock(),
                time_fn=lambda: 1763800000, journal=Journal(str(tmp_path)))
    return app, hw


def purchase(app, amount, bal, tx):
    app.show_idle()
    app.on_scan(CARD)
    for k in str(amount) + "E":
        app.on_key(k)
    frame = protocol.encode_frame(json.dumps({
        "v": 1, "id": "t01-000001", "ok": True, "code": "OK", "msg": "",
        "member": {"name": NAME, "tier": "طلایی"}, "bal": bal, "tx": tx}).encode(), KEY)
    app.on_message("vafa/v1/dev/t01/res", frame)
    assert app.outcome == A.OUT_OK


def pages(display):
    """Every page of the screen as the panel shows it (turned as tick() turns them)."""
    shots = []
    for page in range(display.pages.count()):
        display.pages.page = page
        display.pages.draw(display.buffer)
        shots.append(display.image())
    display.pages.page = 0
    display.pages.draw(display.buffer)
    return shots


def rows_of(shots):
    return [shot.crop((0, y, 128, y + ROW)) for shot in shots for y in range(0, 64, ROW)
            if shot.crop((0, y, 128, y + ROW)).getbbox()]


def read_row(row, lang="fas"):
    """One 16-pixel row of the OLED, as a person sees it from a little further away:
    pixels enlarged and a little blurred (the glow of an OLED), then Tesseract."""
    big = row.convert("L").resize((row.width * 4, row.height * 4), Image.Resampling.NEAREST)
    big = big.filter(ImageFilter.GaussianBlur(1))
    return ocr.read_text(big, lang=lang, psm=13, scale=1.0)


def digits(read):
    return "".join(str(int(c)) for c in read if c.isdigit())


def save(image, name, docs=None):
    ARTIFACTS.mkdir(exist_ok=True)
    image.save(ARTIFACTS / f"{name}.png")
    if docs and (os.environ.get("VAFA_UPDATE_SCREENSHOT") == "1"
                 or not (DOCS_IMAGES / docs).exists()):
        DOCS_IMAGES.mkdir(exist_ok=True)
        image.save(DOCS_IMAGES / docs)


def stack_pages(shots, scale=4):
    out = Image.new("L", (128 * scale, (64 * scale + 8) * len(shots) - 8), 128)
    for i, shot in enumerate(shots):
        out.paste(shot.convert("L").resize((128 * scale, 64 * scale),
                                           Image.Resampling.NEAREST), (0, i * (64 * scale + 8)))
    return out


def test_persian_result_screen_reads_back(tmp_path):
    app, hw = terminal(tmp_path)
    purchase(app, 250000, {"credit": 61875, "points": 1357375},
             {"amount": 250000, "discount": 12500, "credit_used": 0, "payable": 237500})
    shots = pages(hw.display)
    save(stack_pages(shots), "terminal-screen-fa", docs="terminal-screen-fa.png")
    rows = rows_of(shots)
    reads = [read_row(r) for r in rows]
    for i, r in enumerate(rows):
        save(r.resize((512, 64), Image.Resampling.NEAREST), f"terminal-screen-fa-row{i}")
    assert ocr.similarity(reads[0], NAME) >= 0.8, reads
    assert ocr.similarity(reads[1], "سطح: طلایی") >= 0.6, reads
    assert ocr.similarity(re.sub(r"[\d,٬]", "", reads[2]), "اعتبار:") >= 0.8, reads
    assert ocr.similarity(re.sub(r"[\d,٬]", "", reads[3]), "امتیاز:") >= 0.6, reads
    # Amounts in Persian digits: the points (no zeros: a 1-bit Persian zero is a dot that
    # Tesseract does not take for a digit), all seven digits in order.
    assert "1357375" in digits(reads[3]), reads
    # What the App showed is what the rows hold: Persian digits, nothing cut.
    assert hw.display.lines[3] == "امتیاز: 1,357,375"
    keys = text.shape(hw.display.pages.rows[3])
    assert [chr(k >> 2) for k in keys][:9] == list("۱٬۳۵۷٬۳۷۵")


def test_the_longest_balance_shows_whole(tmp_path):
    # English terminal: Latin digits, which Tesseract reads with zeros.
    app, hw = terminal(tmp_path, lang="en")
    purchase(app, 9, {"credit": TEN_TO_13, "points": 25},
             {"amount": 9, "discount": 0, "credit_used": 0, "payable": 9})
    shots = pages(hw.display)
    save(stack_pages(shots), "terminal-screen-en-10e13")
    assert "Credit: 10,000,000,000,000" in hw.display.lines
    rows = rows_of(shots)
    reads = [read_row(r, lang="eng") for r in rows]
    assert "10,000,000,000,000" in [r.replace(" ", "").replace(".", ",") for r in reads], reads
    assert text.font("d16.vft").width(text.shape("10,000,000,000,000")) == 110  # of 128
    # In Persian too: the amount row holds all 14 digits, inside the 128 columns.
    app, hw = terminal(tmp_path / "fa", lang="fa")
    purchase(app, 9, {"credit": TEN_TO_13, "points": 25},
             {"amount": 9, "discount": 0, "credit_used": 0, "payable": 9})
    row = next(r for r in hw.display.pages.rows if "10,000" in r)
    keys = text.shape(row)
    assert [chr(k >> 2) for k in keys] == list("۱۰٬۰۰۰٬۰۰۰٬۰۰۰٬۰۰۰")
    assert text.font("d16.vft").width(keys) <= 128


def test_a_long_name_wraps_and_is_never_cut(tmp_path):
    long_name = "محمدحسین عبدالرحیم‌زاده اصفهانی نژاد"
    app, hw = terminal(tmp_path)
    app._to_result([long_name], 5000)
    rows = hw.display.pages.rows
    assert len(rows) >= 2
    assert " ".join(rows).replace("\u200f", "") == long_name
    font = text.font("d16.vft")
    assert all(font.width(text.shape(r)) <= 128 for r in rows)


def test_persian_receipt_reads_back_with_the_portal_qr(tmp_path):
    app, hw = terminal(tmp_path)
    purchase(app, 250000, {"credit": 61875, "points": 1357375},
             {"amount": 250000, "discount": 12500, "credit_used": 0, "payable": 237500})
    raw = hw.printer.receipts[-1]
    paper = render(raw)
    assert len(paper.cuts) == 1
    save(paper.image, "terminal-receipt-fa", docs="terminal-receipt-fa.png")
    lines = ocr.read_lines(paper.image, lang="fas")
    joined = [ocr.normalise(x) for x in lines]

    def line_with(label):
        found = [x for x, n in zip(lines, joined, strict=True)
                 if ocr.similarity(re.sub(r"[\d,٬:]", "", x), label) >= 0.75]
        assert found, (label, lines)
        return found[0]

    assert ocr.similarity(lines[0], CLUB) >= 0.8, lines
    line_with(NAME)
    assert digits(line_with("مبلغ")) == "250000"
    assert digits(line_with("تخفیف")) == "12500"
    assert digits(line_with("پرداخت")) == "237500"
    assert digits(line_with("امتیاز")) == "1357375"
    line_with("حساب شما")
    found = zxingcpp.read_barcodes(paper.image)
    assert [f.text for f in found] == [PORTAL]
    assert b"?" * 4 not in raw


def test_offline_sale_screen_and_receipt_in_persian(tmp_path):
    app, hw = terminal(tmp_path, net=FakeNet(connected=False))
    app.show_idle()
    app.on_scan(CARD)
    for k in "90000E":
        app.on_key(k)
    assert app.outcome == A.OUT_OFFLINE
    shots = pages(hw.display)
    save(stack_pages(shots), "terminal-screen-fa-offline")
    reads = [read_row(r) for r in rows_of(shots)]
    assert ocr.similarity(reads[0], "ذخیره شد (آفلاین)") >= 0.6, reads
    paper = render(hw.printer.receipts[-1])
    save(paper.image, "terminal-receipt-fa-offline")
    lines = ocr.read_lines(paper.image, lang="fas")
    assert any(ocr.similarity(x, "آفلاین - هنوز تایید نشده") >= 0.7 for x in lines), lines
    assert any(ocr.similarity(x, "امتیاز بعدا افزوده می‌شود") >= 0.7 for x in lines), lines
    assert [f.text for f in zxingcpp.read_barcodes(paper.image)] == [PORTAL]


def test_english_receipt_stays_text_and_prints_the_qr(tmp_path):
    app, hw = terminal(tmp_path, lang="en")
    purchase(app, 250000, {"credit": 61875, "points": 25},
             {"amount": 250000, "discount": 12500, "credit_used": 0, "payable": 237500})
    paper = render(hw.printer.receipts[-1])
    save(paper.image, "terminal-receipt-en")
    # Every line but the member's Persian name is ESC/POS text; the name is a raster band.
    assert "Amount: 250,000" in paper.text_lines and "Pay: 237,500" in paper.text_lines
    assert NAME not in paper.text_lines
    assert [f.text for f in zxingcpp.read_barcodes(paper.image)] == [PORTAL]


def test_persian_item_sale_paid_with_points_reads_back(tmp_path):
    """Issue 18 items 1 and 2 on a Persian terminal: the item screen, the result with the
    points used, the item lines on the receipt."""
    app, hw = terminal(tmp_path)
    app.show_idle()
    app.on_scan(CARD)
    app.on_scan("A12")
    for k in "6789E2R":
        app.on_key(k)
    app.on_scan("B7")
    for k in "45678EUU":
        app.on_key(k)
    assert hw.display.lines == ["B7 x1 45,678", "جمع: 59,256 (3)", "با امتیاز: بله",
                                "کارت ****0019"]
    shots = pages(hw.display)
    save(stack_pages(shots), "terminal-screen-fa-items")
    reads = [read_row(r) for r in rows_of(shots)]
    total = next(r for r in reads if ocr.similarity(re.sub(r"[\d,٬()]", "", r), "جمع:") >= 0.6)
    # Zero-free amounts: a 1-bit Persian zero is a dot Tesseract does not read.
    assert "59256" in digits(total), reads
    assert any(ocr.similarity(r, "با امتیاز: بله") >= 0.6 for r in reads), reads
    app.on_key("E")
    body = json.loads(protocol.decode_frame(app.net.published[-1], KEY))
    assert (body["amount"], body["use_points"]) == (59256, -1)
    frame = protocol.encode_frame(json.dumps({
        "v": 1, "id": body["id"], "ok": True, "code": "OK", "msg": "",
        "member": {"name": NAME, "tier": "طلایی"}, "bal": {"credit": 5463, "points": 11},
        "tx": {"amount": 59256, "discount": 2962, "credit_used": 56200, "payable": 94,
               "points_used": 562, "points_credit": 56200}}).encode(), KEY)
    app.on_message("vafa/v1/dev/t01/res", frame)
    assert hw.display.lines[-2:] == ["امتیاز مصرفی: 562", "پرداخت: 94"]
    shots = pages(hw.display)
    save(stack_pages(shots), "terminal-screen-fa-points")
    reads = [read_row(r) for r in rows_of(shots)]
    used = next(r for r in reads
                if ocr.similarity(re.sub(r"[\d,٬]", "", r), "امتیاز مصرفی:") >= 0.6)
    assert "562" in digits(used), reads
    paper = render(hw.printer.receipts[-1])
    save(paper.image, "terminal-receipt-fa-items")
    lines = ocr.read_lines(paper.image, lang="fas")
    assert ocr.similarity(lines[0], CLUB) >= 0.8, lines
    # The item lines under the club's name. Tesseract does not read a line of Latin
    # letters and Persian digits reliably: their text is checked as given to the printer,
    # their place on the paper (two bands between the club's name and the card) by OCR.
    assert hw.printer.printed[-1][:4] == [CLUB, "A12 x2 13,578", "B7 x1 45,678",
                                         "کارت ****0019"]
    assert ocr.similarity(re.sub(r"[\d*]", "", lines[3]), "کارت") >= 0.6, lines


def test_persian_receipt_with_the_clubs_logo(tmp_path):
    """logo.bin on the flash (`provisioning image --logo`): the logo at the top of the
    paper, dot for dot, and the receipt under it reads back as without it."""
    from provisioning import logo as logos
    from tests.support.logos import club_logo

    source = club_logo(tmp_path / "logo.png")
    (tmp_path / "logo.bin").write_bytes(logos.logo_bin(source))
    pixels = logos.logo_image(source)
    app, hw = terminal(tmp_path)
    hw.printer.logo = str(tmp_path / "logo.bin")
    purchase(app, 250000, {"credit": 61875, "points": 1357375},
             {"amount": 250000, "discount": 12500, "credit_used": 0, "payable": 237500})
    paper = render(hw.printer.receipts[-1])
    save(paper.image, "terminal-receipt-fa-logo", docs="terminal-receipt-fa-logo.png")
    top = paper.image.crop((0, 0, pixels.width, pixels.height))
    assert top.tobytes() == pixels.convert("L").tobytes()
    lines = ocr.read_lines(paper.image.crop((0, pixels.height, 384, paper.image.height)),
                           lang="fas")
    assert ocr.similarity(lines[0], CLUB) >= 0.8, lines
    assert [f.text for f in zxingcpp.read_barcodes(paper.image)] == [PORTAL]
