"""Finding a recorded purchase. Pricing and recording one is the purchase pipeline's
(backend/services/purchase_pipeline, `run`), for the terminal and the counter alike."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Purchase, TerminalRequest


def by_terminal_request(session: Session, device_id: str, request_id: str) -> Purchase | None:
    """The purchase a terminal's request (device, request id) recorded, if any."""
    return session.scalars(
        select(Purchase)
        .join(TerminalRequest,
              TerminalRequest.ledger_transaction_id == Purchase.ledger_transaction_id)
        .where(TerminalRequest.device_id == device_id, TerminalRequest.request_id == request_id,
               TerminalRequest.op == "purchase")
    ).one_or_none()
