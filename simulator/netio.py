"""CPython sockets with MicroPython's non-blocking behaviour, so the simulator runs the
firmware's own network code (vafa.mqtt.Client through vafa.mqtt.Sockets) unchanged.

What the firmware relies on, as on the ESP32: a non-blocking ``connect()`` raises OSError
EINPROGRESS; ``read(n)`` / ``write(buf)`` return None when they would block (bytes / a
count otherwise, b"" at end of stream); a TLS socket runs its handshake inside those
reads and writes and has no ``settimeout``. While the simulated Wi-Fi (``Link``) is down
every call fails with OSError, like a socket on a board whose Wi-Fi dropped.
"""

from __future__ import annotations

import select as _select
import socket as _socket
import ssl as _ssl
from pathlib import Path

_WOULD_BLOCK = (BlockingIOError, _ssl.SSLWantReadError, _ssl.SSLWantWriteError)
EHOSTUNREACH = 113


class MpSocket:
    """One socket, plain or TLS, with the MicroPython stream surface the firmware uses
    (and nothing more: no recv/send/settimeout, so firmware code cannot come to rely on
    them)."""

    def __init__(self, sock, link=None, *, handshaken: bool = True):
        self._s = sock
        self._link = link
        self._handshaken = handshaken

    def _check(self) -> None:
        if self._link is not None and not self._link.up:
            raise OSError(EHOSTUNREACH, "network is down (simulated)")

    def setblocking(self, flag: bool) -> None:
        self._s.setblocking(flag)

    def connect(self, address) -> None:
        self._check()
        self._s.connect(address)  # non-blocking: BlockingIOError, errno EINPROGRESS

    def fileno(self) -> int:
        return self._s.fileno()

    def _io(self, fn, arg):
        self._check()
        try:
            if not self._handshaken:
                self._s.do_handshake()
                self._handshaken = True
            return fn(arg)
        except _WOULD_BLOCK:
            return None

    def read(self, n: int):
        return self._io(self._s.recv, n)

    def write(self, data):
        return self._io(self._s.send, bytes(data))

    def close(self) -> None:
        self._s.close()


class SocketModule:
    """The part of MicroPython's ``socket`` module vafa.mqtt.Sockets calls."""

    SOCK_STREAM = _socket.SOCK_STREAM
    AF_INET = _socket.AF_INET

    def __init__(self, link=None):
        self.link = link

    def getaddrinfo(self, host, port, family=0, type_=0):
        if self.link is not None and not self.link.up:
            raise OSError(EHOSTUNREACH, "network is down (simulated)")
        return _socket.getaddrinfo(host, port, family, type_)

    def socket(self, family=_socket.AF_INET, type_=_socket.SOCK_STREAM):
        return MpSocket(_socket.socket(family, type_), self.link)


class TlsContext:
    """An ssl.SSLContext whose wrap_socket() takes and gives MpSocket objects."""

    def __init__(self, context: _ssl.SSLContext, link=None):
        self.context = context
        self.link = link

    def wrap_socket(self, sock: MpSocket, server_hostname=None, do_handshake_on_connect=True):
        if do_handshake_on_connect:
            raise ValueError("the firmware must drive the handshake itself (non-blocking)")
        raw = self.context.wrap_socket(sock._s, server_hostname=server_hostname,
                                       do_handshake_on_connect=False)
        return MpSocket(raw, self.link, handshaken=False)


def sockets(link=None):
    """A vafa.mqtt.Sockets on CPython sockets (one per terminal: it caches the address)."""
    from vafa.mqtt import Sockets

    return Sockets(SocketModule(link), _select)


def tls_context(root: Path, insecure: bool, link=None) -> TlsContext:
    """The device's TLS policy (vafa.tlsconf) with the device's ``root/ca.pem``."""
    from vafa import tlsconf

    return TlsContext(tlsconf.context(insecure=insecure, ca_file=str(Path(root) / "ca.pem"),
                                      ssl_mod=_ssl), link)
