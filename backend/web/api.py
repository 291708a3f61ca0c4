"""JSON API at /api/v1 (integrations and the provisioning CLI build on it).

Staff authenticate with `POST /tokens` (username and password) and send the signed,
time-limited token back as `Authorization: Bearer …`. Terminals enrolling from a QR code
use `POST /enrol` with their one-time token instead. Errors are
`{"error": CODE, "message": …, "field": …}` with the status of backend.errors.
"""

from datetime import UTC, datetime
from functools import wraps
from pathlib import Path

from flask import Blueprint, current_app, g, jsonify, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import text

from backend.errors import BadRequest, DomainError
from backend.extensions import csrf, db
from backend.models import Device, StaffUser
from backend.services import devices, enrolment, staff

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Bearer tokens, not cookies, authenticate here: the session CSRF check does not apply.
csrf.exempt(bp)

TOKEN_SALT = "vafa-api-token"
DEFAULT_TOKEN_TTL_S = 3600


class Unauthorized(DomainError):
    code = "UNAUTHORIZED"
    http_status = 401


class Forbidden(DomainError):
    code = "FORBIDDEN"
    http_status = 403


@bp.errorhandler(DomainError)
def domain_error(error: DomainError):
    # Nothing is committed on this path; the session is removed (rolled back) at teardown.
    body = {"error": error.code, "message": error.message}
    if isinstance(error, BadRequest):
        body["field"] = error.field
    return jsonify(body), error.http_status


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=TOKEN_SALT)


def _token_ttl_s() -> int:
    return int(current_app.config.get("API_TOKEN_TTL_S", DEFAULT_TOKEN_TTL_S))


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("body", "send a JSON object")
    return body


def _string(body: dict, name: str, *, default: str | None = None) -> str:
    value = body.get(name, default)
    if not isinstance(value, str):
        raise BadRequest(name, "must be a string" if name in body else "missing")
    return value


def _integer(body: dict, name: str) -> int:
    value = body.get(name)
    if type(value) is not int:
        raise BadRequest(name, "must be an integer" if name in body else "missing")
    return value


def staff_required(role: str | None = None):
    """Views that need a valid staff token; `role="admin"` for admin-only ones."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            if not header.startswith("Bearer "):
                raise Unauthorized("send Authorization: Bearer <token> (POST /api/v1/tokens)")
            try:
                claims = _serializer().loads(header[7:].strip(), max_age=_token_ttl_s())
            except SignatureExpired:
                raise Unauthorized("the token has expired; ask for a new one") from None
            except BadSignature:
                raise Unauthorized("the token is not valid") from None
            user = db.session.get(StaffUser, claims.get("staff_id"))
            if user is None or not user.is_active:
                raise Unauthorized("the token's user no longer exists or is disabled")
            if role is not None and user.role != role:
                raise Forbidden(f"only {role} staff may do this")
            g.staff_user = user
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _refresh_broker() -> dict:
    """Rewrite Mosquitto's password file and ACL from the committed device table and
    SIGHUP the broker: the pid in BROKER_PID_FILE (default <broker dir>/mosquitto.pid), or
    the local Mosquitto running `-c <broker dir>/mosquitto.conf`."""
    config = current_app.config
    broker_dir = Path(config.get("BROKER_DIR") or Path(config["INSTANCE_DIR"]) / "mosquitto")
    devices.write_broker_config(
        db.session, broker_dir, port=config["MQTT_PORT"],
        backend_username=config["MQTT_USERNAME"], backend_password=config["MQTT_PASSWORD"],
    )
    pid_file = Path(config.get("BROKER_PID_FILE") or broker_dir / "mosquitto.pid")
    reloaded = devices.reload_broker(pid_file, broker_dir / "mosquitto.conf")
    return {"config_dir": str(broker_dir), "reloaded": reloaded}


def _credentials_response(credentials: devices.DeviceCredentials):
    config = devices.terminal_config(
        db.session, credentials, mqtt_host=current_app.config["MQTT_HOST"],
        mqtt_port=current_app.config["MQTT_PORT"],
    )
    db.session.commit()
    return jsonify({
        "device_id": credentials.device_id,
        "mqtt_password": credentials.mqtt_password,
        "key_hex": credentials.key_hex,
        "config": config,
        "broker": _refresh_broker(),
    }), 201


@bp.get("/health")
def health():
    db.session.execute(text("SELECT 1"))
    return jsonify({"ok": True})


@bp.post("/tokens")
def create_token():
    """Username and password → a signed staff token valid for API_TOKEN_TTL_S seconds."""
    body = _json_body()
    user = staff.authenticate(db.session, _string(body, "username"), _string(body, "password"))
    if user is None:
        raise Unauthorized("wrong username or password")
    token = _serializer().dumps({"staff_id": user.id})
    return jsonify({"token": token, "expires_in": _token_ttl_s(), "role": user.role}), 201


@bp.post("/devices")
@staff_required("admin")
def register_device():
    """Register a terminal; its MQTT password and signing key are in this answer only."""
    body = _json_body()
    credentials = devices.register_device(
        db.session, device_id=_string(body, "device_id"), branch_id=_integer(body, "branch_id"),
        name=_string(body, "name", default=""), lang=_string(body, "lang", default="en"),
    )
    return _credentials_response(credentials)


@bp.get("/devices/<device_id>")
@staff_required()
def show_device(device_id: str):
    device = db.session.get(Device, device_id)
    if device is None:
        raise BadRequest("device_id", f"no device {device_id}")
    return jsonify({
        "device_id": device.id, "branch_id": device.branch_id, "name": device.name,
        "status": device.status, "lang": device.lang,
        "firmware_version": device.firmware_version,
        "last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None,
    })


@bp.post("/devices/<device_id>/revoke")
@staff_required("admin")
def revoke_device(device_id: str):
    """Disable a terminal and take it out of the broker's password file and ACL."""
    devices.revoke_device(db.session, device_id)
    db.session.commit()
    return jsonify({"device_id": device_id, "status": "revoked", "broker": _refresh_broker()})


@bp.post("/enrolment-tokens")
@staff_required("admin")
def create_enrolment_token():
    """A one-time token for a provisioning QR code (15 minutes, single use)."""
    body = _json_body()
    issued = enrolment.issue_token(
        db.session, device_id=_string(body, "device_id"), branch_id=_integer(body, "branch_id"),
        name=_string(body, "name", default=""), lang=_string(body, "lang", default="en"),
        now=datetime.now(UTC),
    )
    db.session.commit()
    return jsonify({"token": issued.token, "device_id": issued.device_id,
                    "expires_at": issued.expires_at.isoformat()}), 201


@bp.post("/enrol")
def enrol():
    """A terminal in setup mode exchanges its QR code's token for its credentials."""
    body = _json_body()
    credentials = enrolment.redeem_token(db.session, _string(body, "token"),
                                         now=datetime.now(UTC))
    return _credentials_response(credentials)
