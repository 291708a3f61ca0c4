# Remote config (issue 16): the settings a shop changes from the panel (a signed cmd
# "set"), checked one by one. vafa.config.check_settings imports this module for a check
# (a cmd "set", or a config.json that holds such settings) and drops it after.
import binascii

from micropython import const

from vafa.config_rules import SETTINGS, ConfigError, is_int

# What the terminal may do (cfg["ops"]): sell, look a balance up, refund, spend credit.
OPERATIONS = ("purchase", "lookup", "refund", "credit")
_IDLE_MIN_S = const(10)
_IDLE_MAX_S = const(3600)
_DEFAULT_IDLE_S = const(60)
_DEFAULT_CONTRAST = const(255)
_FOOTER_MAX = const(96)


def check(s):
    """The settings of a cmd "set" checked and normalised (a new dict), or ConfigError:
    nothing is applied unless all of them are valid. Unknown keys are refused too."""
    if not isinstance(s, dict) or not s:
        raise ConfigError("settings must be a non-empty object")
    out = {}
    for k in s:
        if k not in SETTINGS:
            raise ConfigError("unknown setting " + str(k))
    v = s.get("lang")
    if v is not None:
        if v not in ("en", "fa"):
            raise ConfigError("lang must be en or fa")
        out["lang"] = v
    v = s.get("contrast")
    if v is not None:
        if not is_int(v) or not 0 <= v <= 255:
            raise ConfigError("contrast must be 0..255")
        out["contrast"] = v
    if "footer" in s:
        v = s["footer"]
        if not isinstance(v, str) or len(v) > _FOOTER_MAX or "\x00" in v:
            raise ConfigError("footer must be text of at most %d characters" % _FOOTER_MAX)
        out["footer"] = v
    v = s.get("idle_s")
    if v is not None:
        if not is_int(v) or not _IDLE_MIN_S <= v <= _IDLE_MAX_S:
            raise ConfigError("idle_s must be %d..%d" % (_IDLE_MIN_S, _IDLE_MAX_S))
        out["idle_s"] = v
    if "pin_sha" in s:
        v = s["pin_sha"]  # hex HMAC-SHA256(key, "pin:" + PIN), None: no local check
        if v is not None:
            if not isinstance(v, str) or len(v) != 64:
                raise ConfigError("pin_sha must be 64 hex characters or null")
            try:
                binascii.unhexlify(v)
            except ValueError:
                raise ConfigError("pin_sha is not hex")
        out["pin_sha"] = v
    v = s.get("ops")
    if v is not None:
        if not isinstance(v, list) or [o for o in v if o not in OPERATIONS]:
            raise ConfigError("ops must be a list of " + ", ".join(OPERATIONS))
        out["ops"] = [o for o in OPERATIONS if o in v]
    return out
