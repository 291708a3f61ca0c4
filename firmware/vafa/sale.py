# Item lines of a sale (issue 18 item 2): product codes scanned with the card scanner or
# keyed, a quantity per line, the price keyed by the cashier. Imported by vafa.app only
# when a sale gets its first item (no bytecode in RAM for amount-only sales).
#
# What is a product code: during a sale (a card on screen), a scanned code that is not 16
# digits and is 1..MAX_SKU characters of A-Z a-z 0-9 - . _ / (EAN-13, EAN-8, UPC-A, Code
# 128 SKUs). Sixteen digits are always a card: a valid card starts that card's sale, an
# invalid one is refused "Invalid card", never taken for a product.
#
# Bounds: MAX_LINES lines of at most MAX_QTY each, a total of at most MAX_TOTAL rials
# (12 digits, what the amount field takes), so the largest offline record stays under
# vafa.journal.MAX_PAYLOAD (tests/firmware/mpy/test_sale.py).
from micropython import const

from vafa import protocol
from vafa.card import mask_card
from vafa.labels import TEXT
from vafa.states import AMOUNT, ITEMS, MAX_AMOUNT_DIGITS

MAX_LINES = const(8)
MAX_QTY = const(999)
MAX_SKU = const(32)
MAX_TOTAL = 999999999999

# What Sale.add answers.
ADDED = const(0)  # a new line: its price is to be keyed
MORE = const(1)  # the same code again: its line's quantity went up by one
FULL = const(2)  # MAX_LINES lines, or the line at MAX_QTY, or over MAX_TOTAL
WAIT = const(3)  # the last line's price is not keyed yet


def is_sku(code):
    """True for a product code: not 16 digits, 1..MAX_SKU characters of [A-Za-z0-9-._/]."""
    if not isinstance(code, str) or not 0 < len(code) <= MAX_SKU:
        return False
    digits = True
    for c in code:
        o = ord(c)
        if 48 <= o <= 57:
            continue
        digits = False
        if not (65 <= o <= 90 or 97 <= o <= 122 or c in "-._/"):
            return False
    return not (digits and len(code) == 16)


class Sale:
    """The lines of one sale: [sku, qty, price]; the last may wait for its price."""

    def __init__(self):
        self.lines = []
        self.pending = False  # the last line's price is still to be keyed

    def total(self):
        t = 0
        for sku, qty, price in self.lines:
            t += qty * price
        return t

    def count(self):
        n = 0
        for line in self.lines:
            n += line[1]
        return n

    def add(self, sku):
        if self.pending:
            return WAIT
        for line in self.lines:
            if line[0] == sku:
                if line[1] >= MAX_QTY or self.total() + line[2] > MAX_TOTAL:
                    return FULL
                line[1] += 1
                # The line just changed is shown as the last one.
                self.lines.remove(line)
                self.lines.append(line)
                return MORE
        if len(self.lines) >= MAX_LINES:
            return FULL
        self.lines.append([sku, 1, 0])
        self.pending = True
        return ADDED

    def set_price(self, price):
        """The pending line's unit price (rials > 0); False when it does not fit."""
        if not self.pending or price <= 0:
            return False
        line = self.lines[-1]
        if self.total() + line[1] * price > MAX_TOTAL:
            return False
        line[2] = price
        self.pending = False
        return True

    def set_qty(self, qty):
        """The last line's quantity (1..MAX_QTY); False when it does not fit."""
        if self.pending or not self.lines or not 0 < qty <= MAX_QTY:
            return False
        line = self.lines[-1]
        if self.total() + (qty - line[1]) * line[2] > MAX_TOTAL:
            return False
        line[1] = qty
        return True

    def drop_last(self):
        """Remove the last line (B with nothing typed). False when there is none."""
        if not self.lines:
            return False
        self.lines.pop()
        self.pending = False
        return True

    def items(self):
        """The request's ``items``: [(sku, qty, price)] of the priced lines."""
        return [(s, q, p) for s, q, p in self.lines if p > 0]


def line_text(line, fmt):
    """One line for the screen and the receipt: ``A12 x2 100,000``."""
    return "%s x%d %s" % (line[0], line[1], fmt(line[1] * line[2]))


# ---- the item sale's screen and keys (vafa.app.App delegates to these, passing itself) --
def show(app):
    """The last line, what is being typed, the total, what U spends, then the card: the
    first four rows (the screen's first page) are what the cashier is working on."""
    sale, fmt = app.sale, protocol.fmt_amount
    last = sale.lines[-1] if sale.lines else None
    if sale.pending:
        rows = [last[0] + " x%d" % last[1],
                TEXT["price"] + " " + (fmt(app._amount()) if app.digits else "")]
    else:
        rows = [line_text(last, fmt)] if last is not None else []
        if app.digits:
            rows.append("> " + app.digits)
    app._show(rows + [TEXT["total"] + fmt(sale.total()) + " (%d)" % sale.count(),
                      app._pay_line(), TEXT["card"] + mask_card(app.card)])


def on_code(app, code):
    """A product code scanned (or keyed) during a sale: a line more, or its quantity up
    by one. False when ``code`` is not a product code."""
    if not is_sku(code):
        return False
    if app.state == AMOUNT:
        # An amount is typed: a sale is an amount or items, never both (B clears it).
        app.hw.indicator.error()
        return True
    if app.sale is None:
        app.sale = Sale()
    got = app.sale.add(code)
    if got == FULL or got == WAIT:
        app.hw.indicator.error()
        show(app)
        app.lines[0] = TEXT["item_full"] if got == FULL else TEXT["price_first"]
        app.hw.display.show(app.lines)
        return True
    app.digits = ""
    app.state = ITEMS
    show(app)
    return True


def on_key(app, k):
    """A key in an item sale. Digits are typed; E sets the new line's price, or sends the
    sale; * (R) makes the typed number the last line's quantity; D (L) makes it a product
    code (with nothing typed: the balance); B rubs out a digit, with nothing typed the
    last line; U the next pay mode."""
    sale = app.sale
    n = app._amount()
    if "0" <= k <= "9" and len(k) == 1:
        if not app.digits and k == "0":
            return
        if len(app.digits) < MAX_AMOUNT_DIGITS:
            app.digits += k
    elif k == "B":
        if app.digits:
            app.digits = app.digits[:-1]
        else:
            sale.drop_last()
    elif k == "E" and sale.pending:
        if not sale.set_price(n):
            app.hw.indicator.error()
            return
        app.digits = ""
    elif k == "E":
        if app.digits or not sale.lines:
            app.hw.indicator.error()
            return
        if "purchase" not in app.ops:
            app._not_here("purchase")
            return
        app._send("purchase", sale.total(), app.use_credit, items=sale.items(),
                  use_points=app.use_points)
        return
    elif k == "R" and app.digits:
        if not sale.set_qty(n):
            app.hw.indicator.error()
            return
        app.digits = ""
    elif k == "L" and app.digits:
        if sale.pending:
            app.hw.indicator.error()  # the digits are the new line's price
            return
        code, app.digits = app.digits, ""
        if not on_code(app, code):
            app.hw.indicator.error()
        return
    elif k == "L":
        if "lookup" not in app.ops:
            app._not_here("lookup")
            return
        app._send("lookup", None, 0)
        return
    elif k == "U":
        app._next_pay_mode()
    show(app)
