"""The panel's sidebar (issue 18 item 13): links grouped by the task they serve, each
shown only to who holds its permission and only when its blueprint is registered; the
link of the page being shown is marked current (its sub-pages count as it)."""

from dataclasses import dataclass, field

from flask import url_for
from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Link:
    label: object
    endpoint: str
    permission: str | None = None
    kwargs: dict = field(default_factory=dict)
    # Other endpoints whose pages belong to this link (a member's page to "Members").
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Group:
    key: str
    label: object
    links: tuple[Link, ...]


def _catalogue(label, kind: str, permission: str) -> Link:
    return Link(label, "admin.catalogue_list", permission, {"kind_name": kind},
                ("admin.catalogue_edit",))


GROUPS = (
    Group("sales", _l("Sales"), (
        Link(_l("Cheques and instalments"), "admin.instruments_list", "purchases",
             also=("admin.instrument_detail", "admin.instrument_status", "admin.cheque_new",
                   "admin.plan_new")),
        _catalogue(_l("Products and services"), "products", "offers"),
        Link(_l("Gift cards"), "admin.gift_cards", "offers"),
        Link(_l("Terminals"), "admin.terminals", "devices",
             also=("admin.terminal_page", "admin.terminal_command", "admin.terminal_config",
                   "admin.terminal_logs", "admin.branch_refunds")),
        Link(_l("Firmware updates"), "admin.firmware", "firmware"),
    )),
    Group("club", _l("Club"), (
        _catalogue(_l("Tiers"), "tiers", "offers"),
        _catalogue(_l("Offers and campaigns"), "offers", "offers"),
        _catalogue(_l("Rewards for points"), "rewards", "offers"),
        Link(_l("Credit for a tier"), "admin.credit_grants", "credit_grants"),
    )),
    Group("members", _l("Members"), (
        Link(_l("Members"), "admin.members_list", "members",
             also=("admin.member_detail", "admin.member_edit")),
        Link(_l("New member"), "admin.member_new", "members"),
        Link(_l("Requests"), "admin.requests_list", "members"),
        Link(_l("Happy calls"), "admin.calls_list", "members", also=("admin.call_detail",)),
        Link(_l("Import members"), "admin.member_import.upload", "settings",
             also=("admin.member_import.preview", "admin.member_import.rejected")),
        Link(_l("Card batches"), "admin.card_batches", "devices"),
    )),
    Group("messages", _l("Messages and news"), (
        Link(_l("Messages"), "admin.messages.overview", "settings",
             also=("admin.messages.outbox", "admin.messages.settings_page")),
        Link(_l("SMS campaigns"), "admin.messages.campaigns_list", "offers",
             also=("admin.messages.campaign_new", "admin.messages.campaign_detail")),
        Link(_l("SMS texts"), "admin.messages.texts_page", "settings"),
        Link(_l("News and events"), "admin.news_list", "offers", also=("admin.news_edit",)),
        Link(_l("Surveys"), "admin.surveys_list", "offers",
             also=("admin.survey_edit", "admin.survey_report")),
        Link(_l("Frequently asked questions"), "admin.faq_list", "offers",
             also=("admin.faq_edit",)),
    )),
    Group("reports", _l("Reports"), (
        Link(_l("Reports"), "admin.reports.index", "reports",
             also=("admin.reports.show", "admin.reports.rules")),
        Link(_l("Audit log"), "admin.audit_log", "reports"),
    )),
    Group("settings", _l("Settings"), (
        Link(_l("Settings"), "admin.settings", "settings"),
        _catalogue(_l("Branches"), "branches", "settings"),
        _catalogue(_l("Custom member fields"), "member-fields", "settings"),
        Link(_l("Staff"), "admin.staff_list", "staff", also=("admin.staff_edit",)),
    )),
)


@dataclass(frozen=True)
class Shown:
    label: object
    href: str
    current: bool


def sidebar(can, endpoints, endpoint: str | None, view_args: dict | None) -> list:
    """[(group, [Shown, …]), …]: the groups with at least one link `can` allows."""
    view_args = view_args or {}
    shown = []
    for group in GROUPS:
        links = []
        for link in group.links:
            if link.endpoint not in endpoints or (link.permission and not can(link.permission)):
                continue
            current = (endpoint in (link.endpoint, *link.also)
                       and all(view_args.get(key) == value for key, value in link.kwargs.items()))
            links.append(Shown(link.label, url_for(link.endpoint, **link.kwargs), current))
        if links:
            shown.append((group, links))
    return shown
