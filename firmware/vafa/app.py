# The terminal application: a hardware-independent, event-driven state machine.
#
#   IDLE --scan valid card--> CARD --digit--> AMOUNT --E--> SENDING --response--> RESULT
#   CARD/AMOUNT --L--> SENDING (lookup);  any state --C--> IDLE;  RESULT --timeout--> IDLE
#
# Events: on_scan(code), on_key(k), on_message(topic, payload), tick(now_ms). run() is
# the one asyncio loop that polls the hardware and the network every LOOP_MS.
from micropython import const

from vafa import protocol
from vafa.card import is_valid_card, mask_card
from vafa.clock import ticks_add, ticks_diff, ticks_ms

IDLE = const(0)
CARD = const(1)
AMOUNT = const(2)
SENDING = const(3)
RESULT = const(4)
STATE_NAMES = ("IDLE", "CARD", "AMOUNT", "SENDING", "RESULT")

RESPONSE_TIMEOUT_MS = const(5000)
MAX_RESENDS = const(3)
RESULT_MS = const(15000)
MESSAGE_MS = const(3000)
LOOP_MS = const(20)
MAX_AMOUNT_DIGITS = const(12)

# Outcomes of the last transaction attempt (App.outcome).
OUT_OK = "ok"
OUT_ERROR = "error"  # ok:false from the backend
OUT_NO_CONNECTION = "no_connection"
OUT_INVALID_CARD = "invalid_card"

TEXT = {
    "ready": "Scan card",
    "amount": "Amount:",
    "credit_on": "Use credit: yes",
    "credit_off": "U: use credit",
    "lookup_hint": "L: balance",
    "sending": "Please wait...",
    "no_conn": "No connection",
    "invalid": "Invalid card",
    "busy": "Busy",
    "enter_amount": "Enter amount",
    "tier": "Tier: ",
    "credit": "Credit: ",
    "points": "Points: ",
    "pay": "Pay: ",
    "try_again": "Try again",
}


def _unix_time():
    import time

    t = int(time.time())
    # Ports with the 2000 epoch: convert to unix seconds.
    if t < 946684800:
        t += 946684800
    return t


class App:
    """Terminal app. ``cfg`` is a validated config dict (vafa.config.validate),
    ``hw`` a vafa.hw.Hardware, ``net`` a vafa.net.Session (or anything with
    ``connected``, ``publish_request(frame)``, ``poll(now_ms)``, ``set_handler(fn)``),
    ``store`` a vafa.store.Store. ``ticks_fn``/``time_fn`` override the clocks (tests)."""

    def __init__(self, cfg, hw, net, store, ticks_fn=None, time_fn=None, log=None):
        from vafa.config import key_bytes

        self.cfg = cfg
        self.device_id = cfg["device_id"]
        self.key = key_bytes(cfg)
        self.club_name = cfg.get("club_name", "")
        self.hw = hw
        self.net = net
        self.store = store
        self._ticks = ticks_fn or ticks_ms
        self._time = time_fn or _unix_time
        self._log = log
        self.state = IDLE
        self.card = None
        self.digits = ""
        self.use_credit = 0
        self.inflight = None  # {"id", "frame", "op", "sends", "deadline", "sent"}
        self.result_until = None
        self.outcome = None  # OUT_* of the last finished attempt
        self.last_response = None
        self.lines = []
        self.security_events = 0
        self.on_reboot = None
        self._running = False
        net.set_handler(self.on_message)

    # ---- helpers -------------------------------------------------------------------
    def _say(self, s):
        if self._log is not None:
            self._log(s)

    def _show(self, lines):
        self.lines = list(lines)
        self.hw.display.show(self.lines)

    def _amount(self):
        return int(self.digits) if self.digits else 0

    def _show_entry(self):
        amt = protocol.fmt_amount(self._amount()) if self.digits else ""
        self._show([
            "Card " + mask_card(self.card),
            TEXT["amount"],
            amt,
            TEXT["credit_on"] if self.use_credit else TEXT["credit_off"],
            TEXT["lookup_hint"],
        ])

    def show_idle(self):
        self.state = IDLE
        self.card = None
        self.digits = ""
        self.use_credit = 0
        self.inflight = None
        self.result_until = None
        self._show([self.club_name, "", TEXT["ready"]])

    def _to_result(self, lines, ms):
        self.state = RESULT
        self._show(lines)
        self.result_until = ticks_add(self._ticks(), ms)

    # ---- events --------------------------------------------------------------------
    def on_scan(self, code):
        if self.state == SENDING:
            self.hw.indicator.error()
            return
        code = code.strip() if isinstance(code, str) else ""
        if not is_valid_card(code):
            self._say("refused scan (not a valid card)")
            self.outcome = OUT_INVALID_CARD
            self.hw.indicator.error()
            self._to_result([TEXT["invalid"], TEXT["try_again"]], MESSAGE_MS)
            self.card = None
            return
        self.card = code
        self.digits = ""
        self.use_credit = 0
        self.state = CARD
        self.result_until = None
        self._show_entry()

    def on_key(self, k):
        if k == "C":
            self.show_idle()
            return
        st = self.state
        if st == RESULT:
            if k == "E":
                self.show_idle()
            return
        if st not in (CARD, AMOUNT):
            return
        if "0" <= k <= "9" and len(k) == 1:
            if not self.digits and k == "0":
                return
            if len(self.digits) < MAX_AMOUNT_DIGITS:
                self.digits += k
            self.state = AMOUNT if self.digits else CARD
            self._show_entry()
        elif k == "B":
            self.digits = self.digits[:-1]
            self.state = AMOUNT if self.digits else CARD
            self._show_entry()
        elif k == "U":
            self.use_credit = 0 if self.use_credit else -1
            self._show_entry()
        elif k == "E":
            if self._amount() <= 0:
                self.hw.indicator.error()
                self._show([TEXT["enter_amount"]] + self.lines[1:])
                return
            self._send("purchase", self._amount(), self.use_credit)
        elif k == "L":
            self._send("lookup", None, 0)

    def _send(self, op, amount, use_credit):
        seq = self.store.next_seq()
        body = protocol.make_request(
            self.device_id, seq, self._time(), op, self.card, amount, use_credit
        )
        frame = protocol.encode_frame(body, self.key)
        now = self._ticks()
        self.inflight = {
            "id": protocol.request_id(self.device_id, seq),
            "frame": frame,
            "op": op,
            "sends": 1,
            "deadline": ticks_add(now, RESPONSE_TIMEOUT_MS),
            "sent": False,
        }
        self.state = SENDING
        self.outcome = None
        self._show([TEXT["sending"]])
        self.inflight["sent"] = bool(self.net.publish_request(frame))

    def tick(self, now_ms=None):
        if now_ms is None:
            now_ms = self._ticks()
        self.hw.indicator.tick(now_ms)
        st = self.state
        if st == SENDING and self.inflight is not None:
            inf = self.inflight
            if not inf["sent"] and self.net.connected:
                # The first send found no connection; it is up now.
                inf["sent"] = bool(self.net.publish_request(inf["frame"]))
            if ticks_diff(now_ms, inf["deadline"]) >= 0:
                if inf["sends"] <= MAX_RESENDS:
                    inf["sends"] += 1
                    inf["deadline"] = ticks_add(now_ms, RESPONSE_TIMEOUT_MS)
                    self._say("no response to %s, resend %d" % (inf["id"], inf["sends"] - 1))
                    inf["sent"] = bool(self.net.publish_request(inf["frame"]))
                else:
                    self.inflight = None
                    self.outcome = OUT_NO_CONNECTION
                    self.hw.indicator.error()
                    self._to_result([TEXT["no_conn"], TEXT["try_again"]], MESSAGE_MS)
        elif st == RESULT and self.result_until is not None:
            if ticks_diff(now_ms, self.result_until) >= 0:
                self.show_idle()

    def on_message(self, topic, payload):
        if isinstance(topic, (bytes, bytearray)):
            topic = bytes(topic).decode()
        body = protocol.decode_frame(payload, self.key)
        if body is None:
            self.security_events += 1
            self._say("dropped frame with a bad signature on " + topic)
            return
        msg = protocol.parse_body(body)
        if msg is None:
            return
        if topic.endswith("/cmd"):
            self._on_cmd(msg)
        elif topic.endswith("/res"):
            self._on_response(msg)

    def _on_cmd(self, msg):
        op = msg.get("op")
        if op == "display" and self.state in (IDLE, RESULT):
            lines = msg.get("lines") or [str(msg.get("msg", ""))]
            self._to_result([str(x) for x in lines][:8], RESULT_MS)
        elif op == "reboot" and self.on_reboot is not None:
            self.on_reboot()

    def _on_response(self, r):
        inf = self.inflight
        if inf is None or self.state != SENDING or r.get("id") != inf["id"]:
            return  # late duplicate or someone else's id
        self.inflight = None
        self.last_response = r
        if not r.get("ok"):
            self.outcome = OUT_ERROR
            self.hw.indicator.error()
            self._to_result(
                [str(r.get("msg") or r.get("code") or "Error"), str(r.get("code", ""))],
                RESULT_MS,
            )
            return
        self.outcome = OUT_OK
        member = r.get("member") or {}
        bal = r.get("bal") or {}
        tx = r.get("tx")
        lines = [
            str(member.get("name", "")),
            TEXT["tier"] + str(member.get("tier", "")),
            TEXT["credit"] + protocol.fmt_amount(bal.get("credit", 0)),
            TEXT["points"] + protocol.fmt_amount(bal.get("points", 0)),
        ]
        if isinstance(tx, dict):
            lines.append(TEXT["pay"] + protocol.fmt_amount(tx.get("payable", 0)))
        self.hw.indicator.ok()
        self._to_result(lines, RESULT_MS)
        receipt = r.get("receipt")
        if isinstance(receipt, list) and receipt:
            self.hw.printer.print_lines([str(x) for x in receipt])
        elif isinstance(tx, dict):
            self.hw.printer.print_lines(self._fallback_receipt(r, lines))

    def _fallback_receipt(self, r, shown):
        tx = r["tx"]
        out = [self.club_name, "Card " + mask_card(self.card), r.get("id", "")]
        out.append("Amount: " + protocol.fmt_amount(tx.get("amount", 0)))
        out.append("Discount: " + protocol.fmt_amount(tx.get("discount", 0)))
        out.append("Credit used: " + protocol.fmt_amount(tx.get("credit_used", 0)))
        out.extend(shown)
        return out

    # ---- main loop -----------------------------------------------------------------
    def step(self, now_ms=None):
        """One loop iteration: at most one scan, one key, the network, the timers."""
        if now_ms is None:
            now_ms = self._ticks()
        code = self.hw.scanner.read()
        if code:
            self.on_scan(code)
        k = self.hw.keypad.get_key()
        if k:
            self.on_key(k)
        self.net.poll(now_ms)
        self.tick(now_ms)

    def stop(self):
        self._running = False

    async def run(self, feed=None):
        """The terminal's only loop. ``feed`` (e.g. the watchdog) is called every pass."""
        import asyncio

        self._running = True
        self.show_idle()
        while self._running:
            self.step()
            if feed is not None:
                feed()
            await asyncio.sleep(LOOP_MS / 1000)
