"""JSON API at /api/v1 (integrations and the provisioning CLI build on it)."""

from flask import Blueprint, jsonify
from sqlalchemy import text

from backend.extensions import db

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/health")
def health():
    db.session.execute(text("SELECT 1"))
    return jsonify({"ok": True})
