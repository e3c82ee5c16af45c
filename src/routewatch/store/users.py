"""Users, API tokens and the audit log (web auth): tables, records and their repositories."""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Index, String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from routewatch.store.coltypes import UTCDateTime, to_micros
from routewatch.store.database import Database
from routewatch.store.errors import StoreError
from routewatch.store.tables import ENUM, SERIAL, Base

_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user is unknown, so a wrong name costs as long as a wrong password."""
    # Made on first use, not at import: one Argon2 hash is a tenth of a second every command would pay.
    return _HASHER.hash(secrets.token_urlsafe(16))


USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")
MIN_PASSWORD = 10


class UserRole(StrEnum):
    """What a person or machine may do in the web app."""

    FIELD = "field"
    COMMANDER = "commander"
    PLANNER = "planner"
    ADMIN = "admin"


class UserRow(Base):
    """One person who can log in; `password_hash` is an argon2id hash."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(ENUM)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled: Mapped[bool] = mapped_column(Boolean)


class ApiTokenRow(Base):
    """A machine credential; only the SHA-256 of the token is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String)
    role: Mapped[str] = mapped_column(ENUM)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean)


class AuditRow(Base):
    """One audited action: logins, acknowledgements, corridor edits."""

    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_time", "time"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String)
    action: Mapped[str] = mapped_column(ENUM)
    target: Mapped[str] = mapped_column(String)
    detail: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True, slots=True)
class User:
    """A stored user (never carries the password hash)."""

    username: str
    role: UserRole
    created_at: datetime
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A stored API token's metadata (never the token itself)."""

    id: int
    name: str
    role: UserRole
    created_at: datetime
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit log entry."""

    id: int
    time: datetime
    actor: str
    action: str
    target: str
    detail: str


def token_digest(token: str) -> str:
    """The stored form of an API token."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_username(username: str) -> str:
    """The username, or ValueError saying why it is not acceptable."""
    if not 1 <= len(username) <= 64 or not set(username) <= USERNAME_CHARS:
        raise ValueError("username must be 1-64 characters of letters, digits and . _ - @")
    return username


def _user(row: UserRow) -> User:
    return User(row.username, UserRole(row.role), row.created_at, row.disabled)


def _token(row: ApiTokenRow) -> ApiToken:
    return ApiToken(row.id, row.name, UserRole(row.role), row.created_at, row.revoked)


class UserRepository:
    """Users and their API tokens (the audit log is AuditRepository)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, username: str, password: str, role: UserRole | str, *, at: datetime) -> User:
        """Create a user with an argon2 password hash; StoreError if the name is taken."""
        check_username(username)
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"password must be at least {MIN_PASSWORD} characters")
        row = UserRow(
            username=username, password_hash=_HASHER.hash(password), role=UserRole(role).value,
            created_at=at, disabled=False,
        )
        try:
            with Session(self._db.writer, expire_on_commit=False) as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise StoreError(f"user {username!r} already exists") from None
        return _user(row)

    def get(self, username: str) -> User | None:
        """The user with this name, or None."""
        with Session(self._db.engine) as session:
            row = session.get(UserRow, username)
            return _user(row) if row is not None else None

    def all(self) -> list[User]:
        """All users by name."""
        with Session(self._db.engine) as session:
            return [_user(r) for r in session.scalars(select(UserRow).order_by(UserRow.username))]

    def check_password(self, username: str, password: str) -> User | None:
        """The enabled user when the password is right, else None (rehashes outdated hashes)."""
        with Session(self._db.engine) as session:
            row = session.get(UserRow, username)
            stored = row.password_hash if row is not None else _dummy_hash()
        try:
            _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or row.disabled:
            return None
        if _HASHER.check_needs_rehash(stored):
            with Session(self._db.writer, expire_on_commit=False) as session, session.begin():
                fresh = session.get(UserRow, username)
                if fresh is not None:
                    fresh.password_hash = _HASHER.hash(password)
        return _user(row)

    def add_api_token(self, name: str, role: UserRole | str, *, at: datetime) -> tuple[ApiToken, str]:
        """Create an API token; return its metadata and the token (shown once, only its hash is kept)."""
        token = "rw_" + secrets.token_urlsafe(32)
        row = ApiTokenRow(
            token_sha256=token_digest(token), name=name, role=UserRole(role).value, created_at=at, revoked=False
        )
        with Session(self._db.writer, expire_on_commit=False) as session, session.begin():
            session.add(row)
            session.flush()
            return _token(row), token

    def api_token(self, token: str) -> ApiToken | None:
        """The unrevoked token matching this secret, or None."""
        query = select(ApiTokenRow).where(ApiTokenRow.token_sha256 == token_digest(token))
        with Session(self._db.engine) as session:
            row = session.scalars(query).first()
            return _token(row) if row is not None and not row.revoked else None

    def api_tokens(self) -> list[ApiToken]:
        """All API tokens (revoked included), oldest first."""
        with Session(self._db.engine) as session:
            return [_token(r) for r in session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.id))]

    def revoke_api_token(self, token_id: int) -> bool:
        """Revoke a token by id; False when there is no such token."""
        with Session(self._db.writer, expire_on_commit=False) as session, session.begin():
            row = session.get(ApiTokenRow, token_id)
            if row is None:
                return False
            row.revoked = True
            return True


class AuditRepository:
    """The audit log: who did what to which thing, oldest first."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, action: str, *, actor: str, target: str = "", detail: str = "", at: datetime) -> None:
        """Append one entry to the audit log."""
        to_micros(at)
        with Session(self._db.writer, expire_on_commit=False) as session, session.begin():
            session.add(AuditRow(time=at, actor=actor, action=action, target=target, detail=detail))

    def entries(self, *, limit: int = 100, after: int = 0, **where: Any) -> list[AuditEntry]:
        """Audit entries with id > `after`, oldest first; `where` filters on actor/action/target."""
        query = select(AuditRow).where(AuditRow.id > after)
        for key, value in where.items():
            if key not in ("actor", "action", "target"):
                raise ValueError(f"cannot filter the audit log on {key!r}")
            query = query.where(getattr(AuditRow, key) == value)
        with Session(self._db.engine) as session:
            rows = session.scalars(query.order_by(AuditRow.id).limit(limit))
            return [AuditEntry(r.id, r.time, r.actor, r.action, r.target, r.detail) for r in rows]


def create_user(users: UserRepository, username: str, password: str, role: UserRole | str, *, at: datetime) -> User:
    """Create a user (for `routewatch users add`): the only way the first admin comes to exist."""
    return users.add(username, password, role, at=at)
