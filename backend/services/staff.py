"""Staff accounts."""

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from backend.models import StaffUser


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def authenticate(session: Session, username: str, password: str) -> StaffUser | None:
    user = session.scalars(
        select(StaffUser).where(StaffUser.username == username.strip().lower())
    ).one_or_none()
    if user is None or not user.is_active or not check_password_hash(user.password_hash, password):
        return None
    return user
