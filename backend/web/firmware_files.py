"""Firmware files for terminals updating over the air (docs/protocol.md "OTA"), served
without login: a terminal fetches `GET /fw/<manifest sha256>/manifest.json` and
`/fw/<sha>/files/<path>` with a plain HTTP/1.0 request and reads until the connection
closes. Integrity comes from the signed cmd (manifest sha256) and the manifest (each file's
sha256), not from the transport: every answer is the exact stored bytes with its
Content-Length, never chunked."""

import re

from flask import Blueprint, Response, abort

from backend.extensions import db
from backend.services import firmware_builds

bp = Blueprint("fw", __name__)
SHA256 = re.compile(r"[0-9a-f]{64}")
PATH = re.compile(r"[A-Za-z0-9_./-]{1,64}")


def _send(content: bytes | None, mimetype: str) -> Response:
    if content is None:
        abort(404)
    response = Response(content, mimetype=mimetype)
    response.headers["Content-Length"] = str(len(content))
    # A build never changes under its sha256.
    response.headers["Cache-Control"] = "public, max-age=86400, immutable"
    return response


@bp.get("/fw/<sha>/manifest.json")
def manifest(sha):
    if not SHA256.fullmatch(sha):
        abort(404)
    return _send(firmware_builds.served_file(db.session, sha, None), "application/json")


@bp.get("/fw/<sha>/files/<path:path>")
def build_file(sha, path):
    if not SHA256.fullmatch(sha) or not PATH.fullmatch(path):
        abort(404)
    return _send(firmware_builds.served_file(db.session, sha, path),
                 "application/octet-stream")
