# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
# Firmware updates (vafa.ota, vafa.http.Get, the loader main.py) on a flash as strict as
# the board's (fakeboard.FakeFlash, mounted: the firmware's own open/os calls hit it) and
# an HTTP server behind strict non-blocking sockets (fakehttp): download and verify,
# hash mismatch, full flash, atomic boot pointer, trial boots, revert, confirmation.
import binascii
import hashlib
import json
import os
import sys

import fakehttp
import main as loader
from fakeboard import FakeFlash, mount, umount
from mpytest import KEY, FakeNet, check, done, eq, make_app
from vafa import ota, protocol
from vafa.http import GET_READ_BUDGET, Get, HttpError
from vafa.version import VERSION

SHA = "0" * 64
CMD = "vafa/v1/dev/t01/cmd"
RES = "vafa/v1/dev/t01/res"


def sha(b):
    return binascii.hexlify(hashlib.sha256(b).digest()).decode()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def build(ver, files, kind=None):
    """(manifest bytes, files) as provisioning/ota_build.py writes them."""
    entries = [{"path": p, "size": len(files[p]), "sha256": sha(files[p])}
               for p in sorted(files)]
    # Compact, keys sorted, as json.dumps(sort_keys=True) on CPython writes it.
    return _compact({"files": entries, "kind": kind or ota.kind(), "version": ver})


def _compact(m):
    parts = []
    for e in m["files"]:
        parts.append('{"path":"%s","sha256":"%s","size":%d}' % (e["path"], e["sha256"],
                                                                  e["size"]))
    return ('{"files":[%s],"format":1,"kind":"%s","version":"%s"}'
            % (",".join(parts), m["kind"], m["version"])).encode()


def serve(server, ver, files, base="/fw/abc/"):
    raw = build(ver, files)
    server.add(base + "manifest.json", raw)
    for p in files:
        server.add(base + "files/" + p, files[p])
    total = 0
    for p in files:
        total += len(files[p])
    return {"v": 1, "op": "ota", "ver": ver, "kind": ota.kind(),
            "url": "http://fw.test:8080" + base, "sha256": sha(raw), "size": total}


class Ms:
    def __init__(self):
        self.t = 5000


def run(d, clock, most=4000):
    """Step the download until it is done; the number of steps (bounded)."""
    for n in range(most):
        clock.t += 20
        d.step(clock.t)
        if d.done:
            return n
    raise AssertionError("download did not finish in %d steps" % most)


FILES = {"vafa/app.py": b"A = 1\n" * 300, "vafa/version.py": b'VERSION = "9.9.1"\n',
         "vafa/lang/fa.json": b"{}", "vafa/hw/esp32.py": b"# hw\n" * 50}

# -- the device's manifest check follows provisioning/ota_build.py ------------------------
good = json.loads(build("9.9.1", FILES))
eq(ota.check_manifest(good), None, "a good manifest passes")
for bad, what in [
    (dict(good, format=2), "format"),
    (dict(good, version="9 9"), "version"),
    (dict(good, files=[dict(good["files"][0], path="../boot.py")]), "dot-dot path"),
    (dict(good, files=[dict(good["files"][0], path="/vafa/app.py")]), "absolute path"),
    (dict(good, files=[dict(good["files"][0], path="main.py")]), "the loader"),
    (dict(good, files=[dict(good["files"][0], size=98305)]), "file over 96 KiB"),
    (dict(good, files=good["files"] + good["files"][:1]), "a path twice"),
    (dict(good, files=[dict(good["files"][0], sha256="AB" * 32)]), "upper-case sha"),
]:
    check(ota.check_manifest(bad) is not None, "refused: " + what)

# -- the trial's bound is a config key (shorter in tests) --------------------------------
from mpytest import config as make_config  # noqa: E402
from vafa import config as C  # noqa: E402

eq(make_config()["ota_trial_s"], 180, "ota_trial_s defaults to 180 s")
for bad in (4, 3601, "60", True):
    cfg = make_config()
    cfg["ota_trial_s"] = bad
    try:
        C.validate(cfg)
        check(False, "ota_trial_s %r refused" % (bad,))
    except C.ConfigError as e:
        check("ota_trial_s" in str(e), "ota_trial_s %r refused" % (bad,))

# -- the cmd's refusals -------------------------------------------------------------------
offer = {"ver": "9.9.1", "kind": ota.kind(), "url": "https://h/fw/x/", "sha256": SHA,
         "size": 100}
eq(ota.refusal(offer, VERSION, False, False), None, "a good offer")
check("kind" in ota.refusal(dict(offer, kind="elf"), VERSION, False, False), "other kind")
check("already" in ota.refusal(dict(offer, ver=VERSION), VERSION, False, False),
      "the running version")
check("http://" in ota.refusal(dict(offer, url="http://h/fw/x/"), VERSION, False, False),
      "http without mqtt.insecure")
eq(ota.refusal(dict(offer, url="http://h/fw/x/"), VERSION, True, False), None,
   "http with mqtt.insecure (development)")
check("confirmed" in ota.refusal(offer, VERSION, False, True), "not while on trial")
check(ota.refusal(dict(offer, size=600000), VERSION, False, False) is not None, "too big")

# -- vafa.http.Get: non-blocking, bounded, status 200 only --------------------------------
clock = Ms()
server = fakehttp.Server()
server.add("/a", b"x" * 5000)
server.add("/gone", b"no", status=404)
got = []
g = Get("http://fw.test:8080/a", fakehttp.sockets(server), None, got.append, 5000, clock.t)
steps = 0
while not g.step(clock.t):
    steps += 1
    check(steps < 200, "a GET finishes")
eq(b"".join(got), b"x" * 5000, "the body, in pieces")
check(max(len(c) for c in got) <= GET_READ_BUDGET, "one step reads at most the budget")
check(server.requests[0].startswith("GET /a HTTP/1.0\r\nHost: fw.test:8080\r\n"),
      "an HTTP/1.0 GET with the host")
check(server.sockets[-1].closed, "the socket is closed at the end")


def get_error(url, max_bytes=5000):
    g = Get(url, fakehttp.sockets(server), None, lambda b: None, max_bytes, clock.t)
    try:
        for _ in range(200):
            if g.step(clock.t):
                return None
    except (HttpError, OSError) as e:
        check(server.sockets[-1].closed, "closed after an error")
        return str(e)
    return "never finished"


check("404" in get_error("http://fw.test:8080/gone"), "status 404 is an error")
check("at most" in get_error("http://fw.test:8080/a", 4999), "over max_bytes")
server.cut_after = 100
check("truncated" in get_error("http://fw.test:8080/a"), "a cut-off body")
server.cut_after = None
g = Get("http://fw.test:8080/a", fakehttp.sockets(server), None, lambda b: None, 5000, clock.t)
server.sockets[-1].state = "stuck"  # the connect never completes
try:
    clock.t += 16000
    g.step(clock.t)
    check(False, "a GET without progress times out")
except OSError as e:
    check("timed out" in str(e), "a GET without progress times out")
try:
    Get("https://fw.test/a", fakehttp.sockets(server), None, lambda b: None, 10, 0)
    check(False, "https needs the pinned TLS context")
except HttpError:
    check(True, "https needs the pinned TLS context")

# -- a download onto the flash: verified, renamed, boot.json atomic -----------------------
flash = FakeFlash(blocks=96)
root = mount(flash)
server = fakehttp.Server()
cmd = serve(server, "9.9.1", FILES)
d = ota.Download(root, cmd, fakehttp.sockets(server), None, clock.t, trial_s=60)
eq(d.report["st"], "downloading", "downloading")
run(d, clock)
eq(d.report, {"ver": "9.9.1", "st": "installed", "err": "", "pct": 100}, "installed")
for p in FILES:
    eq(read(root + "/fw/9.9.1/" + p), FILES[p], "written: " + p)
check(not exists(root + "/fw/9.9.1.tmp"), "no temp dir left")
check(not exists(root + "/fw/boot.json.tmp"), "no temp pointer left")
eq(json.loads(read(root + "/fw/boot.json")),
   {"active": "9.9.1", "prev": "", "trial": True, "boots": 0, "trial_s": 60},
   "the boot pointer: a trial of 9.9.1, the factory firmware to fall back on")
eq(len(server.requests), 1 + len(FILES), "one GET per file and the manifest")

# -- the state goes out per tenth of the bytes, not per file --------------------------------
server = fakehttp.Server()
many = {}
for i in range(40):
    many["vafa/m%02d.py" % i] = b"# %d\n" % i * 20
cmd = serve(server, "9.9.9", many)
d = ota.Download(root, cmd, fakehttp.sockets(server), None, clock.t)
reports = 0
for _ in range(8000):
    clock.t += 20
    if d.step(clock.t):
        reports += 1
    if d.done:
        break
eq(d.report["st"], "installed", "40 files installed")
check(reports <= 11, "at most one report per tenth and the last: %d" % reports)
ota.remove_tree(root + "/fw/9.9.9")
loader.write_json(root, "boot.json", {"active": "9.9.1", "prev": "", "trial": True,
                                      "boots": 0, "trial_s": 60})

# -- a hash mismatch aborts and deletes the temp dir ---------------------------------------
server = fakehttp.Server()
cmd = serve(server, "9.9.2", FILES)
server.add("/fw/abc/files/vafa/hw/esp32.py", b"# hw\n" * 49 + b"# hX\n")  # same size
d = ota.Download(root, cmd, fakehttp.sockets(server), None, clock.t)
run(d, clock)
eq(d.report["st"], "failed", "a file with another hash fails")
check("sha256" in d.report["err"] and "esp32" in d.report["err"], d.report["err"])
check(not exists(root + "/fw/9.9.2.tmp") and not exists(root + "/fw/9.9.2"),
      "the temp dir is deleted")
eq(json.loads(read(root + "/fw/boot.json"))["active"], "9.9.1", "the pointer is untouched")

server = fakehttp.Server()
cmd = serve(server, "9.9.2", FILES)
d = ota.Download(root, dict(cmd, sha256=SHA), fakehttp.sockets(server), None, clock.t)
run(d, clock)
check("manifest sha256" in d.report["err"], "a manifest not the cmd's is refused")
eq(len(server.requests), 1, "no file is fetched for it")

server = fakehttp.Server()
cmd = serve(server, "9.9.2", FILES)
server.add("/fw/abc/files/vafa/app.py", FILES["vafa/app.py"] + b"#")  # one byte more
d = ota.Download(root, cmd, fakehttp.sockets(server), None, clock.t)
run(d, clock)
check("larger than" in d.report["err"] or "at most" in d.report["err"], d.report["err"])
check(not exists(root + "/fw/9.9.2.tmp"), "a too long file: temp dir deleted")

# -- a full flash is refused before anything is written ------------------------------------
small = FakeFlash(blocks=30)  # 120 KiB: the build fits, the journal's reserve does not
umount(root)
root = mount(small)
server = fakehttp.Server()
cmd = serve(server, "9.9.3", FILES)
d = ota.Download(root, cmd, fakehttp.sockets(server), None, clock.t)
run(d, clock)
eq(d.report["st"], "failed", "not enough flash")
check("flash" in d.report["err"] and "KiB" in d.report["err"], d.report["err"])
eq(len(server.requests), 1, "only the manifest was fetched")
check(not exists(root + "/fw/9.9.3.tmp"), "nothing written")

# ... and a flash that fills up during the download all the same (other data grew)
umount(root)
flash2 = FakeFlash(blocks=96)
root = mount(flash2)
server = fakehttp.Server()
cmd = serve(server, "9.9.3", FILES)
d = ota.Download(root, cmd, fakehttp.sockets(server), None, clock.t)
for _ in range(400):  # until the manifest is in and the first file under way
    clock.t += 20
    d.step(clock.t)
    if d.phase == ota.P_FILES and d.got:
        break
check(d.got < len(FILES["vafa/app.py"]), "part of the first file is written")
flash2.fill(100)
run(d, clock)
flash2.unfill()
eq(d.report["st"], "failed", "ENOSPC during the download fails it")
check(not exists(root + "/fw/9.9.3.tmp"), "and deletes the temp dir")
umount(root)

# -- a build's directory is deleted a few files per step --------------------------------
flash = FakeFlash(blocks=96)
root = mount(flash)
os.mkdir(root + "/fw")
os.mkdir(root + "/fw/old")
os.mkdir(root + "/fw/old/vafa")
for i in range(10):
    with open(root + "/fw/old/vafa/m%d.py" % i, "w") as f:
        f.write("x")
sw = ota.Sweep(root + "/fw/old")
counts = []
for _ in range(20):
    before = len(flash.files) + len(flash.dirs)
    sw.step()
    counts.append(before - len(flash.files) - len(flash.dirs))
    if sw.done:
        break
check(sw.done and not exists(root + "/fw/old"), "the tree is gone")
check(max(counts) <= ota.SWEEP_STEP, "at most SWEEP_STEP entries per step: %r" % counts)
eq(sum(counts), 12, "every file and directory")
umount(root)

# -- the loader: trial boots counted, reverted after two, on an error, on timeout ----------
flash = FakeFlash(blocks=96)
root = mount(flash)
os.mkdir(root + "/fw")
os.mkdir(root + "/fw/9.9.1")
loader.write_json(root, "boot.json", {"active": "9.9.1", "prev": "", "trial": True,
                                      "boots": 0, "trial_s": 30})
b, path = loader.begin(root)
eq(path, root + "/fw/9.9.1", "a trial boot runs the new build")
eq(loader.read_boot(root)["boots"], 1, "its boot is counted before anything runs")
b, path = loader.begin(root)
eq(loader.read_boot(root)["boots"], 2, "second boot")
b, path = loader.begin(root)
eq(path, None, "the third boot is the factory firmware again")
check(loader.read_boot(root) is None, "boot.json names the factory firmware")
r = json.loads(read(root + "/fw/result.json"))
eq(r, {"ver": "9.9.1", "st": "rolled_back", "err": "not confirmed in 2 boots"},
   "result.json says why, for the state")

loader.write_json(root, "boot.json", {"active": "9.9.2", "prev": "9.9.1", "trial": True,
                                      "boots": 0, "trial_s": 30})
b, path = loader.begin(root)
try:
    raise ImportError("no module named 'vafa.nope'")
except ImportError as e:
    check(loader.on_failure(root, b, loader.error_text(e)), "an import error reverts")
eq(loader.read_boot(root)["active"], "9.9.1", "back to the previous build")
eq(loader.read_boot(root)["trial"], False, "which is not on trial")
eq(json.loads(read(root + "/fw/result.json"))["err"],
   "ImportError: no module named 'vafa.nope'", "with the error text")
b, path = loader.begin(root)
eq(path, root + "/fw/9.9.1", "the previous build boots")
check(not loader.on_failure(root, b, "x"), "a crash of a confirmed build reverts nothing")

loader.write_json(root, "boot.json", {"active": "9.9.2", "prev": "9.9.1", "trial": True,
                                      "boots": 0, "trial_s": 30})
b, path = loader.begin(root)
check(loader.trial_expired(root, b), "a trial not confirmed within trial_s reverts")
eq(json.loads(read(root + "/fw/result.json"))["err"], "not confirmed in 30 s", "says so")
loader.write_json(root, "boot.json", {"active": "9.9.2", "prev": "9.9.1", "trial": True,
                                      "boots": 0, "trial_s": 30})
b, path = loader.begin(root)
ota.confirm(root, "9.9.2")
check(not loader.trial_expired(root, b), "a confirmed trial is not reverted by the timer")
loader.write_json(root, "boot.json", {"active": "9.9.2", "trial": "yes", "boots": -1})
eq(loader.read_boot(root)["trial"], False, "a damaged pointer is read strictly")
umount(root)

# -- the app: cmd ota -> download in steps -> installed -> reboot when idle ---------------
flash = FakeFlash(blocks=96)
root = mount(flash)
server = fakehttp.Server()
files = dict(FILES, **{"vafa/version.py": b'VERSION = "9.9.4"\n'})
cmd = serve(server, "9.9.4", files)
reboots = []
app, hw, net, clock = make_app(store_root=root)
app.fw_root = root
app.ota_net = (lambda: fakehttp.sockets(server), lambda insecure: None)
app.cfg["mqtt"]["insecure"] = True  # an http:// URL: development only
app.on_reboot = lambda: reboots.append(clock.t)
app.on_message(CMD, protocol.encode_frame(json.dumps(cmd).encode(), KEY))
eq(net.ota["st"], "downloading", "the state says downloading")
for _ in range(500):  # until the files are under way
    clock.t += 20
    app.step(clock.t)
    if app.ota.phase == ota.P_FILES and app.ota.got:
        break
app.on_scan("9900010000000019")  # the cashier starts a sale meanwhile
asked = len(server.requests)
for _ in range(200):
    clock.t += 20
    app.step(clock.t)
check(len(server.requests) <= asked + 1, "no new GET (DNS, TLS handshake) while typing")
eq(net.ota["st"], "downloading", "the download waits for the sale")
check(app.ota.got > 0, "the GET under way went on")
app.on_key("C")  # the sale is over
for _ in range(3000):
    clock.t += 20
    app.step(clock.t)
    if net.ota["st"] != "downloading":
        break
eq(net.ota["st"], "installed", "installed once the cashier is done")
app.on_scan("9900010000000019")  # another sale starts before the reboot
for _ in range(200):
    clock.t += 20
    app.step(clock.t)
eq(reboots, [], "no reboot in the middle of a sale")
app.on_key("C")
for _ in range(200):
    clock.t += 20
    app.step(clock.t)
eq(len(reboots), 1, "rebooted once idle")

# refusals show in the state
app2, hw2, net2, clock2 = make_app(store_root=root)
app2.on_message(CMD, protocol.encode_frame(json.dumps(dict(cmd, ver="9.9.5")).encode(), KEY))
eq(net2.ota["st"], "failed", "http without mqtt.insecure: failed")
check("http://" in net2.ota["err"], net2.ota["err"])
before = net2.ota
app2.on_message(CMD, protocol.encode_frame(json.dumps(dict(cmd, ver=VERSION)).encode(), KEY))
check(net2.ota is before and app2.ota is None, "an offer of the running version: ignored")
app2.on_message(CMD, protocol.encode_frame(json.dumps(dict(cmd, kind="x")).encode(), KEY))
check("kind" in net2.ota["err"], "another kind: failed")
app2.on_message(CMD, protocol.encode_frame(json.dumps(dict(cmd, ver="9.9.6")).encode(),
                                           bytes(32)))
check("kind" in net2.ota["err"], "a cmd with a bad signature is dropped")

# -- the trial boot confirms on the backend's verified answer -----------------------------
os.mkdir(root + "/fw/" + VERSION)  # the tests run the repo's version as the trial
loader.write_json(root, "boot.json", {"active": VERSION, "prev": "9.9.4", "trial": True,
                                      "boots": 1, "trial_s": 30})
app3, hw3, net3, clock3 = make_app(store_root=root)
app3.fw_root = root
app3._ota_boot()
eq(net3.ota, {"ver": VERSION, "st": "trial", "err": "", "pct": 100}, "the state: trial")
clock3.t += 20
app3.step(clock3.t)
eq(len(net3.published), 1, "the trial sends op ota")
req = json.loads(protocol.decode_frame(net3.published[0], KEY))
eq((req["op"], req["st"], req["ver"], req["id"][:8]), ("ota", "trial", VERSION, "ota-t01-"),
   "the request")
check(isinstance(req["seq"], int) and req["seq"] > 0, "with a seq")
clock3.t += 6000
app3.step(clock3.t)
eq(len(net3.published), 2, "resent without an answer")
eq(net3.published[1], net3.published[0], "the same frame")
app3.on_message(RES, protocol.encode_frame(json.dumps(
    {"v": 1, "id": req["id"], "ok": True, "code": "OK", "msg": ""}).encode(), bytes(32)))
eq(json.loads(read(root + "/fw/boot.json"))["trial"], True, "an unsigned answer confirms nothing")
app3.on_message(RES, protocol.encode_frame(json.dumps(
    {"v": 1, "id": req["id"], "ok": True, "code": "OK", "msg": ""}).encode(), KEY))
bj = json.loads(read(root + "/fw/boot.json"))
eq((bj["active"], bj["trial"]), (VERSION, False), "confirmed: trial false")
check(exists(root + "/fw/9.9.4"), "the previous build is deleted in steps, not at once")
for _ in range(100):
    clock3.t += 20
    app3.step(clock3.t)
check(not exists(root + "/fw/9.9.4"), "the previous build's directory is deleted")
check(app3.ota is None, "and nothing of the update is left to step")
check("vafa.ota" not in sys.modules and "vafa.http" not in sys.modules,
      "the update's modules are given back to the heap")
eq(net3.ota["st"], "running", "the state: running")
clock3.t += 6000
app3.step(clock3.t)
eq(len(net3.published), 2, "nothing more is sent")

# -- a verified answer to a cashier's request confirms as well ---------------------------
os.mkdir(root + "/fw/9.9.4")
loader.write_json(root, "boot.json", {"active": VERSION, "prev": "9.9.4", "trial": True,
                                      "boots": 1, "trial_s": 30})
app5, hw5, net5, clock5 = make_app(net=FakeNet(connected=False), store_root=root)
app5.fw_root = root
app5._ota_boot()
net5.connected = True
app5.on_scan("9900010000000019")
for k in "5000E":
    app5.on_key(k)
sale = json.loads(protocol.decode_frame(net5.published[0], KEY))
eq(sale["op"], "purchase", "the sale goes first (the trial waits for a free channel)")
app5.on_message(RES, protocol.encode_frame(json.dumps(
    {"v": 1, "id": sale["id"], "ok": True, "code": "OK", "msg": "", "ts": 1763800000,
     "member": {"name": "Sara"}, "bal": {"credit": 0, "points": 5}}).encode(), KEY))
eq(json.loads(read(root + "/fw/boot.json"))["trial"], False, "the sale's answer confirmed it")
eq(net5.ota["st"], "running", "running")
for _ in range(100):
    clock5.t += 20
    app5.step(clock5.t)
check(not exists(root + "/fw/9.9.4"), "the previous build's directory is deleted")

# -- after a rollback the state reports it until the next cmd ota ------------------------
loader.write_json(root, "result.json", {"ver": "9.9.7", "st": "rolled_back",
                                        "err": "ImportError: boom"})
app4, hw4, net4, clock4 = make_app(net=FakeNet(), store_root=root)
app4.fw_root = root
app4._ota_boot()
eq(net4.ota, {"ver": "9.9.7", "st": "rolled_back", "err": "ImportError: boom", "pct": 0},
   "rolled back, with the loader's error")
umount(root)

# -- the state body: fwk always, ota within the bound ------------------------------------
from vafa.net import MAX_STATE_BYTES, Session  # noqa: E402

s = Session(lambda: None, "t01", time_fn=lambda: 1763800000)
body = json.loads(s.state_body(True))
eq(body["fwk"], ota.kind(), "the state says the kind of build")
check("ota" not in body, "no ota while there is nothing to report")
s.ota = {"ver": "x" * 24, "st": "rolled_back", "err": "e" * 80, "pct": 100}
s.health = lambda: {"up": 1, "perr": "p" * 60, "cfg_err": "c" * 80}
raw = s.state_body(True)
check(len(raw) <= MAX_STATE_BYTES, "within the bound")
eq(json.loads(raw)["ota"]["st"], "rolled_back", "ota in the state")
done("test_ota.py")
