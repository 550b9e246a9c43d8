"""The checks behind each detector: which candidate the patterns found is really a
secret or personal data, and which part of it to replace.

Each check takes the text, a regex match, where the candidate starts (before the
match when the rule has a look-behind prefix) and the name of the match's value group
(``None`` when the rule has none), and returns the ``(start, end)`` to replace, or
``None`` for a look-alike. They run only on candidates, so they may be
as careful as they need to be.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator

KEYWORDS = ("password", "passwd", "passphrase", "secret", "token", "key")
KEY_COMPOUNDS = (
    "api",
    "access",
    "secret",
    "private",
    "auth",
    "client",
    "signing",
    "encryption",
    "master",
    "license",
    "account",
    "subscription",
)
"""``<word>_key``, ``<word>-key``, ``<word>Key``: the kinds of key an assignment names."""

CODE_WORDS = frozenset(
    [
        "none",
        "null",
        "nil",
        "true",
        "false",
        "undefined",
        "str",
        "string",
        "int",
        "integer",
        "bool",
        "boolean",
        "bytes",
        "any",
        "object",
        "optional",
        "required",
        "secret",
        "secretstr",
        "password",
        "token",
        "env",
        "placeholder",
        "redacted",
        "self",
        "this",
        "value",
        "default",
    ]
)
"""Bare values after ``password =`` / ``token:`` that are code or types, not secrets."""

NOT_SECRET_PREFIXES = (
    "toolu_",
    "srvtoolu_",
    "msg_",
    "req_",
    "call_",
    "chatcmpl-",
    "run_",
    "thread_",
    "asst_",
    "file_",
    "batch_",
    "evt_",
    "cus_",
    "pi_",
    "ch_",
    "in_",
    "sub_",
    "price_",
    "prod_",
    "acct_",
    "pm_",
    "seti_",
    "pk_live_",
    "pk_test_",
    "sha1-",
    "sha256-",
    "sha384-",
    "sha512-",
)
"""Random-looking but not secret: object ids (Anthropic, OpenAI, Stripe), Stripe's
publishable keys (meant for web pages), subresource-integrity hashes."""

PLACEHOLDER_WORDS = ("your", "here", "xxxx", "example", "placeholder", "changeme", "dummy")
"""Words that make a value a placeholder: ``OPENAI_API_KEY=your-key-here``."""

GENERIC_ACCOUNTS = frozenset(
    [
        "root",
        "user",
        "admin",
        "administrator",
        "ubuntu",
        "debian",
        "runner",
        "vagrant",
        "node",
        "app",
        "www-data",
        "nobody",
        "guest",
        "test",
        "dev",
        "pi",
        "jenkins",
        "docker",
        "git",
        "home",
        "users",
        "default",
        "public",
        "shared",
        "ec2-user",
        "centos",
        "fedora",
    ]
)
"""User names too common to redact as words (their home folders are still rewritten)."""

SHARED_HOMES = frozenset({"Shared", "Public", "Default"})
"""Folders under /Users or C:\\Users that belong to nobody."""

NOT_PERSONAL_EMAIL_USERS = frozenset({"git", "noreply", "no-reply"})
EXAMPLE_DOMAINS = frozenset({"example.com", "example.org", "example.net"})
RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost", "local"})
"""Addresses that name no person: ``git@github.com``, ``noreply@…``, RFC 2606 examples."""

Span = tuple[int, int]
Check = Callable[[str, "re.Match[str]", int, str | None], Span | None]

_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-")


def _alnum_before(text: str, start: int) -> bool:
    return start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_")


# --- credentials with a known shape ---------------------------------------------------


def token(text: str, match: re.Match[str], start: int, value: str | None) -> Span | None:
    """A prefixed credential: not when glued to a longer word (``xAKIA…``)."""
    if _alnum_before(text, start):
        return None
    return match.span(value) if value else (start, match.end())


def jwt(text: str, match: re.Match[str], start: int, value: str | None) -> Span | None:
    if start > 0 and text[start - 1] in _B64_CHARS:  # inside a longer base64 run
        return None
    return start, match.end()


def whole(text: str, match: re.Match[str], start: int, value: str | None) -> Span | None:
    return match.span()


def value_group(text: str, match: re.Match[str], start: int, value: str | None) -> Span | None:
    """The ``V`` group as it is (a Slack webhook's path)."""
    return match.span(value or 0)


def url_password(text: str, match: re.Match[str], start: int, value: str | None) -> Span | None:
    start, end = match.span(value or 0)
    return None if _placeholder(text[start:end]) else (start, end)


def _placeholder(value: str) -> bool:
    """``${DB_PASSWORD}``, ``<password>``, ``%s``, ``***``, ``sk-...``, ``your-key-here``,
    ``[REDACTED:…]``: not a secret."""
    lowered = value.lower()
    return (
        not value
        or value[0] in "${<%[(*&"
        or "{{" in value
        or value.count(value[0]) == len(value)
        or "..." in value
        or "…" in value
        or any(word in lowered for word in PLACEHOLDER_WORDS)
    )


# --- assignments: password = …, "token": "…", Authorization: Bearer … ----------------

_KEY_BEFORE = re.compile(r"(?:" + "|".join(KEY_COMPOUNDS) + r")[_-]?\Z")
_DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_LETTERS = re.compile(r"[A-Za-z]+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DIGIT = re.compile(r"\d")


def assigned(text: str, match: re.Match[str], start: int, value: str | None) -> Span | None:
    """The value after ``password =``, ``"token":``, ``SECRET:`` …, unless it is code,
    a type, a placeholder or prose."""
    begin, end = match.span(value or 0)
    raw = text[begin:end]
    quoted = raw[0] in "\"'"
    if quoted:
        begin, end = begin + 1, end - 1
    elif raw.startswith(('\\"', "\\'")):  # an escaped quote inside a JSON string
        quoted = True
        begin, end = begin + 2, end - 2 if raw.endswith(raw[:2]) and len(raw) > 4 else end
    if end <= begin:
        return None
    colon = text[match.start()] == ":"
    return (begin, end) if _plausible(text[begin:end], quoted=quoted, colon=colon) else None


def aws_secret(text: str, match: re.Match[str], start: int, value: str | None) -> Span | None:
    """``aws_secret_access_key = …``: 40 characters of base64, quoted or not."""
    begin, end = match.span(value or 0)
    if text[begin] in "\"'":
        begin, end = begin + 1, end - 1
    if not _AWS_SECRET.fullmatch(text, begin, end) or _placeholder(text[begin:end]):
        return None  # not 40 characters of base64, or the documentation's example key
    return begin, end


_AWS_SECRET = re.compile(r"[A-Za-z0-9/+]{40}")


def key_assigned(text: str, match: re.Match[str], start: int, value: str | None) -> Span | None:
    """``api_key = …``, ``apiKey: …``, ``SECRET_KEY=…``: a key of a kind that is secret
    (not ``key=lambda``, ``monkey: 3``, ``primary_key=True``)."""
    before = text[max(0, match.start() - 24) : match.start()].lower().rstrip("\"' \t")
    if not _KEY_BEFORE.search(before, 0, len(before) - 3):
        return None
    return assigned(text, match, start, value)


def _plausible(value: str, *, quoted: bool, colon: bool) -> bool:
    """Whether an assigned value can be a secret rather than code, a type or prose."""
    lowered = value.lower()
    if _placeholder(value.strip()) or "${" in value or lowered in CODE_WORDS:
        return False
    if quoted:
        return True
    if value.startswith(("/", "~/", "./", "../")):
        return False  # a file
    if _IDENTIFIER.fullmatch(value) and any(word in lowered for word in KEYWORDS):
        return False  # password=password, token=access_token: a variable
    if any(c in value for c in "([{") or _DOTTED_NAME.fullmatch(value):
        return False  # a call, a subscript, an attribute: code
    if colon and _LETTERS.fullmatch(value):
        return False  # ``token: string``, ``Secret: the …``: a type or prose
    return not (value.isdigit() and len(value) < 6)  # ``token: 5`` counts


def header(text: str, match: re.Match[str], start: int, value: str | None) -> Span | None:
    """``Authorization: Bearer …`` / ``Basic …`` / ``token …``."""
    begin, end = match.span(value or 0)
    token_ = text[begin:end]
    if token_.lower() == token_ and not _DIGIT.search(token_):
        return None  # prose: "authorization: bearer authentication"
    return begin, end


def bearer(text: str, match: re.Match[str], start: int, value: str | None) -> Span | None:
    """``Bearer <token>`` anywhere (curl -H, logs): a token has digits."""
    begin, end = match.span(value or 0)
    if _alnum_before(text, start) or not _DIGIT.search(text, begin, end):
        return None
    return begin, end


# --- personal data --------------------------------------------------------------------

_LOCAL_PART = re.compile(r"[A-Za-z0-9._%+-]{1,64}\Z")


def email(text: str, match: re.Match[str], start: int, value: str | None) -> Span | None:
    """An address with a person behind it: not ``git@github.com``, ``noreply@…``, the
    RFC 2606 examples, ``image@2x.png`` or ``+@README.md`` (a diff of an @-mention)."""
    at = match.start()
    local = _LOCAL_PART.search(text, max(0, at - 64), at)
    if local is None or not local.group()[0].isalnum() or local.group() in NOT_PERSONAL_EMAIL_USERS:
        return None
    if _URL_USER.search(text, max(0, local.start() - 160), local.start()):
        return None  # https://user:password@host: credentials in a URL, not an address
    domain = match.group(value or 0).lower()
    first, _, rest = domain.partition(".")
    tld = rest.rpartition(".")[2]
    if domain in EXAMPLE_DOMAINS or tld in RESERVED_TLDS or _RETINA.fullmatch(first):
        return None
    return local.start(), match.end()


_URL_USER = re.compile(r"://[^\s/@]*\Z")
_RETINA = re.compile(r"\d+(?:\.\d+)?x")


def home_dir(text: str, match: re.Match[str], start: int, value: str | None) -> Span | None:
    """``/home/<name>``, ``/Users/<name>``, ``C:\\Users\\<name>``: the whole prefix."""
    start, end = match.start(), match.end()
    name = match.group(value) if value else ""
    if name in SHARED_HOMES or name.startswith("."):
        return None
    if text[start] == ":":  # C:\Users\…
        if start == 0 or not text[start - 1].isalpha() or _alnum_before(text, start - 1):
            return None
        return start - 1, end
    before = text[start - 1] if start else " "
    if (
        before.isalnum()
        or before in "._-~"
        or (before == "/" and not text.endswith("file://", 0, start))
    ):
        return None  # a URL path (example.com/home/…), not a folder
    if (
        before == ":"
        and start >= 2
        and text[start - 2].isalpha()
        and not _alnum_before(text, start - 2)
    ):
        return start - 2, end  # C:/Users/…
    return start, end


def ipv6(text: str, match: re.Match[str], start: int, value: str | None) -> Span | None:
    start, end = match.start(), match.end()
    floor, ceiling = max(0, start - 39), min(len(text), start + 45)  # 45: the longest form
    while start > floor and text[start - 1] in _HEX_COLON:
        start -= 1
    while end < ceiling and text[end] in _HEX_COLON_DOT:
        end += 1
    candidate = (
        text[start:end].rstrip(".:") if not text[start:end].endswith("::") else text[start:end]
    )
    end = start + len(candidate)
    if (start and (text[start - 1].isalnum() or text[start - 1] in "_.")) or not _DIGIT.search(
        candidate
    ):
        return None
    if "::" not in candidate and candidate.count(":") != 7:
        return None  # 12:34:56, a MAC address
    groups = [g for g in candidate.split(":") if g]
    if "::" in candidate and len(groups) < 3 and max(map(len, groups), default=0) < 4:
        return None  # 1::2 (a slice), fe::1
    import ipaddress  # only here: most texts never get this far

    try:
        address = ipaddress.IPv6Address(candidate)
    except ValueError:
        return None
    if address.is_loopback or address.is_unspecified or address.is_multicast:
        return None
    return start, end


_HEX_COLON = frozenset("0123456789abcdefABCDEF:")
_HEX_COLON_DOT = _HEX_COLON | {"."}
_VERSION_BEFORE = re.compile(
    r"(?:\b(?:version|ver|release|build|firmware|v)\.?[ \t]*[:=]?[ \t]*|[@=~^<>][ \t]*|\w/)\Z",
    re.I,
)


def ipv4(text: str, match: re.Match[str], start: int, value: str | None) -> Span | None:
    start, end = match.span()
    octets = [int(part) for part in match.group().split(".")]
    if any(o > 255 for o in octets) or any(
        p != "0" and p[0] == "0" for p in match.group().split(".")
    ):
        return None
    first = octets[0]
    if first in {0, 127} or first >= 224 or (first == 169 and octets[1] == 254):
        return None  # this host, loopback, multicast, reserved, link-local
    if _VERSION_BEFORE.search(text, max(0, start - 24), start):
        return None  # version 1.2.3.4, pkg@1.2.3.4, Chrome/120.0.0.1
    after = text[end : end + 2]
    if after[:1] == "+" or (after[:1] == "-" and after[1:].isalnum()):
        return None  # 1.2.3.4-beta, 1.2.3.4+build
    return start, end


def ssn(text: str, match: re.Match[str], start: int, value: str | None) -> Span | None:
    area, group, serial = match.group().split("-")
    if area in {"000", "666"} or area[0] == "9" or group == "00" or serial == "0000":
        return None
    return match.span()


def luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card(text: str, match: re.Match[str], start: int, value: str | None) -> Span | None:
    digits = match.group().replace(" ", "").replace("-", "")
    size = len(digits)
    if not 13 <= size <= 19 or digits[0] not in "23456":
        return None
    if (digits[0] == "4" and size not in {13, 16, 19}) or (
        digits[:2] in {"34", "37"} and size != 15
    ):
        return None
    return match.span() if luhn(digits) else None


def phone(text: str, match: re.Match[str], start: int, value: str | None) -> Span | None:
    """North American numbers (555-123-4567, (555) 123-4567, 1.555.123.4567) whose
    area code and exchange are valid, and international ones (+44 20 7946 0958) of 8
    to 15 digits."""
    number = match.group()
    digits = "".join(c for c in number if c.isdigit())
    if number[0] == "+":
        return match.span() if 8 <= len(digits) <= 15 and not _DATE_LIKE.match(number) else None
    separators = {c for c in number if c in "-. "}
    if len(separators) > 1 and number[0] != "(":
        return None  # 555-123.4567: two kinds of separator, not a written phone number
    digits = digits[-10:]
    if digits[0] in "01" or digits[3] in "01":
        return None  # not a North American area code and exchange
    return match.span()


_DATE_LIKE = re.compile(r"\+\d{4}-\d\d-\d\d")

# --- generic high-entropy strings -----------------------------------------------------

_WORDISH = re.compile(r"[A-Z]?[a-z]{3,}|[A-Z]{4,}")
_HEX_ONLY = re.compile(r"[0-9A-Fa-f-]+")
_CLASS_RUN = re.compile(r"[A-Z]+|[a-z]+|[0-9]+|[^A-Za-z0-9]+")
_WORD_SEGMENT = re.compile(r"[A-Za-z][a-z]{2,}")
_MIXED_ALPHABETS = re.compile(r"[/+].*[_-]|[_-].*[/+]")
MIN_GENERIC, MAX_GENERIC = 24, 256
"""Generic secrets are 24 to 256 characters; longer runs are data (images, signatures)."""


def entropy(value: str) -> float:
    size = len(value)
    return -sum(n / size * math.log2(n / size) for n in Counter(value).values())


_RUN_CHARS = bytes(
    1 if chr(i) in "+/_-" or (chr(i).isascii() and chr(i).isalnum()) else 0 for i in range(256)
)
_LONG_RUN = b"\x01" * MIN_GENERIC


def long_runs(data: bytes) -> Iterator[tuple[int, int]]:
    """Where ``data`` (a text as ASCII bytes, one per character) has runs of
    ``MIN_GENERIC`` or more base64 characters.

    Faster than a regex: the bytes are mapped to 1 for a run character and 0 for any
    other, in which ``bytes.find`` looks for 24 ones in a row."""
    mask = data.translate(_RUN_CHARS)
    start = mask.find(_LONG_RUN)
    while start >= 0:
        end = mask.find(0, start + MIN_GENERIC)
        if end < 0:
            end = len(mask)
        yield start, end
        start = mask.find(_LONG_RUN, end)


def _words(value: str) -> float:
    """The share of ``value`` in words: ``Abc…``, ``abc…``, ``ABCD…``."""
    return sum(len(word) for word in _WORDISH.findall(value)) / len(value)


def generic(text: str, start: int, end: int) -> Span | None:
    """A long run of base64 characters that looks random: mixed case and digits, few
    and short words, frequent changes between upper case, lower case and digits, high
    Shannon entropy. Hashes, UUIDs, paths, identifiers and object ids do not pass. The
    span includes ``=`` padding."""
    value = text[start:end]
    if value.startswith("//"):  # https://token@host
        value = value.lstrip("/")
        start = end - len(value)
    size = len(value)
    if size < MIN_GENERIC or size > MAX_GENERIC or value.startswith(NOT_SECRET_PREFIXES):
        return None
    if value.lower() == value or value.upper() == value or not _DIGIT.search(value):
        return None
    if _HEX_ONLY.fullmatch(value) or text.endswith("base64,", 0, start) or _placeholder(value):
        return None
    if _MIXED_ALPHABETS.search(value):
        return None  # / or + with - or _: no single base64 alphabet; a path or a name
    if "/" in value and sum(bool(_WORD_SEGMENT.fullmatch(p)) for p in value.split("/")) >= 2:
        return None  # a path or a URL: var/folders/…, com/user/status/123
    words = _words(value)
    changes = (len(_CLASS_RUN.findall(value)) - 1) / (size - 1)
    if words > 0.65 or (words > 0.55 and changes < 0.35) or changes < 0.25:
        return None  # ThisIsACamelCaseName2, MAX_RETRY_COUNT_V2: words, not noise
    if entropy(value) < 0.8 * math.log2(min(size, 64)):
        return None
    while end < len(text) and text[end] == "=" and end - start < size + 2:
        end += 1
    return start, end
