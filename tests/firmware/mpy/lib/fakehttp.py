# ruff: noqa: UP031  (MicroPython test helper: %-formatting kept on purpose)
# An HTTP/1.0 server behind strict stand-ins for MicroPython's non-blocking socket and
# select (as fakenet.py models them from the ESP32 port): connect() raises EINPROGRESS,
# read()/write() answer None when they would block, a write takes part of the buffer,
# and a call that would make a blocking socket wait fails the test. For vafa.http.Get
# and vafa.ota under MicroPython and CPython.
from fakenet import AF_INET, EINPROGRESS, POLLERR, POLLHUP, POLLOUT, SOCK_STREAM, Blocked


class Server:
    """``routes``: path -> (status, body bytes, headers dict). ``chunk``: the most bytes
    one read() gives; every other read() would block."""

    def __init__(self):
        self.routes = {}
        self.requests = []  # the request heads, decoded
        self.chunk = 300
        self.write_chunk = 40
        self.sockets = []
        self.refuse = False
        self.max_read_asked = 0
        self.cut_after = None  # close the connection after this many body bytes

    def add(self, path, body, status=200, headers=None):
        self.routes[path] = (status, body, headers)

    def answer(self, head):
        line = head.split("\r\n")[0]
        self.requests.append(head)
        path = line.split(" ")[1]
        status, body, headers = self.routes.get(path, (404, b"not found", None))
        if headers is None:
            headers = {"Content-Length": str(len(body))}
        out = "HTTP/1.0 %d X\r\n" % status
        for k in headers:
            out += "%s: %s\r\n" % (k, headers[k])
        data = (out + "\r\n").encode() + body
        if self.cut_after is not None:
            data = data[:len(data) - len(body) + self.cut_after]
        return data


class Sock:
    def __init__(self, server):
        self.server = server
        self.blocking = True
        self.state = "new"
        self.polls = 0
        self.inbox = b""
        self.outbox = None  # the response, once the request head is in
        self.flip = False
        self.closed = False
        server.sockets.append(self)

    def setblocking(self, flag):
        self.blocking = bool(flag)

    def settimeout(self, t):
        raise AssertionError("vafa.http.Get must not rely on settimeout (a TLS socket has none)")

    def connect(self, address):
        if self.blocking:
            raise Blocked("blocking connect()")
        self.state = "refused" if self.server.refuse else "connecting"
        raise OSError(EINPROGRESS)

    def write(self, data):
        if self.blocking:
            raise Blocked("blocking write()")
        if self.state != "up":
            raise OSError(128)
        n = min(len(data), self.server.write_chunk)
        self.inbox += bytes(data[:n])
        if self.outbox is None and b"\r\n\r\n" in self.inbox:
            self.outbox = self.server.answer(self.inbox.decode())
        return n

    def read(self, n):
        if self.blocking:
            raise Blocked("blocking read()")
        self.server.max_read_asked = max(self.server.max_read_asked, n)
        if self.state != "up":
            raise OSError(128)
        if self.outbox is None:
            return None
        self.flip = not self.flip
        if self.flip:
            return None  # would block: the data comes in pieces
        out = self.outbox[:min(n, self.server.chunk)]
        self.outbox = self.outbox[len(out):]
        return out  # b"" at the end: the server closed

    def close(self):
        self.closed = True


class SocketModule:
    SOCK_STREAM = SOCK_STREAM
    AF_INET = AF_INET

    def __init__(self, server):
        self.server = server
        self.lookups = 0

    def getaddrinfo(self, host, port, family=0, type_=0):
        self.lookups += 1
        return [(AF_INET, SOCK_STREAM, 0, "", (host, port))]

    def socket(self, family=AF_INET, type_=SOCK_STREAM):
        return Sock(self.server)


class Poll:
    def __init__(self):
        self.socks = []

    def register(self, s, mask):
        self.socks.append(s)

    def unregister(self, s):
        self.socks.remove(s)

    def poll(self, timeout=-1):
        if timeout != 0:
            raise Blocked("poll with a timeout")
        out = []
        for s in self.socks:
            s.polls += 1
            if s.state == "refused":
                out.append((s, POLLOUT | POLLERR | POLLHUP))
            elif s.state == "connecting" and s.polls >= 2:
                s.state = "up"
                out.append((s, POLLOUT))
        return out


class SelectModule:
    POLLIN = 1
    POLLOUT = POLLOUT
    POLLERR = POLLERR
    POLLHUP = POLLHUP

    def poll(self):
        return Poll()


def sockets(server):
    from vafa.mqtt import Sockets

    return Sockets(SocketModule(server), SelectModule())
