"""One purchase pipeline for the terminal, the counter and the API (issue 19), in four
steps, each a module: `load` (what pricing needs of the member and the item lines),
`price` (the pure engine), `record` (the rows the purchase writes), `reply` (the `tx`
of the answer). `rules` keeps the club's settings, tiers and offers parsed in the
process, checked against one version number inside each request's transaction.
`run` (module `steps`) strings the steps together.
"""

from backend.services.purchase_pipeline.steps import ItemRequest, PurchaseResult, run

__all__ = ["ItemRequest", "PurchaseResult", "run"]
