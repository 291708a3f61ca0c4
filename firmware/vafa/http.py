# The smallest HTTP client setup mode needs: one JSON POST over HTTP/1.0 (so the server
# answers with a plain body and closes, never chunked), bounded in time and size.
# Runs on MicroPython and CPython (the simulator uses it against the real backend).
from micropython import const

TIMEOUT_S = const(10)
MAX_RESPONSE = const(8192)  # an enrolment answer is ~1 KB
RECV_CHUNK = const(512)


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
