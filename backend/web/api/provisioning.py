"""Terminals: registration, revocation and one-time enrolment tokens (the technicians'
provisioning CLI, provisioning/api.py), and the health check."""

from pathlib import Path

from flask import current_app
from marshmallow import Schema, fields, validate
from sqlalchemy import text

from backend.errors import NotFound
from backend.extensions import db
from backend.models import Device
from backend.services import devices, enrolment
from backend.web.api.operations import operation
from backend.web.api.schemas import Integer, Text
from backend.web.common import api_actor, clock


class DeviceIn(Schema):
    device_id = Text(required=True, validate=validate.Regexp(
        r"^[a-z0-9-]{3,32}$", error="must be 3–32 of a-z, 0-9 and -"),
        metadata={"example": "t05"})
    branch_id = Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    name = Text(load_default="", validate=validate.Length(max=64))
    lang = fields.String(load_default="en", validate=validate.OneOf(["en", "fa"]))


class BrokerOut(Schema):
    config_dir = fields.String()
    reloaded = fields.Boolean()


class CredentialsOut(Schema):
    device_id = fields.String()
    mqtt_password = fields.String(metadata={"description": "Shown in this answer only."})
    key_hex = fields.String(metadata={"description": "The terminal's signing key; shown "
                                                     "once."})
    config = fields.Dict(metadata={"description": "The terminal's config.json."})
    broker = fields.Nested(BrokerOut)


class DeviceOut(Schema):
    device_id = fields.String(attribute="id")
    branch_id = fields.Integer()
    name = fields.String()
    status = fields.String()
    lang = fields.String()
    firmware_version = fields.String(allow_none=True)
    last_seen_at = fields.DateTime(allow_none=True)
    last_seq = fields.Integer(metadata={"description": "The highest request seq accepted from "
                                                       "it: a reflashed terminal's seq_floor."})


class RevokedOut(Schema):
    device_id = fields.String()
    status = fields.String()
    broker = fields.Nested(BrokerOut)


class EnrolmentTokenOut(Schema):
    token = fields.String()
    device_id = fields.String()
    expires_at = fields.DateTime()


class EnrolIn(Schema):
    token = Text(required=True, validate=validate.Length(min=1, max=200))


def _refresh_broker() -> dict:
    """Rewrite Mosquitto's password file and ACL from the committed device table and
    SIGHUP the broker: the pid in BROKER_PID_FILE (default <broker dir>/mosquitto.pid), or
    the local Mosquitto running `-c <broker dir>/mosquitto.conf`."""
    config = current_app.config
    broker_dir = devices.broker_dir(config)
    devices.write_broker_config_for(db.session, config, broker_dir)
    pid_file = Path(config.get("BROKER_PID_FILE") or broker_dir / "mosquitto.pid")
    reloaded = devices.reload_broker(pid_file, broker_dir / "mosquitto.conf")
    return {"config_dir": str(broker_dir), "reloaded": reloaded}


def _credentials(principal, make_credentials) -> dict:
    credentials, config = devices.provision(
        db.session, make_credentials, actor=api_actor(principal),
        mqtt_host=current_app.config["MQTT_HOST"], mqtt_port=current_app.config["MQTT_PORT"],
        public_url=current_app.config.get("PUBLIC_URL", ""))
    return {"device_id": credentials.device_id, "mqtt_password": credentials.mqtt_password,
            "key_hex": credentials.key_hex, "config": config, "broker": _refresh_broker()}


class HealthOut(Schema):
    ok = fields.Boolean(required=True)


@operation("GET", "/health", summary="Liveness check", tag="Terminals", auth="none",
           response=HealthOut)
def health(principal):
    """Answers when the web process and its database are up (for load balancers)."""
    db.session.execute(text("SELECT 1"))
    return {"ok": True}


@operation("POST", "/devices", summary="Register a terminal", tag="Terminals", role="admin",
           body=DeviceIn, response=CredentialsOut, status=201, errors=(400, 401, 403))
def register_device(principal, data):
    """Registers a terminal; its MQTT password and signing key are in this answer only."""
    return _credentials(principal, lambda: devices.register_device(
        db.session, actor=api_actor(principal), device_id=data["device_id"],
        branch_id=data["branch_id"], name=data["name"], lang=data["lang"]))


@operation("GET", "/devices/<device_id>", summary="A terminal", tag="Terminals",
           response=DeviceOut, errors=(401, 404))
def show_device(principal, device_id: str):
    device = db.session.get(Device, device_id[:32])
    if device is None:
        raise NotFound(f"no device {device_id[:32]}")
    return device


@operation("POST", "/devices/<device_id>/revoke", summary="Revoke a terminal",
           tag="Terminals", role="admin", response=RevokedOut, errors=(400, 401, 403))
def revoke_device(principal, device_id: str):
    """Disables a terminal and takes it out of the broker's password file and ACL."""
    devices.revoke_device(db.session, device_id[:32], actor=api_actor(principal))
    return {"device_id": device_id, "status": "revoked", "broker": _refresh_broker()}


@operation("POST", "/enrolment-tokens", summary="A one-time enrolment token",
           tag="Terminals", role="admin", body=DeviceIn, response=EnrolmentTokenOut,
           status=201, errors=(400, 401, 403))
def create_enrolment_token(principal, data):
    """A one-time token for a provisioning QR code (15 minutes, single use)."""
    issued = enrolment.issue_token(db.session, device_id=data["device_id"],
                                   branch_id=data["branch_id"], name=data["name"],
                                   lang=data["lang"], now=clock(), actor=api_actor(principal))
    return issued


@operation("POST", "/enrol", summary="Enrol a terminal with its QR token", tag="Terminals",
           auth="none", body=EnrolIn, response=CredentialsOut, status=201, errors=(400, 403))
def enrol(principal, data):
    """A terminal in setup mode exchanges its QR code's token for its credentials."""
    return _credentials(principal, lambda: enrolment.redeem_token(db.session, data["token"],
                                                                  now=clock()))
