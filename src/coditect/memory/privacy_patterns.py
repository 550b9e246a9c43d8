"""The patterns of the redactor's detectors (``privacy_rules`` says which a level uses).

``ANCHOR_RULES`` and ``NUMBER_RULES`` become two regexes in ``privacy``; each rule's
check in ``privacy_checks`` (by rule name) decides whether a candidate is a finding.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["ANCHOR_RULES", "NUMBER_RULES", "AnchorRule"]


class AnchorRule(NamedTuple):
    """One detector in the single regex that scans a text.

    The regex is an alternation grouped by the first character of each rule, so that
    ``re`` skips every position where no rule can start. ``pattern`` begins with that
    character, or, when ``first`` lists several (``0123456789``), ``pattern`` is what
    follows it. A credential whose prefix begins with a common letter is anchored on a
    rarer character later in it, the rest of the prefix in a look-behind; ``back`` says
    how many characters before the anchor belong to the match. Consecutive rules with
    the same ``guard`` share it as a prefix, checked once. A rule may name a group ``V``;
    its check in ``privacy_checks`` (by rule name) decides what is replaced."""

    name: str
    type: str
    pattern: str
    back: int = 0
    first: str = ""
    guard: str = ""


_B64URL = r"[A-Za-z0-9_-]"
_END = r"(?![A-Za-z0-9_-])"


def _behind(sep: str, *words: str) -> str:
    """A look-behind that ``sep`` (just consumed) ends ``<word>`` or ``<word>"`` (or a
    quote or space), in any case. ``re`` needs one per width: words of one width share."""
    widths: dict[int, list[str]] = {}
    for word in words:
        widths.setdefault(len(word), []).append(word)
    return (
        "(?:"
        + "|".join(
            f"(?<=(?i:{'|'.join(same)}){gap}{sep})"
            for same in widths.values()
            for gap in ("", "[\"' \t]")
        )
        + ")"
    )


_VALUE = (
    r"""[ \t]*(?P<V>"(?:[^"\\\n]|\\.){1,512}"|'(?:[^'\\\n]|\\.){1,512}'|[^\s"'`,;)}\]]{1,512})"""
)
_AFTER = {":": "=?", "=": "(?!=)>?"}  # := and =>, not ==
_AWS_WORDS = ("secret_access_key", "secret-access-key", "secretaccesskey")
_PASSWORD_WORDS = ("password", "passwd", "passphrase")
_HEADER = r"""[ \t]*["']?(?i:bearer|token)[ \t]+(?P<V>[A-Za-z0-9._~+/-]{8,2048}=*)"""
_BASIC = r"""[ \t]*["']?(?i:basic)[ \t]+(?P<V>[A-Za-z0-9+/]{8,1024}={0,2})"""
_DIGITS = "0123456789"
_NUMBER_GUARD = r"(?<![\w.]\d)(?=[\d().+\ -]{6})"
"""A digit that starts a number (not inside a word or a decimal) of 7 characters or more."""
_NUMBER_END = r"(?!\w|[.-]\d)"


def _assignments(sep: str) -> tuple[AnchorRule, ...]:
    tail = _AFTER[sep] + _VALUE
    return (
        AnchorRule("aws-secret-access-key", "AWS_KEY", sep + _behind(sep, *_AWS_WORDS) + tail),
        AnchorRule("password-assignment", "PASSWORD", sep + _behind(sep, *_PASSWORD_WORDS) + tail),
        AnchorRule("secret-assignment", "SECRET", sep + _behind(sep, "secret", "token") + tail),
        AnchorRule("key-assignment", "SECRET", sep + _behind(sep, "key") + tail),
        AnchorRule("authorization-header", "SECRET", sep + _behind(sep, "authorization") + _HEADER),
        AnchorRule("authorization-basic", "PASSWORD", sep + _behind(sep, "authorization") + _BASIC),
    )


ANCHOR_RULES: tuple[AnchorRule, ...] = (
    AnchorRule("aws-access-key-id", "AWS_KEY", r"A(?:KIA|SIA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
    AnchorRule("google-api-key", "GOOGLE_KEY", rf"AIza{_B64URL}{{35}}{_END}"),
    AnchorRule("google-oauth-secret", "GOOGLE_KEY", rf"GOCSPX-{_B64URL}{{28}}{_END}"),
    AnchorRule("bearer-token", "SECRET", r"Bearer[ \t]+(?P<V>[A-Za-z0-9._~+/-]{16,2048}=*)"),
    AnchorRule(
        "github-token",
        "GITHUB_TOKEN",
        r"_(?<=gh[pousr]_)[A-Za-z0-9]{36,251}(?![A-Za-z0-9_])",
        back=3,
    ),
    AnchorRule(
        "github-token",
        "GITHUB_TOKEN",
        r"_(?<=github_pat_)[A-Za-z0-9_]{22,242}(?![A-Za-z0-9_])",
        back=10,
    ),
    AnchorRule(
        "stripe-key", "STRIPE_KEY", r"_(?<=[sr]k_)(?:live|test)_[A-Za-z0-9]{16,}(?![A-Za-z0-9])", 2
    ),
    AnchorRule("stripe-key", "STRIPE_KEY", r"_(?<=whsec_)[A-Za-z0-9+/=]{24,}(?![A-Za-z0-9])", 5),
    AnchorRule("npm-token", "NPM_TOKEN", r"_(?<=npm_)[A-Za-z0-9]{36}(?![A-Za-z0-9])", 3),
    AnchorRule(
        "huggingface-token", "HUGGINGFACE_TOKEN", r"_(?<=hf_)[A-Za-z0-9]{34}(?![A-Za-z0-9])", 2
    ),
    AnchorRule("anthropic-key", "ANTHROPIC_KEY", rf"-(?<=sk-)ant-{_B64URL}{{32,}}{_END}", 2),
    AnchorRule(
        "openai-key",
        "OPENAI_KEY",
        r"-(?<=sk-)(?:proj-|svcacct-|admin-)?(?=[A-Za-z_-]*[0-9])(?=[0-9_-]*[A-Za-z])"
        rf"{_B64URL}{{20,}}{_END}",
        2,
    ),
    AnchorRule("gitlab-token", "GITLAB_TOKEN", rf"-(?<=glpat-){_B64URL}{{20,}}{_END}", 5),
    AnchorRule(
        "slack-token", "SLACK_TOKEN", r"-(?<=xox[abposre]-)[A-Za-z0-9-]{10,}(?![A-Za-z0-9])", 4
    ),
    AnchorRule("slack-token", "SLACK_TOKEN", r"-(?<=xapp-)\d-[A-Za-z0-9-]{10,}(?![A-Za-z0-9])", 4),
    AnchorRule("pypi-token", "PYPI_TOKEN", rf"-(?<=pypi-)AgEIcHlwaS5vcmc{_B64URL}{{40,}}{_END}", 4),
    AnchorRule(
        "private-key",
        "PRIVATE_KEY",
        r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"(?s:.*?-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\:,.-]*)",
    ),
    AnchorRule("jwt", "JWT", rf"J(?<=eyJ){_B64URL}{{10,}}\.eyJ{_B64URL}{{10,}}\.{_B64URL}*", 2),
    AnchorRule(
        "url-password",
        "PASSWORD",
        r"://[^\s/:@\"'<>\[\]]{0,128}:(?P<V>[^\s/@\"'<>\[\]]{1,256})@(?=[\w\[.-])",
    ),
    *_assignments(":"),
    *_assignments("="),
    AnchorRule(
        "ipv6",
        "IP",
        r":(?::(?=[0-9A-Fa-f])|(?<=[0-9A-Fa-f]:):|(?:[0-9A-Fa-f]{1,4}:){6}[0-9A-Fa-f]{1,4})",
    ),
    AnchorRule("home-dir", "USER_PATH", r":\\{1,2}Users\\{1,2}(?P<V>[\w.-]{1,64})"),
    AnchorRule(
        "email",
        "EMAIL",
        r"@(?P<V>[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24})"
        r"(?![A-Za-z0-9-]|\.[A-Za-z0-9])",
    ),
    AnchorRule(
        "slack-webhook",
        "SLACK_TOKEN",
        r"/(?<=hooks\.slack\.com/)services/(?P<V>[A-Za-z0-9_-]+/[A-Za-z0-9_/-]{8,})",
    ),
    AnchorRule("home-dir", "USER_PATH", r"/(?:home|Users)/(?P<V>[\w.-]{1,64})"),
)
"""Every detector with a fixed anchor character except numbers. Within one anchor
character the first alternative that matches wins (``sk-ant-`` before ``sk-``)."""

NUMBER_RULES: tuple[AnchorRule, ...] = (
    AnchorRule(
        "ipv4",
        "IP",
        r"\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\w|\.\d)",
        first=_DIGITS,
        guard=_NUMBER_GUARD,
    ),
    AnchorRule("ssn", "SSN", r"\d\d-\d\d-\d{4}(?!\w|-\d)", first=_DIGITS, guard=_NUMBER_GUARD),
    AnchorRule(
        "card",
        "CARD",
        r"\d{3}[ -]\d{6}[ -]\d{5}(?!\w|[ -]\d)",  # American Express: 4-6-5
        first=_DIGITS,
        guard=_NUMBER_GUARD,
    ),
    AnchorRule(
        "card",
        "CARD",
        r"\d{3}(?:[ -]?\d{4}){2}(?:[ -]?\d{1,4})?(?:[ -]?\d{1,3})?" + _NUMBER_END,
        first=_DIGITS,
        guard=_NUMBER_GUARD,
    ),
    AnchorRule(
        "phone",
        "PHONE",
        r"\d\d[-. ]\d{3}[-. ]\d{4}" + _NUMBER_END,  # 555-123-4567
        first=_DIGITS,
        guard=_NUMBER_GUARD,
    ),
    AnchorRule(
        "phone",
        "PHONE",
        r"[-. ]\d{3}[-. ]\d{3}[-. ]\d{4}" + _NUMBER_END,  # 1-555-123-4567
        first="1",
        guard=_NUMBER_GUARD,
    ),
    AnchorRule("phone", "PHONE", r"\((?<!\w\()\d{3}\) ?\d{3}[-. ]\d{4}" + _NUMBER_END),
    AnchorRule(
        "phone", "PHONE", r"\+(?<![\w+]\+)\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}" + _NUMBER_END
    ),
)
"""Numbers: IPv4 addresses, SSNs, card numbers, phone numbers (a regex of their own: the
digits they start with are frequent, and the other rules need not wait on them)."""
