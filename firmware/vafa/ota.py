# Over-the-air firmware update (docs/terminal.md "Firmware updates"): a signed cmd "ota"
# names a build by its manifest's SHA-256; the download advances in bounded, non-blocking
# steps of the app's loop (vafa.http.Get), every file is hashed while it is written to
# /fw/<ver>.tmp, and only a complete, verified build is renamed to /fw/<ver> and named by
# /fw/boot.json (written to a temp file, then renamed: atomic) for a trial boot. main.py
# (the loader, never updated) counts the trial's boots and reverts; the trial build
# confirms itself here once the backend answered it. Imported only when a cmd "ota"
# arrives or a trial is on: a terminal that is not updating carries none of this.
import binascii
import hashlib
import json
import os
import sys

from micropython import const

from vafa.clock import ticks_add, ticks_diff
from vafa.states import IDLE, RESPONSE_TIMEOUT_MS, SENDING

MAX_MANIFEST = const(8192)
MAX_FILES = const(64)
MAX_FILE = const(98304)  # 96 KiB
MAX_TOTAL = const(524288)  # 512 KiB
MAX_PATH = const(64)
MAX_VERSION = const(24)
MAX_ERR = const(80)  # the state body's bound for ota.err
DOWNLOAD_MS = const(600000)  # the whole download, manifest to boot pointer
# Free flash kept after the build is written: the journal's budget (vafa.journal
# MAX_BYTES, 64 KiB) and its set-aside file, sales.json, config and log files.
RESERVE_BYTES = const(98304)
MAX_TREE = const(160)  # entries a directory removal walks (64 files and their dirs)
MAX_DEPTH = const(6)
SWEEP_STEP = const(4)  # files a Sweep removes per loop pass
DEFAULT_TRIAL_S = const(180)
PATH_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./-"
VERSION_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.+-"
EXCLUDED = ("main.py", "config.json", "ca.pem")

# Phases of a download
P_MANIFEST = const(1)
P_FILES = const(2)


def kind():
    """The kind of build this interpreter runs: MicroPython loads .mpy, CPython (the
    simulator) only sources."""
    return "mpy" if getattr(sys.implementation, "name", "") == "micropython" else "py"


def fw_path(root, name=""):
    return (root + "/fw" if root else "/fw") + ("/" + name if name else "")


def _only(s, chars, most, least=1):
    if not isinstance(s, str) or not least <= len(s) <= most:
        return False
    for c in s:
        if c not in chars:
            return False
    return True


def good_version(v):
    return _only(v, VERSION_CHARS, MAX_VERSION)


def check_manifest(m):
    """The error text, or None when ``m`` is a manifest as provisioning/ota_build.py's
    check_manifest accepts it (the same rules, on the device)."""
    if not isinstance(m, dict) or len(m) != 4:
        return "manifest: not an object of 4 keys"
    if m.get("format") != 1 or not good_version(m.get("version")):
        return "manifest: bad format or version"
    if m.get("kind") not in ("mpy", "py"):
        return "manifest: bad kind"
    files = m.get("files")
    if not isinstance(files, list) or not 0 < len(files) <= MAX_FILES:
        return "manifest: 1-%d files" % MAX_FILES
    seen = set()
    total = 0
    for e in files:
        if not isinstance(e, dict) or len(e) != 3:
            return "manifest: bad file entry"
        p, n, h = e.get("path"), e.get("size"), e.get("sha256")
        if (not _only(p, PATH_CHARS, MAX_PATH) or p[0] == "/" or p in EXCLUDED
                or p in seen):
            return "manifest: bad path %r" % (p,)
        for part in p.split("/"):
            if part in ("", ".", ".."):
                return "manifest: bad path %r" % (p,)
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_FILE:
            return "manifest: bad size for %s" % (p,)
        if not _only(h, "0123456789abcdef", 64, 64):
            return "manifest: bad sha256 for %s" % (p,)
        seen.add(p)
        total += n
    if total > MAX_TOTAL:
        return "manifest: %d bytes, at most %d" % (total, MAX_TOTAL)
    return None


def _hex(h):
    return binascii.hexlify(h.digest()).decode()


def _is_dir(path):
    try:
        return os.stat(path)[0] & 0x4000 != 0
    except OSError:
        return False


def _entries(path):
    """(name, is_dir) of a directory's entries, at most MAX_TREE."""
    out = []
    lister = getattr(os, "ilistdir", None)
    if lister is not None:
        for e in lister(path):
            out.append((e[0], e[1] & 0x4000 != 0))
            if len(out) >= MAX_TREE:
                break
    else:  # CPython (the simulator)
        for name in sorted(os.listdir(path))[:MAX_TREE]:
            out.append((name, _is_dir(path + "/" + name)))
    return out


def remove_tree(path, depth=0):
    """Remove ``path`` and what is under it (bounded in depth and entries); no error
    when it is not there."""
    if not _is_dir(path):
        try:
            os.remove(path)
        except OSError:
            pass
        return
    if depth < MAX_DEPTH:
        for name, is_dir in _entries(path):
            if name in (".", ".."):
                continue
            if is_dir:
                remove_tree(path + "/" + name, depth + 1)
            else:
                try:
                    os.remove(path + "/" + name)
                except OSError:
                    pass
    try:
        os.rmdir(path)
    except OSError:
        pass


class Sweep:
    """Removes a directory tree a few entries per step(), so that deleting a build (64
    files: over a second of LittleFS work) never holds the loop for long. Has the surface
    of a Download for the app (done, installed, ver, step, cancel)."""

    def __init__(self, path):
        self.stack = [path] if _is_dir(path) else []
        self.done = not self.stack
        self.installed = False
        self.ver = None

    def step(self, now_ms=None):
        """Remove at most SWEEP_STEP entries; returns False (nothing to report)."""
        budget = SWEEP_STEP
        while budget > 0 and self.stack:
            top = self.stack[-1]
            entries = _entries(top)
            descended = False
            for name, is_dir in entries:
                if name in (".", ".."):
                    continue
                if is_dir and len(self.stack) < MAX_DEPTH:
                    self.stack.append(top + "/" + name)
                    descended = True
                    break
                if is_dir:  # deeper than MAX_DEPTH: not ours, removed as far as it goes
                    remove_tree(top + "/" + name)
                else:
                    _remove(top + "/" + name)
                budget -= 1
                if budget <= 0:
                    break
            if descended or budget <= 0:
                continue
            try:
                os.rmdir(top)
            except OSError:
                pass
            self.stack.pop()
            budget -= 1
        self.done = not self.stack
        return False

    def cancel(self):
        for _ in range(MAX_TREE):  # bounded: every step removes one entry at least
            if self.done:
                return
            self.step()


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def make_dirs(path, base):
    """Create the directories of ``path`` under ``base`` (which exists)."""
    cur = base
    for part in path.split("/")[:-1]:
        cur = cur + "/" + part
        if not _is_dir(cur):
            os.mkdir(cur)


# read_json and write_json are main.py's, repeated on purpose: main.py is never updated
# and imports nothing of vafa (it picks which vafa to import), and this module cannot
# import main (it is the running script). Each side of boot.json is tested:
# tests/firmware/mpy/test_loader.py (main.py) and test_ota.py (this module).
def read_json(path, limit=512):
    try:
        with open(path) as f:
            text = f.read(limit + 1)
        data = json.loads(text) if len(text) <= limit else None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(root, name, data):
    """/fw/<name> replaced atomically: a temp file renamed over it."""
    tmp = fw_path(root, name + ".tmp")
    with open(tmp, "w") as f:
        f.write(json.dumps(data))
    os.rename(tmp, fw_path(root, name))


def boot_info(root):
    """/fw/boot.json (None: the factory firmware in the root runs)."""
    b = read_json(fw_path(root, "boot.json"))
    if b is None or not isinstance(b.get("active"), str) or not b["active"]:
        return None
    return b


def last_result(root):
    """The loader's report of a rollback (/fw/result.json), or None."""
    r = read_json(fw_path(root, "result.json"))
    if r is None or not isinstance(r.get("ver"), str):
        return None
    return {"ver": r["ver"][:MAX_VERSION], "st": str(r.get("st", "rolled_back"))[:16],
            "err": str(r.get("err", ""))[:MAX_ERR]}


def forget_result(root):
    try:
        os.remove(fw_path(root, "result.json"))
    except OSError:
        pass


def confirm(root, ver):
    """The trial build ``ver`` reached the backend: boot.json says so (not on trial any
    more); returns the Sweep that deletes the previous build's directory (one fallback is
    kept until now), or None when ``ver`` is not on trial."""
    b = boot_info(root)
    if b is None or b["active"] != ver or b.get("trial") is not True:
        return None
    prev = b.get("prev") or ""
    write_json(root, "boot.json", {"active": ver, "prev": prev, "trial": False, "boots": 0,
                                   "trial_s": b.get("trial_s", DEFAULT_TRIAL_S)})
    forget_result(root)
    # The previous build's directory goes in steps of the loop (Sweep).
    return Sweep(fw_path(root, prev)) if prev and prev != ver else Sweep("")


def refusal(msg, running, insecure, on_trial):
    """Why cmd ``msg`` cannot be taken (None: it can)."""
    ver, url, sha, size = msg.get("ver"), msg.get("url"), msg.get("sha256"), msg.get("size")
    if not good_version(ver):
        return "bad version"
    if msg.get("kind") != kind():
        return "kind %s, this terminal runs %s" % (msg.get("kind"), kind())
    if ver == running:
        return "already running " + ver
    if on_trial:
        return "the running update is not confirmed yet"
    if not isinstance(url, str) or not url.endswith("/") or len(url) > 200:
        return "bad url"
    if url.startswith("http://"):
        if not insecure:
            return "http:// refused (not mqtt.insecure)"
    elif not url.startswith("https://"):
        return "bad url"
    if not _only(sha, "0123456789abcdef", 64, 64):
        return "bad sha256"
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_TOTAL:
        return "bad size"
    return None


class Download:
    """One download of the build a cmd "ota" names, advanced by step(now_ms). ``report``
    is what the state topic carries: {"ver","st","err","pct"}. ``sockets`` a
    vafa.mqtt.Sockets; ``tls`` the SSLContext for https:// (vafa.tlsconf, ca.pem)."""

    def __init__(self, root, msg, sockets, tls, now_ms, trial_s=DEFAULT_TRIAL_S,
                 statvfs=None, log=None, busy=None):
        self.root = root
        self.ver = msg["ver"]
        self.url = msg["url"]
        self.sha = msg["sha256"]
        self.size = msg["size"]
        self.sockets = sockets
        self.tls = tls
        self.trial_s = trial_s
        self._statvfs = statvfs  # None: os.statvfs (looked up at the call: a test may mount)
        self._log = log
        self.tmp = fw_path(root, self.ver + ".tmp")
        self.deadline = ticks_add(now_ms, DOWNLOAD_MS)
        self.report = {"ver": self.ver, "st": "downloading", "err": "", "pct": 0}
        self.done = False  # installed or failed: nothing more to step
        self.installed = False
        self.phase = P_MANIFEST
        self.files = []
        self.index = 0
        self.got = 0  # bytes of files written
        self._buf = bytearray()
        self._f = None
        self._h = None
        self._n = 0
        self._get = None
        # The next GET, started by a step when ``busy()`` (the cashier is typing) is not
        # true: its DNS lookup and TLS handshake are the steps that can take long, as for
        # vafa.net's connection attempts. A GET under way goes on (non-blocking).
        self._busy = busy
        self._pending = None
        self.sweep = None  # set when failed: deletes the temp dir in steps
        self._start(now_ms)

    def _say(self, s):
        if self._log is not None:
            self._log(s)

    def _new_get(self, url, sink, max_bytes, now_ms):
        self._pending = (url, sink, max_bytes)

    def _open_get(self, now_ms):
        """Start the pending GET unless the cashier is typing; True when one runs."""
        if self._busy is not None and self._busy():
            return False
        from vafa.http import Get

        pending = self._pending
        if pending is None:
            raise ValueError("no GET to start")
        self._pending = None
        url, sink, max_bytes = pending
        self._get = Get(url, self.sockets, self.tls, sink, max_bytes, now_ms)
        return True

    def _start(self, now_ms):
        self._new_get(self.url + "manifest.json", self._buf.extend, MAX_MANIFEST, now_ms)

    def _fail(self, why):
        self._close_file()
        if self._get is not None:
            self._get.close()
            self._get = None
        # The temp dir is deleted in the next steps (done once it is gone).
        self.sweep = Sweep(self.tmp)
        text = why if isinstance(why, str) else "%s: %s" % (type(why).__name__, why)
        self.report = {"ver": self.ver, "st": "failed", "err": text[:MAX_ERR],
                       "pct": self.report["pct"]}
        self.done = self.sweep.done
        self._say("update %s failed: %s" % (self.ver, text))

    def _close_file(self):
        if self._f is not None:
            try:
                self._f.close()
            except OSError:
                pass
            self._f = None

    def step(self, now_ms):
        """Bounded progress (one Get.step: a connect poll, a write or up to 2 KiB read
        and written to flash). True when the report is worth publishing (failed,
        installed, or another tenth of the bytes)."""
        if self.done:
            return False
        if self.sweep is not None:
            self.done = self.sweep.step() or self.sweep.done
            return False
        if ticks_diff(now_ms, self.deadline) >= 0:
            self._fail("download took over %d s" % (DOWNLOAD_MS // 1000))
            return True
        tenth = self.report["pct"] // 10
        try:
            if self._get is None:
                self._open_get(now_ms)  # OSError (DNS), HttpError (URL) fail the try
                return False
            if not self._get.step(now_ms):
                return False
            self._get = None
            if self.phase == P_MANIFEST:
                self._manifest_done(now_ms)
            else:
                self._file_done(now_ms)
        except Exception as e:  # OSError, HttpError, ValueError: the whole try failed
            self._fail(e)
            return True
        # The state goes out on every tenth of the way, not for each of 64 files.
        return self.done or self.report["pct"] // 10 != tenth

    def _manifest_done(self, now_ms):
        raw = bytes(self._buf)
        self._buf = bytearray()
        if _hex(hashlib.sha256(raw)) != self.sha:
            raise ValueError("manifest sha256 differs from the cmd")
        m = json.loads(raw)
        err = check_manifest(m)
        if err is not None:
            raise ValueError(err)
        if m["version"] != self.ver or m["kind"] != kind():
            raise ValueError("manifest is %s %s" % (m["kind"], m["version"]))
        total = 0
        for e in m["files"]:
            total += e["size"]
        if total != self.size:
            raise ValueError("manifest totals %d bytes, the cmd said %d" % (total, self.size))
        self._check_space(m["files"])
        remove_tree(self.tmp)  # what a cut-off earlier try left
        if not _is_dir(fw_path(self.root)):
            os.mkdir(fw_path(self.root))
        os.mkdir(self.tmp)
        self.files = m["files"]
        self.phase = P_FILES
        self.index = 0
        self._next_file(now_ms)

    def _check_space(self, files):
        st = (self._statvfs or os.statvfs)(self.root or "/")
        block = st[1] or st[0]  # f_frsize, else f_bsize
        free = block * st[4]  # f_bavail
        need = RESERVE_BYTES
        dirs = set()
        for e in files:
            need += ((e["size"] + block - 1) // block or 1) * block
            dirs.add(e["path"].rpartition("/")[0])
        need += (len(dirs) + 2) * block  # directories, boot.json
        if free < need:
            raise OSError(28, "flash: %d KiB free, the update needs %d KiB"
                          % (free // 1024, need // 1024))

    def _next_file(self, now_ms):
        e = self.files[self.index]
        path = self.tmp + "/" + e["path"]
        make_dirs(e["path"], self.tmp)
        self._f = open(path, "wb")
        self._h = hashlib.sha256()
        self._n = 0
        self._new_get(self.url + "files/" + e["path"], self._sink, e["size"], now_ms)

    def _sink(self, data):
        self._f.write(data)  # OSError 28 when the flash fills all the same
        self._h.update(data)
        self._n += len(data)
        self.got += len(data)

    def _file_done(self, now_ms):
        e = self.files[self.index]
        self._close_file()
        if self._n != e["size"]:
            raise ValueError("%s: %d bytes, not %d" % (e["path"], self._n, e["size"]))
        if _hex(self._h) != e["sha256"]:
            raise ValueError("%s: sha256 differs" % e["path"])
        self.report["pct"] = self.got * 100 // self.size if self.size else 100
        self.index += 1
        if self.index < len(self.files):
            self._next_file(now_ms)
            return
        self._install()

    def _install(self):
        final = fw_path(self.root, self.ver)
        remove_tree(final)
        os.rename(self.tmp, final)
        cur = boot_info(self.root)
        prev = cur["active"] if cur is not None else ""
        write_json(self.root, "boot.json", {"active": self.ver, "prev": prev, "trial": True,
                                            "boots": 0, "trial_s": self.trial_s})
        self.report = {"ver": self.ver, "st": "installed", "err": "", "pct": 100}
        self.done = True
        self.installed = True
        self._say("update %s installed; reboots when idle" % self.ver)

    def cancel(self):
        if not self.done:
            if self.sweep is None:
                self._fail("cancelled")
            self.sweep.cancel()
            self.done = True


# ---- the app's side (vafa.app calls these; kept here so a selling terminal that is not
# updating never loads them) -----------------------------------------------------------
REBOOT_MS = const(2000)  # after "installed": the state is out before the reboot


def on_cmd(app, msg):
    """cmd {"op":"ota","ver","kind","url","sha256","size"}: start the download, or say
    in the state why not."""
    from vafa.version import VERSION

    d = app.ota
    if d is not None and not d.done:
        if msg.get("ver") == d.ver:
            return  # the same offer again: the download goes on
        d.cancel()
    insecure = app.cfg["mqtt"]["insecure"]
    why = refusal(msg, VERSION, insecure, app.ota_trial is not None)
    ver = str(msg.get("ver", ""))[:MAX_VERSION]
    if why is not None:
        app._say("update %s refused: %s" % (ver, why))
        if ver != VERSION:  # an offer of the running version is not a failure
            app._ota_report({"ver": ver, "st": "failed", "err": why[:MAX_ERR], "pct": 0})
        return
    forget_result(app.fw_root)
    https = msg["url"].startswith("https://")
    try:
        if app.ota_net is not None:
            sockets = app.ota_net[0]()
            tls = app.ota_net[1](insecure) if https else None
        else:
            from vafa import tlsconf
            from vafa.mqtt import Sockets

            sockets = Sockets()
            # The CA pinned as for MQTT: ca.pem, refused without it unless insecure.
            tls = tlsconf.context(insecure=insecure) if https else None
    except OSError as e:  # vafa.tlsconf.TlsRefused: no ca.pem
        app._say("update %s refused: %s" % (ver, e))
        app._ota_report({"ver": ver, "st": "failed", "err": str(e)[:MAX_ERR], "pct": 0})
        return
    app._say("update %s: downloading %d bytes" % (ver, msg["size"]))
    app.ota = Download(app.fw_root, msg, sockets, tls, app._ticks(),
                       trial_s=app.cfg.get("ota_trial_s", DEFAULT_TRIAL_S), log=app._say,
                       busy=app.typing)
    app._ota_report(app.ota.report)


def app_tick(app, now_ms):
    d = app.ota
    # A step never runs while a sale waits for its answer: that answer goes first.
    if d is not None and not d.done and app.state != SENDING:
        if d.step(now_ms):
            app._ota_report(d.report)
        if d.installed:
            app._ota_reboot_at = ticks_add(now_ms, REBOOT_MS)
        elif d.done:
            app.ota = None  # failed and cleaned up, or a Sweep finished
    if (app._ota_reboot_at is not None and app.state == IDLE and app.inflight is None
            and app.replay is None and ticks_diff(now_ms, app._ota_reboot_at) >= 0):
        app._ota_reboot_at = None
        if app.on_reboot is not None:
            app._say("rebooting into the update")
            app.on_reboot()
    if app.ota_trial is not None:
        _confirm_tick(app, now_ms)


def _confirm_tick(app, now_ms):
    """A trial boot asks the backend for a verified answer (op "ota"); resent like any
    request, and only while nothing else is in flight (its seq must not overtake a
    journaled sale's)."""
    from vafa import protocol

    rq = app._ota_req
    if rq is None:
        if not app._channel_free() or app.inflight is not None:
            return
        try:
            seq = app.store.next_seq()
        except OSError as e:
            app._say("trial: no seq (%r)" % (e,))
            return
        rid = "ota-" + protocol.request_id(app.device_id, seq)
        body = ('{"v":%d,"id":"%s","seq":%d,"ts":%d,"op":"ota","st":"trial","ver":"%s"}'
                % (protocol.PROTOCOL_VERSION, rid, seq, app.clock.now(), app.ota_trial))
        rq = app._ota_req = {"id": rid, "frame": protocol.encode_frame(body, app.key),
                             "at": None}
    if not app.net.connected:
        return
    if rq["at"] is None or ticks_diff(now_ms, rq["at"]) >= RESPONSE_TIMEOUT_MS:
        if app.net.publish_request(rq["frame"]):
            rq["at"] = now_ms


def app_confirmed(app):
    ver = app.ota_trial
    app.ota_trial = None
    app._ota_req = None
    try:
        sweep = confirm(app.fw_root, ver)
    except OSError as e:  # the loader will revert: the backend sees it as a rollback
        app._say("update %s not confirmed: %r" % (ver, e))
        return
    if sweep is not None and not sweep.done:
        app.ota = sweep
    app._say("update %s confirmed" % ver)
    app._ota_report({"ver": ver, "st": "running", "err": "", "pct": 100})
