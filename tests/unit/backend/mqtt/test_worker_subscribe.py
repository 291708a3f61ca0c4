"""The worker counts as subscribed only once the broker's SUBACK grants its request
subscription (not when it sent SUBSCRIBE): tests and the supervisor wait on it."""

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from backend.mqtt.worker import Worker


def test_subscribed_waits_for_the_brokers_grant(app):
    worker = Worker(app, host="127.0.0.1", port=1, username="x", password="x")
    worker._request_subscription_mid = 7
    granted = [ReasonCode(PacketTypes.SUBACK, "Granted QoS 1")]
    refused = [ReasonCode(PacketTypes.SUBACK, "Not authorized")]
    worker._on_subscribe(worker.client, None, 8, granted, None)  # the state subscription
    assert worker.subscribed is False
    worker._on_subscribe(worker.client, None, 7, refused, None)
    assert worker.subscribed is False
    worker._on_subscribe(worker.client, None, 7, granted, None)
    assert worker.subscribed is True
