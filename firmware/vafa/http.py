# The smallest HTTP client the terminal needs, HTTP/1.0 only (so the server answers with a
# plain body and closes, never chunked), bounded in time and size:
# - post_json(): setup mode's one blocking JSON POST (nothing else runs then);
# - Get: a firmware download (vafa.ota), a non-blocking GET advanced by step() from the
#   app's loop, on the same socket calls as vafa.mqtt (a TLS socket has no settimeout).
# Runs on MicroPython and CPython (the simulator uses it against the real backend).
from micropython import const

from vafa.clock import ticks_diff

TIMEOUT_S = const(10)
MAX_RESPONSE = const(8192)  # an enrolment answer is ~1 KB
RECV_CHUNK = const(512)
MAX_HEAD = const(1024)  # status line and headers of a GET answer
GET_READ_BUDGET = const(2048)  # bytes one Get.step() reads: bounds one pass's work
GET_IDLE_MS = const(15000)  # a GET making no progress this long has failed
# Get states
G_CONNECTING = const(0)
G_SENDING = const(1)
G_HEAD = const(2)
G_BODY = const(3)
G_DONE = const(4)
G_CLOSED = const(5)


class HttpError(Exception):
    pass


def split_url(url):
    """(tls, host, port, path) of an http:// or https:// URL."""
    if url.startswith("http://"):
        tls, rest, port = False, url[7:], 80
    elif url.startswith("https://"):
        tls, rest, port = True, url[8:], 443
    else:
        raise HttpError("not an http(s) URL")
    slash = rest.find("/")
    hostport, path = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
    host = hostport
    if ":" in hostport:
        host, _, text = hostport.rpartition(":")
        try:
            port = int(text)
        except ValueError:
            raise HttpError("bad port in URL")
    if not host or not 0 < port < 65536:
        raise HttpError("bad host or port in URL")
    return tls, host, port, path


def request_bytes(host, port, path, body):
    head = ("POST %s HTTP/1.0\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
            "Accept: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
            % (path, host, port, len(body)))
    return head.encode() + body


def parse_head(head):
    """(status, {lower-case name: value}) of an HTTP/1.x status line and headers."""
    lines = head.decode().split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise HttpError("not an HTTP response")
    try:
        status = int(parts[1])
    except ValueError:
        raise HttpError("bad status line")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


def content_length(headers):
    length = headers.get("content-length")
    if length is None:
        return None
    try:
        length = int(length)
    except ValueError:
        raise HttpError("bad content-length")
    if length < 0:
        raise HttpError("bad content-length")
    return length


def parse_response(data):
    """(status, body) of a complete HTTP/1.x response."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise HttpError("incomplete response")
    status, headers = parse_head(data[:end])
    body = data[end + 4:]
    if headers.get("transfer-encoding", "").lower() == "chunked":
        raise HttpError("chunked response")
    length = content_length(headers)
    if length is not None:
        if len(body) < length:
            raise HttpError("truncated response")
        body = body[:length]
    return status, body


def tls_context(insecure=False):
    """The device verifies against ca.pem (vafa.tlsconf) and refuses without it unless
    ``insecure``; CPython (the simulator) without ca.pem verifies against the system's
    CAs instead."""
    import ssl

    from vafa import tlsconf

    try:
        return tlsconf.context(insecure=insecure, ssl_mod=ssl)
    except tlsconf.TlsRefused:
        system_cas = getattr(ssl, "create_default_context", None)  # CPython only
        if system_cas is None:
            raise
        return system_cas()


def post_json(url, body, timeout_s=TIMEOUT_S, max_bytes=MAX_RESPONSE, insecure=False):
    """POST ``body`` (bytes of JSON) to ``url``; returns (status, body bytes). Raises
    OSError when the server cannot be reached (vafa.tlsconf.TlsRefused, an OSError, for
    https:// without ca.pem unless ``insecure``), HttpError on a bad or too large answer.
    Setup mode only: a blocking socket, bounded by ``timeout_s`` on the plain socket
    (which also bounds the TLS reads above it; a TLS socket has no settimeout)."""
    import socket  # only here: ports without sockets still import the parsing above

    tls, host, port, path = split_url(url)
    ctx = tls_context(insecure) if tls else None  # refused before any byte is sent
    info = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    address = info[-1]
    sock = socket.socket(info[0], socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout_s)
        sock.connect(address)
        if ctx is not None:
            sock = ctx.wrap_socket(sock, server_hostname=host)
        data = request_bytes(host, port, path, body)
        if hasattr(sock, "sendall"):
            sock.sendall(data)
        else:  # MicroPython's TLS socket is a stream
            sock.write(data)
        received = b""
        # Bounded: at most max_bytes // RECV_CHUNK + 1 reads that bring data.
        while True:
            chunk = sock.recv(RECV_CHUNK) if hasattr(sock, "recv") else sock.read(RECV_CHUNK)
            if not chunk:
                break
            received += chunk
            if len(received) > max_bytes:
                raise HttpError("response larger than %d bytes" % max_bytes)
    finally:
        sock.close()
    return parse_response(received)


class Get:
    """One GET ``url`` over a non-blocking socket: ``step(now_ms)`` does a bounded piece of
    the work (connect, one TLS handshake step, a write, at most GET_READ_BUDGET bytes
    read) and returns True once the whole body went to ``sink(bytes)``. Only status 200;
    a body over ``max_bytes`` (or over its Content-Length), a connection closed early, or
    no progress for GET_IDLE_MS raise HttpError or OSError (the socket is then closed).
    ``sockets`` is a vafa.mqtt.Sockets (its getaddrinfo is the one call that may block:
    DNS); ``tls`` the SSLContext of vafa.tlsconf for https:// URLs (the CA pinned)."""

    def __init__(self, url, sockets, tls, sink, max_bytes, now_ms):
        is_tls, host, port, path = split_url(url)
        if is_tls and tls is None:
            raise HttpError("https:// without a TLS context")
        self.host = host
        self.tls = tls if is_tls else None
        self.sink = sink
        self.max_bytes = max_bytes
        self.received = 0
        self.length = None
        self._head = b""
        self._handshaking = False
        self._out = ("GET %s HTTP/1.0\r\nHost: %s:%d\r\nConnection: close\r\n\r\n"
                     % (path, host, port)).encode()
        self._sockets = sockets
        self._progress = now_ms
        family, address = sockets.resolve(host, port)
        self.sock = sockets.open(family, address)
        self.state = G_CONNECTING

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
        if self.state != G_DONE:
            self.state = G_CLOSED

    def step(self, now_ms):
        if self.state == G_DONE:
            return True
        if self.state == G_CLOSED:
            raise HttpError("closed")
        try:
            done = self._step(now_ms)
        except Exception:
            self.close()
            raise
        if done:
            self.state = G_DONE
            self.close()
        return done

    def _step(self, now_ms):
        if ticks_diff(now_ms, self._progress) >= GET_IDLE_MS:
            raise OSError(110, "HTTP GET timed out")
        if self.state == G_CONNECTING:
            if not self._sockets.writable(self.sock):
                return False
            if self.tls is not None:
                self.sock = self.tls.wrap_socket(self.sock, server_hostname=self.host,
                                                 do_handshake_on_connect=False)
                self._handshaking = True
            self.state = G_SENDING
            self._progress = now_ms
        if self.state == G_SENDING:
            n = self.sock.write(self._out)
            if n:
                self._out = self._out[n:]
                self._progress = now_ms
                self._handshaking = False  # a write went through: the handshake is done
            if self._out or self._handshaking:
                return False  # one TLS handshake step per pass: its crypto is slow
            self.state = G_HEAD
        budget = GET_READ_BUDGET
        while budget > 0:
            try:
                data = self.sock.read(RECV_CHUNK)
            except OSError:
                # Some TLS stacks raise at the peer's close: fine once the body is whole.
                if self.length is not None and self.received == self.length:
                    return True
                raise
            if data is None:
                return False
            if not data:
                return self._at_end()
            self._progress = now_ms
            budget -= len(data)
            if self.state == G_HEAD:
                data = self._take_head(data)
                if data is None:
                    continue
            if self._take_body(data):
                return True
        return False

    def _take_head(self, data):
        """Collect the head; the body bytes that came with it, or None for more head."""
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > MAX_HEAD:
                raise HttpError("response head larger than %d bytes" % MAX_HEAD)
            return None
        if end > MAX_HEAD:
            raise HttpError("response head larger than %d bytes" % MAX_HEAD)
        status, headers = parse_head(self._head[:end])
        rest = self._head[end + 4:]
        self._head = b""
        if status != 200:
            raise HttpError("HTTP status %d" % status)
        if headers.get("transfer-encoding", "").lower() == "chunked":
            raise HttpError("chunked response")
        self.length = content_length(headers)
        if self.length is not None and self.length > self.max_bytes:
            raise HttpError("body of %d bytes, at most %d" % (self.length, self.max_bytes))
        self.state = G_BODY
        return rest

    def _take_body(self, data):
        """Hand ``data`` to the sink; True once the Content-Length arrived."""
        if not data:
            return self.length == 0
        self.received += len(data)
        limit = self.max_bytes if self.length is None else self.length
        if self.received > limit:
            raise HttpError("body larger than %d bytes" % limit)
        self.sink(data)
        return self.length is not None and self.received == self.length

    def _at_end(self):
        if self.state == G_HEAD:
            raise HttpError("connection closed before the response head")
        if self.length is not None and self.received != self.length:
            raise HttpError("truncated body: %d of %d bytes" % (self.received, self.length))
        return True
