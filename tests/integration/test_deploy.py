"""The production deployment in deploy/ (issue 21), checked with the real tools: systemd's
own verifier on the units, `caddy validate`, `promtool` on the scrape config and the alert
rules (with rule unit tests), the environment file against the settings the code reads,
and an end-to-end sign-in over HTTPS: Caddy with its internal CA in front of gunicorn
started with the web unit's own command line, on loopback and free ports."""

import http.client
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import create_engine, select

from backend.models import AuditLog
from tests.support.broker import free_port
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
START_TIMEOUT_S = 30
STRONG = "Tajrish#Branch-7-cashbox"


def tool(name: str) -> str:
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists()
                                   else None)
    assert found, f"{name} is missing: `make test` installs it (Makefile TEST_PACKAGES)"
    return found


def code_settings() -> set[str]:
    names = set()
    for folder in ("backend", "provisioning", "card_spec", "simulator"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(re.findall(r"\bVAFA_[A-Z0-9_]+\b", path.read_text()))
    return names


def test_the_environment_file_lists_every_setting_the_code_reads():
    example = (DEPLOY / "vafa.env.example").read_text()
    listed = set(re.findall(r"\bVAFA_[A-Z0-9_]+\b", example))
    read = code_settings()
    assert len(read) > 20  # the scan finds them
    assert sorted(read - listed) == []


def env_file(overrides: dict) -> dict:
    """The example environment file as systemd reads it (KEY=VALUE lines), plus overrides."""
    values = {}
    for line in (DEPLOY / "vafa.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return {**values, **overrides}


def fake_venv(tmp_path: Path) -> Path:
    """/opt/vafa/venv for the units: `vafa` runs backend.cli:main (the console script's
    target), gunicorn and python are this venv's."""
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "vafa").write_text(f"#!/bin/sh\ncd {ROOT}\nexec {sys.executable} -c "
                               "'from backend.cli import main; main()' \"$@\"\n")
    (venv / "vafa").chmod(0o755)
    for name in ("gunicorn", "python"):
        (venv / name).symlink_to(Path(sys.executable).parent / name)
    return venv.parent


def installed_units(tmp_path: Path) -> Path:
    venv = fake_venv(tmp_path)
    target = tmp_path / "units"
    target.mkdir()
    for unit in UNITS.iterdir():
        (target / unit.name).write_text(unit.read_text().replace("/opt/vafa/venv", str(venv)))
    return target


def test_systemd_units_verify(tmp_path):
    units = installed_units(tmp_path)
    names = ["vafa-web.service", "vafa-worker@1.service", "vafa-worker@2.service",
             "vafa-jobs.service", "vafa-broker.service", "vafa-backup.service",
             "vafa-backup.timer", "vafa-healthcheck.service", "vafa-healthcheck.timer",
             "vafa.target"]
    (units / "vafa-worker@1.service").symlink_to(units / "vafa-worker@.service")
    (units / "vafa-worker@2.service").symlink_to(units / "vafa-worker@.service")
    done = subprocess.run([tool("systemd-analyze"), "verify", "--man=no",
                           *[str(units / name) for name in names]],
                          capture_output=True, text=True, timeout=60, cwd=units)
    ours = [line for line in (done.stdout + done.stderr).splitlines()
            if "vafa" in line]
    assert done.returncode == 0 and ours == [], done.stdout + done.stderr


def test_every_long_running_unit_is_private_and_restarted():
    for name in ("vafa-web.service", "vafa-worker@.service", "vafa-jobs.service",
                 "vafa-broker.service"):
        text = (UNITS / name).read_text()
        for line in ("User=vafa", "UMask=0077", "Restart=always", "ProtectSystem=strict",
                     "EnvironmentFile=/etc/vafa/vafa.env", "StateDirectoryMode=0700"):
            assert f"\n{line}\n" in text, f"{name} lacks {line}"
    worker = (UNITS / "vafa-worker@.service").read_text()
    assert "--client-id vafa-worker-%i" in worker  # each instance resumes its own session


def test_caddyfile_validates(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path)}
    done = subprocess.run([tool("caddy"), "validate", "--config",
                           str(DEPLOY / "caddy" / "Caddyfile"), "--adapter", "caddyfile"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0 and "Valid configuration" in done.stdout + done.stderr, (
        done.stderr)
    formatted = subprocess.run([tool("caddy"), "fmt", str(DEPLOY / "caddy" / "Caddyfile")],
                               capture_output=True, text=True, timeout=60, env=env)
    assert formatted.stdout == (DEPLOY / "caddy" / "Caddyfile").read_text()


def test_prometheus_config_and_alert_rules():
    promtool = tool("promtool")
    prometheus = DEPLOY / "prometheus"
    for argv in (["check", "config", "prometheus.yml"], ["check", "rules", "vafa-rules.yml"],
                 ["test", "rules", "vafa-rules.test.yml"]):
        done = subprocess.run([promtool, *argv], capture_output=True, text=True, timeout=60,
                              cwd=prometheus)
        assert done.returncode == 0 and "SUCCESS" in done.stdout, done.stdout + done.stderr
    rules = (prometheus / "vafa-rules.yml").read_text()
    for alert in ("VafaWorkerDown", "VafaOutboxGrowing", "VafaTerminalsOffline",
                  "VafaSmsQuotaLow", "VafaBackupTooOld", "VafaBackupCopyFailed"):
        assert f"alert: {alert}\n" in rules


def exec_start(unit: str, env: dict, venv: Path) -> list[str]:
    """The unit's ExecStart, with ${VAR} expanded from `env` as systemd does."""
    line = next(line for line in (UNITS / unit).read_text().splitlines()
                if line.startswith("ExecStart="))
    line = line.removeprefix("ExecStart=").replace("/opt/vafa/venv", str(venv))
    return [re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], part)
            for part in shlex.split(line)]


def still_running(process: subprocess.Popen, name: str) -> None:
    if process.poll() is not None:
        raise AssertionError(f"{name} exited with {process.returncode}")


def wait_for_port(port: int, process: subprocess.Popen, name: str) -> None:
    def listening() -> bool:
        still_running(process, name)
        with socket.socket() as probe:
            probe.settimeout(0.2)
            return probe.connect_ex(("127.0.0.1", port)) == 0

    wait_for(listening, START_TIMEOUT_S, f"{name} opened port {port}", interval_s=0.1)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def listening_addresses(port: int) -> set[str]:
    done = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True,
                          text=True, timeout=10)
    return {line.split()[3].rsplit(":", 1)[0] for line in done.stdout.splitlines()}


@pytest.fixture
def https_stack(tmp_path, databases, app):
    """A real club made with `vafa init`, gunicorn from the web unit, Caddy from the
    Caddyfile with its internal CA for "localhost"."""
    instance = tmp_path / "instance"
    url = databases.url(app.database_kind)
    web_port, https_port, http_port = free_port(), free_port(), free_port()
    venv = fake_venv(tmp_path)
    env = {**os.environ, **env_file({
        "VAFA_INSTANCE_DIR": str(instance), "DATABASE_URL": url, "VAFA_WEB_PORT":
        str(web_port), "VAFA_WEB_WORKERS": "1", "VAFA_MQTT_TLS_CERTFILE": "",
        "VAFA_MQTT_TLS_KEYFILE": "", "VAFA_MQTT_TLS_CAFILE": "",
        "VAFA_PUBLIC_URL": f"https://localhost:{https_port}"})}
    assert env["VAFA_SECURE_COOKIES"] == "1" and env["VAFA_TRUSTED_PROXIES"] == "1"
    init = subprocess.run(
        [str(venv / "bin" / "vafa"), "init", "--name", "Shirin Bakery", "--name-fa",
         "شیرینی شیرین", "--branch", "تجریش", "--admin", "owner", "--admin-name", "Sara",
         "--password-stdin"], input=STRONG + "\n", env=env, capture_output=True, text=True,
        timeout=120)
    assert init.returncode == 0, init.stdout + init.stderr
    web = subprocess.Popen(exec_start("vafa-web.service", env, venv), env=env, cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    caddy = None
    try:
        wait_for_port(web_port, web, "gunicorn")
        caddy_env = {**os.environ, "VAFA_DOMAIN": "localhost", "VAFA_WEB_PORT": str(web_port),
                     "CADDY_HTTPS_PORT": str(https_port), "CADDY_HTTP_PORT": str(http_port),
                     "CADDY_BIND": "127.0.0.1", "CADDY_ADMIN": "off",
                     "XDG_DATA_HOME": str(tmp_path / "caddy-data"),
                     "XDG_CONFIG_HOME": str(tmp_path / "caddy-config"), "HOME": str(tmp_path)}
        caddy = subprocess.Popen([tool("caddy"), "run", "--config",
                                  str(DEPLOY / "caddy" / "Caddyfile"), "--adapter", "caddyfile"],
                                 env=caddy_env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        wait_for_port(https_port, caddy, "caddy")
        root = tmp_path / "caddy-data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        wait_for(lambda: still_running(caddy, "caddy") or root.exists(), START_TIMEOUT_S,
                 "Caddy made its internal CA", interval_s=0.1)
        yield {"https_port": https_port, "http_port": http_port, "web_port": web_port,
               "root": root, "url": url}
    finally:
        if caddy is not None:
            stop(caddy)
        stop(web)


def test_sign_in_over_https_behind_caddy(https_stack):
    context = ssl.create_default_context(cafile=str(https_stack["root"]))

    def connection():
        return http.client.HTTPSConnection("localhost", https_stack["https_port"],
                                           context=context, timeout=20)

    # Everything binds loopback only.
    for port in (https_stack["https_port"], https_stack["web_port"]):
        assert listening_addresses(port) == {"127.0.0.1"}, port

    https = connection()
    https.request("GET", "/healthz")
    health = https.getresponse()
    assert health.status == 200 and b'"ok"' in health.read()
    assert "max-age=31536000" in health.getheader("Strict-Transport-Security", "")
    https.request("GET", "/metrics")  # not through the proxy
    metrics = https.getresponse()
    metrics.read()
    assert metrics.status == 404

    https.request("GET", "/login")
    page = https.getresponse()
    body = page.read().decode()
    assert page.status == 200, body[:3000]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body).group(1)
    cookie = page.getheader("Set-Cookie").split(";", 1)[0]
    https.request("POST", "/login", body=urlencode({
        "csrf_token": token, "username": "owner", "password": STRONG}), headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie,
        "Referer": f"https://localhost:{https_stack['https_port']}/login",
        # A client claiming another address: the one trusted proxy's view wins.
        "X-Forwarded-For": "203.0.113.9"})
    signed_in = https.getresponse()
    signed_in.read()
    assert signed_in.status == 302, signed_in.status
    session_cookie = signed_in.getheader("Set-Cookie")
    attributes = {part.strip().split("=")[0].lower(): part.strip()
                  for part in session_cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite"} <= set(attributes), session_cookie
    assert attributes["samesite"].lower() == "samesite=lax"
    https.request("GET", "/dashboard", headers={"Cookie": session_cookie.split(";", 1)[0]})
    dashboard = https.getresponse()
    page = dashboard.read().decode()
    assert dashboard.status == 200 and "شیرینی شیرین" in page
    assert 'id="demo-banner"' not in page  # a real club: no demo banner
    https.close()

    # Plain HTTP is sent to HTTPS.
    plain = http.client.HTTPConnection("127.0.0.1", https_stack["http_port"], timeout=20)
    plain.request("GET", "/login", headers={"Host": "localhost"})
    redirect = plain.getresponse()
    redirect.read()
    assert redirect.status in (301, 308)
    assert redirect.getheader("Location").startswith("https://localhost")

    engine = create_engine(https_stack["url"])
    try:
        with engine.connect() as db:
            ips = db.execute(select(AuditLog.ip).where(AuditLog.action == "sign_in")).scalars()
            assert list(ips) == ["127.0.0.1"]  # the proxy's client, not the claimed one
    finally:
        engine.dispose()
