"""The paho adapter's umqtt.simple surface, without a broker."""

import socket

import pytest

from simulator.mqtt_adapter import PahoUMQTTClient


def test_refused_connection_raises_oserror():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = PahoUMQTTClient("t1", "127.0.0.1", port=port, user="t1", password="x", keepalive=30)
    c.set_last_will("vafa/v1/dev/t1/state", b'{"online":false}', retain=True, qos=1)
    with pytest.raises(OSError):
        c.connect(clean_session=False)


def test_not_connected_operations_raise():
    c = PahoUMQTTClient("t1", "127.0.0.1")
    assert c.port == 1883
    for op in (c.check_msg, c.ping, lambda: c.publish("t", b"x", qos=1),
               lambda: c.subscribe("t", 1)):
        with pytest.raises(OSError):
            op()
    c.disconnect()  # harmless


def test_inbox_is_bounded_and_delivered_by_check_msg():
    got = []
    c = PahoUMQTTClient("t1", "127.0.0.1")
    c.set_callback(lambda t, m: got.append((t, m)))

    class Msg:
        topic = "vafa/v1/dev/t1/res"
        payload = b"frame"

    for _ in range(300):
        c._on_message(None, None, Msg)
    assert c.dropped == 300 - 256
    c._connected = True
    c._client = object()
    c.check_msg()
    assert len(got) == 256 and got[0] == (b"vafa/v1/dev/t1/res", b"frame")
