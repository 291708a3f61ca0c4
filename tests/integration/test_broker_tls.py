"""The generated Mosquitto config with a TLS listener (production, PROTOCOL.md port 8883):
a certificate authority and a server certificate made here with `cryptography`, and a
terminal that connects over TLS verifying them; plain TCP to the TLS port, a client that
does not trust the CA, and wrong credentials are all refused."""

import datetime
import ipaddress
import ssl
import threading

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion

from backend import broker
from tests.support.broker import MosquittoProcess, free_port

NOW = datetime.datetime.now(datetime.UTC)


def certificate(subject: str, key, issuer_name, issuer_key, *, ca: bool) -> x509.Certificate:
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(NOW - datetime.timedelta(minutes=5))
               .not_valid_after(NOW + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def write_pki(directory):
    """A CA and a server certificate for 127.0.0.1/localhost, as PEM files."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Vafa test CA")])
    ca_cert = certificate("Vafa test CA", ca_key, ca_name, ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = certificate("localhost", server_key, ca_name, ca_key, ca=False)
    files = {"ca.crt": ca_cert.public_bytes(serialization.Encoding.PEM),
             "server.crt": server_cert.public_bytes(serialization.Encoding.PEM),
             "server.key": server_key.private_bytes(
                 serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                 serialization.NoEncryption())}
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
        (directory / name).chmod(0o600)
    return directory / "ca.crt", directory / "server.crt", directory / "server.key"


@pytest.fixture
def tls_broker(tmp_path):
    cafile, certfile, keyfile = write_pki(tmp_path / "pki")
    plain_port, tls_port = free_port(), free_port()
    device = broker.BrokerUser("t01", broker.mosquitto_password_hash("device-secret"))
    backend = broker.BrokerUser("vafa-backend", broker.mosquitto_password_hash("backend"))
    tls = broker.TlsListener(tls_port, certfile, keyfile, cafile, bind_address="127.0.0.1")
    process = MosquittoProcess(tmp_path / "mosquitto", plain_port)
    broker.write_broker_files(tmp_path / "mosquitto", plain_port, backend, [device], tls=tls,
                              backend_port=process.backend_port)
    process.start()
    yield tls, cafile
    process.stop()


def connect(port, *, password="device-secret", cafile=None, tls=True) -> str:
    """'connected', 'refused' or 'failed: …'."""
    outcome = {}
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="t01")
    client.username_pw_set("t01", password)
    if tls:
        context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
        client.tls_set_context(context)

    def on_connect(client, userdata, flags, reason_code, properties):
        outcome["result"] = "refused" if reason_code.is_failure else "connected"
        done.set()

    client.on_connect = on_connect
    try:
        client.connect("127.0.0.1", port, keepalive=10)
    except (ssl.SSLError, OSError) as error:
        return f"failed: {type(error).__name__}"
    client.loop_start()
    try:
        done.wait(5)
    finally:
        client.disconnect()
        client.loop_stop()
    return outcome.get("result", "failed: no CONNACK")


def test_the_generated_tls_listener_serves_terminals_that_verify_the_ca(tls_broker):
    tls, cafile = tls_broker
    conf = (tls.certfile.parent.parent / "mosquitto" / "mosquitto.conf").read_text()
    assert f"listener {tls.port} 127.0.0.1" in conf and "tls_version tlsv1.2" in conf
    assert connect(tls.port, cafile=cafile) == "connected"
    assert connect(tls.port, cafile=cafile, password="wrong") == "refused"
    # A client that does not trust our CA stops at the handshake.
    assert connect(tls.port, cafile=None).startswith("failed")
    # Plain MQTT to the TLS port gets no session.
    assert connect(tls.port, tls=False) != "connected"
