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
    },
}


def error_text(lang: str, code: str, detail: str = "") -> str:
    text = ERROR_TEXTS.get(lang, ERROR_TEXTS["en"]).get(code, code)
    # BAD_REQUEST names the field so a technician can see what the terminal got wrong.
    return f"{text}: {detail}" if code == "BAD_REQUEST" and detail else text


def thank_you(lang: str, first_name: str) -> str:
    return f"از خرید شما متشکریم {first_name}" if lang == "fa" else f"Thank you {first_name}"


def balance_text(lang: str, first_name: str) -> str:
    return f"موجودی {first_name}" if lang == "fa" else f"Balance of {first_name}"


def format_rials(amount: int) -> str:
    return f"{amount:,}"


def receipt_lines(lang: str, club_name: str, member_name: str, tier: str, tx, bal) -> list[str]:
    """Lines the terminal prints below its own header. `tx` is None for a lookup."""
    fa = lang == "fa"
    lines = [club_name, member_name, ("سطح: " if fa else "Tier: ") + tier]
    if tx is not None:
        labels = (
            ("مبلغ", "تخفیف", "اعتبار مصرفی", "قابل پرداخت", "اعتبار کسب‌شده", "امتیاز کسب‌شده")
            if fa
            else ("Amount", "Discount", "Credit used", "To pay", "Credit earned", "Points earned")
        )
        values = (
            format_rials(tx["amount"]),
            format_rials(tx["discount"]),
            format_rials(tx["credit_used"]),
            format_rials(tx["payable"]),
            format_rials(tx["credit_earned"]),
            str(tx["points_earned"]),
        )
        lines += [f"{label}: {value}" for label, value in zip(labels, values, strict=True)]
    lines.append(("اعتبار: " if fa else "Credit: ") + format_rials(bal["credit"]))
    lines.append(("امتیاز: " if fa else "Points: ") + str(bal["points"]))
    return lines
