# Setup mode (O2): a terminal without credentials scans its provisioning QR code with its
# own barcode module, joins the shop's Wi-Fi, exchanges the one-time token for its
# credentials (POST <api>/enrol), writes config.json and reboots into normal mode.
#
# The QR code is `python -m provisioning qr`'s compact JSON:
#   {"t":"vafa-enrol","v":1,"api":"https://…/api/v1","token":"…",
#    "wifi":{"ssid":"…","password":"…"},"mqtt":{"host":"…","port":8883,"tls":true}}
# Broker host/port/TLS and Wi-Fi come from the code (the network as the terminal sees
# it), id and secrets from the backend's answer, the pin map from the device itself.
import json

from micropython import const

from vafa import config as vconfig
from vafa.store import write_atomic

PAYLOAD_TYPE = "vafa-enrol"
MAX_QR = const(512)  # bytes of a scanned code in setup mode (a payload is ~250)
MAX_TOKEN = const(64)
MAX_API_URL = const(200)
ENROL_PATH = "/enrol"

# Display texts (vafa.text wraps them to the 128-px screen).
TEXT = {
    "title": "Setup mode",
    "scan": "Scan setup QR",
    "not_setup": "Not a setup QR",
    "joining": "Joining Wi-Fi",
    "wifi_failed": "Wi-Fi failed",
    "enrolling": "Enrolling...",
    "no_server": "Server not found",
    "used": "QR code used",
    "expired": "QR code expired",
    "unknown": "Unknown QR code",
    "refused": "Refused",
    "bad_answer": "Bad answer",
    "new_code": "Make a new code",
    "try_again": "Scan to retry",
    "enrolled": "Enrolled",
    "restarting": "Restarting...",
}


class EnrolError(ValueError):
    """A step of setup mode failed; ``reason`` is a TEXT key for the display."""

    def __init__(self, message, reason):
        super().__init__(message)
        self.reason = reason


def _text(d, key, low, high, reason="not_setup"):
    value = d.get(key)
    if not isinstance(value, str) or not low <= len(value.encode()) <= high:
        raise EnrolError("%s must be text of %d-%d bytes" % (key, low, high), reason)
    return value


def parse_qr(text):
    """The setup code's fields, checked; raises EnrolError for anything else."""
    try:
        d = json.loads(text)
    except ValueError:
        raise EnrolError("the code is not JSON", "not_setup")
    if not isinstance(d, dict) or d.get("t") != PAYLOAD_TYPE:
        raise EnrolError("not a Vafa setup code", "not_setup")
    if d.get("v") != 1:
        raise EnrolError("setup code version %r is not supported" % (d.get("v"),), "not_setup")
    api = _text(d, "api", 8, MAX_API_URL)
    if not (api.startswith("http://") or api.startswith("https://")):
        raise EnrolError("api must be an http(s) URL", "not_setup")
    token = _text(d, "token", 8, MAX_TOKEN)
    wifi, mqtt = d.get("wifi"), d.get("mqtt")
    if not isinstance(wifi, dict) or not isinstance(mqtt, dict):
        raise EnrolError("wifi and mqtt are required", "not_setup")
    ssid = _text(wifi, "ssid", 1, 32)
    password = _text(wifi, "password", 0, 64)
    host = _text(mqtt, "host", 1, 253)
    port, tls = mqtt.get("port"), mqtt.get("tls")
    if type(port) is not int or not 0 < port < 65536 or type(tls) is not bool:
        raise EnrolError("mqtt.port must be 1-65535 and mqtt.tls true or false", "not_setup")
    return {"api": api.rstrip("/"), "token": token,
            "wifi": {"ssid": ssid, "password": password},
            "mqtt": {"host": host, "port": port, "tls": tls}}


def refusal_reason(status, body):
    """The display text key for the backend's refusal of a token."""
    try:
        message = str(json.loads(body).get("message", ""))
    except (ValueError, AttributeError):
        message = ""
    if status == 403 and "already used" in message:
        return "used"
    if status == 403 and "expired" in message:
        return "expired"
    if status == 403:
        return "unknown"
    return "refused"


def config_from_answer(qr, answer, pins=None):
    """config.json from the backend's answer, the code's network settings and the
    device's own pin map; validated as vafa.config.load would."""
    cfg = answer.get("config") if isinstance(answer, dict) else None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("mqtt"), dict):
        raise EnrolError("the answer holds no config", "bad_answer")
    cfg = dict(cfg)
    if "seq_floor" not in cfg and "seq_floor" in answer:
        # The backend's last accepted seq for this id: a re-enrolled board never
        # reuses a request id (the reply may carry it next to the config).
        cfg["seq_floor"] = answer["seq_floor"]
    mqtt = dict(cfg["mqtt"])
    mqtt["host"], mqtt["port"], mqtt["tls"] = (qr["mqtt"]["host"], qr["mqtt"]["port"],
                                               qr["mqtt"]["tls"])
    cfg["mqtt"] = mqtt
    cfg["wifi"] = dict(qr["wifi"])
    if pins:
        cfg["pins"] = dict(pins)
    try:
        return vconfig.validate(cfg)
    except vconfig.ConfigError as e:
        raise EnrolError("the answer's config is not usable: %s" % (e,), "bad_answer")


def write_config(path, cfg):
    """Replace config.json whole (temp file + rename): a power cut leaves old or new."""
    write_atomic(path, json.dumps(cfg))


def local_pins(path):
    """The pin map of a config.json without credentials (a board's wiring written by the
    technician or a previous install), or None for the defaults."""
    try:
        with open(path) as f:
            pins = json.load(f).get("pins")
    except (OSError, ValueError, AttributeError):
        return None
    return pins if isinstance(pins, dict) else None


class Setup:
    """Setup mode's loop body. ``wifi(ssid, password)`` joins the network (bounded) and
    returns True once connected; ``post(url, body)`` returns (status, body bytes) or
    raises OSError; ``config_path`` is where config.json is written."""

    def __init__(self, hw, wifi, post, config_path, pins=None, log=None):
        self.hw = hw
        self.wifi = wifi
        self.post = post
        self.config_path = config_path
        self.pins = pins
        self._log = log
        self.enrolled = None  # the written config once enrolled
        self.reason = None  # TEXT key of the last failure
        self.lines = []

    def _say(self, s):
        if self._log is not None:
            self._log(s)

    def _show(self, lines):
        self.lines = list(lines)
        self.hw.display.show(self.lines)

    def start(self):
        self._show([TEXT["title"], "", TEXT["scan"]])

    def step(self):
        """Poll the scanner once; a code runs the whole exchange. Returns the new config
        when enrolled, else None."""
        code = self.hw.scanner.read()
        if code and self.enrolled is None:
            return self.on_scan(code)
        return None

    def on_scan(self, code):
        try:
            qr = parse_qr(code)
            self._show([TEXT["title"], TEXT["joining"], qr["wifi"]["ssid"][:16]])
            if not self.wifi(qr["wifi"]["ssid"], qr["wifi"]["password"]):
                raise EnrolError("cannot join Wi-Fi %r" % (qr["wifi"]["ssid"],), "wifi_failed")
            self._show([TEXT["title"], TEXT["enrolling"]])
            try:
                status, body = self.post(qr["api"] + ENROL_PATH,
                                         json.dumps({"token": qr["token"]}).encode())
            except OSError as e:
                raise EnrolError("cannot reach %s: %r" % (qr["api"], e), "no_server")
            if status != 201:
                raise EnrolError("the backend answered %d: %s" % (status, body[:120]),
                                 refusal_reason(status, body))
            try:
                answer = json.loads(body)
            except ValueError:
                raise EnrolError("the answer is not JSON", "bad_answer")
            cfg = config_from_answer(qr, answer, self.pins)
            write_config(self.config_path, cfg)
        except EnrolError as e:
            self.reason = e.reason
            self._say("setup: %s" % (e,))
            self.hw.indicator.error()
            hint = TEXT["new_code"] if e.reason in ("used", "expired", "unknown") \
                else TEXT["try_again"]
            self._show([TEXT["title"], TEXT[e.reason], hint])
            return None
        except Exception as e:  # HttpError and the like: a bad answer, retry by scanning
            self.reason = "bad_answer"
            self._say("setup: %r" % (e,))
            self.hw.indicator.error()
            self._show([TEXT["title"], TEXT["bad_answer"], TEXT["try_again"]])
            return None
        self.enrolled = cfg
        self.reason = None
        self._say("setup: enrolled as %s" % cfg["device_id"])
        self.hw.indicator.ok()
        self._show([TEXT["enrolled"], cfg["device_id"], TEXT["restarting"]])
        return cfg
