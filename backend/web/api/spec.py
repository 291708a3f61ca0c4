"""The OpenAPI 3 document at /api/v1/openapi.json, built by apispec from the operations
the views declare (backend.web.api.operations.operation) and their marshmallow schemas:
what is documented is what is validated and dumped."""

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app, jsonify

from backend.web.api.blueprint import bp
from backend.web.api.operations import IDEMPOTENCY_HEADER, MAX_ID, OPERATIONS, Operation
from backend.web.api.schemas import ErrorSchema

# Every code an error answer may carry, and what it means (docs/api.md says more).
ERROR_CODES = {
    "BAD_REQUEST": "A field is missing or wrong; `field` names it.",
    "UNAUTHORIZED": "No token, or a wrong, expired or revoked one; or wrong credentials.",
    "FORBIDDEN": "The token's user lacks the role or permission, or the token is of the "
                 "wrong kind (staff vs member).",
    "NOT_FOUND": "No such row for this caller (also for rows that are someone else's).",
    "METHOD_NOT_ALLOWED": "The path exists, the method does not.",
    "PAYLOAD_TOO_LARGE": "The body is larger than the server accepts.",
    "RATE_LIMITED": "Too many failed sign-ins (or codes asked for) from this address: the "
                    "message says how long to wait.",
    "CARD_INVALID": "The card number's check digit is wrong.",
    "CARD_UNKNOWN": "No member has this card.",
    "CARD_BLOCKED": "The card is blocked, or the member has no active card.",
    "INSUFFICIENT_CREDIT": "Not enough credit (or points) for this.",
    "LIMIT": "Above a credit cap or the club's transfer limits.",
    "REF_UNKNOWN": "The purchase cannot be refunded (any more).",
    "TOKEN_REFUSED": "An enrolment token that is unknown, used or expired.",
    "UNAVAILABLE": "The service is busy; retry with the same Idempotency-Key.",
}
STATUS_TEXT = {200: "OK", 201: "Created", 204: "No content", 400: "Invalid request",
               401: "Not signed in", 403: "Not allowed", 404: "Not found",
               409: "Refused by the club's rules", 429: "Too many attempts"}

DESCRIPTION = """\
The JSON API of a Vafa customer club: members, balances, purchases, refunds, top-ups,
credit grants, transfers, the catalogue, news, surveys and the FAQ. The guide with the
whole sign-in flow and curl examples is docs/api.md.

**Authentication.** Staff: `POST /tokens` with username and password; members:
`POST /member-tokens` with mobile and password; integrations: a long-lived token a staff
user makes in the panel (Account → API tokens). Send `Authorization: Bearer <token>`.
Staff and integration tokens have exactly the panel rights of their user (operators: their
own branch); member tokens reach only `/me…` and public endpoints. `DELETE /tokens/current`
revokes the token in use.

**Errors** are `{"error": CODE, "message": "...", "field": "..."}`; codes:
""" + "\n".join(f"- `{code}`: {meaning}" for code, meaning in ERROR_CODES.items()) + """

**Pagination.** Lists take `page` (from 1) and `per_page` (1–100, default 20) and answer
`{"items": [...], "page", "per_page", "total"}`.

**Idempotency.** Money-moving POSTs need an `Idempotency-Key` header (16–40 of
A–Z a–z 0–9 - _, e.g. a UUID). Retrying with the same key returns the first result and
moves nothing twice.

**Numbers and dates.** Amounts are whole rials. Numbers may be sent as JSON numbers or
as strings of Persian or Arabic-Indic digits; dates as `1405/08/30` (Jalali) or ISO
`2026-11-21`. Times in answers are UTC, ISO 8601.
"""

_PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _path(rule: str) -> tuple[str, list[dict]]:
    parameters = []
    for converter, name in _PARAMETER.findall(rule):
        schema = ({"type": "integer", "minimum": 1, "maximum": MAX_ID} if converter == "int"
                  else {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$"})
        parameters.append({"in": "path", "name": name, "required": True, "schema": schema})
    return _PARAMETER.sub(r"{\2}", rule), parameters


def _schema_ref(spec: APISpec, schema_class) -> dict:
    plugin = next(p for p in spec.plugins if isinstance(p, MarshmallowPlugin))
    return plugin.converter.resolve_nested_schema(schema_class)


def _page_schema(spec: APISpec, item_class) -> dict:
    return {"type": "object", "required": ["items", "page", "per_page", "total"],
            "properties": {"items": {"type": "array", "items": _schema_ref(spec, item_class)},
                           "page": {"type": "integer"}, "per_page": {"type": "integer"},
                           "total": {"type": "integer"}}}


def _operation(spec: APISpec, op: Operation, path_parameters: list[dict]) -> dict:
    parameters = list(path_parameters)
    if op.query is not None:
        parameters.append({"in": "query", "schema": op.query})
    if op.idempotent:
        parameters.append({"in": "header", "name": IDEMPOTENCY_HEADER, "required": True,
                           "description": "Any unique key per operation; the same on "
                                          "retries.",
                           "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,40}$"}})
    responses = {}
    for status in (op.status, *op.extra_statuses):
        if op.response is None:
            responses[str(status)] = {"description": STATUS_TEXT.get(status, "OK")}
            continue
        schema = _page_schema(spec, op.response) if op.paginated else op.response
        responses[str(status)] = {"description": STATUS_TEXT.get(status, "OK"),
                                  "content": {"application/json": {"schema": schema}}}
    statuses = set(op.errors) | {400}
    if op.auth != "none":
        statuses |= {401, 403}
    if path_parameters or op.auth == "staff":
        statuses.add(404)  # member tokens on staff paths get 404, as in the portal
    for status in sorted(statuses):
        responses[str(status)] = {"description": STATUS_TEXT.get(status, "Error"),
                                  "content": {"application/json": {"schema": "Error"}}}
    rights = []
    if op.auth == "member":
        rights.append("Member tokens only.")
    elif op.auth == "any":
        rights.append("Any token.")
    elif op.auth == "staff":
        rights.append("Staff and integration tokens"
                      + (f" of users with the `{op.permission}` permission." if op.permission
                         else " of admins." if op.role == "admin" else "."))
    operation = {
        "operationId": op.endpoint.removeprefix("api."),
        "summary": op.summary,
        "description": " ".join([op.description, *rights]).strip(),
        "tags": [op.tag],
        "parameters": parameters,
        "responses": responses,
        "security": [] if op.auth == "none" else [{"bearerAuth": []}],
    }
    if op.body is not None:
        operation["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": op.body}}}
    return operation


def build_document() -> dict:
    spec = APISpec(
        title="Vafa customer club API", version="1.0.0", openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": DESCRIPTION,
              "license": {"name": "MIT"}},
        servers=[{"url": "/api/v1"}],
    )
    spec.components.security_scheme("bearerAuth", {
        "type": "http", "scheme": "bearer",
        "description": "A token from POST /tokens, POST /member-tokens or the panel."})
    spec.components.schema("Error", schema=ErrorSchema)
    by_path: dict[str, dict] = {}
    for op in sorted(OPERATIONS, key=lambda item: (item.rule, item.method)):
        path, parameters = _path(op.rule)
        by_path.setdefault(path, {})[op.method.lower()] = _operation(spec, op, parameters)
    for path, operations in by_path.items():
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    document["components"]["schemas"]["Error"]["properties"]["error"]["enum"] = list(
        ERROR_CODES)
    return document


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI document (not itself an operation in it)."""
    document = current_app.extensions.get("vafa_openapi")
    if document is None:
        document = current_app.extensions["vafa_openapi"] = build_document()
    return jsonify(document)
