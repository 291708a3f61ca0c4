"""One purchase pipeline for the terminal, the counter and the API (issue 19), in four
steps, each a module: `load` (what pricing needs of the member and the item lines),
`price` (the pure engine), `record` (the rows the purchase writes), `reply` (the `tx`
of the answer). `rules` keeps the club's settings, tiers and offers parsed in the
process, checked against one version number inside each request's transaction.
`services.purchases.record_purchase_locked` strings the steps together.
"""
