"""Operations endpoints: `/metrics` for Prometheus, `/healthz` for health checks.

Served to the machine itself (a scraper on loopback) or to a caller presenting
`VAFA_METRICS_TOKEN` as a bearer token; anyone else gets 404, so the endpoint's existence
is not advertised. Behind a trusted proxy `remote_addr` is the real client (ProxyFix in
create_app), so a proxy on the same machine does not make every visitor "local".
"""

import hmac
from ipaddress import ip_address
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from backend.extensions import db
from backend.metrics import database_registry
from backend.services.backups import backup_metrics
from backend.services.dashboard import ONLINE_STALE_AFTER
from backend.web.common import clock

bp = Blueprint("ops", __name__)


def _may_scrape() -> bool:
    token = current_app.config.get("METRICS_TOKEN") or ""
    offered = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
        return True
    try:
        return ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@bp.get("/metrics")
def metrics():
    if not _may_scrape():
        abort(404)
    # Reads only; the request's session is removed (rolled back) at teardown.
    registry = database_registry(db.session, clock(), ONLINE_STALE_AFTER)
    backup_metrics(registry, Path(current_app.config.get("BACKUP_DIR") or Path(
        current_app.config["INSTANCE_DIR"]) / "backups"))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})


@bp.get("/healthz")
def healthz():
    """200 when this web process answers and reaches the database, else 503 (for the
    proxy's and systemd's health checks; says nothing else, so it is public)."""
    try:
        db.session.execute(text("SELECT 1"))
        healthy = True
    except Exception:  # noqa: BLE001 (any database fault means "not healthy")
        healthy = False  # the failed session is removed (rolled back) at teardown
    return (jsonify(status="ok" if healthy else "database unreachable"), 200 if healthy
            else 503, {"Cache-Control": "no-store"})
