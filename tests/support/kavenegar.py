"""A stand-in for Kavenegar's HTTPS API on a local port: the one part of sending SMS that
cannot run here. The real `kavenegar` package talks to it (its host pointed here, the
test CA trusted through REQUESTS_CA_BUNDLE), so URLs, form fields, JSON and errors go
through the same code as in production.

It answers `sms/send` and `sms/status` the way Kavenegar documents them: `return.status`
200 with `entries`, or an error status and message; per-message statuses 1 (queued),
10 (delivered), 11 (undelivered)… A test scripts failures with `fail_next`.
"""

import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import trustme

API_KEY = "test-api-key-123"


@dataclass
class Failure:
    http_status: int = 200
    api_status: int = 500
    message: str = "server error"
    hang_s: float = 0.0


@dataclass
class FakeKavenegar:
    host: str = ""
    ca_path: Path | None = None
    sent: list[dict] = field(default_factory=list)  # every accepted send, in order
    requests: list[str] = field(default_factory=list)  # every path asked for
    failures: list[Failure] = field(default_factory=list)
    # messageid -> status the status call reports (default: 10, delivered)
    delivery: dict[int, int] = field(default_factory=dict)
    send_status: int = 1  # what sms/send reports per message (1: queued)
    _by_localid: dict[str, dict] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, count: int = 1, **failure) -> None:
        self.failures.extend(Failure(**failure) for _ in range(count))

    def reset(self) -> None:
        with self._lock:
            self.sent.clear()
            self.requests.clear()
            self.failures.clear()
            self.delivery.clear()
            self._by_localid.clear()
            self.send_status = 1

    def answer(self, path: str, form: dict[str, str]) -> tuple[int, dict]:
        with self._lock:
            self.requests.append(path)
            parts = path.strip("/").split("/")
            if len(parts) != 4 or parts[0] != "v1" or not parts[3].endswith(".json"):
                return 404, {"return": {"status": 404, "message": "not found"}, "entries": None}
            if parts[1] != API_KEY:
                return 403, {"return": {"status": 403, "message": "کلید API نامعتبر است"},
                             "entries": None}
            if self.failures:
                failure = self.failures.pop(0)
                if failure.hang_s:
                    return -1, {"hang": failure.hang_s}
                return failure.http_status, {
                    "return": {"status": failure.api_status, "message": failure.message},
                    "entries": None}
            method = f"{parts[2]}/{parts[3][:-5]}"
            if method == "sms/send":
                return 200, self._send(form)
            if method == "sms/status":
                ids = [int(value) for value in form.get("messageid", "").split(",") if value]
                entries = [{"messageid": message_id,
                            "status": self.delivery.get(message_id, 10),
                            "statustext": "رسیده به گیرنده"} for message_id in ids]
                return 200, {"return": {"status": 200, "message": "تایید شد"},
                             "entries": entries}
            return 404, {"return": {"status": 404, "message": "not found"}, "entries": None}

    def _send(self, form: dict[str, str]) -> dict:
        receptor, text = form.get("receptor", ""), form.get("message", "")
        if not receptor.startswith("09") or len(receptor) != 11:
            return {"return": {"status": 411, "message": "گیرنده نامعتبر است"},
                    "entries": None}
        if not text:
            return {"return": {"status": 413, "message": "متن پیام خالی است"},
                    "entries": None}
        local_id = form.get("localid")
        entry = self._by_localid.get(local_id) if local_id else None
        if entry is None:  # a repeated localid is not sent again (Kavenegar's rule)
            entry = {"messageid": 80_000_000 + len(self.sent) + 1, "message": text,
                     "status": self.send_status, "statustext": "در صف ارسال",
                     "sender": form.get("sender", "10004346"), "receptor": receptor,
                     "date": 1795000000, "cost": 120}
            self.sent.append(dict(form, messageid=entry["messageid"]))
            if local_id:
                self._by_localid[local_id] = entry
        return {"return": {"status": 200, "message": "تایید شد"}, "entries": [entry]}


def start(tmp_dir: Path) -> tuple[FakeKavenegar, ThreadingHTTPServer, threading.Thread]:
    """Serve a FakeKavenegar over TLS with a certificate from a throwaway test CA."""
    fake = FakeKavenegar()
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    fake.ca_path = tmp_dir / "kavenegar-test-ca.pem"
    authority.cert_pem.write_to_path(str(fake.ca_path))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            length = min(int(self.headers.get("Content-Length") or 0), 64 * 1024)
            raw = self.rfile.read(length).decode("utf-8")
            form = {key: values[0] for key, values in parse_qs(raw).items()}
            status, body = fake.answer(self.path, form)
            if status == -1:  # stay silent past the client's timeout
                threading.Event().wait(body["hang"])
                return
            payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    fake.host = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return fake, server, thread
