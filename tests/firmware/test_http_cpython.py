"""The firmware's HTTP client (vafa/http.py) against a real HTTP server on this machine:
what it sends, what it reads back, and its bounds."""

import json
import socket
from http.server import BaseHTTPRequestHandler

import pytest
from vafa import http

from tests.support.http_server import serving


class Handler(BaseHTTPRequestHandler):
    answers: dict = {}
    seen: list = []

    def do_POST(self):  # noqa: N802 (the standard library's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.request_version, self.path, self.headers["Content-Type"], body))
        status, payload = self.answers[self.path]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    with serving(Handler) as httpd:
        yield f"http://127.0.0.1:{httpd.server_port}"


def test_posts_json_and_reads_the_answer(server):
    Handler.answers = {"/api/v1/enrol": (201, b'{"device_id":"t21"}'),
                       "/api/v1/nope": (403, b'{"message":"unknown enrolment token"}')}
    status, body = http.post_json(server + "/api/v1/enrol", b'{"token":"abc"}')
    assert (status, json.loads(body)) == (201, {"device_id": "t21"})
    assert Handler.seen == [("HTTP/1.0", "/api/v1/enrol", "application/json", b'{"token":"abc"}')]
    assert http.post_json(server + "/api/v1/nope", b"{}")[0] == 403


def test_a_too_large_answer_is_refused(server):
    Handler.answers = {"/big": (200, b"x" * (http.MAX_RESPONSE + 1))}
    with pytest.raises(http.HttpError, match="larger than"):
        http.post_json(server + "/big", b"{}")


def test_an_unreachable_server_is_an_oserror():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nobody listens once closed
    with pytest.raises(OSError):
        http.post_json(f"http://127.0.0.1:{port}/api/v1/enrol", b"{}", timeout_s=2)


def test_a_silent_server_times_out():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts the connection, never answers
        port = silent.getsockname()[1]
        with pytest.raises(OSError):  # socket.timeout is an OSError
            http.post_json(f"http://127.0.0.1:{port}/x", b"{}", timeout_s=0.5)
