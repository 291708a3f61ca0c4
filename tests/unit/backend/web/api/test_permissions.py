"""The API's permission table, mirroring the panel's (test_permissions.py): role ×
endpoint × method → status, as one parametrized test.

Requests are sent without a body: a permitted caller gets past the permission check and
is stopped by validation (400) or answered (200); a refused staff user gets 403 before
anything is read; a member token on a staff URL gets 404 (as in the portal, those URLs
do not exist for members); no token gets 401. `integration` is an integration token of
the plain operator: it has exactly that operator's rights.
"""

from datetime import UTC, datetime

import pytest

from backend.models import StaffUser
from backend.services import api_tokens
from backend.unit_of_work import Actor
from tests.conftest import module_world_fixtures
from tests.unit.backend.web.conftest import make_api_world, member_headers, staff_headers

ROLES = ("anonymous", "member", "operator", "integration", "operator_granted", "admin")
OK, INVALID, UNAUTHORIZED, FORBIDDEN, NOT_FOUND = 200, 400, 401, 403, 404

STAFF_ALL = {"operator": OK, "integration": OK, "operator_granted": OK, "admin": OK,
             "member": NOT_FOUND}
GRANTED = {"operator": FORBIDDEN, "integration": FORBIDDEN, "operator_granted": OK,
           "admin": OK, "member": NOT_FOUND}
ADMIN_ONLY = {"operator": FORBIDDEN, "integration": FORBIDDEN, "operator_granted": FORBIDDEN,
              "admin": OK, "member": NOT_FOUND}
MEMBER_ONLY = {"operator": FORBIDDEN, "integration": FORBIDDEN, "operator_granted": FORBIDDEN,
               "admin": FORBIDDEN, "member": OK}
PUBLIC = dict.fromkeys(ROLES, OK)


def writes(expected: dict) -> dict:
    """An empty write that is allowed fails validation (400)."""
    return {role: (INVALID if status == OK else status) for role, status in expected.items()}


# (method, path, {role: status}); {own} is a member of the operators' branch, {other} of
# another branch, {purchase} a purchase of {own}, {request} a message of {own}.
TABLE = [
    ("GET", "/members", STAFF_ALL),
    ("POST", "/members", writes(STAFF_ALL)),
    ("GET", "/members/{own}", STAFF_ALL),
    ("GET", "/members/{other}", STAFF_ALL),  # any member is served at the counter (C5)
    ("PATCH", "/members/{own}", writes(STAFF_ALL)),
    # …but operators edit their own branch's members only.
    ("PATCH", "/members/{other}", {**writes(STAFF_ALL), "operator": FORBIDDEN,
                                   "integration": FORBIDDEN, "operator_granted": FORBIDDEN}),
    ("GET", "/members/{own}/balance", STAFF_ALL),
    ("GET", "/members/{own}/transactions", STAFF_ALL),
    ("GET", "/members/{own}/purchases", STAFF_ALL),
    ("POST", "/members/{own}/purchases", writes(STAFF_ALL)),
    ("POST", "/members/{own}/top-ups", writes(STAFF_ALL)),
    ("POST", "/members/{own}/point-conversions", writes(STAFF_ALL)),
    ("POST", "/members/{own}/reward-redemptions", writes(STAFF_ALL)),
    ("POST", "/members/{own}/credit-grants", writes(GRANTED)),
    ("POST", "/members/{own}/transfers", writes(GRANTED)),
    ("POST", "/purchases/{purchase}/refunds", writes(GRANTED)),
    # Cheques and instalments (L13): the counter's right; the branch scope of a row is
    # checked in test_instruments_api.py.
    ("GET", "/banks", STAFF_ALL),
    ("POST", "/members/{own}/cheques", writes(STAFF_ALL)),
    ("POST", "/members/{own}/instalment-plans", writes(STAFF_ALL)),
    ("GET", "/instruments", STAFF_ALL),
    ("GET", "/instruments/999999", {**dict.fromkeys(STAFF_ALL, NOT_FOUND)}),
    ("POST", "/instruments/999999/status", {**dict.fromkeys(STAFF_ALL, NOT_FOUND)}),
    ("GET", "/me/instruments", MEMBER_ONLY),
    ("GET", "/tiers", GRANTED),
    ("GET", "/offers", GRANTED),
    ("GET", "/products", GRANTED),
    ("GET", "/rewards", GRANTED),
    ("GET", "/branches", GRANTED),
    ("GET", "/news", GRANTED),
    ("POST", "/devices", writes(ADMIN_ONLY)),
    ("POST", "/enrolment-tokens", writes(ADMIN_ONLY)),
    ("GET", "/me", MEMBER_ONLY),
    ("GET", "/me/balance", MEMBER_ONLY),
    ("GET", "/me/transactions", MEMBER_ONLY),
    ("GET", "/me/purchases", MEMBER_ONLY),
    ("GET", "/me/purchases/{purchase}", MEMBER_ONLY),
    ("GET", "/me/offers", MEMBER_ONLY),
    ("POST", "/me/transfers", writes(MEMBER_ONLY)),
    ("GET", "/me/rewards", MEMBER_ONLY),
    ("POST", "/me/point-conversions", writes(MEMBER_ONLY)),
    ("POST", "/me/reward-redemptions", writes(MEMBER_ONLY)),
    ("GET", "/me/requests", MEMBER_ONLY),
    ("POST", "/me/requests", writes(MEMBER_ONLY)),
    ("GET", "/me/requests/{request}", MEMBER_ONLY),
    ("GET", "/me/news", MEMBER_ONLY),
    ("GET", "/me/surveys", MEMBER_ONLY),
    ("GET", "/me/surveys/{request}", {**MEMBER_ONLY, "member": NOT_FOUND}),  # no such survey
    ("POST", "/me/surveys/{request}/responses", writes(MEMBER_ONLY)),
    ("GET", "/me/news/{request}", {**MEMBER_ONLY, "member": NOT_FOUND}),  # no such post
    ("GET", "/tiers/{tier}", GRANTED),
    ("GET", "/faq", PUBLIC),
    ("GET", "/health", PUBLIC),
    ("POST", "/tokens", writes(PUBLIC)),
    ("POST", "/member-tokens", writes(PUBLIC)),
]
CASES = [(method, path, role, expected.get(role, UNAUTHORIZED))
         for method, path, expected in TABLE for role in ROLES]


def headers_for(role: str, client, db, world) -> dict:
    if role == "anonymous":
        return {}
    if role == "member":
        return member_headers(client, world.own)
    if role == "integration":
        operator = db.query(StaffUser).filter_by(username="operator").one()
        issued = api_tokens.issue_integration(db, actor=Actor(operator.id), name="CRM",
                                              valid_days=30, now=datetime.now(UTC))
        return {"Authorization": f"Bearer {issued.token}"}
    return staff_headers(client, {"operator": "operator", "operator_granted": "granted",
                                  "admin": "admin"}[role])


# The API world is made once per database for the table's cases; each case runs in a
# savepoint of it.
world_connection, db = module_world_fixtures(make_api_world)


@pytest.fixture
def api_world(db, world_connection):
    return world_connection[1]


@pytest.mark.parametrize(("method", "path", "role", "expected"), CASES,
                         ids=[f"{m} {p} {r}" for m, p, r, _ in CASES])
def test_api_permission_table(client, db, api_world, method, path, role, expected):
    url = "/api/v1" + path.format(own=api_world.own.id, other=api_world.other.id,
                                  purchase=api_world.purchase.id, request=api_world.request.id,
                                  tier=api_world.tier.id)
    response = client.open(url, method=method, headers=headers_for(role, client, db, api_world))
    assert response.status_code == expected, response.get_json()


def test_every_api_operation_is_in_the_table():
    from backend.web.api.operations import OPERATIONS

    covered = {(method, path.split("{")[0].rstrip("/")) for method, path, _ in TABLE}
    for operation in OPERATIONS:
        prefix = operation.rule.split("<")[0].rstrip("/")
        if operation.rule in ("/enrol", "/tokens/current", "/devices/<device_id>",
                              "/devices/<device_id>/revoke"):
            continue  # provisioning's own tests (tests/unit/provisioning) and test_api.py
        assert any(method == operation.method and (path == prefix or path.startswith(prefix))
                   for method, path in covered), f"{operation.method} {operation.rule}"
