"""Redaction before storing: the labelled set, levels, audit, settings, the real corpus."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coditect.config import MemorySettings, load_config
from coditect.errors import ValidationError
from coditect.memory.privacy import Finding, Redactor
from coditect.memory.privacy_rules import LEVELS, MARKER, TYPES
from coditect.paths import ProjectPaths
from tests.conftest import CORPUS, run_cli
from tests.memory.redaction_cases import HOME, USER, Case, cases, lookalike_cases, secret_cases

DOCS = Path(__file__).resolve().parents[2] / "docs" / "memory.md"
TRANSCRIPTS = CORPUS / "claude-code"


@pytest.fixture(scope="module")
def public() -> Redactor:
    return Redactor("public", user=USER, home=HOME)


def _covering(case: Case, findings: list[Finding]) -> Finding | None:
    start = case.text.index(case.secret)
    end = start + len(case.secret)
    for finding in findings:
        if finding.offset <= start and finding.offset + finding.length >= end:
            return finding
    return None


# --- the labelled set -----------------------------------------------------------------


def test_labelled_set_recall_and_precision(
    public: Redactor, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets, lookalikes = secret_cases(), lookalike_cases()
    missed = [c.label for c in secrets if _covering(c, public.redact(c.text)[1]) is None]
    flagged = {
        c.label: [(f.type, c.text[f.offset : f.offset + f.length]) for f in found]
        for c in lookalikes
        if (found := public.redact(c.text)[1])
    }
    recalled = len(secrets) - len(missed)
    recall = recalled / len(secrets)
    precision = recalled / (recalled + len(flagged))
    with capsys.disabled():
        print(
            f"\nredaction, labelled set of {len(secrets)} secrets and {len(lookalikes)} "
            f"look-alikes: recall {recall:.3f}, precision {precision:.3f}"
        )
    assert len(secrets) >= 100
    assert len(lookalikes) >= 100
    assert recall >= 0.99, f"missed: {missed}"
    assert precision >= 0.95, f"false positives: {flagged}"


@pytest.mark.parametrize("case", secret_cases(), ids=lambda c: c.label)
def test_each_secret_is_removed_whole_with_its_type(public: Redactor, case: Case) -> None:
    redacted, findings = public.redact(case.text)
    finding = _covering(case, findings)
    assert finding is not None, findings
    assert finding.type == case.type
    assert case.secret not in redacted
    expected = "~" if case.type == "USER_PATH" else MARKER.format(case.type)
    assert expected in redacted


def test_the_set_covers_every_built_in_type() -> None:
    assert {c.type for c in secret_cases()} == set(TYPES)


def test_audit_never_holds_the_secret(public: Redactor) -> None:
    for case in secret_cases():
        value, findings = public.redact_value({"text": case.text, "list": [case.text]})
        audit = json.dumps([dataclasses.asdict(f) for f in findings]) + repr(findings)
        assert findings
        assert case.secret not in audit
        assert case.secret not in json.dumps(value)
    assert [f.name for f in dataclasses.fields(Finding)] == [
        "type",
        "offset",
        "length",
        "rule",
        "path",
    ]


def test_offsets_refer_to_the_original_text(public: Redactor) -> None:
    key = "gh" + "p_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    text = f"mail jane@acme.io, key {key}, home {HOME}/src, call (415) 555-0132."
    redacted, findings = public.redact(text)
    pieces = [text[f.offset : f.offset + f.length] for f in findings]
    assert pieces == ["jane@acme.io", key, HOME, "(415) 555-0132"]
    assert [f.type for f in findings] == ["EMAIL", "GITHUB_TOKEN", "USER_PATH", "PHONE"]
    assert redacted == (
        "mail [REDACTED:EMAIL], key [REDACTED:GITHUB_TOKEN], home ~/src, call [REDACTED:PHONE]."
    )


def test_redacting_twice_changes_nothing(public: Redactor) -> None:
    for case in cases():
        once = public.redact(case.text)[0]
        assert public.redact(once) == (once, []), case.label


def test_a_value_that_holds_a_known_credential_gets_its_type(public: Redactor) -> None:
    key = "sk-" + "ant-api03-" + "Zx9" * 12
    redacted, findings = public.redact(f'password = "{key}"')
    assert redacted == 'password = "[REDACTED:ANTHROPIC_KEY]"'
    assert [(f.type, f.rule) for f in findings] == [("ANTHROPIC_KEY", "anthropic-key")]


# --- levels ---------------------------------------------------------------------------


def _docs_table() -> dict[str, set[str]]:
    section = DOCS.read_text().split("## Privacy", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    levels = header[2:]
    table: dict[str, set[str]] = {level: set() for level in levels}
    for row in rows[1:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        if not cells[0].startswith("`"):
            continue
        for level, mark in zip(levels, cells[2:], strict=True):
            assert mark in {"✓", "—"}, row
            if mark == "✓":
                table[level].add(cells[0].strip("`"))
    return table


def test_the_levels_table_in_the_docs_is_the_one_in_the_code() -> None:
    assert _docs_table() == {level: set(types) for level, types in LEVELS.items()}


PERSONAL = "jane@acme.io 10.1.2.3 (415) 555-0132 4111 1111 1111 1111 123-45-6789 " + HOME
KEY = "AK" + "IA" + "Q3RZ7TX2W9LM4KD8"


@pytest.mark.parametrize(
    ("level", "kept"),
    [
        ("public", set()),
        ("ephemeral", set()),
        ("team", {"EMAIL", "IP"}),
        ("private", {"EMAIL", "IP", "PHONE"}),
    ],
)
def test_what_each_level_removes(level: str, kept: set[str]) -> None:
    redactor = Redactor(level, user=USER, home=HOME)
    redacted, findings = redactor.redact(f"{PERSONAL} {KEY}")
    found = {f.type for f in findings}
    assert found == {"EMAIL", "IP", "PHONE", "CARD", "SSN", "USER_PATH", "AWS_KEY"} - kept
    assert KEY not in redacted and "4111 1111" not in redacted and HOME not in redacted
    assert ("jane@acme.io" in redacted) == ("EMAIL" in kept)
    assert redactor.persistent == (level != "ephemeral")


def test_redact_user_off_keeps_home_and_name() -> None:
    redactor = Redactor("public", redact_user=False, user=USER, home=HOME)
    text = f"{USER}@laptop:{HOME}/src$ ls"
    assert redactor.redact(text) == (text, [])
    assert "USER_PATH" not in redactor.types


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown privacy level 'secret'") as caught:
        Redactor("secret")
    assert "public, team, private, ephemeral" in (caught.value.hint or "")


# --- user, home, allow-list, extra patterns -------------------------------------------


def test_own_home_anywhere_and_user_name() -> None:
    redactor = Redactor("team", user="bob", home="/work/bob/")
    redacted, findings = redactor.redact("cd /work/bob/src; /work/bobby stays; bob@box; bobcat")
    assert redacted == "cd ~/src; /work/bobby stays; [REDACTED:USER_NAME]@box; bobcat"
    assert [f.rule for f in findings] == ["home-dir", "user-name"]


@pytest.mark.parametrize("user", ["root", "ubuntu", "al", "1000"])
def test_generic_or_short_user_names_are_not_redacted_as_words(user: str) -> None:
    redactor = Redactor("team", user=user, home=f"/home/{user}")
    text = f"{user}@host: ls /home/{user}/x"
    assert redactor.redact(text)[0] == f"{user}@host: ls ~/x"


def test_windows_home() -> None:
    redactor = Redactor("team", user="Jane", home="C:\\Users\\Jane")
    assert redactor.redact("C:\\Users\\Jane\\src and C:/Users/Jane/x")[0] == "~\\src and ~/x"


def test_allow_list_exact_and_regex() -> None:
    redactor = Redactor("public", allow=["ops@acme.io", r"re:10\.0\.\d+\.\d+"])
    text = "ops@acme.io jane@acme.io 10.0.3.4 10.1.3.4"
    assert redactor.redact(text)[0] == "ops@acme.io [REDACTED:EMAIL] 10.0.3.4 [REDACTED:IP]"


def test_extra_patterns_with_and_without_a_group() -> None:
    redactor = Redactor(
        "private", patterns={"ticket": r"ACME-\d{6}", "customer": r"customer=(\w+)"}
    )
    redacted, findings = redactor.redact("see ACME-123456 for customer=globex now")
    assert redacted == "see [REDACTED:TICKET] for customer=[REDACTED:CUSTOMER] now"
    assert [(f.type, f.rule) for f in findings] == [
        ("TICKET", "config:ticket"),
        ("CUSTOMER", "config:customer"),
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"patterns": {"bad": "ACME-("}}, "patterns.bad is not a valid regular expression"),
        ({"patterns": {"no good": "x"}}, "pattern name 'no good' must be a word"),
        ({"allow": ["re:[a-"]}, "'re:[a-' is not a valid regular expression"),
    ],
)
def test_bad_patterns_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Redactor("team", **options)


# --- JSON-like values -----------------------------------------------------------------


def test_redact_value_walks_dicts_and_lists(public: Redactor) -> None:
    clean = {"type": "text", "n": 3, "ok": True, "none": None}
    value = {
        "content": [
            {"type": "text", "text": "mail jane@acme.io"},
            {"type": "tool_use", "input": {"command": f"cat {HOME}/.env", "odd key": "10.1.2.3"}},
        ],
        "clean": clean,
        "pair": ("a", "jane@acme.io"),
    }
    redacted, findings = public.redact_value(value)
    assert redacted["content"][0]["text"] == "mail [REDACTED:EMAIL]"
    assert redacted["content"][1]["input"] == {"command": "cat ~/.env", "odd key": "[REDACTED:IP]"}
    assert redacted["pair"] == ("a", "[REDACTED:EMAIL]")
    assert redacted["clean"] is clean  # unchanged containers are not copied
    assert value["content"][0]["text"] == "mail jane@acme.io"  # the input is not changed
    assert [(f.path, f.type, f.offset, f.length) for f in findings] == [
        ("content[0].text", "EMAIL", 5, 12),
        ("content[1].input.command", "USER_PATH", 4, len(HOME)),
        ('content[1].input["odd key"]', "IP", 0, 8),
        ("pair[1]", "EMAIL", 0, 12),
    ]
    assert public.redact_value("jane@acme.io")[1][0].path == ""
    assert public.redact_value(clean) == (clean, [])


# --- properties -----------------------------------------------------------------------

_ALPHABET = st.sampled_from(
    [
        *"abcXYZ0123456789 .-:/@_+=()'\"\n",
        *("password=", "token: ", "AK" + "IA", "gh" + "p_", "sk-", "eyJ", "/Users/", "://"),
        *("@acme.io", "10.", "555-", "::", "Bearer ", "C:\\Users\\", "dain", "~"),
        *("→", "é", "İ", "🙂", "\ud800"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, max_size=60).map("".join))
def test_findings_are_ordered_disjoint_and_rebuild_the_output(text: str) -> None:
    redactor = Redactor("public", user="dain", home="/Users/dain")
    redacted, findings = redactor.redact(text)
    position, rebuilt = 0, ""
    for finding in findings:
        assert position <= finding.offset and finding.length > 0
        marker = "~" if finding.type == "USER_PATH" else MARKER.format(finding.type)
        rebuilt += text[position : finding.offset] + marker
        position = finding.offset + finding.length
    assert position <= len(text)
    assert rebuilt + text[position:] == redacted


# --- settings -------------------------------------------------------------------------


def test_memory_settings_from_toml_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = ProjectPaths(tmp_path)
    project.dir.mkdir()
    project.config_file.write_text(
        '[memory]\nprivacy = "public"\nallow = ["ops@acme.io"]\nretention_days = 30\n'
        '[memory.patterns]\nticket = "ACME-[0-9]{6}"\n'
    )
    memory = load_config(project).memory
    assert memory == MemorySettings(
        privacy="public",
        allow=("ops@acme.io",),
        patterns={"ticket": "ACME-[0-9]{6}"},
        retention_days=30,
    )
    redactor = Redactor.from_settings(memory)
    assert redactor.redact("ops@acme.io jane@acme.io ACME-123456")[0] == (
        "ops@acme.io [REDACTED:EMAIL] [REDACTED:TICKET]"
    )
    assert load_config().memory == MemorySettings()
    monkeypatch.setenv("CODITECT_MEMORY_PRIVACY", "private")
    monkeypatch.setenv("CODITECT_MEMORY_REDACT_USER", "false")
    monkeypatch.setenv("CODITECT_MEMORY_ALLOW", "a@b.io, c@d.io")
    memory = load_config(project).memory
    assert (memory.privacy, memory.redact_user, memory.allow) == (
        "private",
        False,
        ("a@b.io", "c@d.io"),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('privacy = "secret"', "memory.privacy must be one of public, team, private, ephemeral"),
        ("retention_days = -1", "memory.retention_days must be 0 or more"),
        ('patterns = { bad = "(" }', "memory.patterns.bad is not a valid regular expression"),
        ('allow = ["re:("]', "memory.allow: 're:(' is not a valid regular expression"),
        ("privacy = 3", "memory.privacy must be one of public, team, private, ephemeral, not '3'"),
        ("redact_user = 'yes please'", "memory.redact_user must be bool"),
    ],
)
def test_bad_memory_settings_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    project = ProjectPaths(tmp_path)
    project.dir.mkdir()
    project.config_file.write_text(f"[memory]\n{text}\n")
    with pytest.raises(ValidationError, match=re.escape(message)):
        load_config(project)


def test_a_bad_memory_setting_stops_a_command_with_exit_4(project_dir: Path) -> None:
    config = project_dir / ".coditect" / "config.toml"
    before = config.read_text()
    config.write_text(before + '\n[memory]\nprivacy = "secret"\n')
    result = run_cli("task", "list", cwd=project_dir, check=False)
    assert result.returncode == 4
    assert "memory.privacy must be one of" in result.stderr
    assert "Traceback" not in result.stderr


# --- the real corpus ------------------------------------------------------------------


def _records() -> list[dict[str, Any]]:
    records = []
    for path in sorted(TRANSCRIPTS.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                records.append(json.loads(line))
    return records


def test_the_real_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    """Every record of the real transcripts redacts without error; the look-alikes they
    are full of (session UUIDs, tool and request ids, signatures) survive, the user's
    paths become ``~``, and no credential is found where there is none."""
    redactor = Redactor("public", user="dain", home="/Users/dain")
    records = _records()
    assert len(records) > 3000
    counts: dict[str, int] = {}
    for record in records:
        redacted, findings = redactor.redact_value(record)
        for finding in findings:
            counts[finding.type] = counts.get(finding.type, 0) + 1
        for key in ("uuid", "sessionId", "requestId", "parentUuid", "timestamp", "version"):
            assert redacted.get(key) == record.get(key)
        message = record.get("message")
        if isinstance(message, dict):
            assert redacted["message"].get("id") == message.get("id")
            for block, old in zip(
                redacted["message"].get("content") or [], message.get("content") or [], strict=False
            ):
                if isinstance(old, dict):
                    for key in ("id", "tool_use_id", "signature"):
                        assert block.get(key) == old.get(key)
        assert "/Users/dain" not in json.dumps(redacted)
    with capsys.disabled():
        print(f"\nredaction of {len(records)} real records at public: {counts}")
    assert counts["USER_PATH"] > 1000
    assert not set(counts) & {"SECRET", "PASSWORD", "JWT", "PRIVATE_KEY", "CARD", "SSN"}
