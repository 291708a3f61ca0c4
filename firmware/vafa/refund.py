# The refund flow of vafa.app ("Refund last", docs/terminal.md): imported by vafa.app only
# when the cashier presses R, dropped again at the idle screen (no bytecode in RAM while
# selling).
from micropython import const

from vafa import protocol
from vafa.card import mask_card
from vafa.labels import TEXT
from vafa.states import OUT_ERROR, OUT_NOTHING_TO_REFUND, OUT_TOO_LATE, REFUND

_PIN_MIN = const(4)
_PIN_MAX = const(8)


def sale_age_s(app, sale):
    """Seconds since a remembered sale, or None when this terminal cannot know
    (another boot and no synced time on both sides)."""
    clock = app.clock
    if sale.get("boot") == clock.boot_id:
        return (clock.uptime_ms() - sale.get("up", 0)) // 1000
    if sale.get("clk") and clock.synced:
        return clock.now() - sale.get("ts", 0)
    return None


def ask(app, card):
    """Refund last: the last sale of ``card`` (None: ask for the card first)."""
    app._refund_target = None
    app._pin = ""
    app.result_until = None
    if card is None:
        app.state = REFUND
        app.card = None
        app._show([TEXT["refund_scan"], TEXT["scan_card"], "C: cancel"])
        return
    app.card = card
    last = app.store.last_sale_of(card)
    if last is None:
        app._message([TEXT["no_refund"], "Card " + mask_card(card)],
                      OUT_NOTHING_TO_REFUND)
        return
    age = sale_age_s(app, last)
    if age is not None and age > app.refund_window_s:
        app._say("refund of %s refused here: %d s old" % (last["id"], age))
        app._message([TEXT["too_late"], TEXT["refund_window"], last["id"]],
                      OUT_TOO_LATE)
        return
    app._refund_target = last
    app.state = REFUND
    show(app)


def show(app):
    last = app._refund_target
    app._show([TEXT["refund_q"], "Card " + mask_card(last["card"]),
                protocol.fmt_amount(last.get("amount", 0)), last["id"],
                TEXT["pin"] + "*" * len(app._pin), TEXT["refund_keys"]])


def on_key(app, k):
    if app._refund_target is None:
        return  # waiting for the card
    if "0" <= k <= "9" and len(k) == 1:
        if len(app._pin) < _PIN_MAX:
            app._pin += k
        show(app)
    elif k == "B":
        app._pin = app._pin[:-1]
        show(app)
    elif k == "E":
        if len(app._pin) < _PIN_MIN:
            app.hw.indicator.error()
            return
        last, pin = app._refund_target, app._pin
        app._pin = ""
        if app.pin_sha is not None and not pin_ok(app, pin):
            # The PIN the panel set (remote config); the backend checks it again.
            app._say("refund refused here: wrong PIN")
            app._refund_target = None
            app._message([TEXT["wrong_pin"], TEXT["try_again"]], OUT_ERROR)
            return
        app.card = last["card"]
        app._send("refund", None, 0, ref=last["id"], pin=pin)


def pin_ok(app, pin):
    import binascii

    mac = binascii.hexlify(protocol.hmac_sha256(app.key, b"pin:" + pin.encode()))
    return mac.decode() == app.pin_sha
