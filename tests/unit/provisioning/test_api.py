"""The provisioning endpoints of /api/v1: staff tokens, device registration and
revocation, and one-time enrolment tokens."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from backend.errors import BadRequest
from backend.models import Device, EnrolmentToken
from backend.services import enrolment
from tests import factories


@pytest.fixture
def branch(db):
    factories.club(db)
    return factories.branch(db)


def login(client, username="admin", password="admin-password"):
    response = client.post("/api/v1/tokens", json={"username": username, "password": password})
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def test_a_token_needs_the_right_password(client, db):
    factories.staff_user(db)
    response = client.post("/api/v1/tokens", json={"username": "admin", "password": "nope"})
    assert response.status_code == 401 and response.json["error"] == "UNAUTHORIZED"
    response = client.post("/api/v1/tokens", json=["admin"])
    assert response.status_code == 400 and response.json["field"] == "body"


def test_register_returns_the_secrets_once_and_writes_the_broker_files(app, client, db, branch):
    factories.staff_user(db)
    response = client.post("/api/v1/devices", headers=login(client),
                           json={"device_id": "t09", "branch_id": branch.id, "lang": "fa"})
    assert response.status_code == 201, response.json
    body = response.json
    device = db.get(Device, "t09")
    assert device.status == "active" and device.key_hex == body["key_hex"]
    assert body["mqtt_password"] not in device.mqtt_password_hash
    assert body["config"]["mqtt"]["password"] == body["mqtt_password"]
    assert body["config"]["lang"] == "fa"
    passwd = (app.config["INSTANCE_DIR"] / "mosquitto" / "passwd").read_text()
    assert any(line.startswith("t09:$7$") for line in passwd.splitlines())
    assert body["broker"]["reloaded"] is False  # no pid file in this test


def test_register_validates_and_needs_an_admin(client, db, branch):
    factories.staff_user(db)
    factories.staff_user(db, username="op", role="operator", password="op-password")
    response = client.post("/api/v1/devices", json={"device_id": "t09", "branch_id": branch.id})
    assert response.status_code == 401
    response = client.post("/api/v1/devices", headers={"Authorization": "Bearer forged"},
                           json={"device_id": "t09", "branch_id": branch.id})
    assert response.status_code == 401 and "not valid" in response.json["message"]
    response = client.post("/api/v1/devices", headers=login(client, "op", "op-password"),
                           json={"device_id": "t09", "branch_id": branch.id})
    assert response.status_code == 403
    admin = login(client)
    for body, field in (({"device_id": "T 9", "branch_id": branch.id}, "device_id"),
                        ({"device_id": "t09", "branch_id": "one"}, "branch_id"),
                        ({"device_id": "t09", "branch_id": 99999}, "branch_id")):
        response = client.post("/api/v1/devices", headers=admin, json=body)
        assert response.status_code == 400 and response.json["field"] == field


def test_expired_staff_tokens_are_refused(app, client, db, branch):
    factories.staff_user(db)
    headers = login(client)
    app.config["API_TOKEN_TTL_S"] = -1
    try:
        response = client.get("/api/v1/devices/t01", headers=headers)
    finally:
        app.config.pop("API_TOKEN_TTL_S")
    assert response.status_code == 401 and "expired" in response.json["message"]


def test_revoke_disables_and_removes_from_the_broker(app, client, db, branch):
    factories.staff_user(db)
    factories.device(db, device_id="t07", branch_id=branch.id)
    admin = login(client)
    response = client.post("/api/v1/devices/t07/revoke", headers=admin)
    assert response.status_code == 200, response.json
    assert db.get(Device, "t07").status == "revoked"
    broker_dir = app.config["INSTANCE_DIR"] / "mosquitto"
    assert "t07" not in (broker_dir / "passwd").read_text()
    assert "t07" not in (broker_dir / "acl").read_text()
    shown = client.get("/api/v1/devices/t07", headers=admin).json
    assert shown["status"] == "revoked" and shown["last_seq"] == 0
    assert client.post("/api/v1/devices/nope/revoke", headers=admin).status_code == 400


def test_enrolment_token_works_once(client, db, branch):
    factories.staff_user(db)
    response = client.post("/api/v1/enrolment-tokens", headers=login(client),
                           json={"device_id": "t11", "branch_id": branch.id})
    assert response.status_code == 201, response.json
    token = response.json["token"]
    stored = db.scalars(select(EnrolmentToken)).one()
    assert token not in stored.token_sha256  # only the digest is kept
    first = client.post("/api/v1/enrol", json={"token": token})
    assert first.status_code == 201, first.json
    assert first.json["device_id"] == "t11" and len(first.json["key_hex"]) == 64
    assert db.get(Device, "t11").status == "active"
    again = client.post("/api/v1/enrol", json={"token": token})
    assert again.status_code == 403 and "already used" in again.json["message"]
    unknown = client.post("/api/v1/enrol", json={"token": "not-a-token"})
    assert unknown.status_code == 403 and "unknown" in unknown.json["message"]


def test_enrolment_token_expires_after_15_minutes(db, branch):
    issued_at = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    issued = enrolment.issue_token(db, device_id="t12", branch_id=branch.id, now=issued_at)
    db.commit()  # the refused redemption rolls its unit of work back, not the token
    assert issued.expires_at == issued_at + timedelta(minutes=15)
    with pytest.raises(enrolment.TokenRefused, match="expired"):
        enrolment.redeem_token(db, issued.token, now=issued_at + timedelta(minutes=15))
    assert db.get(Device, "t12") is None
    credentials = enrolment.redeem_token(
        db, issued.token, now=issued_at + timedelta(minutes=14, seconds=59))
    assert credentials.device_id == "t12"


def test_no_token_for_a_registered_device(db, branch):
    factories.device(db, device_id="t13", branch_id=branch.id)
    with pytest.raises(BadRequest, match="already registered"):
        enrolment.issue_token(db, device_id="t13", branch_id=branch.id,
                              now=datetime.now(UTC))


def test_a_device_shows_its_last_accepted_seq(client, db, branch):
    """`image` writes it into config.json as seq_floor, so a reflashed terminal never
    reuses a request id the backend already answered."""
    factories.staff_user(db)
    factories.device(db, device_id="t08", branch_id=branch.id)
    db.get(Device, "t08").last_seq = 1207
    db.commit()
    response = client.get("/api/v1/devices/t08", headers=login(client))
    assert response.status_code == 200 and response.json["last_seq"] == 1207


def test_registering_a_terminal_keeps_the_brokers_tls_listener(app, client, db, branch, tmp_path):
    """Every writer of mosquitto.conf (flask broker-config, the supervisor, a registration)
    writes the TLS listener the configuration asks for: a registration in production must
    not turn the terminals' TLS port off."""
    from backend.broker import BrokerConfigError
    from backend.services import devices

    files = {}
    for name in ("cert", "key", "ca"):
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_text("-----BEGIN TEST-----\n")
    app.config.update(MQTT_TLS_CERTFILE=str(files["cert"]), MQTT_TLS_KEYFILE=str(files["key"]),
                      MQTT_TLS_CAFILE=str(files["ca"]), MQTT_TLS_PORT=18883)
    factories.staff_user(db)
    response = client.post("/api/v1/devices", headers=login(client),
                           json={"device_id": "t10", "branch_id": branch.id})
    assert response.status_code == 201, response.json
    conf = (app.config["INSTANCE_DIR"] / "mosquitto" / "mosquitto.conf").read_text()
    assert "listener 18883" in conf and f"certfile {files['cert']}" in conf
    app.config.update(MQTT_TLS_KEYFILE="")
    with pytest.raises(BrokerConfigError, match="_KEYFILE"):
        devices.write_broker_config_for(db, app.config)
