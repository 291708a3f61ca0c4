"""A real HTTP(S) server on this machine's loopback for the firmware's HTTP client, its
OTA download and the simulated terminal's updates: `FileServer` answers GET from a dict
of paths, and `serving()` runs any handler in a thread and always shuts it down."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FileServer(BaseHTTPRequestHandler):
    """GET `path` answers `files[path]`, 404 for anything else; `seen` keeps each request's
    (HTTP version, path): the firmware speaks HTTP/1.0."""

    files: dict[str, bytes] = {}
    seen: list[tuple[str, str]] = []

    def do_GET(self):  # noqa: N802 (the standard library's name)
        self.seen.append((self.request_version, self.path))
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def publish_build(raw: bytes, files: dict[str, bytes], prefix: str) -> None:
    """An OTA build's manifest and files under `prefix` (e.g. "/fw/x/"), as the backend
    serves a build."""
    FileServer.files[prefix + "manifest.json"] = raw
    FileServer.files.update({prefix + "files/" + path: body for path, body in files.items()})


@contextmanager
def serving(handler=FileServer, tls=None) -> Iterator[ThreadingHTTPServer]:
    """`handler` served on a free port (TLS when `tls`, a server SSLContext, is given);
    the server's `server_port` is its port. Starts with an empty request log."""
    handler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
