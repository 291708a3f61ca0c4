# config.json: load and validate (written by the backend seed / provisioning).
import binascii
import json

from micropython import const

from vafa import pins as pins_module
from vafa import unload
from vafa.config_rules import SETTINGS, ConfigError, is_int

_DEFAULT_PORT = const(1883)
_DEFAULT_TLS_PORT = const(8883)
_DEFAULT_KEEPALIVE_S = const(30)
_KEY_LEN = const(32)
_DEFAULT_REFUND_WINDOW_S = const(86400)  # the backend checks its own window again
_DEFAULT_OTA_TRIAL_S = const(180)
DEFAULT_NTP_HOST = "pool.ntp.org"
KEYS = "0123456789CBEULR"  # the keys vafa.app understands

# The wiring lives in vafa.pins, one map per chip; a config without "chip" is an ESP32.
DEFAULT_PINS = pins_module.pin_map(pins_module.DEFAULT_CHIP)


def _valid_device_id(s):
    if not isinstance(s, str) or not 3 <= len(s) <= 32:
        return False
    for c in s:
        if not ("a" <= c <= "z" or "0" <= c <= "9" or c == "-"):
            return False
    return True


def validate(cfg):
    """Check ``cfg`` (dict from config.json), fill defaults, return it."""
    if not isinstance(cfg, dict):
        raise ConfigError("config must be a JSON object")
    if not _valid_device_id(cfg.get("device_id")):
        raise ConfigError("device_id must match [a-z0-9-]{3,32} (PROTOCOL.md)")
    key_hex = cfg.get("key_hex")
    if not isinstance(key_hex, str) or len(key_hex) != 2 * _KEY_LEN:
        raise ConfigError("key_hex must be 64 hex characters")
    try:
        binascii.unhexlify(key_hex)
    except ValueError:
        raise ConfigError("key_hex is not hex")
    mqtt = cfg.get("mqtt")
    if not isinstance(mqtt, dict) or not isinstance(mqtt.get("host"), str) or not mqtt["host"]:
        raise ConfigError("mqtt.host is required")
    tls = bool(mqtt.get("tls", False))
    mqtt["tls"] = tls
    # Development only: TLS without verifying the broker (no ca.pem); shown on the display.
    insecure = mqtt.get("insecure", False)
    if not isinstance(insecure, bool):
        raise ConfigError("mqtt.insecure must be true or false")
    mqtt["insecure"] = insecure
    port = mqtt.get("port") or (_DEFAULT_TLS_PORT if tls else _DEFAULT_PORT)
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError("mqtt.port must be 1..65535")
    mqtt["port"] = port
    ka = mqtt.get("keepalive_s") or _DEFAULT_KEEPALIVE_S
    if not isinstance(ka, int) or ka < 5:
        raise ConfigError("mqtt.keepalive_s must be an integer >= 5")
    mqtt["keepalive_s"] = ka
    if mqtt.get("user") is None:
        mqtt["user"] = cfg["device_id"]
    mqtt.setdefault("password", None)
    floor = cfg.get("seq_floor", 0)
    if floor is None:
        floor = 0
    if not is_int(floor) or not 0 <= floor < 2**31:
        raise ConfigError("seq_floor must be an integer >= 0 (the backend's last seq)")
    cfg["seq_floor"] = floor
    window = cfg.get("refund_window_s", _DEFAULT_REFUND_WINDOW_S)
    if not is_int(window) or window <= 0:
        raise ConfigError("refund_window_s must be an integer > 0 (seconds)")
    cfg["refund_window_s"] = window
    # How long a trial boot of an update has to confirm before the loader reverts it
    # (vafa.ota, main.py); shorter in tests.
    trial_s = cfg.get("ota_trial_s", _DEFAULT_OTA_TRIAL_S)
    if not is_int(trial_s) or not 5 <= trial_s <= 3600:
        raise ConfigError("ota_trial_s must be an integer of seconds, 5..3600")
    cfg["ota_trial_s"] = trial_s
    ntp_host = cfg.get("ntp_host", DEFAULT_NTP_HOST)
    if not isinstance(ntp_host, str) or not ntp_host:
        raise ConfigError("ntp_host must be a host name or IP address")
    cfg["ntp_host"] = ntp_host
    cfg.setdefault("lang", "en")
    cfg.setdefault("club_name", "Vafa")
    ver = cfg.get("cfg_ver", 0)
    if not is_int(ver) or ver < 0:
        raise ConfigError("cfg_ver must be an integer >= 0")
    cfg["cfg_ver"] = ver
    remote = check_settings({k: cfg[k] for k in SETTINGS if k in cfg}) if [
        k for k in SETTINGS if k in cfg] else {}
    cfg.update(remote)
    portal = cfg.get("portal_url") or ""
    if not isinstance(portal, str) or len(portal) > 200:
        raise ConfigError("portal_url must be a URL of at most 200 characters")
    cfg["portal_url"] = portal  # printed as a QR code on receipts ("": none)
    wifi = cfg.get("wifi")
    if not isinstance(wifi, dict):
        wifi = {}
    wifi.setdefault("ssid", "")
    wifi.setdefault("password", "")
    cfg["wifi"] = wifi
    chip = cfg.get("chip") or pins_module.DEFAULT_CHIP
    if chip not in pins_module.MAPS:
        raise ConfigError("chip must be one of " + ", ".join(pins_module.CHIPS))
    cfg["chip"] = chip
    pins = cfg.get("pins")
    if not isinstance(pins, dict):
        pins = {}
    defaults = pins_module.pin_map(chip)
    for k in defaults:
        pins.setdefault(k, defaults[k])
    if len(pins["keypad_rows"]) != 4 or len(pins["keypad_cols"]) != 4:
        raise ConfigError("pins.keypad_rows and pins.keypad_cols need 4 pins each")
    km = pins.get("keymap")
    if km is not None:
        if not isinstance(km, str) or len(km) != 16 or [c for c in km if c not in KEYS]:
            raise ConfigError("pins.keymap must be 16 characters from " + KEYS)
    cfg["pins"] = pins
    return cfg


def key_bytes(cfg):
    return binascii.unhexlify(cfg["key_hex"])


def _read(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        return None
    except ValueError:
        raise ConfigError(path + " is not valid JSON")


def load(path="config.json"):
    cfg = _read(path)
    if cfg is None:
        # A power cut between save()'s remove and rename leaves only the new file.
        try:
            cfg = _read(path + ".tmp")
        except ConfigError:
            cfg = None
    if cfg is None:
        raise ConfigError("cannot read " + path)
    return validate(cfg)


# ---- remote config (issue 16): the settings a shop changes, from a signed cmd "set" ----
def check_settings(s):
    """The settings of a cmd "set" checked and normalised (a new dict), or ConfigError
    (vafa.settings: loaded for the check, dropped after)."""
    from vafa import settings

    try:
        return settings.check(s)
    finally:
        unload("vafa.settings")


def with_settings(cfg, settings, version):
    """A copy of ``cfg`` with checked ``settings`` and config version ``version``,
    validated as a whole."""
    new = json.loads(json.dumps(cfg))
    for k in settings:
        new[k] = settings[k]
    new["cfg_ver"] = version
    return validate(new)


def save(cfg, path="config.json"):
    """Write config.json so that a power cut leaves the old file or the new one, never a
    torn one: the new text goes to a temporary file, then replaces the old by rename."""
    import os

    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(cfg))
    try:
        os.rename(tmp, path)
    except OSError:
        # Some filesystems refuse a rename onto an existing file: drop the old one first
        # (a cut between the two leaves config.json.tmp, which load() then falls back to).
        os.remove(path)
        os.rename(tmp, path)
