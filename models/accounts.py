"""Password hashing (argon2) and authentication."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.member import Account

_hasher = PasswordHasher()
# Verified when the username is unknown, so that unknown users cost as much as wrong passwords.
_DUMMY_HASH = _hasher.hash("lecturehub-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def authenticate(session: AsyncSession, username: str, password: str) -> Account | None:
    """The active account with this username and password, or None (same cost either way)."""
    account = await session.scalar(select(Account).where(Account.username == username))
    if account is None or not account.active:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(account.password_hash, password):
        return None
    return account
