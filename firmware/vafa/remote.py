# Remote commands of vafa.app (issue 16): cmd "set" (remote config), "config" (reload),
# "logs", the health fields of the state, and what a boot reports about a firmware update.
# Imported by vafa.app for each such event and dropped after it (no bytecode in RAM while
# selling).
from micropython import const

from vafa import protocol
from vafa.states import IDLE, RESULT, RESULT_MS

# A logs answer holds at most this many characters of lines (the frame bound is 4 KiB:
# the rest is the body's fields and the signature).
_LOGS_MAX_CHARS = const(3000)


def on_cmd(app, msg):
    op = msg.get("op")
    if op == "display":
        text = msg.get("text")
        if isinstance(text, str):
            lines = text.split("\n")
        else:
            lines = msg.get("lines") or [str(msg.get("msg", ""))]
        lines = [str(x) for x in lines][:8]
        if app.state in (IDLE, RESULT):
            app._to_result(lines, RESULT_MS)
        else:
            app._pending_display = lines  # never interrupt a sale
    elif op == "config":
        reload_config(app)
    elif op == "set":
        on_set(app, msg)
    elif op == "logs":
        send_logs(app, msg)
    elif op == "ota":
        app._on_ota(msg)
    elif op == "reboot":
        if app.state in (IDLE, RESULT):
            if app.on_reboot is not None:
                app._say("rebooting on command")
                app.on_reboot()
        else:
            app._reboot_pending = True
    else:
        app._say("unknown command %r" % (op,))


def on_set(app, msg):
    """cmd {"op":"set","cfg_ver":N,"settings":{...}}: check every setting, write
    config.json (temporary file, then rename), apply, and report cfg_ver N in the
    state. A version at or below the applied one is only confirmed again."""
    from vafa.config import ConfigError, check_settings, with_settings

    ver = msg.get("cfg_ver")
    if not isinstance(ver, int) or isinstance(ver, bool) or ver <= 0:
        app._say("config set refused: no cfg_ver")
        return
    if ver <= app.cfg_ver:
        app._say("config %d applied already" % ver)
        app._publish_health()
        return
    try:
        if app.config_saver is None:
            raise ConfigError("remote config not available")
        cfg = with_settings(app.cfg, check_settings(msg.get("settings")), ver)
        app.config_saver(cfg)
    except Exception as e:  # ConfigError, OSError (flash full): the old one stays
        app.cfg_error = "%d: %s" % (ver, e)
        app._say("config %d refused: %s" % (ver, e))
        app._publish_health()
        return
    app.cfg_error = None
    app._apply_config(cfg)
    app._say("config %d applied" % ver)
    if app.state == IDLE:
        app.show_ready()
    app._publish_health()


def send_logs(app, msg):
    """cmd {"op":"logs","id":...}: the newest log lines that fit one frame, as a
    signed req {"op":"logs"} (the terminal may publish on req and state only)."""
    import json

    n = msg.get("n")
    n = n if isinstance(n, int) and 0 < n <= app.ring.size else None
    rid = str(msg.get("id", ""))[:40]
    budget = _LOGS_MAX_CHARS
    while True:
        lines = app.ring.tail(budget, n)
        body = json.dumps({"v": protocol.PROTOCOL_VERSION, "op": "logs", "id": rid,
                           "ts": app.clock.now(), "up": app.clock.uptime_ms() // 1000,
                           "count": app.ring.count, "lines": lines})
        if len(body) <= _LOGS_MAX_CHARS + 300 or not lines:
            break
        budget = budget // 2  # escapes made it longer than counted: fewer lines
    frame = protocol.encode_frame(body.encode(), app.key)
    if not app.net.publish_request(frame):
        app._say("logs not sent: not connected")


def reload_config(app):
    """Re-read config.json; returns True when applied. Broker settings take effect
    at the next connect (reboot)."""
    if app.config_loader is None:
        app._say("config reload not available")
        return False
    try:
        cfg = app.config_loader()
    except Exception as e:  # ConfigError, OSError: keep running on the old one
        app._say("config reload failed: %s" % (e,))
        return False
    if cfg["device_id"] != app.device_id:
        app._say("config reload refused: device_id changed")
        return False
    app._apply_config(cfg)
    app._say("config reloaded")
    if app.state == IDLE:
        app.show_ready()
    return True


def fw_json(app, name):
    """/fw/<name> as a dict, or None. Read here, not through vafa.ota: a terminal
    that is not updating never imports the downloader."""
    import json

    path = (app.fw_root + "/fw/" if app.fw_root else "/fw/") + name
    try:
        with open(path) as f:
            text = f.read(513)
        data = json.loads(text) if len(text) <= 512 else None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def ota_boot(app):
    """What this boot reports: a trial (to confirm), or the loader's rollback."""
    from vafa.version import VERSION

    b = fw_json(app, "boot.json")
    report = None
    if b is not None and b.get("trial") is True and b.get("active") == VERSION:
        app.ota_trial = VERSION
        report = {"ver": VERSION, "st": "trial", "err": "", "pct": 100}
        app._say("trial boot of %s: confirming with the backend" % VERSION)
    else:
        r = fw_json(app, "result.json")
        if r is not None and isinstance(r.get("ver"), str):
            report = {"ver": r["ver"][:24], "st": str(r.get("st", ""))[:16],
                      "err": str(r.get("err", ""))[:80], "pct": 0}
            app._say("update %s %s: %s" % (report["ver"], report["st"], report["err"]))
            keep = (b.get("active"), b.get("prev")) if b is not None else ()
            if report["ver"] not in keep and report["ver"] != VERSION:
                from vafa import ota  # the rare path: the loader reverted a trial

                if ota.good_version(report["ver"]):  # deleted in steps of the loop
                    app.ota = ota.Sweep(ota.fw_path(app.fw_root, report["ver"]))
    app.net.ota = report


def oldest_queued_s(app):
    """Age in seconds of the oldest journaled sale (a lower bound after a reboot
    without a synced clock), or None when nothing is queued."""
    from vafa.journal import decode_sale

    if app.journal is None or not len(app.journal):
        return None
    entry = app.journal.peek()
    sale = decode_sale(entry[1]) if entry is not None else None
    clock = app.clock
    if sale is None:
        return clock.uptime_ms() // 1000
    clk, boot, up = sale[0][0], sale[0][1], sale[0][2]
    if boot == clock.boot_id:
        return (clock.uptime_ms() - up) // 1000
    body = protocol.parse_body(sale[1]) or {}
    if clk and clock.synced:
        return max(0, clock.now() - body.get("ts", 0))
    return clock.uptime_ms() // 1000


def health(app):
    """The health fields of the state topic (docs/protocol.md "State")."""
    probe = getattr(app.hw, "probe", None)
    printer = app.hw.printer
    perr = getattr(printer, "last_error", None)
    h = {
        "up": app.clock.uptime_ms() // 1000,
        "heap": probe.free_heap() if probe is not None else None,
        "rssi": probe.rssi() if probe is not None else None,
        "dead": app.journal.dead if app.journal is not None else 0,
        "oldest_s": oldest_queued_s(app),
        "clk": bool(app.clock.synced),
        "paper": printer.paper_ok(),
        "perr": str(perr)[:60] if perr else None,
        "sec": app.security_events,
        "cfg": app.cfg_ver,
        "crashes": app.crashes,
    }
    if app.cfg_error:
        h["cfg_err"] = app.cfg_error[:80]
    return h
