# Vafa terminal loader (ESP32 entry point). NEVER updated over the air: it is the one
# piece that must work to come back from a bad update (docs/terminal.md "Firmware
# updates"). It reads /fw/boot.json, puts the active build first on sys.path, imports the
# updatable entry (vafa.start) and runs it; a trial build that fails to import, raises,
# or is not confirmed within two boots or trial_s seconds is reverted to the previous
# build. It imports nothing of vafa before sys.path is set (the first import fixes which
# directory the vafa package comes from). The simulator runs these same functions.
import json
import os
import sys

from micropython import const

MAX_TRIAL_BOOTS = const(2)  # a trial not confirmed in two boots is reverted at the third
MAX_BOOT_JSON = const(512)
MAX_ERR = const(80)  # the state body's bound for ota.err
DEFAULT_TRIAL_S = const(180)


def _path(root, name):
    return root + "/fw/" + name if root else "/fw/" + name


def read_json(path, limit=MAX_BOOT_JSON):
    """The object in ``path``, or None when it is missing, too large or not JSON."""
    try:
        with open(path) as f:
            text = f.read(limit + 1)
        data = json.loads(text) if len(text) <= limit else None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(root, name, data):
    """Write /fw/<name> atomically: a temp file renamed over it (a power cut leaves the old
    or the new file, never half of one)."""
    tmp = _path(root, name + ".tmp")
    with open(tmp, "w") as f:
        f.write(json.dumps(data))
    os.rename(tmp, _path(root, name))


def read_boot(root=""):
    """boot.json as a checked dict, or None (the factory firmware in the root)."""
    b = read_json(_path(root, "boot.json"))
    if b is None or not isinstance(b.get("active"), str) or not b["active"]:
        return None
    b["prev"] = b.get("prev") if isinstance(b.get("prev"), str) else ""
    b["trial"] = b.get("trial") is True
    boots = b.get("boots")
    b["boots"] = boots if isinstance(boots, int) and boots >= 0 else MAX_TRIAL_BOOTS
    trial_s = b.get("trial_s")
    b["trial_s"] = trial_s if isinstance(trial_s, int) and trial_s > 0 else DEFAULT_TRIAL_S
    return b


def revert(root, b, err):
    """Back to the previous build: boot.json names it (not on trial: it was confirmed, or
    is the factory firmware), and result.json says why, for the state topic."""
    write_json(root, "result.json", {"ver": b["active"], "st": "rolled_back",
                                     "err": str(err)[:MAX_ERR]})
    if b["prev"]:
        write_json(root, "boot.json", {"active": b["prev"], "prev": "", "trial": False,
                                       "boots": 0, "trial_s": b["trial_s"]})
    else:
        try:
            os.remove(_path(root, "boot.json"))  # the factory firmware in the root
        except OSError:
            pass


def begin(root=""):
    """Once per boot, before anything of vafa is imported: (boot dict or None, directory to
    put first on sys.path or None). Counts a trial boot; reverts a trial that already had
    its MAX_TRIAL_BOOTS boots (it never confirmed: a hang the watchdog reset, a crash)."""
    b = read_boot(root)
    if b is not None and b["trial"]:
        if b["boots"] >= MAX_TRIAL_BOOTS:
            revert(root, b, "not confirmed in %d boots" % b["boots"])
            b = read_boot(root)  # nothing of the trial build is loaded: boot the old one
        else:
            b["boots"] += 1
            write_json(root, "boot.json", b)
    if b is None:
        return None, None
    return b, _path(root, b["active"])


def on_failure(root, b, err):
    """The entry failed (import error, exception): revert a trial at once. True when it
    did (the caller resets into the previous build)."""
    if b is None or not b["trial"]:
        return False
    cur = read_boot(root)
    if cur is None or cur["active"] != b["active"] or not cur["trial"]:
        return False  # confirmed meanwhile: a later crash is not the update's fault
    revert(root, cur, err)
    return True


def trial_expired(root, b):
    """Called when trial_s has passed: revert when the trial is still unconfirmed."""
    return on_failure(root, b, "not confirmed in %d s" % b["trial_s"])


def error_text(e):
    return ("%s: %s" % (type(e).__name__, e))[:MAX_ERR]


def _board():
    import machine

    try:
        b, path = begin()
    except Exception as e:  # a flash error: boot the factory firmware, never the REPL
        sys.print_exception(e)
        b, path = None, None
    if path is not None:
        sys.path.insert(0, path)  # before '.frozen': the update shadows frozen modules
    timer = None
    if b is not None and b["trial"]:
        # A hardware timer, not the updatable loop: a build whose loop runs but never
        # confirms is still reverted. The callback runs scheduled, between bytecodes.
        def expired(_t):
            if trial_expired("", b):
                machine.reset()

        timer = machine.Timer(0)
        timer.init(mode=machine.Timer.ONE_SHOT, period=b["trial_s"] * 1000, callback=expired)
    try:
        from vafa import start

        start.run()
    except Exception as e:  # the entry returns only by an error
        sys.print_exception(e)
        try:
            if os.stat("error.log")[6] > 8192:  # bounded as vafa.start keeps it
                os.remove("error.log")
        except OSError:
            pass
        try:
            with open("error.log", "a") as f:
                sys.print_exception(e, f)
        except OSError:
            pass
        try:
            on_failure("", b, error_text(e))
        except Exception as e2:  # the flash: the next boots' count reverts it anyway
            sys.print_exception(e2)
        import time

        time.sleep(2)
        machine.reset()
    finally:
        if timer is not None:
            timer.deinit()


if __name__ == "__main__":
    _board()
