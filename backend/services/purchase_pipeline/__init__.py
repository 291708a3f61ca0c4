"""The purchase path's parts that are kept apart from the services (issue 19).

`rules`: the club's settings, tiers and offers kept in the process, parsed, and checked
against one version number inside each request's transaction.
"""
