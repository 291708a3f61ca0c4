"""Signing in to the API: staff by username and password, members by mobile and
password; either kind of token can sign itself out."""



from backend.errors import Unauthorized
from backend.extensions import db
from backend.services import api_tokens, member_auth, staff
from backend.web.api.operations import operation, staff_token_ttl
from backend.web.api.schemas import MemberLoginIn, StaffLoginIn, TokenOut
from backend.web.auth import client_ip
from backend.web.common import clock


def _answer(issued: api_tokens.IssuedToken, **extra) -> dict:
    row = issued.row
    return {"token": issued.token, "kind": row.kind, "expires_at": row.expires_at,
            "expires_in": int((row.expires_at - row.created_at).total_seconds()), **extra}


@operation("POST", "/tokens", summary="Sign in as staff", tag="Authentication", auth="none",
           body=StaffLoginIn, response=TokenOut, status=201, errors=(400, 401, 429))
def create_token(principal, data):
    """Username and password → a staff token, valid for an hour (API_TOKEN_TTL_S). It acts
    with the user's role, permissions and branch, exactly as the panel would."""
    user = staff.authenticate(db.session, data["username"], data["password"], ip=client_ip(),
                              now=clock())
    if user is None:
        raise Unauthorized("wrong username or password")
    issued = api_tokens.issue(db.session, kind="staff", staff_user_id=user.id, now=clock(),
                              ttl=staff_token_ttl())
    return _answer(issued, role=user.role, member_id=None)


@operation("POST", "/member-tokens", summary="Sign in as a member", tag="Authentication",
           auth="none", body=MemberLoginIn, response=TokenOut, status=201,
           errors=(400, 401, 429))
def create_member_token(principal, data):
    """Mobile number (any digits) and portal password → a member token, valid for 30 days.
    It reads and acts on that member's own data only (the `/me` endpoints)."""
    member = member_auth.authenticate(db.session, data["mobile"], data["password"],
                                      ip=client_ip(), now=clock())
    if member is None:
        raise Unauthorized("wrong mobile number or password")
    issued = api_tokens.issue(db.session, kind="member", member_id=member.id, now=clock(),
                              ttl=api_tokens.MEMBER_TOKEN_TTL)
    return _answer(issued, role=None, member_id=member.id)


@operation("DELETE", "/tokens/current", summary="Sign out (revoke this token)",
           tag="Authentication", auth="any", status=204, errors=(401,))
def revoke_current_token(principal):
    """Revokes the token that authorises this request; later requests with it get 401."""
    api_tokens.revoke(db.session, principal.token.id, clock())
    return None
