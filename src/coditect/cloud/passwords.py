"""Password hashing: Argon2id through pwdlib, with parameters from the settings.

``verify_or_dummy`` verifies against a fixed dummy hash when the account does not exist,
so a sign-in with an unknown email costs the same time as one with a known email.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from coditect.cloud.settings import Settings

__all__ = ["MAX_PASSWORD_LENGTH", "MIN_PASSWORD_LENGTH", "Passwords"]

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 512


class Passwords:
    """Hashes and verifies passwords with Argon2id."""

    def __init__(self, memory_kib: int, time_cost: int, parallelism: int) -> None:
        from pwdlib import PasswordHash
        from pwdlib.hashers.argon2 import Argon2Hasher

        hasher = Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        self._hash = PasswordHash((hasher,))
        self._dummy = self._hash.hash("not a password: compared with when the email is unknown")

    @classmethod
    def from_settings(cls, settings: Settings) -> Passwords:
        return cls(
            settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
        )

    def hash(self, password: str) -> str:
        return self._hash.hash(password)

    def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        """Whether ``password`` matches; and a new hash when the parameters have changed."""
        return self._hash.verify_and_update(password, password_hash)

    def verify_or_dummy(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """``verify``, or the same work against a dummy hash (always False) for no account."""
        if password_hash is None:
            self._hash.verify(password, self._dummy)
            return False, None
        return self.verify(password, password_hash)
