"""Model factories: the smallest valid objects, with overridable fields."""

import itertools

from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from backend import ledger
from backend.models import Branch, Card, Club, Device, Member, StaffUser, Tier, the_club
from backend.services import devices
from backend.unit_of_work import SYSTEM
from card_spec import make_card_number

_serials = itertools.count(1000)


def club(session: Session, **fields) -> Club:
    existing = the_club(session)
    if existing is not None:
        return existing
    row = Club(id=1, **{"name": "Test Club", "point_value_rials": 100, **fields})
    session.add(row)
    session.flush()
    return row


def branch(session: Session, **fields) -> Branch:
    serial = next(_serials)
    row = Branch(**{"code": f"b{serial}", "name": f"Branch {serial}", **fields})
    session.add(row)
    session.flush()
    return row


def tier(session: Session, **fields) -> Tier:
    serial = next(_serials)
    defaults = {
        "code": f"tier{serial}", "name": "silver", "rank": 2, "credit_percent_bp": 500,
        "discount_percent_bp": 500, "points_per_step": 1, "point_step_rials": 10_000,
    }
    row = Tier(**{**defaults, **fields})
    session.add(row)
    session.flush()
    return row


def member(session: Session, *, credit_rials: int = 0, points: int = 0, card_status="active",
           **fields) -> Member:
    serial = next(_serials)
    if "tier_id" not in fields:
        fields["tier_id"] = tier(session).id
    row = Member(**{"first_name": "Sara", "last_name": "Ahmadi",
                    "mobile": f"0912{serial:07d}", **fields})
    session.add(row)
    session.flush()
    session.add(Card(number=make_card_number("990001", serial), member_id=row.id,
                     status=card_status))
    session.flush()
    if credit_rials or points:
        movements = [ledger.Movement("credit", credit_rials), ledger.Movement("points", points)]
        ledger.post(session, member=ledger.lock_member(session, row.id),
                    idempotency_key=f"factory:{row.id}", kind="grant", movements=movements,
                    reason="test grant", now=row.joined_at)
    return row


def card_number(serial: int, prefix: str = "990001") -> str:
    return make_card_number(prefix, serial)


def card_of(row: Member) -> str:
    return row.cards[0].number


# A cheap hash for tests: production hashes (scrypt) take ~100 ms each by design, which
# would make every signed-in test wait for nothing. check_password_hash reads either.
_TEST_HASHES: dict[str, str] = {}


def cheap_password_hash(password: str) -> str:
    if password not in _TEST_HASHES:
        _TEST_HASHES[password] = generate_password_hash(password, method="pbkdf2:sha256:1000")
    return _TEST_HASHES[password]


def staff_user(session: Session, *, password="admin-password", **fields) -> StaffUser:
    row = StaffUser(**{"username": "admin", "full_name": "Admin", "role": "admin",
                       "password_hash": cheap_password_hash(password), **fields})
    session.add(row)
    session.flush()
    return row


def device(session: Session, *, device_id="t01", branch_id=None, name="", lang="en",
           **settings):
    """A registered terminal; `settings` are Device columns set after registration
    (top-up and refund permissions, limits, PIN hash)."""
    club(session)
    if branch_id is None:
        branch_id = branch(session).id
    credentials = devices.register_device(session, actor=SYSTEM, device_id=device_id,
                                          branch_id=branch_id, name=name, lang=lang)
    if settings:
        row = session.get(Device, device_id)
        for column, value in settings.items():
            setattr(row, column, value)
        session.flush()
    return credentials


def import_workbook(path, rows: list[dict], *, keys: tuple[str, ...] | None = None,
                    headers: list | None = None):
    """A member-import file: the template's headers for `keys` (by default the keys the
    rows use, in template order) and one row per dict; cell values are written as given
    (strings stay text, numbers and dates become Excel numbers and dates)."""
    import openpyxl

    from backend.services.member_import import BUILTIN_COLUMNS, SHEET_TITLE

    by_key = {column.key: column for column in BUILTIN_COLUMNS}
    if keys is None:
        used = {key for row in rows for key in row}
        keys = tuple([column.key for column in BUILTIN_COLUMNS if column.key in used]
                     + sorted(used - set(by_key)))
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = SHEET_TITLE
    sheet.append(headers if headers is not None else
                 [by_key[key].header if key in by_key else key for key in keys])
    for row in rows:
        sheet.append([row.get(key) for key in keys])
    book.save(path)
    return path
