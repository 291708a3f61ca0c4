"""Domain exceptions. Each carries the PROTOCOL.md code and an HTTP status, so the
transports (MQTT worker, web views, API) map them without knowing the business rules."""


class DomainError(Exception):
    code = "UNAVAILABLE"
    http_status = 500

    def __init__(self, message: str = ""):
        super().__init__(message or self.code)
        self.message = message or self.code


class BadRequest(DomainError):
    code = "BAD_REQUEST"
    http_status = 400

    def __init__(self, field: str, message: str, **params):
        """`message` may hold `%(name)s` placeholders filled from `params`: the panel
        translates the sentence and then fills in the numbers in the reader's digits."""
        self.template = message
        self.params = params
        if params:
            message = message % {name: f"{value:,}" if isinstance(value, int) else value
                                 for name, value in params.items()}
        super().__init__(f"{field}: {message}")
        self.field = field


class CardUnknown(DomainError):
    code = "CARD_UNKNOWN"
    http_status = 404


class CardBlocked(DomainError):
    code = "CARD_BLOCKED"
    http_status = 409


class InsufficientCredit(DomainError):
    code = "INSUFFICIENT_CREDIT"
    http_status = 409

    def __init__(self, balance_rials: int):
        super().__init__(f"credit balance is {balance_rials} rials")
        self.balance_rials = balance_rials


class InsufficientBalance(DomainError):
    """The ledger refused a movement that would take an account below zero."""

    code = "INSUFFICIENT_CREDIT"
    http_status = 409


class LimitReached(DomainError):
    code = "LIMIT"
    http_status = 409


class CreditCapReached(LimitReached):
    """Spending `use_credit` would pass a tier's credit cap: `cap` is "daily" or
    "per-invoice" and `allowed_rials` what that cap still allows on this purchase. The
    message keeps the terminal's wording; the panel and the API show the figures."""

    field = "use_credit"

    def __init__(self, cap: str, allowed_rials: int):
        super().__init__(f"{cap} credit cap allows {allowed_rials} rials here")
        self.cap = cap
        self.allowed_rials = allowed_rials


class Replay(DomainError):
    code = "REPLAY"
    http_status = 409


class Stale(DomainError):
    code = "STALE"
    http_status = 409


class RefUnknown(DomainError):
    code = "REF_UNKNOWN"
    http_status = 404


class UnknownDevice(DomainError):
    """Frames from unknown or revoked devices are dropped without a reply."""

    code = "UNKNOWN_DEVICE"
    http_status = 403


class Unauthorized(DomainError):
    """No credentials, or credentials that are wrong, expired or revoked (API)."""

    code = "UNAUTHORIZED"
    http_status = 401


class Forbidden(DomainError):
    """Signed in, but this user's role or permissions do not allow the action."""

    code = "FORBIDDEN"
    http_status = 403


class NotFound(DomainError):
    """No such row for this caller: also the answer for rows that belong to someone
    else, so ids of other members' data reveal nothing."""

    code = "NOT_FOUND"
    http_status = 404


class IdReused(DomainError):
    """A known (device, request id) with a different request (a reflashed or swapped
    terminal restarting its sequence): never the other request's stored answer."""

    code = "ID_REUSED"
    http_status = 409


class PinWrong(DomainError):
    """A refund without the right PIN, or while the terminal's refunds are locked after
    too many wrong PINs."""

    code = "PIN_WRONG"
    http_status = 403


class TooLate(DomainError):
    """A refund outside the refund window set in the panel."""

    code = "TOO_LATE"
    http_status = 409


class NotAllowed(DomainError):
    """An operation this terminal may not perform, or over its per-transaction or
    per-day limit (the message says which and how much)."""

    code = "NOT_ALLOWED"
    http_status = 403
