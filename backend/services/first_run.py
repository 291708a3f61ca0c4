"""First run of a real club (issue 21, O1/O3): the club, its first branch and its first
admin, with a password the admin chooses — the one way a production database gets its
first login (`vafa init`, or the /setup page until an admin exists). The demo
(`make run`) is the only place a password is known in advance.

The setup page is open to whoever reaches the server before the first admin exists, so it
asks for a one-time setup code that only someone on the machine can read: a random code
in `instance/setup.code` (mode 0600), also written to the web's log at its first request.
"""

import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import BadRequest
from backend.models import Branch, Club, StaffUser, the_club
from backend.services import branding, staff
from backend.unit_of_work import Actor, unit_of_work
from card_spec import normalize_digits

MIN_ADMIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
SETUP_CODE_FILE = "setup.code"
_BRANCH_CODE = re.compile(r"[a-z0-9_-]{1,32}")
# The passwords guessed first (leaked-password lists' heads, keyboard walks, and this
# project's own demo passwords), compared after Persian digits become Latin, in lower
# case, with the trailing digits and punctuation people add to them removed too.
COMMON_PASSWORDS = frozenset("""
123456 1234567 12345678 123456789 1234567890 0123456789 987654321 9876543210 111111
000000 123123 112233 121212 654321 password passw0rd p@ssw0rd p@ssword password1 admin
administrator admin1234 admin123 adminadmin operator operator1234 root toor qwerty
qwertyui qwertyuiop asdfgh asdfghjk asdfghjkl zxcvbnm 1qaz2wsx 1q2w3e4r 1q2w3e4r5t
q1w2e3r4 qazwsx qazwsxedc abc123 abcd1234 iloveyou welcome letmein monkey dragon
sunshine princess football baseball superman master shadow trustno1 changeme secret
default guest test test1234 testtest login 11111111 22222222 88888888 99999999 12341234
iran irani tehran esfahan isfahan shiraz mashhad tabriz persia persian ali reza mohammad
mahdi hossein zahra fatemeh maryam sara vafa club loyalty baghgah bashgah
""".split())


class SetupClosed(BadRequest):
    """The club already has an admin: the first run is over (the page answers 404)."""

    def __init__(self):
        super().__init__("setup", "This club is already set up.")


@dataclass(frozen=True)
class ClubSetup:
    name: str
    admin_username: str
    admin_password: str
    admin_full_name: str
    branch_name: str
    name_fa: str = ""
    currency_display: str = "toman"
    branch_code: str = "main"
    logo: bytes | None = None


def setup_needed(session: Session) -> bool:
    """True until the database has a club and an admin (a fresh install)."""
    has_admin = session.scalar(select(StaffUser.id).where(StaffUser.role == "admin").limit(1))
    return has_admin is None and the_club(session) is None


def check_password_strength(password: str, username: str, *, also_not: tuple[str, ...] = ()
                            ) -> None:
    """Refuse a password an attacker tries first. Persian and Arabic-Indic digits count as
    the digits they are (a password typed on a Persian keyboard is checked the same)."""
    plain = normalize_digits(password)
    if len(plain) < MIN_ADMIN_PASSWORD_LENGTH:
        raise BadRequest("password", "An admin password has at least 10 characters.")
    if len(plain) > MAX_PASSWORD_LENGTH:
        raise BadRequest("password", "A password has at most 128 characters.")
    folded = plain.casefold()
    stripped = folded.rstrip("0123456789!@#$%^&*.?_- ")
    if folded in COMMON_PASSWORDS or stripped in COMMON_PASSWORDS:
        raise BadRequest("password", "This password is among the first ones guessed; "
                                     "choose another.")
    if len(set(folded)) < 4 or _is_sequence(folded):
        raise BadRequest("password", "This password is too easy to guess; choose another.")
    names = [name.casefold() for name in (username, *also_not) if name and len(name) >= 3]
    if any(name in folded for name in names):
        raise BadRequest("password", "The password must not contain the username or the "
                                     "club's name.")


def _is_sequence(text: str) -> bool:
    """abcdefghij, 0123456789, 9876543210: one step between every two characters."""
    steps = {ord(b) - ord(a) for a, b in zip(text, text[1:], strict=False)}
    return len(steps) == 1 and steps.pop() in (-1, 0, 1)


def _clean(value: str, field: str, limit: int, *, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise BadRequest(field, "This field is required.")
    if len(value) > limit:
        raise BadRequest(field, "This text is too long.")
    return value


def create_club(session: Session, setup: ClubSetup, uploads_dir: Path, *, actor: Actor
                ) -> StaffUser:
    """Create the club (id 1), its first branch and its first admin in one transaction.
    Refused once the database has a club or an admin."""
    with unit_of_work(session, actor) as work:
        if not setup_needed(session):
            raise SetupClosed()
        name = _clean(setup.name, "name", 120)
        name_fa = _clean(setup.name_fa, "name_fa", 120, required=False)
        if setup.currency_display not in ("rial", "toman"):
            raise BadRequest("currency_display", "Choose rial or toman.")
        branch_name = _clean(setup.branch_name, "branch_name", 120)
        branch_code = (setup.branch_code or "main").strip().lower()
        if not _BRANCH_CODE.fullmatch(branch_code):
            raise BadRequest("branch_code", "1–32 characters: a–z, digits, dash, underscore.")
        username = setup.admin_username.strip().lower()
        check_password_strength(setup.admin_password, username, also_not=(name, name_fa))
        logo_filename = branding.store_logo(setup.logo, uploads_dir) if setup.logo else ""
        club = Club(id=1, name=name, name_fa=name_fa, currency_display=setup.currency_display,
                    logo_filename=logo_filename)
        session.add(club)
        branch = Branch(code=branch_code, name=branch_name)
        session.add(branch)
        session.flush()
        work.audit("club_created", "club", "1", {"name": name})
        return staff.add_staff_user(
            session, username, setup.admin_password, staff.StaffChange(
                full_name=_clean(setup.admin_full_name, "full_name", 120), role="admin",
                branch_id=None, permissions=[]))


def create_admin(session: Session, *, username: str, password: str, full_name: str,
                 actor: Actor) -> StaffUser:
    """Another admin (`vafa create-admin`), e.g. when the only one forgot the password."""
    with unit_of_work(session, actor):
        club = the_club(session)
        check_password_strength(password, username.strip().lower(),
                                also_not=(club.name, club.name_fa) if club else ())
        return staff.add_staff_user(
            session, username, password,
            staff.StaffChange(full_name=full_name, role="admin", branch_id=None,
                              permissions=[]))


def setup_code(instance_dir: Path) -> tuple[str, bool]:
    """The one-time setup code, created on first use (0600); and whether it is new."""
    path = instance_dir / SETUP_CODE_FILE
    try:
        return path.read_text().strip(), False
    except FileNotFoundError:
        pass
    instance_dir.mkdir(parents=True, exist_ok=True)
    code = "-".join(secrets.token_hex(2) for _ in range(3))
    try:
        # O_EXCL: several gunicorn workers racing here end up with one code.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip(), False
    with os.fdopen(descriptor, "w") as handle:
        handle.write(code + "\n")
    return code, True


def code_matches(instance_dir: Path, offered: str) -> bool:
    expected, _ = setup_code(instance_dir)
    offered = normalize_digits(offered or "").strip().lower()
    return bool(expected) and hmac.compare_digest(offered.encode(), expected.encode())


def forget_setup_code(instance_dir: Path) -> None:
    (instance_dir / SETUP_CODE_FILE).unlink(missing_ok=True)
