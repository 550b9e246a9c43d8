"""Offline checks of cached licences: signatures, machine binding, TTL and grace arithmetic."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from coditect.client.licence_check import (
    evaluate,
    offline_evidence,
    validation_evidence,
)
from coditect.errors import ExitCode, SignatureError
from coditect.signing import Signer
from tests.client.helpers import new_signer, offline_file, validation_answer

FP = "f" * 64
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(hours=72)


@pytest.fixture(scope="module")
def signer() -> Signer:
    return new_signer()


def keys(signer: Signer) -> dict[str, Ed25519PublicKey]:
    return {signer.key_id: signer.public_key}


# --- signatures ---


def test_a_good_answer_verifies(signer: Signer) -> None:
    answer = validation_answer(signer, fingerprint=FP, server_time=T0)
    evidence = validation_evidence(answer, keys(signer), FP, GRACE)
    assert evidence.valid and evidence.plan == "pro"
    assert evidence.entitlements == ("cloud_sync", "advanced_analytics")
    assert evidence.usable_until == T0 + GRACE


@pytest.mark.parametrize(
    ("field", "forged"),
    [
        ("plan", "enterprise"),
        ("entitlements", ["cloud_sync", "advanced_analytics", "sso"]),
        ("valid", True),
        ("server_time", (T0 + timedelta(days=30)).isoformat()),
        ("extra", "smuggled"),
    ],
)
def test_a_tampered_answer_is_refused(signer: Signer, field: str, forged: object) -> None:
    answer = validation_answer(signer, fingerprint=FP, server_time=T0, valid=False, code="REVOKED")
    answer[field] = forged
    with pytest.raises(SignatureError) as caught:
        validation_evidence(answer, keys(signer), FP, GRACE)
    assert caught.value.exit_code == ExitCode.DENIED
    assert "altered" in caught.value.message


def test_an_answer_signed_by_another_key_is_refused(signer: Signer) -> None:
    forger = new_signer()
    answer = validation_answer(forger, fingerprint=FP, server_time=T0)
    with pytest.raises(SignatureError) as caught:
        validation_evidence(answer, keys(signer), FP, GRACE)
    assert forger.key_id in caught.value.message
    assert "--trust-new-key" in caught.value.hint


def test_a_forger_reusing_our_key_id_is_refused(signer: Signer) -> None:
    """A forger who copies the trusted key id still cannot make the signature match."""
    forger = new_signer()
    answer = validation_answer(forger, fingerprint=FP, server_time=T0, plan="enterprise")
    answer["key_id"] = signer.key_id
    with pytest.raises(SignatureError, match="altered"):
        validation_evidence(answer, keys(signer), FP, GRACE)


def test_an_unsigned_answer_is_refused(signer: Signer) -> None:
    answer = validation_answer(signer, fingerprint=FP, server_time=T0)
    del answer["signature"]
    with pytest.raises(SignatureError, match="not signed"):
        validation_evidence(answer, keys(signer), FP, GRACE)


def test_an_answer_for_another_machine_is_refused(signer: Signer) -> None:
    answer = validation_answer(signer, fingerprint="a" * 64, server_time=T0)
    with pytest.raises(SignatureError, match="another machine"):
        validation_evidence(answer, keys(signer), FP, GRACE)


def test_a_tampered_offline_file_is_refused(signer: Signer) -> None:
    document = offline_file(signer, fingerprint=FP, issued_at=T0)
    forged = copy.deepcopy(document)
    forged["payload"]["valid_until"] = (T0 + timedelta(days=365)).isoformat()
    with pytest.raises(SignatureError, match="altered"):
        offline_evidence(forged, keys(signer), FP, T0)


def test_an_offline_file_for_another_machine_is_refused(signer: Signer) -> None:
    document = offline_file(signer, fingerprint="a" * 64, issued_at=T0)
    with pytest.raises(SignatureError, match="another machine"):
        offline_evidence(document, keys(signer), FP, T0 + timedelta(hours=1))
    with pytest.raises(SignatureError, match="another machine"):  # expired or not
        offline_evidence(document, keys(signer), FP, T0 + timedelta(days=8))


# --- TTL and grace arithmetic ---


def test_the_offline_file_works_until_its_valid_until(signer: Signer) -> None:
    document = offline_file(signer, fingerprint=FP, issued_at=T0, ttl=timedelta(days=7))
    end = T0 + timedelta(days=7)
    just_before = offline_evidence(document, keys(signer), FP, end - timedelta(seconds=1))
    assert just_before.usable(end - timedelta(seconds=1))
    status = evaluate([just_before], end - timedelta(hours=5))
    assert status.state == "valid" and status.remaining(end - timedelta(hours=5)) == timedelta(
        hours=5
    )
    at_end = offline_evidence(document, keys(signer), FP, end)
    stale = evaluate([at_end], end)
    assert stale.state == "stale" and stale.plan == "free" and stale.entitlements == ()
    assert stale.licensed_plan == "pro" and stale.ended_at == end
    assert stale.remaining(end) is None


def test_the_validation_answer_works_for_the_grace_period(signer: Signer) -> None:
    answer = validation_answer(signer, fingerprint=FP, server_time=T0)
    evidence = validation_evidence(answer, keys(signer), FP, GRACE)
    inside = evaluate([evidence], T0 + GRACE - timedelta(minutes=1))
    assert inside.state == "valid" and inside.source == "validation"
    assert inside.remaining(T0 + GRACE - timedelta(minutes=1)) == timedelta(minutes=1)
    assert evaluate([evidence], T0 + GRACE).state == "stale"
    no_grace = validation_evidence(answer, keys(signer), FP, timedelta(0))
    assert evaluate([no_grace], T0).state == "stale"


def test_the_grace_never_outlives_the_licence(signer: Signer) -> None:
    ends = T0 + timedelta(hours=10)
    answer = validation_answer(
        signer, fingerprint=FP, server_time=T0, expires_at=T0, grace_until=ends, code="EXPIRED"
    )
    evidence = validation_evidence(answer, keys(signer), FP, GRACE)
    assert evidence.usable_until == ends
    trial = validation_answer(signer, fingerprint=FP, server_time=T0, expires_at=ends)
    assert validation_evidence(trial, keys(signer), FP, GRACE).usable_until == ends


def test_the_later_end_wins(signer: Signer) -> None:
    fresh_answer = validation_evidence(
        validation_answer(signer, fingerprint=FP, server_time=T0 + timedelta(days=6)),
        keys(signer),
        FP,
        GRACE,
    )
    file = offline_evidence(
        offline_file(signer, fingerprint=FP, issued_at=T0), keys(signer), FP, T0
    )
    now = T0 + timedelta(days=6, hours=1)
    status = evaluate([fresh_answer, file], now)
    assert status.source == "validation"
    assert status.usable_until == T0 + timedelta(days=9)  # the answer's grace beats the file
    assert status.limits == {"ai_operations": None, "ai_operations_period": "day", "machines": 3}
    early = evaluate([fresh_answer, file], T0 + timedelta(days=1))
    assert early.code == "VALID" and early.plan == "pro"


def test_a_newer_refusal_overrides_an_older_offline_file(signer: Signer) -> None:
    file = offline_evidence(
        offline_file(signer, fingerprint=FP, issued_at=T0), keys(signer), FP, T0
    )
    revoked = validation_evidence(
        validation_answer(
            signer,
            fingerprint=FP,
            server_time=T0 + timedelta(days=1),
            valid=False,
            code="REVOKED",
            plan="pro",
        ),
        keys(signer),
        FP,
        GRACE,
    )
    status = evaluate([file, revoked], T0 + timedelta(days=2))
    assert status.state == "invalid" and status.code == "REVOKED"
    assert status.plan == "free" and status.entitlements == ()
    renewed = offline_evidence(
        offline_file(signer, fingerprint=FP, issued_at=T0 + timedelta(days=3)),
        keys(signer),
        FP,
        T0 + timedelta(days=3),
    )
    assert evaluate([file, revoked, renewed], T0 + timedelta(days=3)).state == "valid"


def test_no_evidence_is_not_a_licence() -> None:
    status = evaluate([], T0)
    assert status.state == "stale" and status.entitlements == ()
