"""The benchmark's baseline: a trivial MQTT consumer that does no work.

It takes the requests exactly as the worker does (MQTT 5 shared subscription, QoS 1,
the backend's broker account) and republishes each request frame unchanged on the
device's res topic. The load generator (`--expect echo`) counts a verified frame with
its request id as an answer. What the worker achieves relative to this is the share of
the broker-and-generator ceiling it reaches on the same machine in the same run.

Example: python -m bench.echo --port 18830 --username vafa-backend --password secret
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

SUBSCRIPTION = "$share/vafa/vafa/v1/dev/+/req"
MAX_INFLIGHT_MESSAGES = 100  # as many outgoing QoS 1 replies unacknowledged at once


def make_client(host: str, port: int, username: str, password: str,
                client_id: str = "vafa-bench-echo") -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)
    client.max_inflight_messages_set(MAX_INFLIGHT_MESSAGES)

    def on_connect(client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            print(f"echo: broker refused: {reason_code}", file=sys.stderr, flush=True)
            return
        client.subscribe(SUBSCRIPTION, qos=1)
        print(f"echo: subscribed {SUBSCRIPTION}", flush=True)

    def on_message(client, userdata, message):
        # vafa/v1/dev/<id>/req -> vafa/v1/dev/<id>/res
        client.publish(message.topic[:-3] + "res", message.payload, qos=1)

    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(host, port, keepalive=30)
    client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle delay
    return client


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.echo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args(argv)
    client = make_client(args.host, args.port, args.username, args.password)
    signal.signal(signal.SIGTERM, lambda *_: client.disconnect())
    client.loop_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
