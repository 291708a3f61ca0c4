# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
# Setup mode: the provisioning QR code parsed and checked, the backend's answer turned
# into config.json (written whole and loadable), refusals shown; the HTTP client's
# request and response handling; the scanner reading a long UTF-8 setup code.
import json

from mpytest import (
    KEY_HEX,
    FakeDisplay,
    FakeIndicator,
    FakeKeypad,
    FakePrinter,
    FakeScanner,
    check,
    done,
    eq,
    raises,
    tmpdir,
)
from vafa import config as vconfig
from vafa import enrol, http
from vafa.hw import Hardware
from vafa.hw.scan import ScanDecoder

QR = {"t": "vafa-enrol", "v": 1, "api": "http://10.0.0.5:5000/api/v1/", "token": "tok-0123456789",
      "wifi": {"ssid": "\u0641\u0631\u0648\u0634\u06af\u0627\u0647", "password": "pw123456"},
      "mqtt": {"host": "mqtt.shop", "port": 8883, "tls": True}}
ANSWER = {"device_id": "t21", "mqtt_password": "p" * 32, "key_hex": KEY_HEX, "config": {
    "device_id": "t21", "key_hex": KEY_HEX, "lang": "fa", "club_name": "Vafa Demo Club",
    "mqtt": {"host": "127.0.0.1", "port": 1883, "user": "t21", "password": "p" * 32,
             "tls": False, "keepalive_s": 30},
    "wifi": {"ssid": "", "password": ""}, "pins": dict(vconfig.DEFAULT_PINS)}}


def with_(d, **changes):
    out = dict(d)
    out.update(changes)
    return out


# -- the QR code ------------------------------------------------------------------------
qr = enrol.parse_qr(json.dumps(QR))
eq(qr["api"], "http://10.0.0.5:5000/api/v1", "trailing slash dropped")
eq(qr["wifi"]["ssid"], QR["wifi"]["ssid"], "Persian SSID kept")
eq(qr["mqtt"], {"host": "mqtt.shop", "port": 8883, "tls": True}, "broker as the terminal sees it")
for bad in ("not json", "[1]", json.dumps(with_(QR, t="wifi")), json.dumps(with_(QR, v=2)),
            json.dumps(with_(QR, api="ftp://x/api")), json.dumps(with_(QR, token="")),
            json.dumps(with_(QR, token="x" * 65)), json.dumps(with_(QR, wifi="Shop")),
            json.dumps(with_(QR, mqtt={"host": "h", "port": 0, "tls": True})),
            json.dumps(with_(QR, mqtt={"host": "h", "port": 1883, "tls": "yes"})),
            json.dumps(with_(QR, wifi={"ssid": "x" * 33, "password": ""}))):
    try:
        enrol.parse_qr(bad)
    except enrol.EnrolError as e:
        eq(e.reason, "not_setup", "refused: %s" % bad[:40])
    else:
        raise AssertionError("accepted %s" % bad)

# -- the answer becomes config.json ----------------------------------------------------
pins = with_(vconfig.DEFAULT_PINS, buzzer=18)
cfg = enrol.config_from_answer(qr, json.loads(json.dumps(ANSWER)), pins)
eq(cfg["device_id"], "t21", "id from the backend")
eq((cfg["mqtt"]["host"], cfg["mqtt"]["port"], cfg["mqtt"]["tls"]), ("mqtt.shop", 8883, True),
   "broker from the QR code")
eq(cfg["mqtt"]["password"], "p" * 32, "password from the backend")
eq(cfg["wifi"], qr["wifi"], "Wi-Fi from the QR code")
eq(cfg["pins"]["buzzer"], 18, "the device's own pin map")
broken = json.loads(json.dumps(ANSWER))
broken["config"]["key_hex"] = "xyz"
raises(enrol.EnrolError, enrol.config_from_answer, qr, broken, None)
raises(enrol.EnrolError, enrol.config_from_answer, qr, {"error": "x"}, None)

root = tmpdir()
path = root + "/config.json"
with open(path, "w") as f:
    f.write(json.dumps({"pins": pins}))  # a board's wiring, no credentials yet
eq(enrol.local_pins(path)["buzzer"], 18, "local pins read from a partial config")
raises(vconfig.ConfigError, vconfig.load, path)
eq(enrol.local_pins(root + "/missing.json"), None, "no file: default pins")

# -- refusals ------------------------------------------------------------------------------
eq(enrol.refusal_reason(403, b'{"message":"this enrolment token was already used"}'), "used",
   "used")
eq(enrol.refusal_reason(403, b'{"message":"this enrolment token has expired; make a new QR code"}'),
   "expired", "expired")
eq(enrol.refusal_reason(403, b'{"message":"unknown enrolment token"}'), "unknown", "unknown")
eq(enrol.refusal_reason(500, b"<html>"), "refused", "server error")


# -- the whole exchange, on fakes ------------------------------------------------------------
class Backend:
    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, url, body):
        self.calls.append((url, json.loads(body)))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def make(answers, wifi_ok=True):
    hw = Hardware(FakeScanner(), FakeKeypad(), FakeDisplay(), FakePrinter(), FakeIndicator())
    joined = []

    def wifi(ssid, password):
        joined.append((ssid, password))
        return wifi_ok

    backend = Backend(answers)
    d = tmpdir()
    setup = enrol.Setup(hw, wifi, backend, d + "/config.json", pins=pins)
    setup.start()
    return setup, hw, backend, joined, d + "/config.json"


setup, hw, backend, joined, path = make([(201, json.dumps(ANSWER).encode())])
eq(hw.display.lines, ["Setup mode", "", "Scan setup QR"], "setup screen")
eq(setup.step(), None, "nothing scanned")
hw.scanner.queue.append("9900010000000019")
eq(setup.step(), None, "a card is not a setup code")
eq(hw.display.lines[1], "Not a setup QR", "told so")
eq(backend.calls, [], "nothing sent")
hw.scanner.queue.append(json.dumps(QR))
done_cfg = setup.step()
eq(joined, [(QR["wifi"]["ssid"], "pw123456")], "joined the shop's Wi-Fi")
eq(backend.calls, [("http://10.0.0.5:5000/api/v1/enrol", {"token": "tok-0123456789"})],
   "token posted to <api>/enrol")
eq(done_cfg["device_id"], "t21", "enrolled")
eq(hw.display.lines, ["Enrolled", "t21", "Restarting..."], "enrolled screen")
loaded = vconfig.load(path)
eq((loaded["device_id"], loaded["mqtt"]["host"], loaded["pins"]["buzzer"]),
   ("t21", "mqtt.shop", 18), "config.json written and loadable")
eq(hw.indicator.events[-1], "ok", "ok beep")

setup, hw, backend, joined, path = make(
    [(403, b'{"error":"TOKEN_REFUSED","message":"this enrolment token was already used"}')])
hw.scanner.queue.append(json.dumps(QR))
eq(setup.step(), None, "refused")
eq(hw.display.lines, ["Setup mode", "QR code used", "Make a new code"], "used code shown")
raises(OSError, open, path)

setup, hw, backend, joined, path = make([], wifi_ok=False)
hw.scanner.queue.append(json.dumps(QR))
setup.step()
eq((hw.display.lines[1], backend.calls), ("Wi-Fi failed", []), "no Wi-Fi: nothing posted")

setup, hw, backend, joined, path = make([OSError(113), (201, json.dumps(ANSWER).encode())])
hw.scanner.queue.append(json.dumps(QR))
setup.step()
eq(hw.display.lines[1:], ["Server not found", "Scan to retry"], "server unreachable")
hw.scanner.queue.append(json.dumps(QR))
eq(setup.step()["device_id"], "t21", "a second scan retries and enrols")

setup, hw, backend, joined, path = make([(201, b"<html>oops")])
hw.scanner.queue.append(json.dumps(QR))
setup.step()
eq(hw.display.lines[1], "Bad answer", "garbage answer")

# -- HTTP ---------------------------------------------------------------------------------
eq(http.split_url("http://10.0.0.5:5000/api/v1/enrol"), (False, "10.0.0.5", 5000, "/api/v1/enrol"),
   "http URL")
eq(http.split_url("https://vafa.example/api/v1/enrol"),
   (True, "vafa.example", 443, "/api/v1/enrol"), "https URL")
raises(http.HttpError, http.split_url, "ftp://x/")
raises(http.HttpError, http.split_url, "http://x:port/")
request = http.request_bytes("h", 80, "/api/v1/enrol", b'{"token":"t"}')
check(request.startswith(b"POST /api/v1/enrol HTTP/1.0\r\nHost: h:80\r\n"), "request line")
check(b"\r\nContent-Length: 13\r\n" in request and request.endswith(b'\r\n\r\n{"token":"t"}'),
      "length and body")
eq(http.parse_response(b"HTTP/1.1 201 CREATED\r\nContent-Length: 2\r\n\r\n{}trailing"),
   (201, b"{}"), "body cut at its length")
eq(http.parse_response(b"HTTP/1.0 403 FORBIDDEN\r\n\r\n{\"a\":1}"), (403, b'{"a":1}'),
   "no length: to the end")
raises(http.HttpError, http.parse_response, b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}")
raises(http.HttpError, http.parse_response,
       b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
raises(http.HttpError, http.parse_response, b"SSH-2.0\r\n\r\n")
raises(http.HttpError, http.parse_response, b"HTTP/1.1 200 OK\r\n")

# -- the scanner reads a whole setup code ---------------------------------------------------
text = json.dumps(QR)
raw = text.encode()
check(len(raw) > 48, "longer than a card")
eq(ScanDecoder().feed(raw + b"\r", 0), [], "normal mode drops long codes")
setup_decoder = ScanDecoder(max_code=enrol.MAX_QR, utf8=True)
eq(setup_decoder.feed(raw[:100], 0) + setup_decoder.feed(raw[100:] + b"\r\n", 50), [text],
   "setup mode reads it whole, UTF-8 included")
eq(setup_decoder.feed(b"x" * 600 + b"\r", 1000), [], "over-long still dropped")

done("test_enrol")
