"""The setup QR code (provisioning/qr.py), decoded back with zxing-cpp."""

import json

import zxingcpp
from PIL import Image

from provisioning import qr


def test_qr_code_decodes_to_the_payload(tmp_path):
    text = qr.payload(token="tok", api_url="https://vafa.example/api/v1", wifi_ssid="فروشگاه",
                      wifi_password="pw", mqtt_host="mqtt.example", mqtt_port=8883,
                      mqtt_tls=True)
    path = tmp_path / "qr.png"
    path.write_bytes(qr.png(text))
    found = zxingcpp.read_barcodes(Image.open(path))
    assert [(code.format.name, code.text) for code in found] == [("QRCode", text)]
    payload = json.loads(found[0].text)
    assert payload["wifi"]["ssid"] == "فروشگاه"
    # Nothing in the code can make the board skip certificate checks.
    assert set(payload) == {"t", "v", "api", "token", "wifi", "mqtt"}
    assert set(payload["mqtt"]) == {"host", "port", "tls"}
