# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
# Item sales and paying with points on the terminal (issue 18 items 1 and 2): product codes
# scanned or keyed, quantities, keyed prices, the items in the request, the journal and
# the receipt; the U key's pay modes.
import json

from mpytest import KEY, check, done, eq, make_app
from vafa import app as A
from vafa import protocol
from vafa import sale as S
from vafa.journal import MAX_PAYLOAD, decode_sale, encode_sale

CARD = "9900010000000019"
RES_TOPIC = "vafa/v1/dev/t1/res"


def keys(app, ks):
    for k in ks:
        app.on_key(k)


def sent(net):
    return json.loads(protocol.decode_frame(net.published[-1], KEY))


def answer(rid, tx, bal=None):
    d = {"v": 1, "id": rid, "ok": True, "code": "OK", "msg": "Thank you Sara",
         "member": {"name": "Sara A.", "tier": "silver"},
         "bal": bal or {"credit": 6875, "points": 25}, "tx": tx,
         "receipt": ["Vafa Demo Club", "Sara A.", "To pay: 137,500"], "ts": 1763800001}
    return protocol.encode_frame(json.dumps(d).encode(), KEY)


# -- what is a product code ------------------------------------------------------------
for code in ("A12", "6260100000019", "12345678", "SKU-9/b_1.2", "1", "x" * 32,
             "990001000000001"):
    check(S.is_sku(code), "product code %r" % code)
for code in ("", "x" * 33, "9900010000000019", "9900010000000018", "A 12", "A\"1",
             "\u0627\u0644\u0641", None, 12):
    check(not S.is_sku(code), "not a product code %r" % (code,))

# -- two items scanned, one twice, prices keyed; the request carries them ----------------
app, hw, net, clock = make_app()
app.show_idle()
app.on_scan("A12")
eq(app.outcome, A.OUT_INVALID_CARD, "a product code with no card on screen: refused")
check("Invalid card" in hw.display.lines, "... and says so")
app.on_key("C")
app.on_scan(CARD)
app.on_scan("A12")
eq(app.state, A.ITEMS, "product code during a sale: item lines")
eq(hw.display.lines, ["A12 x1", "Price: ", "Total: 0 (1)", "U: use credit",
                      "Card ****0019"], "the new line asks for its price")
keys(app, "50000")
eq(hw.display.lines[1], "Price: 50,000", "price typed")
app.on_scan("B7")
eq(hw.indicator.events[-1], "error", "another code before the price: refused")
eq(hw.display.lines[0], "Key the price", "... and says so")
app.on_key("E")
eq(hw.display.lines[:2], ["A12 x1 50,000", "Total: 50,000 (1)"], "priced line")
hw.scanner_time = None
app.on_scan("A12")
eq(hw.display.lines[:2], ["A12 x2 100,000", "Total: 100,000 (2)"], "repeat scan: qty 2")
# A product keyed: its number, then D (L).
keys(app, "7")
eq(hw.display.lines[1], "> 7", "typed number shown")
app.on_key("L")
eq(hw.display.lines[0], "7 x1", "keyed product code")
keys(app, "150000E")
eq(hw.display.lines[1], "Total: 250,000 (3)", "total of three items")
keys(app, "3R")
eq(hw.display.lines[:2], ["7 x3 450,000", "Total: 550,000 (5)"], "* sets the quantity")
keys(app, "1R")
eq(hw.display.lines[1], "Total: 250,000 (3)", "quantity back to 1")
keys(app, "0R")
eq(hw.indicator.events[-1], "error", "leading zero ignored, * with nothing typed: no-op")
app.on_key("U")
app.on_key("U")
eq(hw.display.lines[2], "Use points: yes", "U, U: pay with points")
app.on_key("E")
eq(app.state, A.SENDING, "E sends the sale")
body = sent(net)
eq(body["amount"], 250000, "amount is the sum of the lines")
eq(body["use_credit"], 0, "no credit")
eq(body["use_points"], -1, "as many points as the rules allow")
eq(body["items"], [{"sku": "A12", "qty": 2, "price": 50000},
                   {"sku": "7", "qty": 1, "price": 150000}], "items in the request")
raw = protocol.decode_frame(net.published[-1], KEY)
check(raw.endswith(b'"amount":250000,"use_credit":0,"use_points":-1,"items":[{"sku":"A12",'
                   b'"qty":2,"price":50000},{"sku":"7","qty":1,"price":150000}]}'),
      "body bytes in protocol order")
app.on_message(RES_TOPIC, answer(body["id"], {
    "amount": 250000, "discount": 12500, "credit_used": 100000, "payable": 137500,
    "credit_earned": 6875, "points_earned": 25, "offers": [], "points_used": 1000,
    "points_credit": 100000}))
eq(app.state, A.RESULT, "answered")
eq(hw.display.lines, ["Sara A.", "Tier: silver", "Credit: 6,875", "Points: 25",
                      "Points used: 1,000", "Pay: 137,500"], "result shows the points used")
eq(hw.printer.receipts[-1], ["Vafa Demo Club", "A12 x2 100,000", "7 x1 150,000", "Sara A.",
                             "To pay: 137,500"], "item lines on the receipt")

# -- B rubs out a digit, then the last line; an item sale is never an amount sale --------
app, hw, net, clock = make_app()
app.on_scan(CARD)
keys(app, "25")
app.on_scan("A12")
eq(app.state, A.AMOUNT, "a product scanned while an amount is typed: refused")
eq(hw.indicator.events[-1], "error", "... with a beep")
keys(app, "BB")
app.on_scan("A12")
keys(app, "1000E")
app.on_scan("B7")
keys(app, "5B")
eq(hw.display.lines[1], "Price: ", "B rubs out the typed price")
app.on_key("B")
eq(hw.display.lines[:2], ["A12 x1 1,000", "Total: 1,000 (1)"], "then the new line")
app.on_key("B")
eq(hw.display.lines[0], "Total: 0 (0)", "then the last line")
n = len(net.published)
app.on_key("E")
eq(len(net.published), n, "E with no lines sends nothing")
app.on_scan("A12")
app.on_key("E")
eq(hw.indicator.events[-1], "error", "no price: E refused")
keys(app, "999999999999E")
app.on_scan("A12")
eq(hw.display.lines[0], "No more items", "total bounded to 12 digits")

# -- a card scanned during an item sale starts that card's sale; an invalid one is a card
app, hw, net, clock = make_app()
app.on_scan(CARD)
app.on_scan("A12")
keys(app, "10E")
app.on_scan("9900010000000018")
eq(app.outcome, A.OUT_INVALID_CARD, "16 digits failing Luhn: an invalid card, not a product")
app.on_scan(CARD)
app.on_scan("A12")
keys(app, "10E")
app.on_scan("9900010000000027")
eq((app.state, app.sale, app.card), (A.CARD, None, "9900010000000027"),
   "another valid card: its own sale, the lines dropped")

# -- an item sale is typing (no connection attempt starts) and times out like any sale --
app, hw, net, clock = make_app()
app.on_scan(CARD)
app.on_scan("A12")
check(app.typing(), "an item sale is a sale being typed")
clock.t += app.idle_ms
app.tick(clock.t)
eq((app.state, app.sale), (A.IDLE, None), "idle timeout drops the lines")

# -- MAX_LINES lines at most -------------------------------------------------------------
app, hw, net, clock = make_app()
app.on_scan(CARD)
for i in range(S.MAX_LINES):
    app.on_scan("P%d" % i)
    keys(app, "10E")
app.on_scan("P99")
eq(hw.display.lines[0], "No more items", "line %d refused" % (S.MAX_LINES + 1))
eq(len(app.sale.lines), S.MAX_LINES, "lines bounded")

# -- offline: the items go into the journal and come back at replay ----------------------
app, hw, net, clock = make_app()
net.connected = False
app.on_scan(CARD)
app.on_scan("A12")
keys(app, "50000E")
app.on_scan("B7")
keys(app, "25000E2R")
app.on_key("E")
eq(app.outcome, A.OUT_OFFLINE, "item sale journaled offline")
eq(hw.printer.receipts[-1][:3], ["Vafa Demo Club", "A12 x1 50,000", "B7 x2 50,000"],
   "offline receipt lists the items")
seq, payload = app.journal.peek()
jbody = json.loads(decode_sale(payload)[1])
eq((jbody["amount"], jbody["items"]), (100000, [{"sku": "A12", "qty": 1, "price": 50000},
                                                {"sku": "B7", "qty": 2, "price": 25000}]),
   "journaled with its items")
net.connected = True
clock.t += 20
app.tick(clock.t)
rb = json.loads(protocol.decode_frame(net.published[-1], KEY))
eq((rb["offline"], rb["items"], rb["amount"]), (True, jbody["items"], 100000),
   "replayed with its items")

# -- paying with points needs the backend ------------------------------------------------
app, hw, net, clock = make_app()
net.connected = False
app.on_scan(CARD)
keys(app, "5000UU")
eq(hw.display.lines[3], "Use points: yes", "amount sale, points")
app.on_key("E")
eq(app.outcome, A.OUT_NEEDS_ONLINE, "points offline: needs connection")
eq(len(app.journal), 0, "not journaled")
net.connected = True
app.on_key("C")
app.on_scan(CARD)
keys(app, "5000UUU")
eq(hw.display.lines[3], "Credit+points: yes", "third U: credit and points")
app.on_key("U")
eq(hw.display.lines[3], "U: use credit", "fourth U: neither")
keys(app, "UUUE")
body = sent(net)
eq((body["use_credit"], body["use_points"]), (-1, -1), "credit and points sent")
check("items" not in body, "an amount sale has no items")

# -- the largest item sale's journal record fits MAX_PAYLOAD -----------------------------
items = [("S%031d" % i, S.MAX_QTY, 10**11) for i in range(S.MAX_LINES)]
big = protocol.make_request("t" * 32, 2**31 - 1, 2**32 - 1, "purchase", CARD,
                            S.MAX_TOTAL, 0, None, True, clk=False, items=items)
rec = encode_sale(False, 4294967295, 2**31 - 1, 2**31 - 1, 2, big)
check(len(rec) <= MAX_PAYLOAD, "largest item record %d <= %d bytes" % (len(rec), MAX_PAYLOAD))
done("test_sale")
