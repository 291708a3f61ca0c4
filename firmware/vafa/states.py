# The vocabulary vafa.app shares with the flows it loads on demand (vafa.sale, vafa.refund,
# vafa.reissue, vafa.remote, vafa.ota): the states of the machine, the outcomes of an
# attempt, and the timings a flow keeps too. The flows import it, never vafa.app: the app
# passes itself in as ``app``.
from micropython import const

IDLE = const(0)
CARD = const(1)
AMOUNT = const(2)
SENDING = const(3)
RESULT = const(4)
REFUND = const(5)  # "refund last?" confirmation
ITEMS = const(6)  # a sale of item lines (vafa.sale)
STATE_NAMES = ("IDLE", "CARD", "AMOUNT", "SENDING", "RESULT", "REFUND", "ITEMS")

RESPONSE_TIMEOUT_MS = const(5000)
MAX_RESENDS = const(3)
RESULT_MS = const(15000)
REPLAY_PAUSE_MS = const(10000)  # after MAX_RESENDS unanswered replays, or UNAVAILABLE
MAX_AMOUNT_DIGITS = const(12)

# Outcomes of the last transaction attempt (App.outcome).
OUT_OK = "ok"
OUT_ERROR = "error"  # ok:false from the backend
OUT_NO_CONNECTION = "no_connection"
OUT_INVALID_CARD = "invalid_card"
OUT_OFFLINE = "offline"  # journaled, confirmed later
OUT_JOURNAL_FULL = "journal_full"
OUT_NEEDS_ONLINE = "needs_online"
OUT_NOTHING_TO_REFUND = "nothing_to_refund"
OUT_FLASH_FULL = "flash_full"
OUT_TOO_LATE = "too_late"
