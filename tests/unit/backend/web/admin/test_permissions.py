"""The permission table: role × page × method → status, as one parametrized test.

Every page and every POST checks the permission on the server. POSTs are sent empty:
a permitted user gets the form back with its errors (400) or a redirect, never 403; a
refused user gets 403 before anything is read; an anonymous visitor is sent to sign in.
"""

import pytest

from backend.services.permissions import PERMISSIONS
from backend.services.reports import REPORTS
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import module_world_fixtures

REPORT_NAMES = sorted(REPORTS)

ROLES = ("anonymous", "operator", "operator_granted", "admin")
OK, FORM, REDIRECT, LOGIN, FORBIDDEN, NOT_FOUND = 200, 400, 302, "login", 403, 404

# (method, path, {role: expected}) — paths use {own} (a member of the operator's branch),
# {other} (a member of another branch) and {purchase} (a purchase of {own}).
ALL = {"operator": OK, "operator_granted": OK, "admin": OK}
ADMIN_AND_GRANTED = {"operator": FORBIDDEN, "operator_granted": OK, "admin": OK}
ADMIN_ONLY = {"operator": FORBIDDEN, "operator_granted": FORBIDDEN, "admin": OK}


NO_UPLOAD = "N0-such-upload-token-00000000000"  # well-formed, never issued
UPLOAD_UNKNOWN = {"operator": FORBIDDEN, "operator_granted": NOT_FOUND, "admin": NOT_FOUND}


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
    # Cheques and instalments (L13): recorded at the counter; operators see and change
    # their own branch's only.
    ("GET", "/instruments", ALL),
    ("GET", "/members/{own}/cheques/new", ALL),
    ("POST", "/members/{own}/cheques/new", forms(ALL)),
    ("GET", "/members/{other}/cheques/new", ALL),
    ("GET", "/members/{own}/instalment-plans/new", ALL),
    ("POST", "/members/{own}/instalment-plans/new", forms(ALL)),
    ("GET", "/instruments/{cheque}", ALL),
    ("POST", "/instruments/{cheque}/status", forms(ALL)),
    ("GET", "/instruments/{other_cheque}", ADMIN_ONLY),
    ("POST", "/instruments/{other_cheque}/status", forms(ADMIN_ONLY)),
    ("GET", "/instruments/999999", {"operator": NOT_FOUND, "operator_granted": NOT_FOUND,
                                    "admin": NOT_FOUND}),
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
    ("GET", "/card-batches", ADMIN_AND_GRANTED),
    ("POST", "/card-batches", forms(ADMIN_AND_GRANTED)),
    ("GET", "/card-batches/{batch}/files.zip", ADMIN_AND_GRANTED),
    ("GET", "/audit", ADMIN_AND_GRANTED),
    ("GET", "/settings", ADMIN_AND_GRANTED),
    ("POST", "/settings", forms(ADMIN_AND_GRANTED)),
    ("GET", "/firmware", ADMIN_ONLY),
    ("POST", "/firmware", forms(ADMIN_ONLY)),
    ("POST", "/firmware/999999/rollout", {**ADMIN_ONLY, "admin": REDIRECT}),
    ("POST", "/firmware/999999/withdraw", {**ADMIN_ONLY, "admin": REDIRECT}),
    ("GET", "/staff", ADMIN_ONLY),
    ("GET", "/staff/new", ADMIN_ONLY),
    ("POST", "/staff/new", forms(ADMIN_ONLY)),
    ("GET", "/staff/{operator_id}", ADMIN_ONLY),
    ("POST", "/staff/{operator_id}", forms(ADMIN_ONLY)),
    ("GET", "/account/password", ALL),
    ("GET", "/credit-grants", ADMIN_AND_GRANTED),
    ("POST", "/credit-grants", forms(ADMIN_AND_GRANTED)),
    ("GET", "/requests", ALL),
    # An empty answer comes back next to its field on the list page.
    ("POST", "/requests/{request}", forms(ALL)),
    # Member import (M3): the "settings" right; the permission is checked before the
    # upload is looked up, so a refused user learns nothing about tokens.
    ("GET", "/import", ADMIN_AND_GRANTED),
    ("POST", "/import", forms(ADMIN_AND_GRANTED)),
    ("GET", "/import/template.xlsx", ADMIN_AND_GRANTED),
    ("GET", f"/import/{NO_UPLOAD}", UPLOAD_UNKNOWN),
    ("GET", f"/import/{NO_UPLOAD}/rejected.xlsx", UPLOAD_UNKNOWN),
    ("POST", f"/import/{NO_UPLOAD}/commit", UPLOAD_UNKNOWN),
    ("POST", f"/import/{NO_UPLOAD}/discard", UPLOAD_UNKNOWN),
    # Issue 6: news, FAQ and surveys are what members are told ("offers"); results are
    # reports; every operator makes their branch's happy calls; every user keeps tokens.
    ("GET", "/news", ADMIN_AND_GRANTED),
    ("GET", "/news/new", ADMIN_AND_GRANTED),
    ("POST", "/news/new", forms(ADMIN_AND_GRANTED)),
    ("GET", "/faq", ADMIN_AND_GRANTED),
    ("GET", "/faq/new", ADMIN_AND_GRANTED),
    ("POST", "/faq/new", forms(ADMIN_AND_GRANTED)),
    ("GET", "/surveys", ADMIN_AND_GRANTED),
    ("GET", "/surveys/new", ADMIN_AND_GRANTED),
    ("POST", "/surveys/new", forms(ADMIN_AND_GRANTED)),
    ("GET", "/surveys/happy-call/report", {"operator": FORBIDDEN, "operator_granted": REDIRECT,
                                           "admin": REDIRECT}),
    ("GET", "/calls", ALL),
    ("GET", "/calls/{call}", ALL),
    ("POST", "/calls/{call}", forms(ALL)),
    # A call at another branch does not exist for its operators.
    ("GET", "/calls/{other_call}", {"operator": NOT_FOUND, "operator_granted": NOT_FOUND,
                                    "admin": OK}),
    ("GET", "/account/tokens", ALL),
    ("POST", "/account/tokens", forms(ALL)),
    # Messages (backend/web/admin/messages.py): settings, texts and outbox need
    # "settings"; campaigns need "offers".
    ("GET", "/messages/", ADMIN_AND_GRANTED),
    ("GET", "/messages/settings", ADMIN_AND_GRANTED),
    ("POST", "/messages/settings", forms(ADMIN_AND_GRANTED)),
    ("GET", "/messages/texts", ADMIN_AND_GRANTED),
    ("POST", "/messages/texts", forms(ADMIN_AND_GRANTED)),
    ("GET", "/messages/outbox", ADMIN_AND_GRANTED),
    ("POST", "/messages/outbox/999999/retry", {"operator": FORBIDDEN,
                                               "operator_granted": REDIRECT,
                                               "admin": REDIRECT}),
    ("GET", "/messages/campaigns", ADMIN_AND_GRANTED),
    ("GET", "/messages/campaigns/new", ADMIN_AND_GRANTED),
    ("POST", "/messages/campaigns/new", forms(ADMIN_AND_GRANTED)),
    ("GET", "/messages/campaigns/999999", {"operator": FORBIDDEN,
                                           "operator_granted": NOT_FOUND,
                                           "admin": NOT_FOUND}),
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


# The table's world (branches, staff, members, a purchase, cheques…) is made once per
# database for the module's 1,000 cases; each case runs in a savepoint of it.
world_connection, db = module_world_fixtures(lambda session: make_world(session))


@pytest.fixture
def world(db, world_connection):
    return world_connection[1]


def make_world(db):
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
    purchase = counter.record_purchase(db, actor=SYSTEM, member_id=own.id, branch_id=own_branch.id,
                                       amount_rials=100_000, use_credit_rials=0,
                                       request_key="permission-table-purchase",
                                       now=datetime.now(UTC)).purchase
    from backend.services import member_requests
    question = member_requests.submit_request(db, actor=SYSTEM, member_id=own.id, subject="Card",
                                              body="Where is my card?", now=datetime.now(UTC))
    other_sale = counter.record_purchase(db, actor=SYSTEM,
                                         member_id=other.id, branch_id=other_branch.id,
                                         amount_rials=50_000, use_credit_rials=0,
                                         request_key="permission-table-other-sale",
                                         now=datetime.now(UTC)).purchase
    from sqlalchemy import select

    from backend.models import CallTask
    call, other_call = (db.scalars(select(CallTask.id).where(CallTask.purchase_id == sale.id))
                        .one() for sale in (purchase, other_sale))
    from backend.services import cards, instruments
    batch = cards.create_batch(db, actor=SYSTEM, prefix="990009", count=1)
    cheque, other_cheque = (instruments.record_cheque(
        db, actor=SYSTEM, member_id=own.id, bank="melli", number=number,
        due_date=datetime.now(UTC).date(),
        amount_rials=1_000, now=datetime.now(UTC), branch_id=branch.id)
        for number, branch in (("1", own_branch), ("2", other_branch)))
    return {"own": own.id, "other": other.id, "purchase": purchase.id,
            "cheque": cheque.id, "other_cheque": other_cheque.id,
            "operator_id": operator.id, "request": question.id, "call": call,
            "other_call": other_call, "batch": batch.id}


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


def test_every_import_route_is_in_the_table(app):
    """The member import is a blueprint of its own; its pages are checked the same way."""
    covered = {(method, path) for method, path, _ in TABLE}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin.member_import."):
            path = str(rule).replace("<token>", NO_UPLOAD)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (method, path) in covered, f"{method} {rule} has no row in the table"


def test_every_messages_route_is_in_the_table(app):
    """The same for the messages pages, which have a blueprint of their own."""
    covered = {path.split("{")[0].split("999999")[0].rstrip("/") for _, path, _ in TABLE}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin.messages."):
            prefix = str(rule).split("<")[0].rstrip("/")
            assert prefix in covered, f"{rule} has no row in the permission table"


def test_every_report_route_is_in_the_table(app):
    covered = {path.split("{")[0].rstrip("/") for _, path, _ in TABLE}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin.reports."):
            prefix = str(rule).split("<")[0].rstrip("/")
            assert prefix in covered or any(path.startswith(prefix + "/") for path in covered), \
                f"{rule} has no row in the permission table"
