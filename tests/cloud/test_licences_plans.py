"""Plans as data: the shipped file, its checks, seeding, and the 0002 migration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from coditect.cloud.db import Base, Database
from coditect.cloud.migrate import downgrade, upgrade
from coditect.cloud.models.licence import Plan
from coditect.cloud.services.plans import (
    DEFAULT_PLANS_FILE,
    catalogue,
    get_plan,
    load_catalogue,
    seed_plans,
)
from coditect.errors import ValidationError

LICENCE_TABLES = {"plans", "licences", "machines"}


@pytest.fixture
def database(migrated_url: str) -> Iterator[Database]:
    database = Database(migrated_url)
    yield database
    database.dispose()


def test_the_shipped_plans_follow_the_product_plan() -> None:
    plans = {plan.code: plan for plan in catalogue().plans}
    assert list(plans) == ["free", "starter", "pro", "enterprise"]
    free, starter, pro, enterprise = plans.values()
    assert (free.ai_operations_limit, free.ai_operations_period, free.entitlements) == (
        10,
        "day",
        (),
    )
    assert (starter.ai_operations_limit, starter.entitlements) == (100, ("cloud_sync",))
    assert pro.ai_operations_limit is None and "advanced_analytics" in pro.entitlements
    assert {"sso", "priority_support"} <= set(enterprise.entitlements)
    assert [p.machines for p in plans.values()] == [1, 2, 3, 10]
    assert catalogue().lowest.code == "free"
    policy = catalogue().policy
    assert (policy.grace_days, policy.trial_plan, policy.trial_days) == (7, "pro", 7)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plans.toml"
    path.write_text(text, encoding="utf-8")
    return path


PLAN = """
[[plans]]
code = "{code}"
name = "X"
rank = 0
entitlements = {entitlements}
ai_operations = {ops}
ai_operations_period = "day"
machines = 1
activations_per_day = 1
"""
POLICY = (
    '[policy]\ngrace_days = 7\ntrial_plan = "{trial}"\ntrial_days = 7\n[features]\nsso = "SSO"\n'
)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            POLICY.format(trial="x") + PLAN.format(code="x", entitlements='["teleport"]', ops=1),
            "unknown features",
        ),
        (POLICY.format(trial="x") + PLAN.format(code="x", entitlements="[]", ops=1) * 2, "unique"),
        (
            POLICY.format(trial="gold") + PLAN.format(code="x", entitlements="[]", ops=1),
            "trial plan",
        ),
        (
            POLICY.format(trial="x") + PLAN.format(code="x", entitlements="[]", ops='"lots"'),
            "ai_operations",
        ),
        (
            POLICY.format(trial="x")
            + PLAN.format(code="x", entitlements="[]", ops=1)
            + "colour = 'red'\n",
            "colour",
        ),
        ("[policy\n", "Expected"),
    ],
)
def test_a_broken_plans_file_is_refused_with_the_reason(
    tmp_path: Path, text: str, reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason) as caught:
        load_catalogue(_write(tmp_path, text))
    assert "licensing.md" in caught.value.hint


def test_seeding_is_idempotent_and_follows_the_file(database: Database, tmp_path: Path) -> None:
    with database.transaction() as session:
        first = seed_plans(session)
    assert first.created == ("free", "starter", "pro", "enterprise")
    with database.transaction() as session:
        second = seed_plans(session)
    assert (second.created, second.updated) == ((), ())
    assert second.unchanged == first.created
    changed = DEFAULT_PLANS_FILE.read_text().replace("ai_operations = 100", "ai_operations = 150")
    with database.transaction() as session:
        third = seed_plans(session, _write(tmp_path, changed))
    assert third.updated == ("starter",)
    with database.session() as session:
        rows = session.scalars(select(Plan).order_by(Plan.rank)).all()
        assert [row.code for row in rows] == ["free", "starter", "pro", "enterprise"]
        assert rows[1].ai_operations_limit == 150
        assert rows[2].ai_operations_limit is None
        assert rows[3].entitlements == [
            "cloud_sync",
            "advanced_analytics",
            "priority_support",
            "sso",
        ]
        assert get_plan(session, "pro").machine_limit == 3


def test_migration_0002_builds_the_tables_the_models_describe(migrated_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    database = Database(migrated_url)
    try:
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = [
                diff
                for diff in compare_metadata(context, Base.metadata)
                if any(table in repr(diff) for table in LICENCE_TABLES)
            ]
        assert differences == []
        names = {index["name"] for index in inspect(database.engine).get_indexes("machines")}
        assert "uq_machines_active_fingerprint" in names
        downgrade(database.engine, "0001_accounts")
        assert not LICENCE_TABLES & set(inspect(database.engine).get_table_names())
        upgrade(database.engine)
        assert set(inspect(database.engine).get_table_names()) >= LICENCE_TABLES
    finally:
        database.dispose()


def test_the_database_itself_refuses_a_second_trial_or_a_doubly_active_machine(
    database: Database,
) -> None:
    from datetime import UTC, datetime

    from sqlalchemy.exc import IntegrityError

    from coditect.cloud.models.licence import Licence, Machine
    from coditect.cloud.models.user import User
    from coditect.cloud.services.licences import issue_licence

    now = datetime.now(UTC)
    with database.transaction() as session:
        seed_plans(session)
        session.add(User(id="u1", email="u1@example.com", password_hash="x"))
        session.flush()
        trial = issue_licence(session, user_id="u1", plan_code="pro", now=now, is_trial=True)
        issue_licence(session, user_id="u1", plan_code="pro", now=now)  # not a trial: fine
        session.add(Machine(licence_id=trial.licence.id, fingerprint="m1", deactivated_at=now))
        session.add(Machine(licence_id=trial.licence.id, fingerprint="m1"))  # one active: fine
    with pytest.raises(IntegrityError), database.transaction() as session:
        issue_licence(session, user_id="u1", plan_code="starter", now=now, is_trial=True)
    with pytest.raises(IntegrityError), database.transaction() as session:
        session.add(Machine(licence_id=trial.licence.id, fingerprint="m1"))
    with database.session() as session:
        assert len(session.scalars(select(Licence)).all()) == 2
        assert len(session.scalars(select(Machine)).all()) == 2
