"""The members' portal (P1–P4): mobile-first pages, Persian by default, installable.

A member only ever sees their own data: no portal URL takes a member id, and the few
that name a row (a purchase, a request) answer 404 unless the row is the signed-in
member's — whether it exists or not.

`blueprint` holds the blueprint and the signed-in member; the views register themselves
on it from `home` (signing in, history, transfers, the profile), `accounts` (joining and
codes by SMS, M2), `engagement` (news, surveys, the FAQ), `points` and `instruments`.
"""

from backend.web.portal import accounts, engagement, home, instruments, points  # noqa: F401
from backend.web.portal.blueprint import bp, current_member, member_required

__all__ = ["bp", "current_member", "member_required"]
