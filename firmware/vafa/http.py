# The smallest HTTP client setup mode needs: one JSON POST over HTTP/1.0 (so the server
# answers with a plain body and closes, never chunked), bounded in time and size.
# Runs on MicroPython and CPython (the simulator uses it against the real backend).
from micropython import const

TIMEOUT_S = const(10)
MAX_RESPONSE = const(8192)  # an enrolment answer is ~1 KB
RECV_CHUNK = const(512)
CA_FILE = "ca.pem"


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


def parse_response(data):
    """(status, body) of a complete HTTP/1.x response."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise HttpError("incomplete response")
    lines = data[:end].decode().split("\r\n")
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
    body = data[end + 4:]
    if headers.get("transfer-encoding", "").lower() == "chunked":
        raise HttpError("chunked response")
    length = headers.get("content-length")
    if length is not None:
        try:
            length = int(length)
        except ValueError:
            raise HttpError("bad content-length")
        if len(body) < length:
            raise HttpError("truncated response")
        body = body[:length]
    return status, body


def _tls(sock, host):
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ctx.load_verify_locations(cafile=CA_FILE)  # the device's pinned CA
    except OSError:
        if hasattr(ctx, "load_default_certs"):
            ctx.load_default_certs()  # CPython: the system's CAs
        else:
            ctx.verify_mode = ssl.CERT_NONE  # a device without ca.pem: as for MQTT
    return ctx.wrap_socket(sock, server_hostname=host)


def post_json(url, body, timeout_s=TIMEOUT_S, max_bytes=MAX_RESPONSE):
    """POST ``body`` (bytes of JSON) to ``url``; returns (status, body bytes). Raises
    OSError when the server cannot be reached, HttpError on a bad or too large answer."""
    import socket  # only here: ports without sockets still import the parsing above

    tls, host, port, path = split_url(url)
    info = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    address = info[-1]
    sock = socket.socket(info[0], socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout_s)
        sock.connect(address)
        if tls:
            sock = _tls(sock, host)
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
