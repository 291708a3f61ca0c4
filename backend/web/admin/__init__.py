"""The staff panel (issue 5): one blueprint for admins and operators, whose pages differ
only by what `backend.services.permissions` allows each user. Views parse the form,
check the permission, call one service and render; the rules live in services.

The blueprint is `admin.blueprint.bp`; the views register themselves on it, and the
panels with their own URL space (member import, reports, messages) are blueprints nested
in it (`admin.member_import.*`, `admin.reports.*`, `admin.messages.*`)."""

# The views register themselves on `bp` when imported; each imports `bp` from
# admin/blueprint.py and its helpers from web/common.py, never from this package.
from backend.web.admin import (
    card_batches,
    catalogue,
    dashboard,
    engagement,
    instruments,
    member_import,
    members,
    messages,
    reports,
    service_desk,
    session_views,
    settings,
    staff,
    terminals,
)
from backend.web.admin.blueprint import bp

# The nested panels: their endpoints are `admin.<name>.*`, their URLs unchanged.
for child in (member_import.bp, reports.bp, messages.bp):
    bp.register_blueprint(child)

__all__ = ["bp", "catalogue", "dashboard", "members", "engagement", "instruments",
           "service_desk", "session_views", "settings", "staff", "card_batches", "terminals",
           "member_import", "reports", "messages"]
