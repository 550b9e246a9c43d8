"""Argon2id hashing: OWASP parameters, rehash on change, and unknown emails cost the same."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from fastapi import FastAPI
from sqlalchemy import select

from coditect.cloud.models.user import User
from coditect.cloud.passwords import Passwords
from coditect.cloud.services import accounts
from coditect.cloud.settings import Settings
from tests.cloud.helpers import PASSWORD

OWASP = Passwords(memory_kib=19456, time_cost=2, parallelism=1)


def test_default_settings_hash_with_owasp_parameters() -> None:
    defaults = Settings.model_fields
    assert defaults["argon2_memory_kib"].default == 19456
    assert defaults["argon2_time_cost"].default == 2
    stored = OWASP.hash(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert OWASP.verify(PASSWORD, stored) == (True, None)
    assert OWASP.verify("wrong", stored)[0] is False


def _median_seconds(action: Callable[[], object], runs: int = 7) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def test_an_unknown_email_costs_a_full_verification() -> None:
    stored = OWASP.hash(PASSWORD)
    known = _median_seconds(lambda: OWASP.verify_or_dummy("a guess", stored))
    unknown = _median_seconds(lambda: OWASP.verify_or_dummy("a guess", None))
    assert OWASP.verify_or_dummy(PASSWORD, None) == (False, None)
    # Without the dummy hash an unknown email would answer in microseconds, not milliseconds.
    assert 0.3 < unknown / known < 3, (known, unknown)


def test_hashes_are_upgraded_when_the_parameters_change(app: FastAPI) -> None:
    weak = Passwords(memory_kib=1024, time_cost=1, parallelism=1)
    with app.state.db.transaction() as db:
        accounts.create_user(db, weak, "old@example.com", PASSWORD)
    with app.state.db.transaction() as db:
        accounts.authenticate(db, OWASP, "old@example.com", PASSWORD)
    with app.state.db.session() as db:
        stored = db.scalar(select(User.password_hash).where(User.email == "old@example.com"))
    assert stored is not None and stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert OWASP.verify(PASSWORD, stored) == (True, None)
