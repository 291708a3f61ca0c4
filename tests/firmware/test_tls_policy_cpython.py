"""Issue 15 items 1 and 7 on the firmware side: no umqtt anywhere, TLS refused without
ca.pem unless the config says insecure (then shown on the idle screen)."""

import ast
import types
from pathlib import Path

import pytest
from mpytest import FakeNet, make_app
from vafa import config as vconfig
from vafa import http, tlsconf

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"


def test_the_firmware_never_imports_umqtt_and_the_image_does_not_freeze_it():
    for src in FIRMWARE.rglob("*.py"):
        for node in ast.walk(ast.parse(src.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not [n for n in names if n.startswith("umqtt")], src
    manifest = ast.parse((FIRMWARE / "manifest.py").read_text())
    required = [ast.literal_eval(n.args[0]) for n in ast.walk(manifest)
                if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "require"]
    assert required == []  # the display driver is our own (vafa/hw/ssd1306.py)


def _cfg(**mqtt):
    return {"device_id": "t01", "key_hex": "00" * 32, "mqtt": {"host": "h", **mqtt}}


def test_config_insecure_flag_defaults_off_and_must_be_a_bool():
    assert vconfig.validate(_cfg(tls=True))["mqtt"]["insecure"] is False
    assert vconfig.validate(_cfg(tls=True, insecure=True))["mqtt"]["insecure"] is True
    with pytest.raises(vconfig.ConfigError, match="insecure"):
        vconfig.validate(_cfg(tls=True, insecure="yes"))


def _idle_lines(tmp_path, net=None, **mqtt):
    app, hw, net, clock = make_app(net=net, store_root=str(tmp_path))
    app.cfg["mqtt"].update(mqtt)
    app.show_idle()
    return hw.display.lines


def test_insecure_tls_is_shown_on_the_idle_screen(tmp_path):
    assert "INSECURE TLS" in _idle_lines(tmp_path, tls=True, insecure=True)
    assert "INSECURE TLS" not in _idle_lines(tmp_path, tls=True, insecure=False)
    assert "INSECURE TLS" not in _idle_lines(tmp_path, tls=False, insecure=True)
    net = FakeNet(connected=False)
    net.note = "NO CA.PEM"  # main.py sets it when TLS is refused for want of ca.pem
    lines = _idle_lines(tmp_path, net=net, tls=True)
    assert "NO CA.PEM" in lines and "Offline" in lines


class DeviceSSL(types.SimpleNamespace):
    """MicroPython's ssl as far as the policy goes: no system CAs (no
    create_default_context), client contexts default to CERT_NONE."""


def device_ssl():
    made = []

    class Ctx:
        def __init__(self, protocol):
            self.verify_mode = 0
            self.cadata = None
            made.append(self)

        def load_verify_locations(self, cafile=None, cadata=None):
            self.cadata = cadata

    return DeviceSSL(SSLContext=Ctx, PROTOCOL_TLS_CLIENT=0, CERT_NONE=0, CERT_REQUIRED=2,
                     made=made)


def test_the_policy_verifies_with_ca_pem_and_refuses_without(tmp_path):
    ssl = device_ssl()
    with pytest.raises(tlsconf.TlsRefused):
        tlsconf.context(ca_file=str(tmp_path / "ca.pem"), ssl_mod=ssl)
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n"
                                     "-----END CERTIFICATE-----\n")
    ctx = tlsconf.context(ca_file=str(tmp_path / "ca.pem"), ssl_mod=ssl)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and "BEGIN CERTIFICATE" in ctx.cadata
    (tmp_path / "empty.pem").write_text("")
    with pytest.raises(tlsconf.TlsRefused):  # an empty file is no CA
        tlsconf.context(ca_file=str(tmp_path / "empty.pem"), ssl_mod=ssl)
    ctx = tlsconf.context(insecure=True, ca_file=str(tmp_path / "none.pem"), ssl_mod=ssl)
    assert ctx.verify_mode == ssl.CERT_NONE


def test_enrolment_https_is_refused_on_the_device_without_ca_pem(tmp_path, monkeypatch):
    """Before: without ca.pem the device set CERT_NONE and posted its token anyway."""
    monkeypatch.chdir(tmp_path)  # the device's filesystem root, no ca.pem
    monkeypatch.setitem(__import__("sys").modules, "ssl", device_ssl())
    connected = []

    class NoSocket:  # nothing may be sent before the TLS policy allowed it
        SOCK_STREAM = 1

        @staticmethod
        def getaddrinfo(*a):
            connected.append(a)
            raise AssertionError("resolved before refusing")

    monkeypatch.setitem(__import__("sys").modules, "socket", NoSocket)
    with pytest.raises(tlsconf.TlsRefused):
        http.post_json("https://panel.example/api/v1/enrol", b"{}")
    assert connected == []
    assert http.tls_context(insecure=True).verify_mode == 0
