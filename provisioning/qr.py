"""The provisioning QR code: Wi-Fi, broker and a one-time enrolment token (O2).

A terminal in setup mode reads it with its own barcode module (a 2D-capable scanner) and
posts the token to the backend's `/enrol` (at `api`) for its credentials.
"""

import io
import json

import qrcode
from qrcode.constants import ERROR_CORRECT_M

PAYLOAD_TYPE = "vafa-enrol"


def payload(*, token: str, api_url: str, wifi_ssid: str, wifi_password: str,
            mqtt_host: str, mqtt_port: int, mqtt_tls: bool) -> str:
    """Compact JSON, short keys: the smaller the code, the easier a scanner reads it."""
    return json.dumps({
        "t": PAYLOAD_TYPE, "v": 1, "api": api_url, "token": token,
        "wifi": {"ssid": wifi_ssid, "password": wifi_password},
        "mqtt": {"host": mqtt_host, "port": mqtt_port, "tls": mqtt_tls},
    }, separators=(",", ":"), ensure_ascii=False)


def _code(text: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=4)
    code.add_data(text.encode("utf-8"))
    code.make(fit=True)
    return code


def png(text: str) -> bytes:
    out = io.BytesIO()
    _code(text).make_image().save(out)
    return out.getvalue()


def ascii_art(text: str) -> str:
    out = io.StringIO()
    _code(text).print_ascii(out=out, invert=True)
    return out.getvalue()
