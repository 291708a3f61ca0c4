"""Short, display-ready texts for terminals, in the terminal's language.

The terminal's OLED uses an ASCII 8×8 font, so terminals default to English; Persian texts
are sent to terminals configured with `lang: fa` (for displays with a Persian font)."""

ERROR_TEXTS = {
    "en": {
        "CARD_INVALID": "Invalid card",
        "CARD_UNKNOWN": "Card not found",
        "CARD_BLOCKED": "Card blocked: lost or replaced",
        "INSUFFICIENT_CREDIT": "Not enough credit",
        "LIMIT": "Credit limit reached",
        "BAD_REQUEST": "Bad request",
        "REPLAY": "Old request refused",
        "STALE": "Offline sale too old",
        "REF_UNKNOWN": "Unknown purchase",
        "UNAVAILABLE": "Try again",
        "ID_REUSED": "Terminal number reused - try again",
        "PIN_WRONG": "Wrong or missing PIN",
        "TOO_LATE": "Too late to refund",
        "NOT_ALLOWED": "Not allowed on this terminal",
    },
    "fa": {
        "CARD_INVALID": "کارت نامعتبر است",
        "CARD_UNKNOWN": "کارت پیدا نشد",
        "CARD_BLOCKED": "کارت مسدود است",
        "INSUFFICIENT_CREDIT": "اعتبار کافی نیست",
        "LIMIT": "سقف اعتبار پر شده است",
        "BAD_REQUEST": "درخواست نادرست",
        "REPLAY": "درخواست تکراری رد شد",
        "STALE": "خرید آفلاین قدیمی است",
        "REF_UNKNOWN": "خرید پیدا نشد",
        "UNAVAILABLE": "دوباره تلاش کنید",
        "ID_REUSED": "شماره پایانه تکراری است - دوباره تلاش کنید",
        "PIN_WRONG": "رمز نادرست است",
        "TOO_LATE": "مهلت بازگشت خرید گذشته است",
        "NOT_ALLOWED": "این پایانه مجاز نیست",
    },
}


# Codes whose reply adds the error's own message: BAD_REQUEST names the field so a
# technician can see what the terminal got wrong; NOT_ALLOWED says which limit and how much;
# PIN_WRONG and TOO_LATE say what to do (backend/services/terminal_policy.py TEXTS).
DETAIL_CODES = frozenset({"BAD_REQUEST", "NOT_ALLOWED", "PIN_WRONG", "TOO_LATE"})


def error_text(lang: str, code: str, detail: str = "") -> str:
    text = ERROR_TEXTS.get(lang, ERROR_TEXTS["en"]).get(code, code)
    return f"{text}: {detail}" if code in DETAIL_CODES and detail else text


SUCCESS_TEXTS = {
    "en": {"purchase": "Thank you {name}", "lookup": "Balance of {name}",
           "refund": "Refunded, {name}", "topup": "Wallet topped up, {name}"},
    "fa": {"purchase": "از خرید شما متشکریم {name}", "lookup": "موجودی {name}",
           "refund": "بازگشت خرید انجام شد {name}", "topup": "کیف پول شارژ شد {name}"},
}


def success_text(lang: str, op: str, first_name: str) -> str:
    return SUCCESS_TEXTS.get(lang, SUCCESS_TEXTS["en"])[op].format(name=first_name)


def format_rials(amount: int) -> str:
    return f"{amount:,}"


RECEIPT_LABELS = {
    "en": {"tier": "Tier", "amount": "Amount", "discount": "Discount",
           "credit_used": "Credit used", "payable": "To pay", "credit_earned": "Credit earned",
           "points_earned": "Points earned", "refund": "Refunded", "cash_refund": "Cash back",
           "credit_returned": "Credit returned", "credit_taken": "Credit taken back",
           "points_taken": "Points taken back", "topup": "Top-up", "credit": "Credit",
           "points": "Points", "offer": "Offer", "tier_up": "New tier",
           "points_used": "Points used", "points_credit": "Credit from points"},
    "fa": {"tier": "سطح", "amount": "مبلغ", "discount": "تخفیف", "credit_used": "اعتبار مصرفی",
           "payable": "قابل پرداخت", "credit_earned": "اعتبار کسب‌شده",
           "points_earned": "امتیاز کسب‌شده", "refund": "مبلغ بازگشتی",
           "cash_refund": "پرداخت نقدی", "credit_returned": "اعتبار برگشتی",
           "credit_taken": "اعتبار کسرشده", "points_taken": "امتیاز کسرشده",
           "topup": "شارژ", "credit": "اعتبار", "points": "امتیاز", "offer": "پیشنهاد",
           "tier_up": "سطح جدید", "points_used": "امتیاز مصرفی",
           "points_credit": "اعتبار از امتیاز"},
}
RECEIPT_FIELDS = {
    "purchase": ("amount", "discount", "credit_used", "payable", "credit_earned",
                 "points_earned"),
    "refund": ("refund", "cash_refund", "credit_returned", "credit_taken", "points_taken"),
    "topup": ("topup",),
    "lookup": (),
}
POINT_FIELDS = ("points_earned", "points_taken")


def receipt_lines(lang: str, club_name: str, member_name: str, tier: str, op: str, tx,
                  bal, offers=()) -> list[str]:
    """Lines the terminal prints below its own header; offers in the order they applied."""
    labels = RECEIPT_LABELS.get(lang, RECEIPT_LABELS["en"])
    lines = [club_name, member_name, f"{labels['tier']}: {tier}"]
    for field in RECEIPT_FIELDS[op]:
        value = tx[field]
        lines.append(f"{labels[field]}: {value if field in POINT_FIELDS else format_rials(value)}")
        if field == "credit_used" and "points_used" in tx:
            # Paid with points: how many, and the credit they gave (part of credit used).
            lines.append(f"{labels['points_used']}: {tx['points_used']}")
            lines.append(f"{labels['points_credit']}: {format_rials(tx['points_credit'])}")
    lines += [f"{labels['offer']}: {name}" for name in offers]
    if tx is not None and "tier_up" in tx:
        lines.append(f"{labels['tier_up']}: {tx['tier_up']}")
    lines.append(f"{labels['credit']}: {format_rials(bal['credit'])}")
    lines.append(f"{labels['points']}: {bal['points']}")
    return lines
