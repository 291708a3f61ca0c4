# The terminal application: a hardware-independent, event-driven state machine.
#
#   IDLE --scan valid card--> CARD --digit--> AMOUNT --E--> SENDING --response--> RESULT
#   CARD --scan product code / digits+L--> ITEMS (price keyed per new line) --E--> SENDING
#   CARD/AMOUNT --L--> SENDING (lookup)
#   IDLE --R--> REFUND (scan card) --scan--> REFUND (PIN) --E--> SENDING
#   CARD/AMOUNT/RESULT --R--> REFUND (PIN) of that card's last sale --E--> SENDING
#   any state --C--> IDLE;  RESULT --timeout--> IDLE;  CARD/AMOUNT/REFUND --idle--> IDLE
#
# Outage (T5): an earn-only purchase (use_credit 0) made while the broker is unreachable,
# or whose request got no answer after MAX_RESENDS resends, goes into the flash journal
# (vafa.journal) as its request body with "offline":true and the same id; the journal is
# replayed in order, one entry in flight, before any new request is sent. A journaled
# sale is kept unsigned and signed at replay time with its age (age_s, by the ticks) and,
# when the clock got synced in the same boot since, its corrected ts.
#
# Events: on_scan(code), on_key(k), on_message(topic, payload), tick(now_ms). run() is
# the one asyncio loop that polls the hardware and the network every LOOP_MS.
from micropython import const

from vafa import protocol
from vafa import text as vtext
from vafa import unload as _unload
from vafa.card import is_valid_card, mask_card
from vafa.clock import Clock, board_time, ticks_add, ticks_diff, ticks_ms
from vafa.labels import TEXT, texts
from vafa.states import (
    AMOUNT,
    CARD,
    IDLE,
    ITEMS,
    MAX_AMOUNT_DIGITS,
    MAX_RESENDS,
    OUT_ERROR,
    OUT_FLASH_FULL,
    OUT_INVALID_CARD,
    OUT_JOURNAL_FULL,
    OUT_NEEDS_ONLINE,
    OUT_NO_CONNECTION,
    OUT_OFFLINE,
    OUT_OK,
    REFUND,
    REPLAY_PAUSE_MS,
    RESPONSE_TIMEOUT_MS,
    RESULT,
    RESULT_MS,
    SENDING,
    STATE_NAMES,
)

# What the U key spends, in turn: (use_credit, use_points); -1 as much as the rules allow.
PAY_MODES = ((0, 0), (-1, 0), (0, -1), (-1, -1))

_MESSAGE_MS = const(3000)
IDLE_TIMEOUT_MS = const(60000)  # a half-typed sale is abandoned after a minute untouched
# A new request waits for the journal to drain at most this long, then is treated like
# one that got no answer (journaled if earn-only, else "No connection").
DRAIN_WAIT_MS = const(20000)
# An earn-only sale that cannot go out (not connected, its publish failed or got no
# PUBACK, the journal still draining) is journaled within this: the cashier never waits
# for the network longer than that.
FALLBACK_MS = const(2000)
_UNAVAILABLE_RETRY_MS = const(1000)  # an UNAVAILABLE answer is retried after this
MAX_CRASHES = const(10)  # consecutive handler crashes before run() gives up (main resets)
_MAX_REJECTED = const(8)  # rejected replays kept for display/report
# An entry that got no answer (or only answers failing the signature) in this many
# replay rounds (each MAX_RESENDS + 1 sends, then REPLAY_PAUSE_MS) while the broker was
# connected is moved aside to journal.dead, so it cannot block the entries behind it.
MAX_REPLAY_ROUNDS = const(6)
# A set-aside entry is sent again, once, every DEAD_RETRY_MS while the journal is empty
# and the terminal idle: a backend worker that was down while the broker was up looks
# like an entry nobody answers, and the id keeps a retry from ever crediting twice.
DEAD_RETRY_MS = const(600000)
LOOP_MS = const(20)

REISSUE_CODES = ("REPLAY", "ID_REUSED")


def _earn_only(inf):
    return inf["op"] == "purchase" and not inf["use_credit"] and not inf.get("use_points")


class App:
    """Terminal app. ``cfg`` is a validated config dict (vafa.config.validate),
    ``hw`` a vafa.hw.Hardware, ``net`` a vafa.net.Session (or anything with
    ``connected``, ``queued``, ``publish_request(frame)``, ``publish_state()``,
    ``poll(now_ms)``, ``set_handler(fn)``), ``store`` a vafa.store.Store, ``journal`` a
    vafa.journal.Journal (None: no offline sales). ``clock`` a vafa.clock.Clock (None:
    one on ``ticks_fn``/``time_fn`` that trusts the RTC: tests); ``config_loader()``
    returns a fresh validated config (cmd "config")."""

    def __init__(self, cfg, hw, net, store, ticks_fn=None, time_fn=None, log=None,
                 journal=None, config_loader=None, clock=None, on_reboot=None, fw_root="",
                 ota_net=None):
        from vafa.logring import LogRing

        # The last log lines, for the panel (cmd "logs"); seconds of uptime first.
        self.ring = LogRing(ticks_fn=lambda: self.clock.uptime_ms())
        # save(cfg) writes config.json (cmd "set"); None: remote config is refused.
        self.config_saver = None
        self.cfg_error = None  # why the last cmd "set" was not applied
        self._health_sig = None
        self._health_changed = False
        self.hw = hw
        self.net = net
        self.store = store
        self.journal = journal
        self.config_loader = config_loader
        self._ticks = ticks_fn or ticks_ms
        self._time = time_fn or board_time
        self._log = log
        if clock is None:
            # Through self._ticks / self._time so that a test may swap them later.
            clock = Clock(ticks_fn=lambda: self._ticks(), time_fn=lambda: self._time(),
                          synced=True, log=log)
        self.clock = clock
        self._apply_config(cfg)
        self.state = IDLE
        self.card = None
        self.digits = ""
        self.use_credit = 0
        self.use_points = 0
        self.sale = None  # vafa.sale.Sale of an item sale, None for an amount sale
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
        self.on_reboot = on_reboot  # e.g. machine.reset; None: reboot commands are ignored
        self._reboot_pending = False
        self._pending_display = None
        self._refund_target = None
        self._pin = ""
        self._replay_rounds = (None, 0)  # (seq of the head entry, unanswered rounds)
        self._dead_retry_at = None
        self._running = False
        if journal is not None:
            net.queued = len(journal)
            net.dead = journal.dead
            if journal.torn_records:
                self._say("journal: dropped %d torn record(s), %d bytes (a write cut short "
                          "by a power cut or a full flash; that sale was never confirmed)"
                          % (journal.torn_records, journal.torn_bytes))
            if journal.lost_records:
                self._say("journal: LOST %d damaged record(s), %d bytes (flash error)"
                          % (journal.lost_records, journal.lost_bytes))
            if journal.dead:
                self._say("journal: %d never-answered entries set aside in %s"
                          % (journal.dead, journal.dead_path))
        net.set_handler(self.on_message)
        net.health = self.health
        # Firmware updates (vafa.ota): ``fw_root`` holds fw/ ("" on the board: /fw);
        # ``ota_net`` is (sockets_factory(), tls_factory(insecure)) for the download,
        # None: the board's own (vafa.mqtt.Sockets, vafa.tlsconf).
        self.fw_root = fw_root
        self.ota_net = ota_net
        self.ota = None  # the vafa.ota.Download of this boot, if any
        self.ota_trial = None  # the version this boot tries, until confirmed
        self._ota_req = None  # the trial's confirmation request in flight
        self._ota_reboot_at = None
        self._ota_boot()

    def _apply_config(self, cfg):
        from vafa.config import key_bytes

        self.cfg = cfg
        self.device_id = cfg["device_id"]
        self.key = key_bytes(cfg)
        self.club_name = cfg.get("club_name", "")
        self.portal_url = cfg.get("portal_url") or None
        lang = cfg.get("lang", "en")
        TEXT.update(texts(lang))
        vtext.set_lang(lang)
        self.refund_window_s = cfg.get("refund_window_s", 86400)
        floor = cfg.get("seq_floor", 0)
        if isinstance(floor, int) and floor > self.store.seq_floor:
            self.store.seq_floor = floor
        # Remote config (vafa.config.check_settings): absent keys keep the defaults.
        self.cfg_ver = cfg.get("cfg_ver", 0)
        self.idle_ms = cfg.get("idle_s", IDLE_TIMEOUT_MS // 1000) * 1000
        self.ops = cfg.get("ops") or ("purchase", "lookup", "refund", "credit")
        self.footer = cfg.get("footer") or ""
        self.pin_sha = cfg.get("pin_sha")
        contrast = getattr(self.hw.display, "contrast", None)
        if contrast is not None and cfg.get("contrast") is not None:
            try:
                contrast(cfg["contrast"])
            except Exception as e:  # OSError on the I2C bus: the screen keeps its own
                self._say("contrast not set: %r" % (e,))

    # ---- helpers -------------------------------------------------------------------
    def _say(self, s):
        self.ring.add(s)
        if self._log is not None:
            self._log(s)

    def _print(self, lines):
        """Print a receipt, with the shop's footer (remote config) under it."""
        # With the config's portal_url, the receipt ends with its QR code and a caption.
        if self.footer:
            lines = list(lines) + self.footer.split("\n")
        if self.portal_url:
            self.hw.printer.print_lines(list(lines) + [TEXT["portal"]], qr=self.portal_url)
        else:
            self.hw.printer.print_lines(lines)

    def _not_here(self, what):
        self._say("%s is not allowed on this terminal (remote config)" % what)
        self._message([TEXT["not_here"], TEXT["not_here2"]], OUT_ERROR)

    def _show(self, lines):
        self.lines = list(lines)
        self.hw.display.show(self.lines)

    def _amount(self):
        return int(self.digits) if self.digits else 0

    def queued(self):
        return len(self.journal) if self.journal is not None else 0

    def _pay_line(self):
        if self.use_points:
            return TEXT["both_on"] if self.use_credit else TEXT["points_on"]
        return TEXT["credit_on"] if self.use_credit else TEXT["credit_off"]

    def _show_entry(self):
        if self.sale is not None:
            self._show_items()
            return
        amt = protocol.fmt_amount(self._amount()) if self.digits else ""
        self._show([
            TEXT["card"] + mask_card(self.card),
            TEXT["amount"],
            amt,
            self._pay_line(),
            TEXT["lookup_hint"],
        ])

    def _show_items(self):
        from vafa import sale

        sale.show(self)

    def show_idle(self):
        # Loaded by the R key or an item sale (if one was): their bytecode is freed again.
        _unload("vafa.refund", "vafa.sale")
        self.state = IDLE
        self.card = None
        self.digits = ""
        self.use_credit = 0
        self.use_points = 0
        self.sale = None
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
        lines += self._tls_lines()
        n = self.queued()
        if n:
            lines.append(TEXT["queued"] + str(n))
        if not self.net.connected:
            lines.append(TEXT["offline"])
        # Asked on every idle screen (the driver never blocks and rate-limits the question).
        if self.hw.printer.paper_ok() is False:
            lines.append(TEXT["no_paper"])
        self._show(lines)

    def _tls_lines(self):
        """What the idle screen says about TLS: "INSECURE TLS" (config mqtt.insecure,
        development only), or the session's note (e.g. "NO CA.PEM": TLS refused)."""
        m = self.cfg.get("mqtt") or {}
        out = [TEXT["insecure"]] if m.get("tls") and m.get("insecure") else []
        note = getattr(self.net, "note", "")
        return out + [note] if note else out

    def typing(self):
        """True while the cashier is in the middle of a sale (vafa.net.Session starts no
        connection attempt then)."""
        return self.state in (CARD, AMOUNT, REFUND, ITEMS)

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
        self._to_result(lines, _MESSAGE_MS if not ok else RESULT_MS)

    # ---- events --------------------------------------------------------------------
    def on_scan(self, code):
        if self.state == SENDING:
            self.hw.indicator.error()
            return
        self.activity_at = self._ticks()
        code = code.strip() if isinstance(code, str) else ""
        if (self.state in (CARD, AMOUNT, ITEMS) and not is_valid_card(code)
                and self._item_code(code)):
            return
        if not is_valid_card(code):
            self._say("refused scan (not a valid card)")
            self.outcome = OUT_INVALID_CARD
            self.hw.indicator.error()
            self._to_result([TEXT["invalid"], TEXT["try_again"]], _MESSAGE_MS)
            self.card = None
            return
        if self.state == REFUND and self._refund_target is None:
            self._ask_refund(code)
            return
        self.card = code
        self.digits = ""
        self.use_credit = 0
        self.use_points = 0
        self.sale = None
        self.state = CARD
        self.result_until = None
        self._show_entry()

    def _item_code(self, code):
        """A product code scanned (or keyed) during a sale (vafa.sale.on_code)."""
        from vafa import sale

        return sale.on_code(self, code)

    def _items_key(self, k):
        from vafa import sale

        sale.on_key(self, k)

    def _next_pay_mode(self):
        if "credit" not in self.ops:
            self._not_here("spending credit")
            return False
        mode = (self.use_credit, self.use_points)
        i = PAY_MODES.index(mode) if mode in PAY_MODES else 0  # a rial amount: none next
        self.use_credit, self.use_points = PAY_MODES[(i + 1) % len(PAY_MODES)]
        return True

    def on_key(self, k):
        self.activity_at = self._ticks()
        if k == "C":
            self.show_idle()
            return
        st = self.state
        if st == ITEMS:
            self._items_key(k)
            return
        if k == "R" and st in (IDLE, CARD, AMOUNT, RESULT):
            if "refund" not in self.ops:
                self._not_here("refund")
                return
            # The card on screen (or of the result shown), else ask for one.
            self._ask_refund(self.card if st != IDLE else None)
            return
        if st == REFUND:
            self._refund_key(k)
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
            if self._next_pay_mode():
                self._show_entry()
        elif k == "E":
            if "purchase" not in self.ops:
                self._not_here("purchase")
                return
            if self._amount() <= 0:
                self.hw.indicator.error()
                self._show([TEXT["enter_amount"]] + self.lines[1:])
                return
            self._send("purchase", self._amount(), self.use_credit,
                       use_points=self.use_points)
        elif k == "L" and self.digits:
            # A number typed, then D: a product code keyed (its label unreadable).
            code, self.digits = self.digits, ""
            self.state = CARD
            if not self._item_code(code):
                self.hw.indicator.error()
                self._show_entry()
        elif k == "L":
            if "lookup" not in self.ops:
                self._not_here("lookup")
                return
            self._send("lookup", None, 0)

    def _ask_refund(self, card):
        from vafa import refund

        return refund.ask(self, card)

    def _refund_key(self, k):
        from vafa import refund

        return refund.on_key(self, k)

    def _channel_free(self):
        # One request in flight per terminal, and journal entries go first.
        return self.net.connected and self.replay is None and not self.queued()

    def _send(self, op, amount, use_credit, ref=None, pin=None, items=None, use_points=0):
        earn_only = op == "purchase" and not use_credit and not use_points
        if not self.net.connected:
            if not earn_only:
                self._say("%s refused: broker not connected" % op)
                self._message([TEXT["needs_online"], TEXT["no_conn"], TEXT["try_again"]],
                              OUT_NEEDS_ONLINE)
                return
            if self.journal is not None:
                seq = self._reserve_seq(earn_only)
                if seq is not None:
                    self._journal_sale(seq, amount, items)
                return
        seq = self._reserve_seq(earn_only)
        if seq is None:
            return
        now = self._ticks()
        self.inflight = self._request(seq, op, amount, use_credit, ref, pin, items,
                                      use_points)
        self.inflight["created"] = now
        self.inflight["deadline"] = now
        self.state = SENDING
        self.outcome = None
        self._show([TEXT["sending"]])
        self._try_first_send(now)

    def _reserve_seq(self, earn_only):
        """store.next_seq(), or None after telling the cashier the flash is full."""
        try:
            return self.store.next_seq()
        except OSError as e:
            self._say("cannot save the request number (%r): flash full?" % (e,))
            self._message([TEXT["flash_full"], TEXT["not_saved"] if earn_only
                           else TEXT["try_again"]], OUT_FLASH_FULL)
            return None

    def _request(self, seq, op, amount, use_credit, ref, pin, items=None, use_points=0):
        """An inflight request: the signed frame and what re-issuing it needs."""
        clock = self.clock
        ts = clock.now()
        body = protocol.make_request(self.device_id, seq, ts, op, self.card, amount,
                                     use_credit, ref, clk=clock.synced, pin=pin,
                                     items=items, use_points=use_points)
        return {
            "id": protocol.request_id(self.device_id, seq),
            "seq": seq,
            "frame": protocol.encode_frame(body, self.key),
            "op": op,
            "card": self.card,
            "amount": amount,
            "use_credit": use_credit,
            "ref": ref,
            "pin": pin,
            "items": items,
            "use_points": use_points,
            "ts": ts,
            "clk": clock.synced,
            "up": clock.uptime_ms(),
            "reissued": 0,
            "sends": 0,
            "sent": False,
        }

    def _try_first_send(self, now):
        inf = self.inflight
        if not self._channel_free():
            if _earn_only(inf) and not self.net.connected and self.journal is not None:
                self._give_up(inf)  # offline: journaled at once, no waiting
            return
        token = self.net.publish_request(inf["frame"])
        if token:
            inf["sent"] = True
            inf["sends"] = 1
            inf["token"] = token
            inf["deadline"] = ticks_add(now, RESPONSE_TIMEOUT_MS)
        elif _earn_only(inf) and self.journal is not None:
            self._give_up(inf)

    def _send_failed(self, inf):
        """The request's publish is known lost: the connection dropped, or the broker
        never acknowledged it (vafa.net.Session.request_failed)."""
        if not self.net.connected:
            return True
        failed = getattr(self.net, "request_failed", None)
        return failed is not None and failed(inf.get("token"))

    def _give_up(self, inf):
        self.inflight = None
        if _earn_only(inf) and self.journal is not None:
            seq = inf["seq"]
            if not inf["sent"] and seq <= self.journal.last_seq():
                # A journaled sale was re-issued above this seq while this one waited for
                # the drain; the journal's seqs must rise, and this one never left the
                # terminal, so a new seq is safe.
                try:
                    seq = self.store.next_seq()
                except OSError as e:
                    self._say("journal write failed (%r): sale of %d NOT saved"
                              % (e, inf["amount"]))
                    self._message([TEXT["flash_full"], TEXT["not_saved"],
                                   TEXT["needs_online"]], OUT_FLASH_FULL)
                    return
            self._say("no answer to %s: journaled for later" % inf["id"])
            self._journal_sale(seq, inf["amount"], inf.get("items"))
            return
        self._message([TEXT["no_conn"], TEXT["try_again"]], OUT_NO_CONNECTION)

    def _journal_sale(self, seq, amount, items=None):
        """Journal an earn-only purchase for replay; same id as any online attempt, so
        the backend's (device, id) idempotency can never credit it twice. Its item
        lines go with it (at most vafa.sale.MAX_LINES: the record stays under
        vafa.journal.MAX_PAYLOAD)."""
        from vafa.journal import JournalFull, encode_sale

        clock = self.clock
        ts, up = clock.now(), clock.uptime_ms()
        body = protocol.make_request(self.device_id, seq, ts, "purchase", self.card, amount,
                                     0, None, True, clk=clock.synced, items=items)
        rid = protocol.request_id(self.device_id, seq)
        try:
            self.journal.append(seq, encode_sale(clock.synced, clock.boot_id, up, seq, 0,
                                                 body))
        except JournalFull as e:
            self._say("%s: sale of %d refused" % (e, amount))
            self._message([TEXT["journal_full"], TEXT["not_saved"], TEXT["needs_online"]],
                          OUT_JOURNAL_FULL)
            return
        except OSError as e:  # 28: the flash is full; nothing of it counts as saved
            self._say("journal write failed (%r): sale %s of %d NOT saved" % (e, rid, amount))
            self._message([TEXT["flash_full"], TEXT["not_saved"], TEXT["needs_online"]],
                          OUT_FLASH_FULL)
            return
        self._remember_sale(rid, self.card, amount, ts, clock.synced, up)
        self._say("journaled %s (%d queued)" % (rid, self.queued()))
        self._queued_changed()
        amt = TEXT["amount"] + " " + protocol.fmt_amount(amount)
        self._message([TEXT["saved_offline"], TEXT["card"] + mask_card(self.card), amt,
                       TEXT["later"], TEXT["later2"]], OUT_OFFLINE, ok=True)
        self._print([self.club_name] + self._item_lines(items) + [
            TEXT["card"] + mask_card(self.card), rid, amt, TEXT["unconfirmed"],
            TEXT["later_receipt"]])

    def _item_lines(self, items):
        """The receipt's item lines: ``A12 x2 100,000`` each."""
        if not items:
            return []
        from vafa.sale import line_text

        return [line_text(i, protocol.fmt_amount) for i in items]

    def _remember_sale(self, rid, card, amount, ts, clk, up):
        # For "refund last"; the sale itself is saved (journal or backend) already.
        try:
            self.store.add_sale(rid, card, amount, ts, clk, self.clock.boot_id, up)
        except OSError as e:
            self._say("cannot remember sale %s for refund (%r)" % (rid, e))

    def _queued_changed(self):
        self.net.queued = self.queued()
        if self.net.connected:
            self.net.publish_state()

    # ---- timers --------------------------------------------------------------------
    def tick(self, now_ms=None):
        if now_ms is None:
            now_ms = self._ticks()
        self.hw.indicator.tick(now_ms)
        self.hw.display.tick(now_ms)
        self.hw.printer.tick(now_ms)
        self.clock.uptime_ms()  # keeps the uptime across ticks wrapping
        self._replay_tick(now_ms)
        self._health_tick(now_ms)
        if self.ota is not None or self.ota_trial is not None or self._ota_reboot_at is not None:
            self._ota_tick(now_ms)
        st = self.state
        if st == SENDING and self.inflight is not None:
            inf = self.inflight
            earn = _earn_only(inf) and self.journal is not None
            if not inf["sent"]:
                self._try_first_send(now_ms)
                # Waiting for the journal to drain is worth it only while connected.
                wait_ms = FALLBACK_MS if earn or not self.net.connected else DRAIN_WAIT_MS
                if (self.inflight is inf and not inf["sent"]
                        and ticks_diff(now_ms, inf["created"]) >= wait_ms):
                    self._give_up(inf)
            elif earn and self._send_failed(inf):
                # Same id in the journal: if the broker did get it, the backend's
                # (device, id) idempotency answers the replay with the same result.
                self._give_up(inf)
            elif ticks_diff(now_ms, inf["deadline"]) >= 0:
                if inf["sends"] <= MAX_RESENDS:
                    inf["sends"] += 1
                    inf["deadline"] = ticks_add(now_ms, RESPONSE_TIMEOUT_MS)
                    self._say("no response to %s, resend %d" % (inf["id"], inf["sends"] - 1))
                    token = self.net.publish_request(inf["frame"])
                    if token:
                        inf["token"] = token
                    elif earn:
                        self._give_up(inf)
                else:
                    self._give_up(inf)
        elif st == RESULT and self.result_until is not None:
            if ticks_diff(now_ms, self.result_until) >= 0:
                self.show_idle()
        elif st in (CARD, AMOUNT, REFUND, ITEMS):
            if ticks_diff(now_ms, self.activity_at) >= self.idle_ms:
                self._say("idle timeout in " + STATE_NAMES[st])
                self.show_idle()

    def _replay_tick(self, now_ms):
        rp = self.replay
        if not self.queued() and rp is None:
            if self.net.connected and self.journal is not None and self.journal.dead:
                self._dead_tick(now_ms)
            return
        if not self.net.connected:
            if rp is not None:
                # Sent again from the journal once connected; a round cut short by the
                # link does not count against the entry.
                self.replay = None
            return
        if rp is None:
            if (self.replay_pause_until is not None
                    and ticks_diff(now_ms, self.replay_pause_until) < 0):
                return
            self.replay_pause_until = None
            self._start_replay(now_ms)
        elif ticks_diff(now_ms, rp["deadline"]) >= 0:
            if rp["sends"] <= MAX_RESENDS:
                rp["sends"] += 1
                rp["deadline"] = ticks_add(now_ms, RESPONSE_TIMEOUT_MS)
                self.net.publish_request(rp["frame"])
            else:
                self._replay_round_failed(now_ms, "no answer")

    def _replay_frame(self, seq, payload):
        """(id, signed frame) of a journaled sale as sent now: age_s by the ticks, and
        the ts corrected when the clock got synced since the sale in this boot."""
        from vafa.journal import decode_sale

        sale = decode_sale(payload)
        if sale is None:
            # A signed frame journaled by firmware 0.1: sent as it is.
            body = protocol.decode_frame(payload, self.key)
            body = protocol.parse_body(body) if body is not None else None
            if body is None or body.get("seq") != seq:
                return None, None
            return body.get("id"), payload
        body = protocol.parse_body(sale[1])
        if body is None or body.get("seq") != seq or body.get("op") != "purchase":
            return None, None
        (clk, boot, up, _, _), clock = sale[0], self.clock
        ts = body.get("ts", 0)
        if boot == clock.boot_id:
            age_s = (clock.uptime_ms() - up) // 1000
            if not clk and clock.synced:
                ts, clk = clock.now() - age_s, True
        else:
            age_s = clock.uptime_ms() // 1000  # at least this long ago: a lower bound
        frame = protocol.encode_frame(protocol.make_request(
            self.device_id, seq, ts, "purchase", body.get("card"), body.get("amount"), 0,
            None, True, clk=bool(clk), age_s=age_s, items=body.get("items")), self.key)
        return body.get("id"), frame

    def _start_replay(self, now_ms):
        seq, payload = self.journal.peek()
        rid, frame = self._replay_frame(seq, payload)
        if frame is None:
            # Not a sale this firmware can send (damaged, or an older format).
            self._say("journal entry %d cannot be replayed" % seq)
            self._set_aside(seq, "unreadable")
            return
        self.replay = {"seq": seq, "id": rid, "frame": frame, "sends": 1,
                       "deadline": ticks_add(now_ms, RESPONSE_TIMEOUT_MS)}
        self._say("replaying %s" % rid)
        self.net.publish_request(frame)

    def _dead_tick(self, now_ms):
        """Send the set-aside entry tried longest ago once, when due and idle."""
        if self._dead_retry_at is None:
            self._dead_retry_at = ticks_add(now_ms, DEAD_RETRY_MS)
        if self.state != IDLE or ticks_diff(now_ms, self._dead_retry_at) < 0:
            return
        self._dead_retry_at = ticks_add(now_ms, DEAD_RETRY_MS)
        from vafa import reissue

        try:
            reissue.dead_try(self, now_ms)
        finally:
            _unload("vafa.reissue")

    def _drop_entry(self, rp, to_end=False):
        """The entry ``rp`` names is answered: out of the journal, or of journal.dead
        (``to_end``: only behind the other set-aside ones). False: the flash is full."""
        try:
            if rp.get("dead"):
                self.journal.dead_drop(rp["seq"], to_end)
                self.net.dead = self.journal.dead
                return True
            return self.journal.ack(rp["seq"])
        except OSError as e:
            self._say("journal: cannot drop entry %d (%r)" % (rp["seq"], e))
            return False

    def _replay_round_failed(self, now_ms, why):
        rp = self.replay
        self.replay = None
        if rp.get("dead"):
            self._drop_entry(rp, to_end=True)  # the others get their turn first
            return
        seq, rounds = self._replay_rounds
        rounds = rounds + 1 if seq == rp["seq"] else 1
        self._replay_rounds = (rp["seq"], rounds)
        if rounds >= MAX_REPLAY_ROUNDS:
            self._set_aside(rp["seq"], "%s in %d rounds" % (why, rounds))
            return
        self._say("%s to replay of %s; pausing" % (why, rp["id"]))
        self.replay_pause_until = ticks_add(now_ms, REPLAY_PAUSE_MS)

    def _set_aside(self, seq, why):
        from vafa import reissue

        try:
            reissue.set_aside(self, seq, why)
        finally:
            _unload("vafa.reissue")

    # ---- network -------------------------------------------------------------------
    def on_message(self, topic, payload):
        if isinstance(topic, (bytes, bytearray)):
            topic = bytes(topic).decode()
        body = protocol.decode_frame(payload, self.key)
        if body is None:
            self.security_events += 1
            self._say("dropped frame with a bad signature on " + topic)
            if self.replay is not None and topic.endswith("/res"):
                # The answer the replay waits for may be this one, signed with a key
                # this terminal does not have: that round is over.
                self._replay_round_failed(self._ticks(), "bad signature")
            return
        msg = protocol.parse_body(body)
        if msg is None:
            return
        if topic.endswith("/cmd"):
            self._on_cmd(msg)
        elif topic.endswith("/res"):
            rp = self.replay
            rq = self._ota_req
            if rq is not None and msg.get("id") == rq["id"]:
                self._ota_confirmed()
            elif rp is not None and msg.get("id") == rp["id"]:
                self._on_replay_response(msg)
            else:
                self._on_response(msg)

    def _on_replay_response(self, r):
        rp = self.replay
        self.replay = None
        self._replay_rounds = (None, 0)
        code = r.get("code")
        if code == "UNAVAILABLE":
            self._say("backend unavailable for %s; retrying later" % rp["id"])
            self.replay_pause_until = ticks_add(self._ticks(), REPLAY_PAUSE_MS)
            return
        if code in REISSUE_CODES and self._reissue_entry(rp, r):
            return
        if not self._drop_entry(rp):
            self._say("flash full: the journal cursor for %s is kept in RAM" % rp["id"])
        self.replayed = (self.replayed + [rp["id"]])[-_MAX_REJECTED * 4:]
        if r.get("ok"):
            self._say("offline sale %s confirmed" % rp["id"])
        else:
            code, msg = str(r.get("code", "")), str(r.get("msg", ""))
            self.rejected = (self.rejected + [(rp["id"], code, msg)])[-_MAX_REJECTED:]
            self._say("offline sale %s refused by the backend: %s %s" % (rp["id"], code, msg))
        self._queued_changed()
        if self.state == IDLE:
            self.show_ready()

    def _reissue_entry(self, rp, r):
        from vafa import reissue

        try:
            return reissue.entry(self, rp, r)
        finally:
            _unload("vafa.reissue")

    def _on_cmd(self, msg):
        from vafa import remote

        try:
            remote.on_cmd(self, msg)
        finally:
            _unload("vafa.remote")

    # ---- firmware updates (issue 16; vafa.ota, docs/terminal.md) -----------------------
    def _ota_boot(self):
        from vafa import remote

        try:
            return remote.ota_boot(self)
        finally:
            _unload("vafa.remote")

    def _ota_report(self, report):
        self.net.ota = report
        if self.net.connected:
            self.net.publish_state()

    # The work of a cmd "ota", the download's steps and the trial's confirmation live in
    # vafa.ota: loaded only while updating (the bytecode of a selling terminal stays small).
    def _on_ota(self, msg):
        from vafa import ota

        ota.on_cmd(self, msg)

    def _ota_tick(self, now_ms):
        from vafa import ota

        ota.app_tick(self, now_ms)
        if self.ota is None and self.ota_trial is None and self._ota_reboot_at is None:
            _unload("vafa.ota", "vafa.http")  # the update is over: give its heap back

    def _ota_confirmed(self):
        from vafa import ota

        ota.app_confirmed(self)

    # ---- remote config, logs and health (issue 16) ------------------------------------
    def set_config_saver(self, fn):
        """``fn(cfg)`` writes config.json (vafa.config.save); cmd "set" needs it."""
        self.config_saver = fn

    def health(self):
        """The health fields of the state topic (vafa.remote.health)."""
        from vafa import remote

        try:
            return remote.health(self)
        finally:
            _unload("vafa.remote")

    def _publish_health(self):
        if self.net.connected:
            self.net.publish_state()

    def _health_tick(self, now_ms):
        """A state on change (clock synced, paper, config, wrong signatures), at most
        every vafa.net.STATE_MIN_MS; vafa.net.Session sends one every minute anyway."""
        if not self.net.connected:
            return
        sig = (self.clock.synced, self.hw.printer.paper_ok(), self.cfg_ver,
               self.security_events, self.journal.dead if self.journal is not None else 0)
        if sig != self._health_sig:
            self._health_changed = self._health_sig is not None
            self._health_sig = sig
        due = getattr(self.net, "state_due", None)
        if self._health_changed and due is not None and due(now_ms):
            self._health_changed = False
            self.net.publish_state(now_ms)

    def reload_config(self):
        """Re-read config.json (cmd "config"); True when applied (vafa.remote)."""
        from vafa import remote

        try:
            return remote.reload_config(self)
        finally:
            _unload("vafa.remote")

    def _on_response(self, r):
        inf = self.inflight
        if inf is None or self.state != SENDING or r.get("id") != inf["id"]:
            return  # late duplicate or someone else's id
        self.inflight = None
        self.last_response = r
        if self.ota_trial is not None:
            self._ota_confirmed()  # a verified answer to a cashier's request confirms too
        # Our own answer: its ts is the backend's clock now, unless it is a stored answer
        # to an earlier send of this id (a few seconds old: then never turn time back).
        self.clock.observe(r.get("ts"), backward_ok=inf["sends"] == 1)
        if not r.get("ok"):
            if r.get("code") in REISSUE_CODES and self._reissue_online(inf, r):
                return
            if r.get("code") == "UNAVAILABLE":
                # Temporary backend fault: retry the same id after a pause, and once the
                # resends are spent treat it like no answer (an earn-only sale is
                # journaled), since nothing was written.
                if inf["sends"] <= MAX_RESENDS:
                    inf["deadline"] = ticks_add(self._ticks(), _UNAVAILABLE_RETRY_MS)
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
            try:
                self.store.remove_sale(inf["ref"])
            except OSError as e:
                self._say("cannot forget refunded sale %s (%r)" % (inf["ref"], e))
            lines.append(TEXT["refunded"])
        elif inf["op"] == "purchase":
            self._remember_sale(inf["id"], inf["card"], inf["amount"], inf["ts"], inf["clk"],
                                inf["up"])
        lines += [
            str(member.get("name", "")),
            TEXT["tier"] + str(member.get("tier", "")),
            TEXT["credit"] + protocol.fmt_amount(bal.get("credit", 0)),
            TEXT["points"] + protocol.fmt_amount(bal.get("points", 0)),
        ]
        if isinstance(tx, dict) and inf["op"] == "purchase":
            if tx.get("points_used"):
                lines.append(TEXT["points_used"] + protocol.fmt_amount(tx["points_used"]))
            lines.append(TEXT["pay"] + protocol.fmt_amount(tx.get("payable", 0)))
        self.hw.indicator.ok()
        self._to_result(lines, RESULT_MS)
        receipt = r.get("receipt")
        items = self._item_lines(inf.get("items"))
        if isinstance(receipt, list) and receipt:
            # The item lines under the backend's first line (the club's name).
            receipt = [str(x) for x in receipt]
            self._print(receipt[:1] + items + receipt[1:])
        elif isinstance(tx, dict):
            out = self._fallback_receipt(r, lines)
            self._print(out[:1] + items + out[1:])

    def _reissue_online(self, inf, r):
        from vafa import reissue

        try:
            return reissue.online(self, inf, r)
        finally:
            _unload("vafa.reissue")

    def _fallback_receipt(self, r, shown):
        tx = r["tx"]
        out = [self.club_name, TEXT["card"] + mask_card(self.card), r.get("id", "")]
        out.append(TEXT["amount_r"] + protocol.fmt_amount(tx.get("amount", 0)))
        out.append(TEXT["discount"] + protocol.fmt_amount(tx.get("discount", 0)))
        out.append(TEXT["credit_used"] + protocol.fmt_amount(tx.get("credit_used", 0)))
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
