# Display and receipt texts of vafa.app and the flows it loads (vafa.sale, vafa.refund,
# vafa.reissue), English and Persian (config "lang"): one table, ``TEXT``, filled in the
# config's language by vafa.app.App._apply_config. vafa.text wraps them to the screen's
# 128 pixels and the receipt's 384 dots, so none is ever cut.
from vafa import text as vtext

TEXT_EN = {
    "ready": "Scan card",
    "amount": "Amount:",
    "credit_on": "Use credit: yes",
    "credit_off": "U: use credit",
    "points_on": "Use points: yes",
    "both_on": "Credit+points: yes",
    "price": "Price:",
    "total": "Total: ",
    "points_used": "Points used: ",
    "item_full": "No more items",
    "price_first": "Key the price",
    "lookup_hint": "L: balance",
    "sending": "Please wait...",
    "no_conn": "No connection",
    "invalid": "Invalid card",
    "busy": "Busy",
    "enter_amount": "Enter amount",
    "tier": "Tier: ",
    "credit": "Credit: ",
    "points": "Points: ",
    "pay": "Pay: ",
    "try_again": "Try again",
    "saved_offline": "Saved offline",
    "later": "Points will be",
    "later2": "added later",
    "later_receipt": "Points will be added later",
    "unconfirmed": "OFFLINE - not yet confirmed",
    "journal_full": "Journal full",
    "not_saved": "Sale NOT saved",
    "needs_online": "Needs connection",
    "offline": "Offline",
    "queued": "Queued: ",
    "refund_q": "Refund last?",
    "refund_scan": "Refund last",
    "scan_card": "Scan the card",
    "pin": "PIN: ",
    "too_late": "Too late",
    "refund_window": "for a refund",
    "flash_full": "Memory full",
    "reissue_failed": "Sale not sent",
    "refund_keys": "E: yes  C: no",
    "no_refund": "None to refund",
    "refunded": "Refunded",
    "insecure": "INSECURE TLS",
    "no_paper": "No printer paper",
    "not_here": "Not on this",
    "not_here2": "terminal",
    "wrong_pin": "Wrong PIN",
    "card": "Card ",
    "amount_r": "Amount: ",
    "discount": "Discount: ",
    "credit_used": "Credit used: ",
    "portal": "Your account:",
}
# The texts in use, in the config's language (one terminal per device; set by
# _apply_config). Other languages are data files, vafa/lang/<lang>.json (same keys), read
# only when chosen: no bytecode, no RAM on an English terminal.
TEXT = dict(TEXT_EN)


def texts(lang):
    """The label table of ``lang``; English for "en" or when its file is unreadable."""
    if lang == "en":
        return TEXT_EN
    import json

    try:
        with open(vtext.data_path("lang/" + lang + ".json")) as f:
            table = json.load(f)
    except (OSError, ValueError):
        return TEXT_EN
    out = dict(TEXT_EN)
    for k in TEXT_EN:
        v = table.get(k)
        if isinstance(v, str):
            out[k] = v
    return out
