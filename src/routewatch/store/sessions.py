"""Server-side web sessions, and the account changes that end them (password, role, removal, disabling).

The cookie holds a random token; only its SHA-256 is stored. A session is valid while its row exists,
it has not expired and its user exists and is enabled: ending one is deleting its row, so a logout holds
across restarts and across every worker sharing the database.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import Index, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from routewatch.store.coltypes import UTCDateTime, to_micros
from routewatch.store.database import Database
from routewatch.store.tables import Base
from routewatch.store.users import _HASHER, MIN_PASSWORD, User, UserRole, UserRow, _user, token_digest


class WebSessionRow(Base):
    """One logged-in browser session; `token_sha256` is the hash of the cookie's token."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_username", "username"), Index("ix_web_sessions_expires_at", "expires_at"))

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


def _end_all(session: Session, username: str) -> None:
    session.execute(delete(WebSessionRow).where(WebSessionRow.username == username))


class SessionRepository:
    """Web sessions, and the account changes that end them (password, role, disabling, removal)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def start(self, username: str, *, at: datetime, ttl_s: float) -> str:
        """A new session for `username` until `at` + `ttl_s`; its token (the cookie's value, stored only hashed)."""
        to_micros(at)
        token = secrets.token_urlsafe(32)
        with Session(self._db.writer) as session, session.begin():
            session.execute(delete(WebSessionRow).where(WebSessionRow.expires_at <= at))  # keeps the table small
            session.add(WebSessionRow(token_sha256=token_digest(token), username=username, created_at=at,
                                      expires_at=at + timedelta(seconds=ttl_s)))
        return token

    def user(self, token: str, *, at: datetime) -> User | None:
        """The enabled user of an unexpired session, or None."""
        query = (select(UserRow).join(WebSessionRow, WebSessionRow.username == UserRow.username)
                 .where(WebSessionRow.token_sha256 == token_digest(token), WebSessionRow.expires_at > at,
                        UserRow.disabled.is_(False)))
        with Session(self._db.engine) as session:
            row = session.scalars(query).first()
            return _user(row) if row is not None else None

    def end(self, token: str) -> None:
        """Log one session out (nothing when there is none)."""
        with Session(self._db.writer) as session, session.begin():
            session.execute(delete(WebSessionRow).where(WebSessionRow.token_sha256 == token_digest(token)))

    def end_all(self, username: str) -> None:
        """Log every session of a user out."""
        with Session(self._db.writer) as session, session.begin():
            _end_all(session, username)

    def set_password(self, username: str, password: str) -> bool:
        """Change a password and end the user's sessions; False when there is no such user."""
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"password must be at least {MIN_PASSWORD} characters")
        digest = _HASHER.hash(password)
        with Session(self._db.writer) as session, session.begin():
            row = session.get(UserRow, username)
            if row is None:
                return False
            row.password_hash = digest
            _end_all(session, username)
            return True

    def set_role(self, username: str, role: UserRole | str) -> bool:
        """Change a user's role and end their sessions; False when there is no such user."""
        with Session(self._db.writer) as session, session.begin():
            row = session.get(UserRow, username)
            if row is None:
                return False
            row.role = UserRole(role).value
            _end_all(session, username)
            return True

    def set_disabled(self, username: str, disabled: bool) -> bool:
        """Disable (ending the user's sessions) or enable a user; False when there is no such user."""
        with Session(self._db.writer) as session, session.begin():
            row = session.get(UserRow, username)
            if row is None:
                return False
            row.disabled = disabled
            if disabled:
                _end_all(session, username)
            return True

    def remove_user(self, username: str) -> bool:
        """Remove a user and their sessions; False when there is no such user."""
        with Session(self._db.writer) as session, session.begin():
            row = session.get(UserRow, username)
            if row is None:
                return False
            session.delete(row)
            _end_all(session, username)
            return True
