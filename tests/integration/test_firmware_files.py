"""The firmware files over a real HTTP server, as the terminal fetches them: a plain
`GET … HTTP/1.0` read until the server closes, answered with the exact bytes and their
Content-Length, never chunked (docs/protocol.md "OTA")."""

import socket
import threading

import pytest
from werkzeug.serving import make_server

from backend.extensions import db
from backend.services import firmware_builds
from backend.unit_of_work import SYSTEM
from tests.conftest import NOW, build_app
from tests.unit.backend.services.test_firmware_builds import FILES, build_tar


@pytest.fixture
def served(tmp_path_factory, databases, tmp_path):
    app = build_app(tmp_path_factory, databases, "sqlite")
    with app.app_context():
        build = firmware_builds.upload_build(db.session, build_tar(tmp_path), actor=SYSTEM,
                                             note="", now=NOW)
        db.session.commit()
        sha, manifest = build.manifest_sha256, build.manifest.encode()
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port, sha, manifest
    server.shutdown()
    thread.join(5)


def get_http10(port: int, path: str) -> tuple[bytes, dict, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(4096):  # until the server closes
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {key.strip().lower(): value.strip() for key, _, value in
               (line.decode().partition(":") for line in lines)}
    return status, headers, body


def test_an_http10_client_gets_the_exact_bytes(served):
    port, sha, manifest = served
    status, headers, body = get_http10(port, f"/fw/{sha}/manifest.json")
    assert status.split()[1] == b"200" and body == manifest
    assert headers["content-length"] == str(len(manifest))
    assert "transfer-encoding" not in headers
    for path, content in FILES.items():
        status, headers, body = get_http10(port, f"/fw/{sha}/files/{path}")
        assert (status.split()[1], body) == (b"200", content)
        assert headers["content-length"] == str(len(content))
    status, _, _ = get_http10(port, f"/fw/{sha}/files/vafa/missing.py")
    assert status.split()[1] == b"404"
