"""Who may do what in the staff panel (backend/services/permissions.py): admins do
everything, operators keep their baseline and only what an admin granted, admin-only
rights never reach an operator, and a disabled account may do nothing."""

import pytest

from backend.services import permissions
from tests import factories


@pytest.fixture
def branches(db):
    return factories.branch(db), factories.branch(db)


def operator(db, branch, granted=(), **fields):
    return factories.staff_user(db, username=f"operator{branch.id}-{len(granted)}",
                                role="operator", branch_id=branch.id,
                                permissions=list(granted), **fields)


def test_an_admin_may_do_everything_including_admin_only_rights(db, branches):
    admin = factories.staff_user(db, username="owner")
    for permission in (*permissions.PERMISSIONS, *permissions.ADMIN_ONLY):
        assert permissions.allowed(admin, permission), permission


def test_an_operator_has_the_baseline_and_only_what_was_granted(db, branches):
    cashier = operator(db, branches[0], granted=["refunds"])
    granted = {permission for permission in permissions.PERMISSIONS
               if permissions.allowed(cashier, permission)}
    assert granted == {"members", "purchases", "refunds"}


def test_admin_only_rights_are_refused_to_an_operator_even_when_listed(db, branches):
    # A stored list is data an admin typed once; the rule, not the list, keeps staff and
    # firmware to admins.
    cashier = operator(db, branches[0], granted=["staff", "firmware", "settings"])
    assert not permissions.allowed(cashier, "staff")
    assert not permissions.allowed(cashier, "firmware")
    assert permissions.allowed(cashier, "settings")


def test_a_disabled_account_may_do_nothing(db, branches):
    admin = factories.staff_user(db, username="former", is_active=False)
    cashier = operator(db, branches[0], is_active=False)
    assert not permissions.allowed(admin, "members")
    assert not permissions.allowed(cashier, "purchases")


def test_an_unknown_permission_name_is_a_programming_error(db, branches):
    admin = factories.staff_user(db, username="owner")
    with pytest.raises(AssertionError):
        permissions.allowed(admin, "refund")  # a typo must not silently answer False


def test_an_operator_sees_their_own_branch_members_only(db, branches):
    home, other = branches
    cashier = operator(db, home)
    admin = factories.staff_user(db, username="owner")
    local = factories.member(db, home_branch_id=home.id)
    visitor = factories.member(db, home_branch_id=other.id)
    assert permissions.branch_scope(cashier) == home.id
    assert permissions.branch_scope(admin) is None
    assert permissions.can_see_member(cashier, local)
    assert not permissions.can_see_member(cashier, visitor)
    assert permissions.can_see_member(admin, visitor)


def test_clean_permissions_keeps_known_names_in_catalogue_order():
    assert permissions.clean_permissions(["settings", "bogus", "members", "staff",
                                          "members"]) == ["members", "settings"]
