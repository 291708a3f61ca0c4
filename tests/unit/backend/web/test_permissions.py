"""The permission table: role × page × method → status, as one parametrized test.

Every page and every POST checks the permission on the server. POSTs are sent empty:
a permitted user gets the form back with its errors (400) or a redirect, never 403; a
refused user gets 403 before anything is read; an anonymous visitor is sent to sign in.
"""

import pytest

from backend.services.permissions import PERMISSIONS
from backend.services.reports import REPORTS
from tests import factories

REPORT_NAMES = sorted(REPORTS)

ROLES = ("anonymous", "operator", "operator_granted", "admin")
OK, FORM, REDIRECT, LOGIN, FORBIDDEN, NOT_FOUND = 200, 400, 302, "login", 403, 404

# (method, path, {role: expected}) — paths use {own} (a member of the operator's branch),
# {other} (a member of another branch) and {purchase} (a purchase of {own}).
ALL = {"operator": OK, "operator_granted": OK, "admin": OK}
ADMIN_AND_GRANTED = {"operator": FORBIDDEN, "operator_granted": OK, "admin": OK}
ADMIN_ONLY = {"operator": FORBIDDEN, "operator_granted": FORBIDDEN, "admin": OK}


def forms(expected: dict) -> dict:
    return {role: (FORM if status == OK else status) for role, status in expected.items()}


TABLE = [
    ("GET", "/dashboard", ALL),
    ("GET", "/members", ALL),
    ("GET", "/members/new", ALL),
    ("POST", "/members/new", forms(ALL)),
    ("GET", "/members/{own}", ALL),
    # Any operator serves any member at the counter (C5)…
    ("GET", "/members/{other}", ALL),
    ("GET", "/members/{own}/edit", ALL),
    ("POST", "/members/{own}/edit", forms(ALL)),
    # …but edits only their own branch's members.
    ("GET", "/members/{other}/edit", {"operator": FORBIDDEN, "operator_granted": FORBIDDEN,
                                      "admin": OK}),
    ("POST", "/members/{own}/purchase", forms(ALL)),
    ("POST", "/members/{own}/topup", forms(ALL)),
    ("POST", "/members/{own}/grant", forms(ADMIN_AND_GRANTED)),
    ("POST", "/members/{own}/transfer", forms(ADMIN_AND_GRANTED)),
    ("POST", "/members/{own}/refund/{purchase}", forms(ADMIN_AND_GRANTED)),
    ("POST", "/members/{own}/replace-card", forms(ALL)),
    ("POST", "/members/{own}/block-card", {"operator": NOT_FOUND,
                                           "operator_granted": NOT_FOUND, "admin": NOT_FOUND}),
    ("GET", "/catalogue/tiers", ADMIN_AND_GRANTED),
    ("GET", "/catalogue/tiers/new", ADMIN_AND_GRANTED),
    ("POST", "/catalogue/tiers/new", forms(ADMIN_AND_GRANTED)),
    ("GET", "/catalogue/offers", ADMIN_AND_GRANTED),
    ("POST", "/catalogue/offers/new", forms(ADMIN_AND_GRANTED)),
    ("GET", "/catalogue/products", ADMIN_AND_GRANTED),
    ("POST", "/catalogue/products/new", forms(ADMIN_AND_GRANTED)),
    ("GET", "/catalogue/branches", ADMIN_AND_GRANTED),
    ("POST", "/catalogue/branches/new", forms(ADMIN_AND_GRANTED)),
    ("GET", "/catalogue/member-fields", ADMIN_AND_GRANTED),
    ("POST", "/catalogue/member-fields/new", forms(ADMIN_AND_GRANTED)),
    ("GET", "/gift-cards", ADMIN_AND_GRANTED),
    ("POST", "/gift-cards", forms(ADMIN_AND_GRANTED)),
    ("GET", "/terminals", ADMIN_AND_GRANTED),
    ("GET", "/audit", ADMIN_AND_GRANTED),
    ("GET", "/settings", ADMIN_AND_GRANTED),
    ("POST", "/settings", forms(ADMIN_AND_GRANTED)),
    ("GET", "/staff", ADMIN_ONLY),
    ("GET", "/staff/new", ADMIN_ONLY),
    ("POST", "/staff/new", forms(ADMIN_ONLY)),
    ("GET", "/staff/{operator_id}", ADMIN_ONLY),
    ("POST", "/staff/{operator_id}", forms(ADMIN_ONLY)),
    ("GET", "/account/password", ALL),
    ("GET", "/credit-grants", ADMIN_AND_GRANTED),
    ("POST", "/credit-grants", forms(ADMIN_AND_GRANTED)),
    ("GET", "/requests", ALL),
    # An empty answer is refused with a message on the list page.
    ("POST", "/requests/{request}", {"operator": REDIRECT, "operator_granted": REDIRECT,
                                     "admin": REDIRECT}),
    # Reports (issue 7): every report page and its Excel export; segment rules move
    # members between tiers, so they need "offers".
    ("GET", "/reports/", ADMIN_AND_GRANTED),
    *[("GET", f"/reports/{name}", ADMIN_AND_GRANTED) for name in REPORT_NAMES],
    *[("GET", f"/reports/{name}/excel", ADMIN_AND_GRANTED) for name in REPORT_NAMES],
    ("GET", "/reports/no-such-report", {"operator": FORBIDDEN, "operator_granted": NOT_FOUND,
                                        "admin": NOT_FOUND}),
    ("GET", "/reports/segment-rules", ADMIN_AND_GRANTED),
    ("POST", "/reports/segment-rules", forms(ADMIN_AND_GRANTED)),
    ("POST", "/reports/segment-rules/0/active", {"operator": FORBIDDEN,
                                                 "operator_granted": NOT_FOUND,
                                                 "admin": NOT_FOUND}),
]
CASES = [(method, path, role, expected.get(role, LOGIN))
         for method, path, expected in TABLE for role in ROLES]


@pytest.fixture
def world(db):
    factories.club(db)
    own_branch, other_branch = factories.branch(db), factories.branch(db)
    factories.tier(db)
    factories.staff_user(db, username="admin", role="admin")
    operator = factories.staff_user(db, username="operator", role="operator",
                                    branch_id=own_branch.id, full_name="Op")
    factories.staff_user(db, username="granted", role="operator", branch_id=own_branch.id,
                         full_name="Granted", permissions=list(PERMISSIONS))
    own = factories.member(db, home_branch_id=own_branch.id, credit_rials=10_000)
    other = factories.member(db, home_branch_id=other_branch.id)
    from datetime import UTC, datetime

    from backend.services import counter
    purchase = counter.record_purchase(db, member_id=own.id, branch_id=own_branch.id,
                                       amount_rials=100_000, use_credit_rials=0,
                                       request_key="permission-table-purchase",
                                       now=datetime.now(UTC)).purchase
    from backend.services import member_requests
    question = member_requests.submit_request(db, member_id=own.id, subject="Card",
                                              body="Where is my card?", now=datetime.now(UTC))
    return {"own": own.id, "other": other.id, "purchase": purchase.id,
            "operator_id": operator.id, "request": question.id}


LOGINS = {"operator": "operator", "operator_granted": "granted", "admin": "admin"}


@pytest.mark.parametrize(("method", "path", "role", "expected"), CASES,
                         ids=[f"{m} {p} {r}" for m, p, r, _ in CASES])
def test_permission_table(client, world, method, path, role, expected):
    if role != "anonymous":
        response = client.post("/login", data={"username": LOGINS[role],
                                               "password": "admin-password"})
        assert response.status_code == 302, response.get_data(as_text=True)
    url = path.format(**world)
    response = client.open(url, method=method, data={})
    if expected == LOGIN:
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
    elif expected == REDIRECT:
        assert response.status_code == 302
    else:
        assert response.status_code == expected, response.get_data(as_text=True)[:500]


def test_every_panel_route_is_in_the_table(app):
    """A new page without a row in the table fails here, so no page ships unchecked."""
    covered = {path.split("{")[0].rstrip("/") for _, path, _ in TABLE}
    exempt = {"/login", "/logout", "/language/<code>", "/", "/club-logo",
              "/members/<int:member_id>/purchase"}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin.") and str(rule) not in exempt:
            prefix = str(rule).split("<")[0].rstrip("/")
            assert any(path.startswith(prefix) or prefix.startswith(path)
                       for path in covered), f"{rule} has no row in the permission table"


def test_every_report_route_is_in_the_table(app):
    covered = {path.split("{")[0].rstrip("/") for _, path, _ in TABLE}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("reports."):
            prefix = str(rule).split("<")[0].rstrip("/")
            assert prefix in covered or any(path.startswith(prefix + "/") for path in covered), \
                f"{rule} has no row in the permission table"
