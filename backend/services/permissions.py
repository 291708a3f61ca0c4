"""Who may do what in the staff panel (B2).

Admins may do everything. Operators always serve members and record purchases at their
own branch; everything else is granted per operator by an admin from `PERMISSIONS`.
Views check these on the server for every request; hiding a button is not a check.
"""

from backend.models import Member, StaffUser

# Granted by an admin, in the order the staff form lists them.
PERMISSIONS = (
    "members",        # create and edit members, cards, lost-card replacement
    "purchases",      # record purchases and top-ups at the counter
    "refunds",        # refund purchases
    "credit_grants",  # grant credit to a member or a tier, transfer between members
    "offers",         # tiers, offers and campaigns, products, gift cards, news, FAQ,
                      # surveys, segment rules
    "reports",        # reports and exports, the audit log
    "devices",        # terminals and card batches
    "settings",       # club settings, branches, custom fields, member import
)
# Every operator has these for their own branch; they cannot be taken away.
OPERATOR_BASELINE = frozenset({"members", "purchases"})
# Only admins: creating staff and changing their rights; firmware builds and their rollout
# (the code every terminal runs).
ADMIN_ONLY = frozenset({"staff", "firmware"})


def allowed(user: StaffUser, permission: str) -> bool:
    assert permission in PERMISSIONS or permission in ADMIN_ONLY, permission
    if not user.is_active:
        return False
    if user.role == "admin":
        return True
    if permission in ADMIN_ONLY:
        return False
    return permission in OPERATOR_BASELINE or permission in (user.permissions or [])


def branch_scope(user: StaffUser) -> int | None:
    """The branch an operator is limited to; None for admins (every branch)."""
    return None if user.role == "admin" else user.branch_id


def can_see_member(user: StaffUser, member: Member) -> bool:
    """Operators work with their branch's members; a member who joined elsewhere is
    served at the counter (found by exact card or mobile, C5) but not browsed or edited."""
    scope = branch_scope(user)
    return scope is None or member.home_branch_id == scope


def clean_permissions(names) -> list[str]:
    """Keep known grantable names only, in catalogue order."""
    wanted = set(names)
    return [name for name in PERMISSIONS if name in wanted]
