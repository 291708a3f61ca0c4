# The terminal application: a hardware-independent, event-driven state machine.
#
#   IDLE --scan valid card--> CARD --digit--> AMOUNT --E--> SENDING --response--> RESULT
#   CARD/AMOUNT --L--> SENDING (lookup);  IDLE/CARD/RESULT --R--> REFUND --E--> SENDING
#   any state --C--> IDLE;  RESULT --timeout--> IDLE;  CARD/AMOUNT/REFUND --idle--> IDLE
#
# Outage (T5): an earn-only purchase (use_credit 0) made while the broker is unreachable,
# or whose request got no answer after MAX_RESENDS resends, goes into the flash journal
# (vafa.journal) as a signed frame with "offline":true and the same id; the journal is
# replayed in order, one entry in flight, before any new request is sent.
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
REFUND = const(5)  # "refund last?" confirmation
STATE_NAMES = ("IDLE", "CARD", "AMOUNT", "SENDING", "RESULT", "REFUND")

RESPONSE_TIMEOUT_MS = const(5000)
MAX_RESENDS = const(3)
RESULT_MS = const(15000)
MESSAGE_MS = const(3000)
IDLE_TIMEOUT_MS = const(60000)  # a half-typed sale is abandoned after a minute untouched
# A new request waits for the journal to drain at most this long, then is treated like
# one that got no answer (journaled if earn-only, else "No connection").
DRAIN_WAIT_MS = const(20000)
UNAVAILABLE_RETRY_MS = const(1000)  # an UNAVAILABLE answer is retried after this
REPLAY_PAUSE_MS = const(10000)  # after MAX_RESENDS unanswered replays, or UNAVAILABLE
MAX_CRASHES = const(10)  # consecutive handler crashes before run() gives up (main resets)
MAX_REJECTED = const(8)  # rejected replays kept for display/report
LOOP_MS = const(20)
MAX_AMOUNT_DIGITS = const(12)

# Outcomes of the last transaction attempt (App.outcome).
OUT_OK = "ok"
OUT_ERROR = "error"  # ok:false from the backend
OUT_NO_CONNECTION = "no_connection"
OUT_INVALID_CARD = "invalid_card"
OUT_OFFLINE = "offline"  # journaled, confirmed later
OUT_JOURNAL_FULL = "journal_full"
OUT_NEEDS_ONLINE = "needs_online"
OUT_NOTHING_TO_REFUND = "nothing_to_refund"

# Display texts fit the OLED's 16 columns (vafa.hw.esp32.OLED_COLS); receipt texts the
# printer's 32.
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
    "saved_offline": "Saved offline",
    "later": "Points will be",
    "later2": "added later",
    "later_receipt": "Points will be added later",
    "unconfirmed": "OFFLINE - not yet confirmed",
    "journal_full": "Journal full",
    "not_saved": "Sale NOT saved",
    "needs_online": "Needs connection",
    "offline": "Offline",
    "queued": "Queued: ",
    "refund_q": "Refund last?",
    "refund_keys": "E: yes  C: no",
    "no_refund": "None to refund",
    "refunded": "Refunded",
    "no_paper": "No printer paper",
}


def _unix_time():
    import time

    t = int(time.time())
    # Ports with the 2000 epoch: convert to unix seconds.
    if t < 946684800:
        t += 946684800
    return t


def _earn_only(inf):
    return inf["op"] == "purchase" and not inf["use_credit"]


class App:
    """Terminal app. ``cfg`` is a validated config dict (vafa.config.validate),
    ``hw`` a vafa.hw.Hardware, ``net`` a vafa.net.Session (or anything with
    ``connected``, ``queued``, ``publish_request(frame)``, ``publish_state()``,
    ``poll(now_ms)``, ``set_handler(fn)``), ``store`` a vafa.store.Store, ``journal`` a
    vafa.journal.Journal (None: no offline sales). ``ticks_fn``/``time_fn`` override the
    clocks (tests); ``config_loader()`` returns a fresh validated config (cmd "config")."""

    def __init__(self, cfg, hw, net, store, ticks_fn=None, time_fn=None, log=None,
                 journal=None, config_loader=None):
        self.hw = hw
        self.net = net
        self.store = store
        self.journal = journal
        self.config_loader = config_loader
        self._ticks = ticks_fn or ticks_ms
        self._time = time_fn or _unix_time
        self._log = log
        self._apply_config(cfg)
        self.state = IDLE
        self.card = None
        self.digits = ""
        self.use_credit = 0
        self.inflight = None  # see _send()
        self.replay = None  # {"seq", "id", "frame", "sends", "deadline"}
        self.replay_pause_until = None
        self.replayed = []  # ids of journal entries answered since boot (bounded below)
        self.rejected = []  # [(id, code, msg)] replays the backend refused, newest last
        self.result_until = None
        self.activity_at = self._ticks()
        self.outcome = None  # OUT_* of the last finished attempt
        self.last_response = None
        self.lines = []
        self.security_events = 0
        self.crashes = 0
        self.on_reboot = None
        self._reboot_pending = False
        self._pending_display = None
        self._refund_target = None
        self._running = False
        if journal is not None:
            net.queued = len(journal)
            if journal.torn_records:
                self._say("journal: dropped %d torn record(s), %d bytes (power cut while "
                          "saving; that sale was never confirmed)"
                          % (journal.torn_records, journal.torn_bytes))
        net.set_handler(self.on_message)

    def _apply_config(self, cfg):
        from vafa.config import key_bytes

        self.cfg = cfg
        self.device_id = cfg["device_id"]
        self.key = key_bytes(cfg)
        self.club_name = cfg.get("club_name", "")

    # ---- helpers -------------------------------------------------------------------
    def _say(self, s):
        if self._log is not None:
            self._log(s)

    def _show(self, lines):
        self.lines = list(lines)
        self.hw.display.show(self.lines)

    def _amount(self):
        return int(self.digits) if self.digits else 0

    def queued(self):
        return len(self.journal) if self.journal is not None else 0

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
        if self._reboot_pending and self.on_reboot is not None:
            self._reboot_pending = False
            self._say("rebooting on command")
            self.on_reboot()
        if self._pending_display is not None:
            lines, self._pending_display = self._pending_display, None
            self._to_result(lines, RESULT_MS)
            return
        self.show_ready()

    def show_ready(self):
        lines = [self.club_name, "", TEXT["ready"]]
        n = self.queued()
        if n:
            lines.append(TEXT["queued"] + str(n))
        if not self.net.connected:
            lines.append(TEXT["offline"])
        # Asked on every idle screen (the driver never blocks and rate-limits the question).
        if self.hw.printer.paper_ok() is False:
            lines.append(TEXT["no_paper"])
        self._show(lines)

    def _to_result(self, lines, ms):
        self.state = RESULT
        self._show(lines)
        self.result_until = ticks_add(self._ticks(), ms)

    def _message(self, lines, outcome, ok=False):
        self.outcome = outcome
        if ok:
            self.hw.indicator.ok()
        else:
            self.hw.indicator.error()
        self._to_result(lines, MESSAGE_MS if not ok else RESULT_MS)

    # ---- events --------------------------------------------------------------------
    def on_scan(self, code):
        if self.state == SENDING:
            self.hw.indicator.error()
            return
        self.activity_at = self._ticks()
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
        self.activity_at = self._ticks()
        if k == "C":
            self.show_idle()
            return
        st = self.state
        if k == "R" and st in (IDLE, CARD, RESULT):
            self._ask_refund()
            return
        if st == REFUND:
            if k == "E":
                last = self._refund_target
                self.card = last["card"]
                self._send("refund", None, 0, ref=last["id"])
            return
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

    def _ask_refund(self):
        last = self.store.last_purchase()
        if last is None:
            self._message([TEXT["no_refund"]], OUT_NOTHING_TO_REFUND)
            return
        self._refund_target = last
        self.state = REFUND
        self.result_until = None
        self._show([TEXT["refund_q"], "Card " + mask_card(last["card"]),
                    protocol.fmt_amount(last.get("amount", 0)), last["id"],
                    TEXT["refund_keys"]])

    def _channel_free(self):
        # One request in flight per terminal, and journal entries go first.
        return self.net.connected and self.replay is None and not self.queued()

    def _send(self, op, amount, use_credit, ref=None):
        earn_only = op == "purchase" and not use_credit
        if not self.net.connected:
            if not earn_only:
                self._say("%s refused: broker not connected" % op)
                self._message([TEXT["needs_online"], TEXT["no_conn"], TEXT["try_again"]],
                              OUT_NEEDS_ONLINE)
                return
            if self.journal is not None:
                self._journal_sale(self.store.next_seq(), amount)
                return
        seq = self.store.next_seq()
        body = protocol.make_request(
            self.device_id, seq, self._time(), op, self.card, amount, use_credit, ref
        )
        now = self._ticks()
        self.inflight = {
            "id": protocol.request_id(self.device_id, seq),
            "seq": seq,
            "frame": protocol.encode_frame(body, self.key),
            "op": op,
            "amount": amount,
            "use_credit": use_credit,
            "sends": 0,
            "created": now,
            "deadline": now,
            "sent": False,
        }
        self.state = SENDING
        self.outcome = None
        self._show([TEXT["sending"]])
        self._try_first_send(now)

    def _try_first_send(self, now):
        inf = self.inflight
        if self._channel_free() and self.net.publish_request(inf["frame"]):
            inf["sent"] = True
            inf["sends"] = 1
            inf["deadline"] = ticks_add(now, RESPONSE_TIMEOUT_MS)

    def _give_up(self, inf):
        self.inflight = None
        if _earn_only(inf) and self.journal is not None:
            self._say("no answer to %s: journaled for later" % inf["id"])
            self._journal_sale(inf["seq"], inf["amount"])
            return
        self._message([TEXT["no_conn"], TEXT["try_again"]], OUT_NO_CONNECTION)

    def _journal_sale(self, seq, amount):
        """Journal an earn-only purchase for replay; same id as any online attempt, so
        the backend's (device, id) idempotency can never credit it twice."""
        body = protocol.make_request(self.device_id, seq, self._time(), "purchase",
                                     self.card, amount, 0, None, True)
        frame = protocol.encode_frame(body, self.key)
        from vafa.journal import JournalFull

        try:
            self.journal.append(seq, frame)
        except JournalFull as e:
            self._say("%s: sale of %d refused" % (e, amount))
            self._message([TEXT["journal_full"], TEXT["not_saved"], TEXT["needs_online"]],
                          OUT_JOURNAL_FULL)
            return
        rid = protocol.request_id(self.device_id, seq)
        self._say("journaled %s (%d queued)" % (rid, len(self.journal)))
        self._queued_changed()
        amt = TEXT["amount"] + " " + protocol.fmt_amount(amount)
        self._message([TEXT["saved_offline"], "Card " + mask_card(self.card), amt,
                       TEXT["later"], TEXT["later2"]], OUT_OFFLINE, ok=True)
        self.hw.printer.print_lines([self.club_name, "Card " + mask_card(self.card), rid, amt,
                                     TEXT["unconfirmed"], TEXT["later_receipt"]])

    def _queued_changed(self):
        self.net.queued = self.queued()
        if self.net.connected:
            self.net.publish_state()

    # ---- timers --------------------------------------------------------------------
    def tick(self, now_ms=None):
        if now_ms is None:
            now_ms = self._ticks()
        self.hw.indicator.tick(now_ms)
        self._replay_tick(now_ms)
        st = self.state
        if st == SENDING and self.inflight is not None:
            inf = self.inflight
            if not inf["sent"]:
                self._try_first_send(now_ms)
                if not inf["sent"] and ticks_diff(now_ms, inf["created"]) >= DRAIN_WAIT_MS:
                    self._give_up(inf)
            elif ticks_diff(now_ms, inf["deadline"]) >= 0:
                if inf["sends"] <= MAX_RESENDS:
                    inf["sends"] += 1
                    inf["deadline"] = ticks_add(now_ms, RESPONSE_TIMEOUT_MS)
                    self._say("no response to %s, resend %d" % (inf["id"], inf["sends"] - 1))
                    self.net.publish_request(inf["frame"])
                else:
                    self._give_up(inf)
        elif st == RESULT and self.result_until is not None:
            if ticks_diff(now_ms, self.result_until) >= 0:
                self.show_idle()
        elif st in (CARD, AMOUNT, REFUND):
            if ticks_diff(now_ms, self.activity_at) >= IDLE_TIMEOUT_MS:
                self._say("idle timeout in " + STATE_NAMES[st])
                self.show_idle()

    def _replay_tick(self, now_ms):
        if not self.queued() or not self.net.connected:
            return
        rp = self.replay
        if rp is None:
            if (self.replay_pause_until is not None
                    and ticks_diff(now_ms, self.replay_pause_until) < 0):
                return
            self.replay_pause_until = None
            seq, frame = self.journal.peek()
            body = protocol.parse_body(frame[:-protocol.SIG_HEX_LEN - 1]) or {}
            self.replay = {"seq": seq, "id": body.get("id"), "frame": frame, "sends": 1,
                           "deadline": ticks_add(now_ms, RESPONSE_TIMEOUT_MS)}
            self._say("replaying %s" % body.get("id"))
            self.net.publish_request(frame)
        elif ticks_diff(now_ms, rp["deadline"]) >= 0:
            if rp["sends"] <= MAX_RESENDS:
                rp["sends"] += 1
                rp["deadline"] = ticks_add(now_ms, RESPONSE_TIMEOUT_MS)
                self.net.publish_request(rp["frame"])
            else:
                self._say("no answer to replay of %s; pausing" % rp["id"])
                self.replay = None
                self.replay_pause_until = ticks_add(now_ms, REPLAY_PAUSE_MS)

    # ---- network -------------------------------------------------------------------
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
            rp = self.replay
            if rp is not None and msg.get("id") == rp["id"]:
                self._on_replay_response(msg)
            else:
                self._on_response(msg)

    def _on_replay_response(self, r):
        rp = self.replay
        self.replay = None
        if r.get("code") == "UNAVAILABLE":
            self._say("backend unavailable for %s; retrying later" % rp["id"])
            self.replay_pause_until = ticks_add(self._ticks(), REPLAY_PAUSE_MS)
            return
        self.journal.ack(rp["seq"])
        self.replayed = (self.replayed + [rp["id"]])[-MAX_REJECTED * 4:]
        if r.get("ok"):
            self._say("offline sale %s confirmed" % rp["id"])
        else:
            code, msg = str(r.get("code", "")), str(r.get("msg", ""))
            self.rejected = (self.rejected + [(rp["id"], code, msg)])[-MAX_REJECTED:]
            self._say("offline sale %s refused by the backend: %s %s" % (rp["id"], code, msg))
        self._queued_changed()
        if self.state == IDLE:
            self.show_ready()

    def _on_cmd(self, msg):
        op = msg.get("op")
        if op == "display":
            text = msg.get("text")
            if isinstance(text, str):
                lines = text.split("\n")
            else:
                lines = msg.get("lines") or [str(msg.get("msg", ""))]
            lines = [str(x) for x in lines][:8]
            if self.state in (IDLE, RESULT):
                self._to_result(lines, RESULT_MS)
            else:
                self._pending_display = lines  # never interrupt a sale
        elif op == "config":
            self.reload_config()
        elif op == "reboot":
            if self.state in (IDLE, RESULT):
                if self.on_reboot is not None:
                    self._say("rebooting on command")
                    self.on_reboot()
            else:
                self._reboot_pending = True
        else:
            self._say("unknown command %r" % (op,))

    def reload_config(self):
        """Re-read config.json; returns True when applied. Broker settings take effect
        at the next connect (reboot)."""
        if self.config_loader is None:
            self._say("config reload not available")
            return False
        try:
            cfg = self.config_loader()
        except Exception as e:  # ConfigError, OSError: keep running on the old one
            self._say("config reload failed: %s" % (e,))
            return False
        if cfg["device_id"] != self.device_id:
            self._say("config reload refused: device_id changed")
            return False
        self._apply_config(cfg)
        self._say("config reloaded")
        if self.state == IDLE:
            self.show_ready()
        return True

    def _on_response(self, r):
        inf = self.inflight
        if inf is None or self.state != SENDING or r.get("id") != inf["id"]:
            return  # late duplicate or someone else's id
        self.inflight = None
        self.last_response = r
        if not r.get("ok"):
            if r.get("code") == "UNAVAILABLE":
                # Temporary backend fault: retry the same id after a pause, and once the
                # resends are spent treat it like no answer (an earn-only sale is
                # journaled), since nothing was written.
                if inf["sends"] <= MAX_RESENDS:
                    inf["deadline"] = ticks_add(self._ticks(), UNAVAILABLE_RETRY_MS)
                    self.inflight = inf
                else:
                    self._give_up(inf)
                return
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
        lines = []
        if inf["op"] == "refund":
            self.store.clear_last_purchase()
            lines.append(TEXT["refunded"])
        elif inf["op"] == "purchase":
            self.store.set_last_purchase(inf["id"], self.card, inf["amount"])
        lines += [
            str(member.get("name", "")),
            TEXT["tier"] + str(member.get("tier", "")),
            TEXT["credit"] + protocol.fmt_amount(bal.get("credit", 0)),
            TEXT["points"] + protocol.fmt_amount(bal.get("points", 0)),
        ]
        if isinstance(tx, dict) and inf["op"] == "purchase":
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

    def safe_step(self, now_ms=None):
        """step(), but a crash in a handler is logged and the terminal returns to idle
        instead of hanging. Raises after MAX_CRASHES crashes in a row (main resets)."""
        try:
            self.step(now_ms)
        except Exception as e:
            self.crashes += 1
            self._say("crash in handler (%d in a row): %r" % (self.crashes, e))
            if self.crashes >= MAX_CRASHES:
                raise
            self.replay = None  # resent from the journal on the next pass
            try:
                self.hw.indicator.error()
                self.show_idle()
            except Exception as e2:
                self._say("cannot show idle: %r" % (e2,))
            return False
        self.crashes = 0
        return True

    def stop(self):
        self._running = False

    async def run(self, feed=None):
        """The terminal's only loop. ``feed`` (e.g. the watchdog) is called every pass."""
        import asyncio

        self._running = True
        self.show_idle()
        while self._running:
            self.safe_step()
            if feed is not None:
                feed()
            await asyncio.sleep(LOOP_MS / 1000)
