"""The club's catalogue, read-only: tiers, offers, products (the panel's "offers"
permission) and branches (its "settings" permission)."""

from sqlalchemy import select

from backend.errors import NotFound
from backend.extensions import db
from backend.models import Branch, Offer, Product, Reward, Tier
from backend.web.api.operations import operation, paginate
from backend.web.api.schemas import (
    ActiveQuery,
    BranchOut,
    OfferOut,
    PageQuery,
    ProductOut,
    RewardOut,
    TierOut,
)

# (path, model, schema, permission, order, query schema)
KINDS = {
    "tiers": (Tier, TierOut, "offers", Tier.rank, PageQuery),
    "offers": (Offer, OfferOut, "offers", Offer.priority, ActiveQuery),
    "products": (Product, ProductOut, "offers", Product.sku, ActiveQuery),
    "branches": (Branch, BranchOut, "settings", Branch.id, ActiveQuery),
    "rewards": (Reward, RewardOut, "offers", Reward.points_cost, ActiveQuery),
}


def _register(path: str, model, schema, permission: str, order, query) -> None:
    noun = path.rstrip("s").replace("branche", "branch")

    def list_view(principal, args):
        statement = select(model)
        if args.get("active") and hasattr(model, "is_active"):
            statement = statement.where(model.is_active)
        return paginate(statement.order_by(order, model.id), args)

    def get_view(principal, row_id: int):
        row = db.session.get(model, row_id)
        if row is None:
            raise NotFound(f"no such {noun}")
        return row

    list_view.__name__, get_view.__name__ = f"list_{path}", f"get_{noun}"
    list_view.__doc__ = f"The club's {path}, {order.key} order."
    operation("GET", f"/{path}", summary=f"List {path}", tag="Catalogue",
              permission=permission, query=query, response=schema, paginated=True,
              errors=(400, 401, 403))(list_view)
    operation("GET", f"/{path}/<int:row_id>", summary=f"One {noun}", tag="Catalogue",
              permission=permission, response=schema, errors=(401, 403, 404))(get_view)


for _path, (_model, _schema, _permission, _order, _query) in KINDS.items():
    _register(_path, _model, _schema, _permission, _order, _query)
