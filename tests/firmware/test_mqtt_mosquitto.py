"""The firmware's own MQTT client (firmware/vafa/mqtt.py) against the real Mosquitto, under
CPython, over sockets with MicroPython's non-blocking behaviour (simulator/netio.py):
connect, QoS 1 both ways, the persistent session's redelivery, the last will, the
incoming size bound, and TLS verified against ca.pem (refused without it unless
insecure)."""

import json
import select
import threading
import time

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from vafa import mqtt, tlsconf
from vafa.clock import ticks_ms

from backend import broker as broker_files
from simulator import netio
from tests.integration.test_broker_tls import write_pki
from tests.support.broker import MosquittoProcess, free_port

DEVICE, DEVICE_PW = "t01", "device-secret"
BACKEND, BACKEND_PW = "vafa-backend", "backend-secret"
RES = f"vafa/v1/dev/{DEVICE}/res"
REQ = f"vafa/v1/dev/{DEVICE}/req"
STATE = f"vafa/v1/dev/{DEVICE}/state"
STEP_S = 0.005  # the loop's pace while a test waits for an outcome


@pytest.fixture
def mosquitto(tmp_path):
    cafile, certfile, keyfile = write_pki(tmp_path / "pki")
    plain, tls_port, backend_port = free_port(), free_port(), free_port()
    tls = broker_files.TlsListener(tls_port, certfile, keyfile, cafile, bind_address="127.0.0.1")
    broker_files.write_broker_files(
        tmp_path / "mosquitto", plain,
        broker_files.BrokerUser(BACKEND, broker_files.mosquitto_password_hash(BACKEND_PW)),
        [broker_files.BrokerUser(DEVICE, broker_files.mosquitto_password_hash(DEVICE_PW))],
        tls=tls, backend_port=backend_port)
    process = MosquittoProcess(tmp_path / "mosquitto", plain, backend_port).start()
    process.tls_port = tls_port
    process.cafile = cafile
    yield process
    process.stop()


class Backend:
    """The backend's side, with paho: what arrives on req/state, and publishing res."""

    def __init__(self, port):
        self.got: list[tuple[str, bytes, bool]] = []
        self.cond = threading.Condition()
        self.c = paho.Client(CallbackAPIVersion.VERSION2, client_id="test-backend")
        self.c.username_pw_set(BACKEND, BACKEND_PW)
        self.c.on_message = self._on_message
        subscribed = threading.Event()
        self.c.on_subscribe = lambda *a: subscribed.set()
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self.c.subscribe([(REQ, 1), (STATE, 1)])
        assert subscribed.wait(5)

    def _on_message(self, client, userdata, message):
        with self.cond:
            self.got.append((message.topic, bytes(message.payload), message.retain))
            self.cond.notify_all()

    def wait_for(self, pred, timeout_s=5.0):
        with self.cond:
            return self.cond.wait_for(lambda: pred(self.got), timeout_s)

    def publish(self, topic, payload, qos=1):
        self.c.publish(topic, payload, qos=qos).wait_for_publish(5)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def backend(mosquitto):
    b = Backend(mosquitto.backend_port)
    yield b
    b.close()


def client(port, tls=None, password=DEVICE_PW, host="127.0.0.1"):
    c = mqtt.Client(DEVICE, host, port, user=DEVICE, password=password, keepalive_s=30,
                    tls=tls, sockets=netio.sockets())
    c.received = []
    c.set_callback(lambda t, m: c.received.append((bytes(t), bytes(m))))
    return c


def run(c, done, timeout_s=5.0):
    """Step the client as the terminal's loop does until ``done()``; every step returns
    at once (non-blocking sockets), so the wait is select() on its socket."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            return False
        c.step(ticks_ms())
        sock = getattr(c.sock, "_s", None)
        if sock is not None and not done():
            select.select([sock], [], [], STEP_S)
    return True


def connect(c, clean_session=False):
    c.connect(ticks_ms(), clean_session=clean_session)
    assert run(c, lambda: c.connected), "no CONNACK"


def test_qos1_both_ways_and_the_persistent_session_redelivers(mosquitto, backend):
    c = client(mosquitto.port)
    connect(c, clean_session=True)  # start from an empty session
    c.disconnect()
    c = client(mosquitto.port)
    connect(c)
    assert c.session_present is False
    pid = c.subscribe(RES, ticks_ms(), qos=1)
    assert run(c, lambda: pid not in c.subscribing), "no SUBACK"
    pid = c.publish(REQ, b"request-1", ticks_ms(), qos=1)
    assert run(c, lambda: pid not in c.inflight), "no PUBACK"
    assert backend.wait_for(lambda got: (REQ, b"request-1", False) in got)
    backend.publish(RES, b"answer-1")
    assert run(c, lambda: c.received == [(RES.encode(), b"answer-1")])

    # The link dies without DISCONNECT; a QoS 1 answer published meanwhile waits in the
    # persistent session and arrives at the next connect, without subscribing again.
    c.close()
    backend.publish(RES, b"answer-2")
    c = client(mosquitto.port)
    connect(c)
    assert c.session_present is True
    assert run(c, lambda: c.received == [(RES.encode(), b"answer-2")]), "not redelivered"
    for _ in range(3):  # our PUBACK goes out: the broker must not send it a third time
        c.step(ticks_ms())
    c.disconnect()
    c = client(mosquitto.port)
    connect(c)
    # A redelivery would come with the session, before anything published after connect.
    backend.publish(RES, b"sentinel")
    assert run(c, lambda: c.received), "the sentinel did not arrive"
    assert c.received == [(RES.encode(), b"sentinel")], "acknowledged message came again"
    c.disconnect()


def test_the_last_will_is_published_retained_when_the_link_dies(mosquitto, backend):
    c = client(mosquitto.port)
    c.set_last_will(STATE, b'{"online":false}', retain=True, qos=1)
    connect(c)
    pid = c.publish(STATE, b'{"online":true}', ticks_ms(), retain=True, qos=1)
    assert run(c, lambda: pid not in c.inflight)
    assert backend.wait_for(lambda got: (STATE, b'{"online":true}', False) in got)
    c.close()  # no DISCONNECT: the broker publishes the will
    assert backend.wait_for(lambda got: (STATE, b'{"online":false}', False) in got)
    late = Backend(mosquitto.backend_port)  # a subscriber arriving later gets it retained
    try:
        assert late.wait_for(lambda got: (STATE, b'{"online":false}', True) in got)
    finally:
        late.close()


def test_a_wrong_password_is_refused_by_connack(mosquitto):
    c = client(mosquitto.port, password="wrong")
    c.connect(ticks_ms())
    with pytest.raises(mqtt.MQTTError, match="refused"):
        run(c, lambda: False, timeout_s=5)
    assert c.state == mqtt.CLOSED


def test_a_message_over_the_bound_drops_the_connection(mosquitto, backend):
    c = client(mosquitto.port)
    connect(c)
    pid = c.subscribe(RES, ticks_ms(), qos=1)
    assert run(c, lambda: pid not in c.subscribing)
    backend.publish(RES, b"x" * (mqtt.MAX_PACKET + 100))
    with pytest.raises(mqtt.MQTTError, match="over"):
        run(c, lambda: False, timeout_s=5)
    assert c.received == [] and c.state == mqtt.CLOSED


def tls_client(mosquitto, ctx):
    # "localhost": the name in the server certificate (verified with CERT_REQUIRED).
    return client(mosquitto.tls_port, tls=netio.TlsContext(ctx), host="localhost")


def test_tls_verified_against_ca_pem(mosquitto, backend, tmp_path):
    (tmp_path / "ca.pem").write_bytes(mosquitto.cafile.read_bytes())
    ctx = tlsconf.context(ca_file=str(tmp_path / "ca.pem"), ssl_mod=__import__("ssl"))
    c = tls_client(mosquitto, ctx)
    connect(c)
    pid = c.publish(REQ, b"over tls", ticks_ms(), qos=1)
    assert run(c, lambda: pid not in c.inflight)
    assert backend.wait_for(lambda got: (REQ, b"over tls", False) in got)
    assert not hasattr(c.sock, "settimeout")  # as an ESP32 TLS socket
    c.disconnect()


def test_tls_without_ca_pem_is_refused_unless_insecure(mosquitto, tmp_path):
    import ssl

    missing = str(tmp_path / "ca.pem")
    with pytest.raises(tlsconf.TlsRefused):
        tlsconf.context(ca_file=missing, ssl_mod=ssl)
    c = tls_client(mosquitto, tlsconf.context(insecure=True, ca_file=missing, ssl_mod=ssl))
    connect(c)  # development only: connects without verifying
    c.disconnect()


def test_tls_with_another_ca_fails_the_handshake(mosquitto, tmp_path):
    import ssl

    other_ca, _, _ = write_pki(tmp_path / "other")
    ctx = tlsconf.context(ca_file=str(other_ca), ssl_mod=ssl)
    c = tls_client(mosquitto, ctx)
    c.connect(ticks_ms())
    with pytest.raises(ssl.SSLError):
        run(c, lambda: False, timeout_s=5)
    assert c.state == mqtt.CLOSED


def test_the_session_sells_over_tls_with_the_firmware_defaults(mosquitto, backend, tmp_path):
    """vafa.net.Session on the real client and broker: subscribe, state, request acked."""
    from vafa.net import Session

    (tmp_path / "ca.pem").write_bytes(mosquitto.cafile.read_bytes())
    ctx = netio.tls_context(tmp_path, insecure=False)
    socks = netio.sockets()
    s = Session(lambda: mqtt.Client(DEVICE, "localhost", mosquitto.tls_port, user=DEVICE,
                                    password=DEVICE_PW, tls=ctx, sockets=socks),
                DEVICE, time_fn=time.time)

    def poll_until(done, timeout_s=5.0):
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > deadline:
                return False
            s.poll()
            with backend.cond:  # the loop's pace, woken early by what the backend gets
                backend.cond.wait(STEP_S)
        return True

    assert poll_until(lambda: s.connected)
    assert poll_until(lambda: any(t == STATE and json.loads(p)["online"]
                                  for t, p, _ in backend.got))
    token = s.publish_request(b"frame")
    assert poll_until(lambda: (REQ, b"frame", False) in backend.got)
    assert poll_until(lambda: not s._pending)  # PUBACK
    assert token and not s.request_failed(token)
    s.close()
