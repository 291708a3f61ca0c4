"""Publishing a command from the panel (backend/mqtt/publisher.py): a broker that is down
or never answers is reported as BrokerUnavailable within the bound, never a hung request.
A successful publish to a real broker is tests/integration/test_terminal_commands.py."""

import socket
import time

import pytest

from backend.mqtt.publisher import BrokerPublisher, BrokerUnavailable
from tests.support.broker import free_port

TIMEOUT_S = 0.5


def test_nothing_listening_is_reported_at_once():
    publisher = BrokerPublisher("127.0.0.1", free_port(), "vafa-backend", "x",
                                timeout_s=TIMEOUT_S)
    with pytest.raises(BrokerUnavailable, match="cannot be reached"):
        publisher.publish("vafa/v1/dev/t01/cmd", b"{}")


def test_a_broker_that_never_answers_is_given_up_on_within_the_bound():
    # A socket that accepts the connection and never sends CONNACK: a hung broker.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        publisher = BrokerPublisher("127.0.0.1", silent.getsockname()[1], "vafa-backend",
                                    "x", timeout_s=TIMEOUT_S)
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable, match="did not answer within 0.5 s"):
            publisher.publish("vafa/v1/dev/t01/cmd", b"{}")
        assert time.monotonic() - started < TIMEOUT_S + 2


def test_from_config_uses_the_backend_listener_and_credentials():
    publisher = BrokerPublisher.from_config({
        "MQTT_BACKEND_HOST": "10.0.0.5", "MQTT_BACKEND_PORT": 8884,
        "MQTT_USERNAME": "vafa-backend", "MQTT_PASSWORD": "secret"})
    assert (publisher.host, publisher.port, publisher.username, publisher.password,
            publisher.timeout_s) == ("10.0.0.5", 8884, "vafa-backend", "secret", 5.0)
