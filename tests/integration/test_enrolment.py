"""From box to counter with a QR code: `qr` → the simulator, in the firmware's setup
mode, reads the code, enrols over real HTTP against the live backend → it sells through
the real Mosquitto with its new credentials. A used or expired code is refused."""

import json
from datetime import UTC, datetime, timedelta

import zxingcpp
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import select, update

from backend.extensions import db
from backend.models import Branch, Device, EnrolmentToken
from provisioning.cli import cli
from tests.integration.test_provisioning import simulate


def make_qr(stack, api_url, device_id, tmp_path):
    with stack.app.app_context():
        branch_id = db.session.scalars(select(Branch.id).order_by(Branch.id)).first()
    png = tmp_path / f"{device_id}.png"
    result = CliRunner().invoke(cli, [
        "qr", device_id, "--branch-id", str(branch_id), "--lang", "en", "--wifi-ssid", "فروشگاه",
        "--wifi-password", "shop-pass", "--mqtt-host", "127.0.0.1", "--mqtt-port",
        str(stack.broker.port), "--no-mqtt-tls", "--out", str(png), "--api", api_url,
        "--username", "admin", "--password", "admin1234", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    # What the terminal's scanner reads is what the PNG holds, read as the QR code it is:
    # looking for every symbology, zxing also finds a stray Codabar in about one random
    # code in a thousand (a row of modules read as bars; seen in a clean-clone run).
    (code,) = zxingcpp.read_barcodes(Image.open(png), formats=zxingcpp.BarcodeFormat.QRCode)
    assert code.text == summary["payload"]
    return code.text


def test_setup_mode_enrols_then_sells_with_the_new_credentials(stack, api, tmp_path):
    payload = make_qr(stack, api, "t21", tmp_path)
    config_path = tmp_path / "t21" / "config.json"
    sale = simulate(config_path, "--enrol-qr", payload, "--scan", "9900010000000019",
                    "--amount", "250000")
    assert sale.returncode == 0, sale.stdout + sale.stderr
    assert "Enrolled\nt21\nRestarting..." in sale.stdout
    assert "Pay: 237,500" in sale.stdout
    config = json.loads(config_path.read_text())
    assert config["device_id"] == "t21" and config["wifi"] == {"ssid": "فروشگاه",
                                                                "password": "shop-pass"}
    assert (config["mqtt"]["port"], config["mqtt"]["tls"]) == (stack.broker.port, False)
    with stack.app.app_context():
        assert db.session.get(Device, "t21").status == "active"
    assert "\nt21:$7$" in (stack.broker.config_dir / "passwd").read_text()

    # The same code again (another board): the token worked once.
    again = simulate(tmp_path / "other" / "config.json", "--enrol-qr", payload)
    assert again.returncode == 1
    assert "QR code used" in again.stdout
    assert not (tmp_path / "other" / "config.json").exists()


def test_an_expired_code_is_refused(stack, api, tmp_path):
    payload = make_qr(stack, api, "t22", tmp_path)
    with stack.app.app_context():
        db.session.execute(update(EnrolmentToken).where(EnrolmentToken.device_id == "t22")
                           .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
    refused = simulate(tmp_path / "t22.json", "--enrol-qr", payload)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "QR code expired" in refused.stdout
    with stack.app.app_context():
        assert db.session.get(Device, "t22") is None


def test_a_backend_out_of_reach_is_reported(tmp_path):
    payload = json.dumps({"t": "vafa-enrol", "v": 1, "api": "http://127.0.0.1:9/api/v1",
                          "token": "x" * 22, "wifi": {"ssid": "Shop", "password": ""},
                          "mqtt": {"host": "127.0.0.1", "port": 1883, "tls": False}})
    result = simulate(tmp_path / "c.json", "--enrol-qr", payload)
    assert result.returncode == 2 and "Server not found" in result.stdout
