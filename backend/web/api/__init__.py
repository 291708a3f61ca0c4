"""The public JSON API at /api/v1 (O5): for the members' mobile app, CRM and accounting
integrations, and the technicians' provisioning CLI.

Every view is declared with `operation(...)`, which routes it, authenticates the bearer
token, checks the same permission the panel checks (backend.services.permissions),
validates the query and body with marshmallow schemas (errors name the field), and dumps
the answer through the response schema. The OpenAPI document (spec.py) is built from the
same declarations, so the document cannot drift from what the views do.

Errors are `{"error": CODE, "message": …, "field": …}` with the codes and statuses of
backend.errors. Tokens are never logged: they travel only in the Authorization header,
and only their SHA-256 is stored.
"""

# The views register themselves on `bp` when imported; each takes `operation` and its
# helpers from operations.py, never from this package.
from backend.web.api import (
    engagement,
    instruments,
    members,
    provisioning,
    reference,
    self_service,
    spec,
    tokens,
)
from backend.web.api.blueprint import bp

__all__ = ["bp", "engagement", "instruments", "members", "provisioning", "reference",
           "self_service", "spec", "tokens"]
