"""Members and money for staff and integration tokens: list/search, create, read, update,
balance, ledger history, purchases (the counter's own service), refunds, top-ups, credit
grants and transfers. Each checks the permission the panel's page checks, and operators
are limited to their branch exactly as in the panel."""

from sqlalchemy import select

from backend import ledger
from backend.engine.calendar import local_day_end_utc
from backend.errors import BadRequest, Forbidden, NotFound
from backend.extensions import db
from backend.models import Branch, Member, Purchase
from backend.services import (
    counter,
    member_search,
    members,
    rewards,
    statements,
    wallet,
)
from backend.services.members import PROFILE_FIELDS
from backend.services.permissions import branch_scope, can_see_member
from backend.web.api.operations import Page, operation, paginate
from backend.web.api.schemas import (
    AmountIn,
    BalanceOut,
    GrantIn,
    GrantOut,
    LedgerTransactionOut,
    MemberCreateIn,
    MemberOut,
    MemberQuery,
    MemberUpdateIn,
    PageQuery,
    PointsIn,
    PurchaseIn,
    PurchaseOut,
    PurchaseResultOut,
    RedeemIn,
    RedemptionOut,
    RefundIn,
    RefundOut,
    TransactionOut,
    TransferIn,
    TransferOut,
)
from backend.web.common import api_actor, clock


def visible_member(member_id: int) -> Member:
    """Any person in the club: staff serve members of every branch at the counter (C5).
    Gift-card holder accounts are not members."""
    member = db.session.get(Member, member_id)
    if member is None or member.is_gift_account:
        raise NotFound("no such member")
    return member


def _scoped_key(principal, key: str) -> str:
    """Keys are per staff user, so two integrations picking the same key never share a
    result; still in the counter's key format (16–64 of [A-Za-z0-9_-])."""
    return f"api{principal.staff.id}-{key}"


def find_receiver(card_or_mobile: str) -> Member:
    try:
        return members.find_referrer(db.session, card_or_mobile)
    except BadRequest:
        raise BadRequest("to", "No member has that card or mobile number.") from None


def balance_of(member: Member) -> dict:
    progress = statements.tier_progress(db.session, member, clock())
    return {"member_id": member.id, "credit_rials": member.credit_balance_rials,
            "points": member.points_balance, "tier": member.tier,
            "progress": {"next_tier": progress.next, "window_days": progress.window_days,
                         "spend_rials": progress.spend_rials, "purchases": progress.purchases,
                         "spend_needed_rials": progress.spend_needed_rials,
                         "purchases_needed": progress.purchases_needed,
                         "percent": progress.percent}}


def transactions_page(member_id: int, args: dict):
    return paginate(statements.history_statement(member_id), args, scalars=False)


def purchases_statement(member_id: int):
    return (select(Purchase).where(Purchase.member_id == member_id)
            .order_by(Purchase.created_at.desc(), Purchase.id.desc()))


@operation("GET", "/members", summary="List and search members", tag="Members",
           permission="members", query=MemberQuery, response=MemberOut, paginated=True,
           errors=(400, 401, 403))
def list_members(principal, args):
    """`card` or `mobile` finds one member exactly, at any branch (how a cashier serves a
    visitor); `q` searches, and operators browse their own branch's members only."""
    exact = args.get("card") or args.get("mobile")
    if exact:
        found = member_search.exact_lookup(db.session, exact)
        rows = [found] if found is not None and not found.is_gift_account else []
        return Page(rows, 1, args["per_page"], len(rows))
    statement = member_search.search_statement(
        scope_branch_id=branch_scope(principal.staff), query=args.get("q", ""),
        tier_id=args.get("tier_id"), branch_id=args.get("branch_id"))
    return paginate(statement.order_by(Member.id.desc()), args)


def _branch_for(principal, requested: int | None) -> int | None:
    scope = branch_scope(principal.staff)
    return scope if scope is not None else requested


def _profile(data: dict, member: Member | None = None) -> dict:
    defaults = {key: (getattr(member, key) if member is not None else
                      (None if key == "weight_kg" else False if key == "promotional_opt_out"
                       else "")) for key in PROFILE_FIELDS}
    return {key: data.get(key, defaults[key]) for key in PROFILE_FIELDS}


def _check_branch(branch_id: int | None, field_name: str = "home_branch_id") -> None:
    if branch_id is not None and db.session.get(Branch, branch_id) is None:
        raise BadRequest(field_name, "No such branch.")


@operation("POST", "/members", summary="Create a member", tag="Members",
           permission="members", body=MemberCreateIn, response=MemberOut, status=201,
           errors=(400, 401, 403))
def create_member(principal, data):
    """Enrols a member with their card; the club's welcome credit and referral bonus are
    paid as in the panel."""
    branch_id = _branch_for(principal, data.get("home_branch_id"))
    _check_branch(branch_id)
    return members.register_member(
        db.session, actor=api_actor(principal),
        first_name=data["first_name"], last_name=data["last_name"],
        mobile=data["mobile"], card_number=data["card_number"], now=clock(),
        national_code=data.get("national_code") or None, birth_date=data.get("birth_date"),
        wedding_date=data.get("wedding_date"), referrer_card_or_mobile=data.get("referrer"),
        branch_id=branch_id, profile=_profile(data),
        custom_fields=data.get("custom_fields") or {})


@operation("GET", "/members/<int:member_id>", summary="A member", tag="Members",
           permission="members", response=MemberOut, errors=(401, 403, 404))
def get_member(principal, member_id: int):
    return visible_member(member_id)


def editable_member(principal, member_id: int) -> Member:
    member = visible_member(member_id)
    if not can_see_member(principal.staff, member):
        raise Forbidden("operators edit their own branch's members only")
    return member


@operation("PATCH", "/members/<int:member_id>", summary="Update a member", tag="Members",
           permission="members", body=MemberUpdateIn, response=MemberOut,
           errors=(400, 401, 403, 404), guard=editable_member)
def update_member(principal, member_id: int, data):
    """Only the fields sent change. Operators edit their own branch's members only.
    Balances, cards and tier never change here: only through the ledger and the rules."""
    member = editable_member(principal, member_id)
    branch_id = _branch_for(principal, data.get("home_branch_id", member.home_branch_id))
    _check_branch(branch_id)
    return members.update_member(
        db.session, member.id, actor=api_actor(principal),
        first_name=data.get("first_name", member.first_name),
        last_name=data.get("last_name", member.last_name),
        mobile=data.get("mobile", member.mobile or ""),
        national_code=data.get("national_code", member.national_code),
        birth_date=data.get("birth_date", member.birth_date),
        wedding_date=data.get("wedding_date", member.wedding_date), branch_id=branch_id,
        profile=_profile(data, member),
        custom_fields={**(member.custom_fields or {}), **(data.get("custom_fields") or {})})


@operation("GET", "/members/<int:member_id>/balance", summary="A member's balances and tier",
           tag="Members", permission="members", response=BalanceOut, errors=(401, 403, 404))
def get_balance(principal, member_id: int):
    return balance_of(visible_member(member_id))


@operation("GET", "/members/<int:member_id>/transactions",
           summary="A member's ledger history, with reasons", tag="Members",
           permission="members", query=PageQuery, response=TransactionOut, paginated=True,
           errors=(400, 401, 403, 404))
def list_transactions(principal, member_id: int, args):
    """Every movement of credit and points, newest first: what each purchase earned and
    spent, top-ups, grants, transfers, refunds, expiries."""
    return transactions_page(visible_member(member_id).id, args)


@operation("GET", "/members/<int:member_id>/purchases", summary="A member's purchases",
           tag="Purchases", permission="members", query=PageQuery, response=PurchaseOut,
           paginated=True, errors=(400, 401, 403, 404))
def list_purchases(principal, member_id: int, args):
    return paginate(purchases_statement(visible_member(member_id).id), args)


def _sale_branch(principal, requested: int | None) -> int:
    """Operators sell at their own branch; an admin names one, or sells at their own
    branch or else the first (as at the panel's counter)."""
    user = principal.staff
    if user.role != "admin":
        if requested is not None and requested != user.branch_id:
            raise Forbidden("operators record sales at their own branch only")
        if user.branch_id is None:
            raise BadRequest("branch_id", "This user belongs to no branch.")
        return user.branch_id
    if requested is not None:
        _check_branch(requested, "branch_id")
        return requested
    if user.branch_id is not None:
        return user.branch_id
    first = db.session.scalars(select(Branch.id).order_by(Branch.id)).first()
    if first is None:
        raise BadRequest("branch_id", "The club has no branch yet.")
    return first


@operation("POST", "/members/<int:member_id>/purchases", summary="Record a purchase",
           tag="Purchases", permission="purchases", body=PurchaseIn,
           response=PurchaseResultOut, status=201, idempotent=True,
           errors=(400, 401, 403, 404, 409), extra_statuses=(200,))
def record_purchase(principal, member_id: int, data, key):
    """Prices and records a sale with the club's rules: the very service the terminals and
    the panel's counter use. With `items` (SKU, quantity, optional price) stock goes down
    and each product's rules apply; `amount_rials` must then be their total. The
    answer's `tx` holds the figures a terminal prints. Send an `Idempotency-Key`; a retry
    with the same key returns the first result (200) and changes nothing; the same key
    for a different sale is refused. A credit cap's `LIMIT` names the cap (`cap`) and
    what it still allows (`allowed_rials`)."""
    member = visible_member(member_id)
    branch_id = _sale_branch(principal, data.get("branch_id"))
    form_key = _scoped_key(principal, key)
    replay = ledger.find_transaction(db.session,
                                     counter.request_key("purchase", form_key)) is not None
    items = [counter.ItemLine(item["sku"], item["qty"], item.get("price"))
             for item in data.get("items") or ()]
    result = counter.record_purchase(
        db.session, actor=api_actor(principal), member_id=member.id, branch_id=branch_id,
        amount_rials=data["amount_rials"], use_credit_rials=data["use_credit_rials"],
        request_key=form_key, now=clock(), items=items)
    summary = counter.purchase_summary(db.session, member_id=member.id,
                                       purchase_id=result.purchase.id)
    sold = [(product.sku, line.quantity, line.unit_price_rials)
            for product, line in summary.items]
    if replay and (data["amount_rials"] != result.purchase.amount_rials
                   or (items and [item.quantity for item in items]
                       != [quantity for _, quantity, _ in sold])):
        raise BadRequest("Idempotency-Key", "this key was used for a different purchase")
    answer = {"purchase": result.purchase, "offers": list(result.offer_names),
              "new_tier": result.new_tier, "credit_balance_rials": summary.credit_balance_rials,
              "points_balance": summary.points_balance, "tx": summary.tx,
              "items": [{"sku": product.sku, "name": product.name, "qty": line.quantity,
                         "price": line.unit_price_rials} for product, line in summary.items]}
    return answer, 200 if replay else 201


@operation("POST", "/purchases/<int:purchase_id>/refunds", summary="Refund a purchase",
           tag="Purchases", permission="refunds", body=RefundIn, response=RefundOut,
           status=201, idempotent=True, errors=(400, 401, 403, 404, 409))
def refund_purchase(principal, purchase_id: int, data, key):
    """Refunds all that is left of a purchase, or `amount_rials` of it, reversing exactly
    what it earned. Operators refund their own branch's sales only."""
    purchase = db.session.get(Purchase, purchase_id)
    scope = branch_scope(principal.staff)
    if purchase is None or (scope is not None and purchase.branch_id != scope):
        raise NotFound("no such purchase at this branch")
    result = counter.refund(db.session, actor=api_actor(principal), purchase_id=purchase_id,
                            amount_rials=data.get("amount_rials"),
                            request_key=_scoped_key(principal, key),
                            staff_user_id=principal.staff.id, now=clock())
    return result.refund


@operation("POST", "/members/<int:member_id>/top-ups", summary="Top up a member's wallet",
           tag="Money", permission="purchases", body=AmountIn, response=LedgerTransactionOut,
           status=201, idempotent=True, errors=(400, 401, 403, 404, 409))
def top_up(principal, member_id: int, data, key):
    """Cash paid into the wallet: credit that never expires."""
    member = visible_member(member_id)
    return counter.top_up(db.session, actor=api_actor(principal),
                          member_id=member.id, amount_rials=data["amount_rials"],
                          request_key=_scoped_key(principal, key), now=clock())


@operation("POST", "/members/<int:member_id>/credit-grants", summary="Grant credit",
           tag="Money", permission="credit_grants", body=GrantIn, response=GrantOut,
           status=201, idempotent=True, errors=(400, 401, 403, 404))
def grant_credit(principal, member_id: int, data, key):
    """Credit given by the club, with a reason and an optional expiry."""
    member = visible_member(member_id)
    expires_at = data.get("expires_at")
    if data.get("expires_on") is not None:
        if expires_at is not None:
            raise BadRequest("expires_on", "Give expires_at or expires_on, not both.")
        expires_at = local_day_end_utc(data["expires_on"])
    return wallet.grant_credit(
        db.session, actor=api_actor(principal),
        amount_rials=data["amount_rials"], reason=data["reason"], now=clock(),
        member_id=member.id, expires_at=expires_at,
        request_key=counter.request_key("grant", _scoped_key(principal, key)))


@operation("POST", "/members/<int:member_id>/transfers",
           summary="Transfer credit to another member", tag="Money",
           permission="credit_grants", body=TransferIn, response=TransferOut, status=201,
           idempotent=True, errors=(400, 401, 403, 404, 409))
def transfer(principal, member_id: int, data, key):
    """Moves credit from this member to the one with card or mobile `to`, within the
    club's transfer limits."""
    member = visible_member(member_id)
    receiver = find_receiver(data["to"])
    return wallet.transfer_credit(
        db.session, actor=api_actor(principal), from_member_id=member.id, to_member_id=receiver.id,
        amount_rials=data["amount_rials"],
        idempotency_key=counter.request_key("transfer", _scoped_key(principal, key)),
        now=clock())


@operation("POST", "/members/<int:member_id>/point-conversions",
           summary="Convert a member's points to credit", tag="Money", permission="purchases",
           body=PointsIn, response=LedgerTransactionOut, status=201, idempotent=True,
           errors=(400, 401, 403, 404, 409))
def convert_points(principal, member_id: int, data, key):
    """At the club's point value, soonest-expiring points first; at least the club's
    minimum. A retry with the same `Idempotency-Key` converts nothing more."""
    member = visible_member(member_id)
    return wallet.convert_points(
        db.session, actor=api_actor(principal),
        member_id=member.id, points=data["points"], now=clock(),
        idempotency_key=counter.request_key("convert", _scoped_key(principal, key)))


@operation("POST", "/members/<int:member_id>/reward-redemptions",
           summary="Give a member a reward for points", tag="Money", permission="purchases",
           body=RedeemIn, response=RedemptionOut, status=201, idempotent=True,
           errors=(400, 401, 403, 404, 409))
def redeem_reward(principal, member_id: int, data, key):
    """Spends the reward's points; stock goes down by one. A gift card needs the number
    of the blank card handed over."""
    member = visible_member(member_id)
    return rewards.redeem(
        db.session, actor=api_actor(principal),
        member_id=member.id, reward_id=data["reward_id"], channel="api",
        idempotency_key=counter.request_key("reward", _scoped_key(principal, key)),
        now=clock(), staff_user_id=principal.staff.id if principal.staff else None,
        gift_card_number=data.get("gift_card_number"))
