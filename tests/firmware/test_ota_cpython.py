"""The firmware's download (vafa.ota over vafa.http.Get) from a real HTTP(S) server on
this machine, over CPython sockets with MicroPython's non-blocking behaviour
(simulator.netio): a real `provisioning build --source` build, HTTP/1.0, and TLS
verified against the device's ca.pem (a server signed by another CA is refused)."""

import hashlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import time

import pytest
from vafa import ota
from vafa.clock import ticks_ms

from provisioning import ota_build
from simulator import netio
from tests.firmware.conftest import ROOT
from tests.integration.test_broker_tls import write_pki
from tests.support.http_server import FileServer, publish_build, serving


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    path = tmp_path_factory.mktemp("build") / "b.tar"
    raw = ota_build.make_build(path, version="9.9.1", source=True)
    _raw, files = ota_build.read_build(path)
    return raw, files


def publish(raw, files, base="/fw/x/"):
    FileServer.files = {}
    publish_build(raw, files, base)
    return {"ver": "9.9.1", "kind": "py", "sha256": hashlib.sha256(raw).hexdigest(),
            "size": sum(len(b) for b in files.values())}


def download(root, cmd, tls=None, timeout_s=30):
    d = ota.Download(str(root), cmd, netio.sockets(), tls, ticks_ms(), trial_s=60)
    end = time.monotonic() + timeout_s
    steps = 0
    while not d.done and time.monotonic() < end:
        d.step(ticks_ms())
        steps += 1
    return d, steps


def test_a_real_build_downloads_verifies_and_becomes_the_trial(tmp_path, build):
    raw, files = build
    with serving() as httpd:
        cmd = publish(raw, files)
        cmd["url"] = f"http://127.0.0.1:{httpd.server_port}/fw/x/"
        d, steps = download(tmp_path, cmd)
    assert d.report == {"ver": "9.9.1", "st": "installed", "err": "", "pct": 100}
    for path, content in files.items():
        assert (tmp_path / "fw" / "9.9.1" / path).read_bytes() == content
    assert (tmp_path / "fw" / "9.9.1" / "vafa" / "version.py").read_text() == \
        'VERSION = "9.9.1"\n'
    assert not (tmp_path / "fw" / "9.9.1.tmp").exists()
    assert json.loads((tmp_path / "fw" / "boot.json").read_text()) == {
        "active": "9.9.1", "prev": "", "trial": True, "boots": 0, "trial_s": 60}
    assert {version for version, _ in FileServer.seen} == {"HTTP/1.0"}
    assert len(FileServer.seen) == 1 + len(files)
    assert steps > len(files)  # in many small steps, never one blocking call


def test_https_is_verified_against_the_devices_ca_pem(tmp_path, build):
    raw, files = build
    cafile, certfile, keyfile = write_pki(tmp_path / "pki")
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(certfile, keyfile)
    device = tmp_path / "device"
    other = tmp_path / "other"
    device.mkdir()
    (device / "ca.pem").write_bytes(cafile.read_bytes())
    other_ca, _c, _k = write_pki(tmp_path / "pki2")
    other.mkdir()
    (other / "ca.pem").write_bytes(other_ca.read_bytes())
    with serving(tls=server_tls) as httpd:
        cmd = publish(raw, files)
        cmd["url"] = f"https://localhost:{httpd.server_port}/fw/x/"
        d, _steps = download(device, cmd, tls=netio.tls_context(device, False))
        assert d.report["st"] == "installed", d.report
        d, _steps = download(other, cmd, tls=netio.tls_context(other, False))
        assert d.report["st"] == "failed"
        assert "CERTIFICATE_VERIFY_FAILED" in d.report["err"] or "certificate" in \
            d.report["err"].lower()
        assert not (other / "fw" / "9.9.1").exists()


def test_a_terminal_that_is_not_updating_never_imports_the_downloader(tmp_path):
    """The bytecode budget: vafa.ota and vafa.http load on a cmd "ota" or a trial only."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "device_id": "t01", "key_hex": "00" * 32,
        "mqtt": {"host": "127.0.0.1", "port": 1, "tls": False}}))
    script = (
        "import sys, simulator\n"
        "from simulator.terminal import SimTerminal\n"
        f"t = SimTerminal({str(config)!r})\n"
        "t.step()\n"
        "print(sorted(m for m in ('vafa.ota', 'vafa.http') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_https_without_ca_pem_is_refused_unless_insecure(tmp_path, monkeypatch):
    """The board's path (no ota_net): vafa.tlsconf's policy, ca.pem in the cwd."""
    from mpytest import KEY, make_app
    from vafa import protocol

    monkeypatch.chdir(tmp_path)  # no ca.pem here
    app, _hw, net, _clock = make_app(store_root=str(tmp_path))
    app.fw_root = str(tmp_path)
    cmd = {"v": 1, "op": "ota", "ver": "9.9.1", "kind": "py", "url": "https://h:1/fw/x/",
           "sha256": "0" * 64, "size": 10}
    app.on_message("vafa/v1/dev/t01/cmd", protocol.encode_frame(json.dumps(cmd).encode(), KEY))
    assert net.ota["st"] == "failed"
    assert "ca.pem" in net.ota["err"]
    assert app.ota is None


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_an_mpy_build_loads_under_micropython(tmp_path):
    """The default build's .mpy files (as mpy-cross compiles them for `image`) are what
    the real MicroPython imports, with the build's version."""
    _raw, files = ota_build.read_build(
        ota_build_path(tmp_path, version="9.9.3", source=False))
    lib = tmp_path / "lib"
    for path, content in files.items():
        (lib / path).parent.mkdir(parents=True, exist_ok=True)
        (lib / path).write_bytes(content)
    script = tmp_path / "test_mpy_build.py"
    script.write_text(
        "import sys\nassert sys.implementation.name == 'micropython'\n"
        "import vafa.app, vafa.ota\nfrom vafa.version import VERSION\n"
        "from vafa import net\n"
        "assert VERSION == '9.9.3', VERSION\nassert net.FW_KIND == 'mpy'\n"
        "assert vafa.ota.kind() == 'mpy'\nprint('mpy build ok', vafa.app.__file__)\n")
    out = subprocess.run(["node", str(ROOT / "tests" / "firmware" / "run_micropython.mjs"),
                          str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "VAFA_FIRMWARE_LIB": str(lib / "vafa")})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "mpy build ok /lib/vafa/app.mpy" in out.stdout


def ota_build_path(tmp_path, *, version, source):
    path = tmp_path / f"b-{version}.tar"
    ota_build.make_build(path, version=version, source=source)
    return path
