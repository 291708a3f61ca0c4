"""Mosquitto's files generated from the device table (backend/broker.py): Mosquitto 2
password hashes, each device confined to its own topics, the backend's listener apart,
TLS only when all three files are named, and files only their owner can read. That
Mosquitto enforces them: tests/integration/test_broker_security.py."""

import base64
import hashlib
import stat

import pytest

from backend import broker

SALT = bytes(range(12))


def test_password_hash_is_mosquittos_pbkdf2_sha512_with_its_salt():
    line = broker.mosquitto_password_hash("s3cret", salt=SALT)
    kind, iterations, salt, digest = line.split("$")[1:]
    assert (kind, int(iterations), base64.b64decode(salt)) == ("7", 101, SALT)
    assert base64.b64decode(digest) == hashlib.pbkdf2_hmac("sha512", b"s3cret", SALT, 101)
    # A fresh salt each time: two devices with one password get different lines.
    assert broker.mosquitto_password_hash("s3cret") != broker.mosquitto_password_hash("s3cret")


def test_each_device_gets_a_read_only_watcher_with_the_same_hash():
    text = broker.device_password_file([broker.BrokerUser("t01", "$7$h1"),
                                        broker.BrokerUser("t02", "$7$h2")])
    assert text == "t01:$7$h1\nt01.watch:$7$h1\nt02:$7$h2\nt02.watch:$7$h2\n"


def acl_rules(text: str) -> dict[str, set[str]]:
    rules, user = {}, None
    for line in text.splitlines():
        if line.startswith("user "):
            user = line.split(" ", 1)[1]
            rules[user] = set()
        elif line.startswith("topic "):
            rules[user].add(line.split(" ", 1)[1])
    return rules


def test_a_device_reaches_only_its_own_topics_and_its_watcher_only_reads():
    rules = acl_rules(broker.acl_file(["t01", "t02"]))
    assert rules["t01"] == {"write vafa/v1/dev/t01/req", "readwrite vafa/v1/dev/t01/state",
                            "read vafa/v1/dev/t01/res", "read vafa/v1/dev/t01/cmd"}
    assert rules["t01.watch"] == {"read vafa/v1/dev/t01/state", "read vafa/v1/dev/t01/res"}
    assert not any("t02" in rule for rule in rules["t01"] | rules["t01.watch"])
    assert rules["t02"] == {rule.replace("t01", "t02") for rule in rules["t01"]}


def test_the_backend_reads_requests_and_states_and_writes_replies_and_commands():
    assert acl_rules(broker.backend_acl_file("vafa-backend")) == {"vafa-backend": {
        "read vafa/v1/dev/+/req", "read vafa/v1/dev/+/state",
        "write vafa/v1/dev/+/res", "write vafa/v1/dev/+/cmd"}}


def test_backend_client_ids_carry_the_prefix_once():
    assert broker.backend_client_id("worker-1") == "backend:worker-1"
    assert broker.backend_client_id("backend:worker-1") == "backend:worker-1"


def test_tls_needs_all_three_existing_files(tmp_path):
    assert broker.tls_listener_from({}) is None
    for name in ("cert.pem", "key.pem", "ca.pem"):
        (tmp_path / name).write_text("-----BEGIN-----")
    named = {"MQTT_TLS_PORT": 8883, "MQTT_TLS_CERTFILE": str(tmp_path / "cert.pem"),
             "MQTT_TLS_KEYFILE": str(tmp_path / "key.pem"),
             "MQTT_TLS_CAFILE": str(tmp_path / "ca.pem")}
    listener = broker.tls_listener_from(named)
    assert (listener.port, listener.keyfile.name) == (8883, "key.pem")
    with pytest.raises(broker.BrokerConfigError, match="must all name existing files"):
        broker.tls_listener_from({**named, "MQTT_TLS_CAFILE": ""})
    with pytest.raises(broker.BrokerConfigError):
        broker.tls_listener_from({**named, "MQTT_TLS_CAFILE": str(tmp_path / "gone.pem")})


def test_written_files_are_owner_only_and_the_conf_separates_the_listeners(tmp_path):
    conf = broker.write_broker_files(
        tmp_path / "mosquitto", 1883, broker.BrokerUser("vafa-backend", "$7$b"),
        [broker.BrokerUser("t01", "$7$d")], backend_port=1884)
    config_dir = conf.parent
    assert sorted(path.name for path in config_dir.iterdir()) == [
        "acl", "backend.acl", "backend.passwd", "data", "mosquitto.conf", "passwd"]
    for name in ("acl", "backend.acl", "backend.passwd", "mosquitto.conf", "passwd"):
        assert stat.S_IMODE((config_dir / name).stat().st_mode) == 0o600, name
    assert (config_dir / "backend.passwd").read_text() == "vafa-backend:$7$b\n"
    terminals, backend = conf.read_text().split("# The backend")
    assert "listener 1883 127.0.0.1\nuse_username_as_clientid true\n" in terminals
    assert f"password_file {config_dir / 'passwd'}\n" in terminals
    assert "listener 1884 127.0.0.1\n" in backend
    assert f"password_file {config_dir / 'backend.passwd'}\n" in backend
    assert "use_username_as_clientid" not in backend  # workers choose their own ids
    assert "allow_anonymous true" not in conf.read_text()
