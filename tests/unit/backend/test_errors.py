"""Domain errors (backend/errors.py): each carries the code a terminal shows and the HTTP
status the web and the API answer with; the terminal's codes are the ones PROTOCOL.md
documents, and a BadRequest fills its numbers in after translation."""

import importlib
import pkgutil
from pathlib import Path

import pytest

import backend
from backend import errors
from backend.mqtt.publisher import BrokerUnavailable

PROTOCOL_DOC = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"
# Codes that only the panel and the API give (never in a terminal's reply).
# RATE_LIMITED: sign-in and one-time-code throttles; TOKEN_REFUSED: the provisioning
# API's enrolment token.
WEB_ONLY_CODES = {"UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "UNKNOWN_DEVICE",
                  "BROKER_UNAVAILABLE", "RATE_LIMITED", "TOKEN_REFUSED"}


def import_every_backend_module() -> None:
    """Every error class exists only once its module is imported: import them all, so the
    walk is the same whichever tests ran before in this process."""
    for module in pkgutil.walk_packages(backend.__path__, "backend."):
        if ".migrations" not in module.name and module.name not in ("backend.wsgi",):
            importlib.import_module(module.name)


def every_error_class(root=errors.DomainError):
    for subclass in root.__subclasses__():
        yield subclass
        yield from every_error_class(subclass)


def documented_codes() -> set[str]:
    table = PROTOCOL_DOC.read_text().split("## Codes", 1)[1].split("\n## ", 1)[0]
    return {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")}


def test_every_terminal_code_is_documented_in_the_protocol():
    import_every_backend_module()
    codes = {error.code for error in every_error_class()} | {errors.DomainError.code}
    assert BrokerUnavailable.code in codes  # the walk reaches subclasses in other modules
    assert codes - WEB_ONLY_CODES <= documented_codes(), codes - WEB_ONLY_CODES


@pytest.mark.parametrize(("error", "status"), [
    (errors.BadRequest("amount", "too large"), 400),
    (errors.Unauthorized(), 401),
    (errors.Forbidden(), 403),
    (errors.CardUnknown(), 404),
    (errors.NotFound(), 404),
    (errors.CardBlocked(), 409),
    (errors.CreditCapReached("daily", 5_000), 409),
    (errors.DomainError(), 500),
    (BrokerUnavailable("down"), 503),
])
def test_each_error_answers_with_its_http_status(error, status):
    assert error.http_status == status


def test_an_error_without_a_message_says_its_code():
    assert str(errors.PinWrong()) == "PIN_WRONG"
    assert errors.TooLate("window closed").message == "window closed"


def test_bad_request_names_its_field_and_fills_numbers_with_separators():
    error = errors.BadRequest("amount", "at most %(limit)s rials for %(who)s",
                              limit=1_500_000, who="Sara")
    assert error.field == "amount"
    assert str(error) == "amount: at most 1,500,000 rials for Sara"
    # The panel translates the template, then fills the figures in the reader's digits.
    assert error.template == "at most %(limit)s rials for %(who)s"
    assert error.params == {"limit": 1_500_000, "who": "Sara"}


def test_a_credit_cap_refusal_is_a_limit_with_what_the_cap_still_allows():
    error = errors.CreditCapReached("per-invoice", 12_000)
    assert isinstance(error, errors.LimitReached) and error.code == "LIMIT"
    assert (error.cap, error.allowed_rials, error.field) == ("per-invoice", 12_000,
                                                            "use_credit")
    assert str(error) == "per-invoice credit cap allows 12000 rials here"
    assert errors.InsufficientCredit(700).balance_rials == 700
