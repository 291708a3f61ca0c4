"""The audit log read by people (issue 18 item 11): each action code as a phrase in the
reader's language, and the details as `key: value` lines rather than escaped JSON. The
codes themselves stay in the database (searchable, stable); a code not named here (a
new one) is shown as it is."""

import json

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from backend.i18n import format_number, localise_digits

ACTION_LABELS = {
    "answer_request": _l("Answered a member's message"),
    "audience": _l("Built a segment audience"),
    "block_card": _l("Blocked a card"),
    "branch_refund_settings": _l("Changed a branch's refund PIN or window"),
    "change_password": _l("Changed their password"),
    "create_api_token": _l("Created an API token"),
    "create_card_batch": _l("Made a card batch"),
    "create_member": _l("Added a member"),
    "create_segment_rule": _l("Added a segment rule"),
    "create_tier": _l("Added a tier"),
    "edit_tier": _l("Edited a tier"),
    "create_offer": _l("Added an offer"),
    "edit_offer": _l("Edited an offer"),
    "create_product": _l("Added a product"),
    "edit_product": _l("Edited a product"),
    "create_reward": _l("Added a reward for points"),
    "edit_reward": _l("Edited a reward for points"),
    "convert_points": _l("Converted points to credit"),
    "redeem_reward": _l("Gave a reward for points"),
    "hand_over_reward": _l("Handed over a reward"),
    "create_branch": _l("Added a branch"),
    "edit_branch": _l("Edited a branch"),
    "create_member_field": _l("Added a custom member field"),
    "edit_member_field": _l("Edited a custom member field"),
    "create_news": _l("Added news"),
    "edit_news": _l("Edited news"),
    "edit_faq": _l("Edited the FAQ"),
    "edit_member": _l("Edited a member"),
    "edit_message_settings": _l("Changed the message settings"),
    "edit_message_texts": _l("Changed the message texts"),
    "edit_settings": _l("Changed the club's settings"),
    "edit_staff": _l("Edited a staff member"),
    "edit_survey": _l("Edited a survey"),
    "grant_credit": _l("Granted credit"),
    "grant_tier_credit": _l("Granted credit to a tier"),
    "happy_call": _l("Made a happy call"),
    "firmware_upload": _l("Uploaded a firmware build"),
    "firmware_withdraw": _l("Withdrew a firmware build"),
    "issue_gift_card": _l("Issued a gift card"),
    "record_purchase": _l("Recorded a purchase"),
    "record_cheque": _l("Recorded a cheque"),
    "create_instalment_plan": _l("Recorded an instalment plan"),
    "change_instrument_status": _l("Changed a cheque's or instalment's status"),
    "refund_purchase": _l("Refunded a purchase"),
    "replace_card": _l("Replaced a lost card"),
    "retry_message": _l("Sent a message again"),
    "revoke_api_token": _l("Revoked an API token"),
    "send_campaign": _l("Sent a campaign"),
    "set_segment_rule_active": _l("Switched a segment rule on or off"),
    "sign_in": _l("Signed in"),
    "terminal_command": _l("Sent a command to a terminal"),
    "terminal_settings": _l("Changed a terminal's permissions"),
    "terminal_refused": _l("A terminal's request was refused"),
    "terminal_refund_pin_wrong": _l("A wrong refund PIN on a terminal"),
    "terminal_refunds_locked": _l("A terminal's refunds were locked"),
    "top_up": _l("Topped up a wallet"),
    "transfer_credit": _l("Transferred credit"),
}
# What an action changed (`audit_log.entity`), by name.
ENTITY_LABELS = {
    "api_token": _l("API token"), "branch": _l("Branch"), "call_task": _l("Happy call"),
    "campaign": _l("Campaign"), "card": _l("Card"), "card_batch": _l("Card batch"),
    "club": _l("Club"), "device": _l("Terminal"), "faq_entry": _l("FAQ"),
    "member": _l("Member"), "member_request": _l("Request"), "message": _l("Message"),
    "message_settings": _l("Message settings"), "message_template": _l("Message text"),
    "news_post": _l("News"), "purchase": _l("Purchase"), "segment_rule": _l("Segment rule"),
    "staff_user": _l("Staff"), "survey": _l("Survey"), "tier": _l("Tier"),
    "offer": _l("Offer"), "product": _l("Product"), "member_field": _l("Custom member field"),
    "firmware_build": _l("Firmware build"),
    "payment_instrument": _l("Cheque or instalment"),
}
MAX_DETAIL_LINES = 40  # a huge details object is cut, not a page of text


def action_label(code: str) -> str:
    label = ACTION_LABELS.get(code)
    return str(label) if label is not None else code


def entity_label(code: str) -> str:
    label = ENTITY_LABELS.get(code)
    return str(label) if label is not None else code


def _value_text(value, language: str) -> str:
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, int):
        return format_number(value, language)
    if value is None:
        return "—"
    if isinstance(value, (list, tuple)):
        return "، ".join(_value_text(item, language) for item in value) if language == "fa" \
            else ", ".join(_value_text(item, language) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return localise_digits(str(value), language) if language == "fa" else str(value)


def detail_lines(details, language: str) -> list[tuple[str, str]]:
    """`{"values": {"name": "جشنواره", "rank": 3}}` → [("values.name", "جشنواره"),
    ("values.rank", "۳")]: nested objects flattened by dotted keys, Persian as Persian."""
    lines: list[tuple[str, str]] = []

    def walk(prefix: str, value) -> None:
        if len(lines) >= MAX_DETAIL_LINES:
            return
        if isinstance(value, dict) and value:
            for key in sorted(value, key=str):
                walk(f"{prefix}.{key}" if prefix else str(key), value[key])
        else:
            lines.append((prefix, _value_text(value, language)))

    if isinstance(details, dict):
        walk("", details)
    elif details not in (None, ""):
        lines.append(("", _value_text(details, language)))
    return lines
