"""simulator/netio.py: CPython sockets behave as MicroPython's do for the firmware's MQTT
client (non-blocking read/write answering None, no recv/send/settimeout, the simulated
Wi-Fi), so the simulator cannot hide a blocking call."""

import errno
import select
import socket
import ssl

import pytest

import simulator  # noqa: F401  (firmware on sys.path)
from simulator import netio
from simulator.terminal import Link


@pytest.fixture
def pair():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    mod = netio.SocketModule(Link(True))
    s = mod.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    with pytest.raises(OSError) as raised:
        s.connect(server.getsockname())
    assert raised.value.errno == errno.EINPROGRESS  # as the ESP32 (there 119)
    peer, _ = server.accept()
    yield s, peer, mod
    s.close()
    peer.close()
    server.close()


def test_reads_and_writes_answer_none_when_they_would_block(pair):
    s, peer, _ = pair
    assert s.read(10) is None
    assert s.write(b"hello") == 5
    assert peer.recv(10) == b"hello"
    peer.sendall(b"abc")
    assert select.select([s.fileno()], [], [], 5)[0]  # arrived
    assert s.read(10) == b"abc"
    for name in ("recv", "send", "settimeout", "sendall"):
        assert not hasattr(s, name), name


def test_a_down_link_fails_every_call(pair):
    s, peer, mod = pair
    mod.link.up = False
    with pytest.raises(OSError):
        s.read(1)
    with pytest.raises(OSError):
        s.write(b"x")
    with pytest.raises(OSError):
        mod.getaddrinfo("localhost", 1883)


def test_tls_must_leave_the_handshake_to_the_firmware(pair):
    s, _, _ = pair
    ctx = netio.TlsContext(ssl.create_default_context())
    with pytest.raises(ValueError, match="non-blocking"):
        ctx.wrap_socket(s, server_hostname="localhost")
    wrapped = ctx.wrap_socket(s, server_hostname="localhost", do_handshake_on_connect=False)
    assert wrapped.write(b"x") is None  # handshake under way, the peer says nothing
    assert not hasattr(wrapped, "settimeout")
