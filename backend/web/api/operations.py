"""How an API view is declared (`operation(...)`), authenticated, validated, paged and
answered; the views in this package use it, and spec.py documents what it declared.
The package's docstring (backend/web/api/__init__.py) describes the API as a whole."""

import inspect
import re
from dataclasses import dataclass, field
from datetime import timedelta
from functools import wraps

from flask import current_app, g, jsonify, request
from marshmallow import EXCLUDE, Schema, ValidationError
from werkzeug.exceptions import HTTPException

from backend.errors import (
    BadRequest,
    CreditCapReached,
    DomainError,
    Forbidden,
    NotFound,
    Unauthorized,
)
from backend.extensions import db
from backend.models import ApiToken, Member, StaffUser
from backend.services import api_tokens
from backend.services.permissions import allowed
from backend.web.api.blueprint import bp
from backend.web.common import clock, fetch_page

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_PAGE = 100_000
# Path ids beyond PostgreSQL's INTEGER are no row at all (404), not a database error.
MAX_ID = 2**31 - 1
IDEMPOTENCY_HEADER = "Idempotency-Key"
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{16,40}")

# Codes of werkzeug's own errors (unknown URL, wrong method, body too large).
HTTP_CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
              405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE", 415: "BAD_REQUEST",
              429: "RATE_LIMITED"}


@dataclass(frozen=True)
class Principal:
    """Who is calling: a staff user (signed in, or through an integration token), or a
    member. Exactly one of `staff` and `member` is set."""

    token: ApiToken
    staff: StaffUser | None = None
    member: Member | None = None


@dataclass
class Operation:
    """One documented endpoint: what spec.py turns into an OpenAPI operation."""

    method: str
    rule: str
    endpoint: str
    summary: str
    description: str
    tag: str
    auth: str                      # "none", "staff" or "member"
    permission: str | None = None  # a backend.services.permissions name
    role: str | None = None        # "admin" for admin-only operations
    query: type[Schema] | None = None
    body: type[Schema] | None = None
    response: type[Schema] | None = None
    status: int = 200
    paginated: bool = False
    idempotent: bool = False
    errors: tuple[int, ...] = ()
    extra_statuses: tuple[int, ...] = field(default_factory=tuple)


OPERATIONS: list[Operation] = []


def error_body(code: str, message: str, field_name: str | None = None) -> dict:
    body = {"error": code, "message": message}
    if field_name:
        body["field"] = field_name
    return body


# Services name a few fields as the panel's forms do; the API's names differ.
FIELD_NAMES = {"request_key": IDEMPOTENCY_HEADER, "idempotency_key": IDEMPOTENCY_HEADER,
               "amount": "amount_rials", "use_credit": "use_credit_rials",
               "card": "card_number", "name": "first_name", "new_card": "card_number"}


_ITEM_FIELD = re.compile(r"^items\[(\d+)\]\.(sku|quantity|price)$")
_ITEM_NAMES = {"sku": "sku", "quantity": "qty", "price": "price"}


@bp.errorhandler(DomainError)
def domain_error(error: DomainError):
    # Nothing is committed on this path; the session is removed (rolled back) at teardown.
    status = error.http_status if 400 <= error.http_status < 600 else 500
    field_name = getattr(error, "field", None)
    field_name = FIELD_NAMES.get(field_name, field_name)
    if field_name:
        # A sale's item line, named as this API names it (items.0.qty).
        field_name = _ITEM_FIELD.sub(
            lambda match: f"items.{match.group(1)}.{_ITEM_NAMES[match.group(2)]}", field_name)
    message = error.message
    if isinstance(error, BadRequest) and ": " in message:
        message = message.split(": ", 1)[1]
    body = error_body(error.code, message, field_name)
    if isinstance(error, CreditCapReached):
        body.update(cap=error.cap, allowed_rials=error.allowed_rials)
    return jsonify(body), status


def http_error(error: HTTPException):
    """werkzeug's errors on /api/ paths, as JSON (registered on the app: routing errors
    happen before any blueprint is chosen)."""
    code = HTTP_CODES.get(error.code or 500, "UNAVAILABLE")
    return jsonify(error_body(code, error.description or code)), error.code


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send Authorization: Bearer <token> (POST /api/v1/tokens or "
                           "/api/v1/member-tokens)")
    return token.strip()


DEFAULT_STAFF_TOKEN_TTL_S = 3600


def staff_token_ttl() -> timedelta:
    """How long a staff token lives (API_TOKEN_TTL_S); member tokens keep theirs."""
    return timedelta(seconds=int(current_app.config.get("API_TOKEN_TTL_S",
                                                        DEFAULT_STAFF_TOKEN_TTL_S)))


def authenticate(kind: str) -> Principal:
    row = api_tokens.resolve(db.session, _bearer_token(), clock(), staff_ttl=staff_token_ttl())
    if row.member_id is not None:
        principal = Principal(row, member=db.session.get(Member, row.member_id))
    else:
        principal = Principal(row, staff=db.session.get(StaffUser, row.staff_user_id))
    if kind == "staff" and principal.staff is None:
        # As in the portal: for a member, staff URLs (which name other members' rows)
        # do not exist.
        raise NotFound("no such resource for a member token; members use /me")
    if kind == "member" and principal.member is None:
        raise Forbidden("this endpoint is for member tokens (POST /api/v1/member-tokens)")
    g.principal = principal
    return principal


def _first_error(messages, prefix: str = "") -> tuple[str, str]:
    """marshmallow's nested {field: [messages]} → the first (field path, message)."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                name = prefix or "body"
            return _first_error(value, name)
    if isinstance(messages, list) and messages:
        if isinstance(messages[0], str):
            return prefix or "body", messages[0]
        return _first_error(messages[0], prefix)
    return prefix or "body", str(messages)


def load(schema_class: type[Schema], data, *, partial: bool = False, query: bool = False):
    schema = schema_class(unknown=EXCLUDE) if query else schema_class()
    try:
        return schema.load(data, partial=partial)
    except ValidationError as error:
        name, message = _first_error(error.messages)
        raise BadRequest(name, message) from None


def json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("body", "send a JSON object (Content-Type: application/json)")
    return body


def idempotency_key() -> str:
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise BadRequest(IDEMPOTENCY_HEADER, "send a key of 16 to 40 letters, digits, - or _ "
                                             "(e.g. a UUID), the same on every retry")
    return key


@dataclass(frozen=True)
class Page:
    items: list
    page: int
    per_page: int
    total: int


def paginate(statement, args: dict, *, scalars: bool = True) -> Page:
    number, size = args.get("page", 1), args.get("per_page", DEFAULT_PAGE_SIZE)
    rows, total = fetch_page(statement, number, size, scalars=scalars)
    return Page(rows, number, size, total)


def page_of_list(rows: list, args: dict) -> Page:
    """A page of rows a service already chose in Python (a short list: offers, rewards)."""
    number, size = args.get("page", 1), args.get("per_page", DEFAULT_PAGE_SIZE)
    start = (number - 1) * size
    return Page(rows[start:start + size], number, size, len(rows))


def operation(method: str, rule: str, *, summary: str, tag: str, auth: str = "staff",
              permission: str | None = None, role: str | None = None,
              query: type[Schema] | None = None, body: type[Schema] | None = None,
              response: type[Schema] | None = None, status: int = 200,
              paginated: bool = False, idempotent: bool = False, errors: tuple = (),
              extra_statuses: tuple = (), guard=None):
    """Route, authorise, validate and document one API view.

    The view is called as `view(principal, **path, args=…, data=…, key=…)` (only what
    applies) and returns an object for `response` (a `Page` when paginated), optionally
    with a status code. `guard(principal, **path)` runs after the permission check and
    before the body is read, for checks that depend on the row (e.g. an operator's
    branch), so a refused caller learns nothing from validation errors."""
    assert auth in ("none", "staff", "member", "any"), auth
    assert permission is None or auth == "staff"

    def decorator(view):
        documented = Operation(
            method=method, rule=rule, endpoint=f"api.{view.__name__}", summary=summary,
            description=inspect.cleandoc(view.__doc__ or ""), tag=tag, auth=auth,
            permission=permission, role=role, query=query, body=body, response=response,
            status=status, paginated=paginated, idempotent=idempotent, errors=tuple(errors),
            extra_statuses=tuple(extra_statuses))

        @wraps(view)
        def wrapped(**path):
            for name, value in path.items():
                if isinstance(value, int) and not 1 <= value <= MAX_ID:
                    raise NotFound(f"no such {name.removesuffix('_id')}")
            principal = authenticate(auth) if auth != "none" else None
            if principal is not None and principal.staff is not None:
                if role is not None and principal.staff.role != role:
                    raise Forbidden(f"only {role} staff may do this")
                if permission is not None and not allowed(principal.staff, permission):
                    raise Forbidden(f"this needs the {permission!r} permission")
            if guard is not None:
                guard(principal, **path)
            kwargs = dict(path)
            if query is not None:
                kwargs["args"] = load(query, request.args.to_dict(), query=True)
            if body is not None:
                kwargs["data"] = load(body, json_body())
            if idempotent:
                kwargs["key"] = idempotency_key()
            result = view(principal, **kwargs)
            code = status
            if isinstance(result, tuple):
                result, code = result
            if response is None:
                return "", code
            if paginated:
                payload = {"items": response(many=True).dump(result.items),
                           "page": result.page, "per_page": result.per_page,
                           "total": result.total}
            else:
                payload = response().dump(result)
            return jsonify(payload), code

        bp.add_url_rule(rule, endpoint=view.__name__, view_func=wrapped, methods=[method])
        OPERATIONS.append(documented)
        return wrapped

    return decorator
