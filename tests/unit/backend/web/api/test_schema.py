"""The OpenAPI document: valid, complete, and true: schemathesis generates requests from
it for every operation, in-process through the app's WSGI interface, and no answer may be
a server error or differ from what the document promises."""

from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.strategies import just
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.services import api_tokens, instruments
from backend.unit_of_work import SYSTEM
from backend.web.api.operations import OPERATIONS
from tests.unit.backend.web.conftest import member_headers, staff_headers

STATS: dict = {}  # (method, path) → statuses answered
MAX_EXAMPLES = 20  # per operation: ~45 operations, the whole run well under a minute


def test_the_document_is_valid_and_lists_every_operation(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate(document)
    documented = {(method.upper(), path) for path, item in document["paths"].items()
                  for method in item}
    routes = {(method, str(rule).removeprefix("/api/v1").replace("<int:", "{")
               .replace("<", "{").replace(">", "}"))
              for rule in client.application.url_map.iter_rules()
              if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi_document"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == documented
    assert len(OPERATIONS) == len(documented)
    codes = document["components"]["schemas"]["Error"]["properties"]["error"]["enum"]
    assert {"BAD_REQUEST", "UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "INSUFFICIENT_CREDIT",
            "LIMIT", "CARD_BLOCKED"} <= set(codes)
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_fuzzing_finds_no_server_error_and_no_undocumented_answer(app, db, client, api_world):
    """Every operation, a bounded number of generated requests each (staff paths with an
    admin token, /me paths with a member token), on SQLite only."""
    if app.database_kind != "sqlite":
        pytest.skip("the fuzzing runs once, on SQLite")
    headers = {"staff": staff_headers(client, "admin"),
               "member": member_headers(client, api_world.own)}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    checks = [not_a_server_error, response_schema_conformance, status_code_conformance,
              content_type_conformance]
    STATS.clear()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(OPERATIONS)
    # Generated ids rarely name a real row: every other example uses the world's own.
    cheque = instruments.record_cheque(db, actor=SYSTEM, member_id=api_world.own.id, bank="melli",
                                       number="1001", due_date=datetime.now(UTC).date(),
                                       amount_rials=200_000, now=datetime.now(UTC))
    known = {"member_id": api_world.own.id, "purchase_id": api_world.purchase.id,
             "request_id": api_world.request.id, "row_id": 1, "device_id": "t01",
             "instrument_id": cheque.id}
    for operation in operations:
        kind = "member" if operation.path == "/me" or operation.path.startswith("/me/") \
            else "staff"

        @given(case=operation.as_strategy(), token_headers=just(headers[kind]))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case, token_headers):
            sent = dict(token_headers)
            if case.path == "/tokens/current":  # revokes its token: a throwaway one
                sent["Authorization"] = "Bearer " + api_tokens.issue(
                    db, kind="member", member_id=api_world.other.id, now=datetime.now(UTC),
                    ttl=timedelta(days=1)).token
            counter = STATS.setdefault((case.method, case.path), [])
            if case.path_parameters and len(counter) % 2:
                case.path_parameters = {name: known.get(name, value)
                                        for name, value in case.path_parameters.items()}
            response = case.call_and_validate(headers=sent, checks=checks)
            counter.append(response.status_code)

        fuzz()
    # The run reached the views, not just the validators: most operations succeeded.
    succeeded = {key for key, statuses in STATS.items() if any(s < 300 for s in statuses)}
    assert len(succeeded) >= 0.7 * len(operations), sorted(set(STATS) - succeeded)
