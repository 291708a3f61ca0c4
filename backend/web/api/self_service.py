"""A member's own data, for the members' mobile app: with a member token, `/me…` is the
only thing there is, so one member can never name another's rows. Rows named by id (a
purchase, a request) answer 404 unless they are the caller's, whether they exist or not.
"""

from sqlalchemy import select

from backend.errors import NotFound
from backend.extensions import db
from backend.models import MemberRequest, Purchase
from backend.services import catalogue, member_requests, rewards, wallet
from backend.web.api.members import (
    balance_of,
    find_receiver,
    purchases_statement,
    transactions_page,
)
from backend.web.api.operations import operation, page_of_list, paginate
from backend.web.api.schemas import (
    BalanceOut,
    LedgerTransactionOut,
    MeOut,
    OfferOut,
    PageQuery,
    PointsIn,
    PurchaseOut,
    RedeemIn,
    RedemptionOut,
    RequestIn,
    RequestOut,
    RewardOut,
    TransactionOut,
    TransferIn,
    TransferOut,
)
from backend.web.common import api_actor, clock


@operation("GET", "/me", summary="The signed-in member", tag="Me", auth="member",
           response=MeOut, errors=(401, 403))
def me(principal):
    """The member's file with balances, tier and cards."""
    return principal.member


@operation("GET", "/me/balance", summary="My balances and tier progress", tag="Me",
           auth="member", response=BalanceOut, errors=(401, 403))
def my_balance(principal):
    return balance_of(principal.member)


@operation("GET", "/me/transactions", summary="My ledger history, with reasons", tag="Me",
           auth="member", query=PageQuery, response=TransactionOut, paginated=True,
           errors=(400, 401, 403))
def my_transactions(principal, args):
    """Every rial and point: what each purchase earned and spent, and why anything else
    moved. Newest first."""
    return transactions_page(principal.member.id, args)


@operation("GET", "/me/purchases", summary="My purchases", tag="Me", auth="member",
           query=PageQuery, response=PurchaseOut, paginated=True, errors=(400, 401, 403))
def my_purchases(principal, args):
    return paginate(purchases_statement(principal.member.id), args)


@operation("GET", "/me/purchases/<int:purchase_id>", summary="One of my purchases", tag="Me",
           auth="member", response=PurchaseOut, errors=(401, 403, 404))
def my_purchase(principal, purchase_id: int):
    row = db.session.get(Purchase, purchase_id)
    if row is None or row.member_id != principal.member.id:
        raise NotFound("no such purchase")
    return row


@operation("GET", "/me/offers", summary="Offers open to me", tag="Me", auth="member",
           response=OfferOut, query=PageQuery, paginated=True, errors=(400, 401, 403))
def my_offers(principal, args):
    """Active offers in their date window for every tier or for the member's tier (as the
    portal shows them)."""
    return page_of_list(catalogue.offers_for(db.session, principal.member, clock()), args)


@operation("POST", "/me/transfers", summary="Transfer my credit to another member",
           tag="Me", auth="member", body=TransferIn, response=TransferOut, status=201,
           idempotent=True, errors=(400, 401, 403, 409))
def my_transfer(principal, data, key):
    """To the member with card or mobile `to`, within the club's limits. Send an
    `Idempotency-Key`; a retry with it transfers nothing more."""
    receiver = find_receiver(data["to"])
    return wallet.transfer_credit(
        db.session, actor=api_actor(principal),
        from_member_id=principal.member.id, to_member_id=receiver.id,
        amount_rials=data["amount_rials"],
        idempotency_key=f"api:transfer:{principal.member.id}:{key}", now=clock())


@operation("GET", "/me/requests", summary="My messages to the club and the answers",
           tag="Me", auth="member", query=PageQuery, response=RequestOut, paginated=True,
           errors=(400, 401, 403))
def my_requests(principal, args):
    return paginate(select(MemberRequest).where(MemberRequest.member_id == principal.member.id)
                    .order_by(MemberRequest.id.desc()), args)


@operation("POST", "/me/requests", summary="Send a message to the club", tag="Me",
           auth="member", body=RequestIn, response=RequestOut, status=201,
           errors=(400, 401, 403))
def send_request(principal, data):
    return member_requests.submit_request(db.session, actor=api_actor(principal),
                                          member_id=principal.member.id,
                                          subject=data["subject"], body=data["body"],
                                          now=clock())


@operation("GET", "/me/requests/<int:request_id>", summary="One of my messages", tag="Me",
           auth="member", response=RequestOut, errors=(401, 403, 404))
def my_request(principal, request_id: int):
    row = db.session.get(MemberRequest, request_id)
    if row is None or row.member_id != principal.member.id:
        raise NotFound("no such request")
    return row


@operation("POST", "/me/point-conversions", summary="Convert my points to credit", tag="Me",
           auth="member", body=PointsIn, response=LedgerTransactionOut, status=201,
           idempotent=True, errors=(400, 401, 403, 409))
def my_conversion(principal, data, key):
    """At the club's point value and minimum, soonest-expiring points first. Send an
    `Idempotency-Key`; a retry with it converts nothing more."""
    return wallet.convert_points(
        db.session, actor=api_actor(principal),
        member_id=principal.member.id, points=data["points"], now=clock(),
        idempotency_key=f"api:convert:{principal.member.id}:{key}")


@operation("GET", "/me/rewards", summary="Rewards I can take for points", tag="Me",
           auth="member", response=RewardOut, query=PageQuery, paginated=True,
           errors=(400, 401, 403))
def my_rewards(principal, args):
    """Active rewards in stock, cheapest first (gift cards are taken at the counter)."""
    return page_of_list(rewards.available(db.session), args)


@operation("POST", "/me/reward-redemptions", summary="Take a reward for my points",
           tag="Me", auth="member", body=RedeemIn, response=RedemptionOut, status=201,
           idempotent=True, errors=(400, 401, 403, 409))
def my_redemption(principal, data, key):
    """A product redeemed here waits at the counter (`to_collect`)."""
    return rewards.redeem(
        db.session, actor=api_actor(principal),
        member_id=principal.member.id, reward_id=data["reward_id"],
        channel="api", idempotency_key=f"api:reward:{principal.member.id}:{key}",
        now=clock())
