# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
from mpytest import KEY, check, done, eq, make_app
from vafa import app as A
from vafa import protocol
from vafa.journal import decode_sale

CARD = "9900010000000019"
RES_TOPIC = "vafa/v1/dev/t1/res"


def response(rid, ok=True, **extra):
    d = {"v": 1, "id": rid, "ok": ok, "code": "OK" if ok else extra.pop("code", "CARD_UNKNOWN")}
    d["msg"] = extra.pop("msg", "Thank you Sara" if ok else "Unknown card")
    if ok:
        d["member"] = {"name": "Sara Ahmadi", "tier": "silver"}
        d["bal"] = {"credit": 123000, "points": 450}
    d.update(extra)
    import json

    return protocol.encode_frame(json.dumps(d).encode(), KEY)


def type_keys(app, keys):
    for k in keys:
        app.on_key(k)


# -- an invalid card is refused on the terminal, nothing is sent ----------------------
app, hw, net, clock = make_app()
app.show_idle()
app.on_scan("9900010000000018")
eq(hw.indicator.events, ["error"], "invalid card error beep")
eq(net.published, [], "invalid card: nothing published")
check("Invalid card" in hw.display.lines, "invalid card shown")
eq(app.outcome, A.OUT_INVALID_CARD, "outcome invalid card")
type_keys(app, "250000E")
eq(net.published, [], "keys after invalid card: nothing published")

# -- purchase: scan, amount, enter -> one signed request ------------------------------
app, hw, net, clock = make_app()
app.show_idle()
app.on_scan(CARD)
eq(app.state, A.CARD, "state CARD")
check("Amount:" in hw.display.lines, "Amount: prompt")
type_keys(app, "0250000")  # the leading zero is ignored
eq(app.state, A.AMOUNT, "state AMOUNT")
check("250,000" in hw.display.lines, "amount shown with separators")
app.on_key("B")
check("25,000" in hw.display.lines, "backspace")
app.on_key("0")
app.on_key("E")
eq(app.state, A.SENDING, "state SENDING")
eq(len(net.published), 1, "exactly one publish")
body = protocol.decode_frame(net.published[0], KEY)
check(body is not None, "request correctly signed")
eq(body, b'{"v":1,"id":"t01-000001","seq":1,"ts":1763800000,"op":"purchase",'
         b'"card":"9900010000000019","amount":250000,"use_credit":0}', "request body")
# keys and scans while sending do not start another request
app.on_key("E")
app.on_scan(CARD)
eq(len(net.published), 1, "one request in flight")

# a response with a bad signature or another id is ignored
good = response("t01-000001", tx={"amount": 250000, "discount": 12500, "credit_used": 0,
                                 "payable": 237500, "credit_earned": 11875,
                                 "points_earned": 25, "offers": []},
                receipt=["Vafa Demo Club", "Paid 237,500"])
tampered = bytearray(good)
tampered[10] = ord("X")
app.on_message(RES_TOPIC, bytes(tampered))
eq(app.state, A.SENDING, "bad signature ignored")
eq(app.security_events, 1, "security event counted")
app.on_message(RES_TOPIC, response("t01-000099"))
eq(app.state, A.SENDING, "other id ignored")

app.on_message(RES_TOPIC.encode(), good)
eq(app.state, A.RESULT, "state RESULT")
eq(app.outcome, A.OUT_OK, "outcome ok")
eq(hw.display.lines, ["Sara Ahmadi", "Tier: silver", "Credit: 123,000", "Points: 450",
                      "Pay: 237,500"], "result display")
eq(hw.printer.receipts, [["Vafa Demo Club", "Paid 237,500"]], "receipt printed")
eq(hw.indicator.events, ["error", "ok"], "busy scan beeped, then ok beep")
app.on_message(RES_TOPIC, good)  # duplicate delivery
eq(len(hw.printer.receipts), 1, "duplicate response ignored")
clock.t += A.RESULT_MS
app.tick(clock.t)
eq(app.state, A.IDLE, "back to IDLE after the display timeout")

# -- seq keeps increasing; use credit; lookup ----------------------------------------
app.on_scan(CARD)
type_keys(app, "5000U")
check("Use credit: yes" in hw.display.lines, "use credit shown")
app.on_key("E")
body = protocol.decode_frame(net.published[-1], KEY)
check(b'"id":"t01-000002","seq":2' in body, "seq 2")
check(body.endswith(b'"amount":5000,"use_credit":-1}'), "use_credit -1 sent")
app.on_message(RES_TOPIC, response("t01-000002", ok=False, code="INSUFFICIENT_CREDIT",
                                   msg="Not enough credit"))
eq(app.outcome, A.OUT_ERROR, "outcome error")
eq(hw.display.lines[:2], ["Not enough credit", "INSUFFICIENT_CREDIT"], "error shown")
eq(hw.indicator.events[-1], "error", "error beep on ok:false")
eq(len(hw.printer.receipts), 1, "no receipt on error")
app.on_key("C")
eq(app.state, A.IDLE, "C -> IDLE")
app.on_scan(CARD)
app.on_key("L")
body = protocol.decode_frame(net.published[-1], KEY)
check(b'"op":"lookup"' in body and b"amount" not in body, "lookup request")
app.on_message(RES_TOPIC, response("t01-000003"))
eq(hw.display.lines, ["Sara Ahmadi", "Tier: silver", "Credit: 123,000", "Points: 450"],
   "lookup display")
eq(len(hw.printer.receipts), 1, "lookup without receipt lines prints nothing")

# -- enter with no amount ---------------------------------------------------------------
app.on_scan(CARD)
n = len(net.published)
app.on_key("E")
eq(len(net.published), n, "enter without amount sends nothing")
eq(hw.indicator.events[-1], "error", "enter without amount beeps")

# -- resend the same frame after 5 s, at most 3 times, then "No connection" ------------
app, hw, net, clock = make_app()
app.show_idle()
app.on_scan(CARD)
type_keys(app, "1000E")
first = net.published[0]
for i in range(3):
    clock.t += A.RESPONSE_TIMEOUT_MS - 1
    app.tick(clock.t)
    eq(len(net.published), 1 + i, "no resend before 5 s (%d)" % i)
    clock.t += 1
    app.tick(clock.t)
    eq(len(net.published), 2 + i, "resend %d" % (i + 1))
    eq(net.published[-1], first, "resend %d is the same frame" % (i + 1))
clock.t += A.RESPONSE_TIMEOUT_MS
app.tick(clock.t)
eq(len(net.published), 4, "at most 3 resends")
# an earn-only sale nobody answered goes to the journal, same id, marked offline
eq(app.outcome, A.OUT_OFFLINE, "unanswered earn-only sale journaled")
check("added later" in hw.display.lines, "points later shown")
eq(app.journal.seqs(), [1], "journal holds seq 1")
jb = decode_sale(app.journal.peek()[1])[1]  # unsigned: signed again at replay
check(b'"id":"t01-000001","seq":1' in jb and jb.endswith(b',"offline":true}'),
      "journal entry keeps the id")
# a lookup nobody answers ends in "No connection"
app.journal.ack(1)
app.on_key("C")
app.on_scan(CARD)
app.on_key("L")
n = len(net.published)
for _ in range(4):
    clock.t += A.RESPONSE_TIMEOUT_MS
    app.tick(clock.t)
eq(len(net.published), n + 3, "lookup: 3 resends")
eq(app.outcome, A.OUT_NO_CONNECTION, "outcome no connection")
check("No connection" in hw.display.lines, "No connection shown")
app.on_message(RES_TOPIC, response("t01-000002"))
eq(app.outcome, A.OUT_NO_CONNECTION, "late response ignored")

# -- offline: an earn-only sale is journaled and replayed when the broker is back ------
from mpytest import FakeNet  # noqa: E402

net = FakeNet(connected=False)
app, hw, net, clock = make_app(net=net)
app.on_scan(CARD)
type_keys(app, "700E")
eq(net.published, [], "offline: nothing published")
eq(app.outcome, A.OUT_OFFLINE, "offline sale journaled")
eq(len(app.journal), 1, "one journal entry")
net.connected = True
clock.t += 20
app.tick(clock.t)
eq(len(net.published), 1, "replayed once connected")
rb = protocol.decode_frame(net.published[0], KEY)
check(rb.endswith(b'"amount":700,"use_credit":0,"offline":true,"age_s":0}'),
      "replay carries offline and the sale's age")
app.on_message(RES_TOPIC, response("t01-000001"))
eq(len(app.journal), 0, "answered entry left the journal")
eq(net.states[-1], 0, "state published with queued 0")

# -- the loop step polls scanner, keypad, network ---------------------------------------
app, hw, net, clock = make_app()
app.show_idle()
hw.scanner.queue.append(CARD)
hw.keypad.queue.extend(list("42E"))
for _ in range(5):
    clock.t += 20
    app.step(clock.t)
eq(len(net.published), 1, "step(): one request")
check(net.polls >= 5, "step() polls the network")
done("test_app")
