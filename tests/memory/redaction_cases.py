"""A labelled set for the redactor: fake but format-valid secrets, and look-alikes.

Secrets are generated from a fixed seed when the tests run, and the prefixes that
secret scanners look for (``AK`` + ``IA``, ``gh`` + ``p_``…) are joined from parts,
so this file holds no string that push protection or a scanner would flag. Each
``Case`` is one text: with ``secret`` set, the whole of that substring must be removed
(one finding must cover it); without, nothing in the text may be redacted. The set is
meant for the ``public`` level with the user ``dain`` whose home is ``/Users/dain``.
"""

from __future__ import annotations

import base64
import json
import random
import string
from dataclasses import dataclass

USER, HOME = "dain", "/Users/dain"
_ALNUM = string.ascii_letters + string.digits
_UPPER_DIGITS = string.ascii_uppercase + string.digits
_B64URL = _ALNUM + "-_"
_B64 = _ALNUM + "+/"


@dataclass(frozen=True)
class Case:
    label: str
    text: str
    secret: str = ""
    type: str = ""


def _secret(label: str, kind: str, template: str, secret: str) -> Case:
    return Case(label, template.format(secret), secret, kind)


class _Fake:
    """Random material from one seed, so every run tests the same strings."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def chars(self, alphabet: str, size: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(size))

    def mixed(self, size: int, alphabet: str = _ALNUM) -> str:
        """``size`` characters with at least one upper, lower and digit each."""
        while True:
            value = self.chars(alphabet, size)
            kinds = (str.isupper, str.islower, str.isdigit)
            if all(any(kind(c) for c in value) for kind in kinds):
                return value

    def luhn(self, prefix: str, size: int) -> str:
        body = prefix + self.chars(string.digits, size - len(prefix) - 1)
        total = 0
        for index, char in enumerate(reversed(body)):
            value = int(char) * (2 if index % 2 == 0 else 1)
            total += value - 9 if value > 9 else value
        return body + str((10 - total % 10) % 10)

    def b64url_json(self, value: dict[str, object]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def secret_cases() -> list[Case]:
    fake = _Fake(20261122)
    return [*_credentials(fake), *_assignments(fake), *_blocks(fake), *_personal(fake)]


def _credentials(fake: _Fake) -> list[Case]:
    aws, gh = "AK" + "IA", "gh"
    cases = [
        _secret(
            "aws key id", "AWS_KEY", "aws_access_key_id = {}", aws + fake.chars(_UPPER_DIGITS, 16)
        ),
        _secret(
            "aws key id env",
            "AWS_KEY",
            "export AWS_ACCESS_KEY_ID={}",
            aws + fake.chars(_UPPER_DIGITS, 16),
        ),
        _secret(
            "aws key id prose", "AWS_KEY", "the key {} leaked", aws + fake.chars(_UPPER_DIGITS, 16)
        ),
        _secret(
            "aws temporary key",
            "AWS_KEY",
            '{{"AccessKeyId": "{}", "Expiration": "2026-01-01T00:00:00Z"}}',
            "AS" + "IA" + fake.chars(_UPPER_DIGITS, 16),
        ),
    ]
    for kind in "pousr":
        token = gh + kind + "_" + fake.mixed(36)
        cases.append(_secret(f"github {kind}", "GITHUB_TOKEN", "GITHUB_TOKEN={}", token))
    slack_ids = fake.chars(string.digits, 12) + "-" + fake.chars(string.digits, 13)
    webhook = "T" + fake.chars(_UPPER_DIGITS, 8) + "/B" + fake.chars(_UPPER_DIGITS, 10)
    cases += [
        _secret(
            "github in clone url",
            "GITHUB_TOKEN",
            "git clone https://{}@github.com/acme/app.git",
            gh + "p_" + fake.mixed(36),
        ),
        _secret(
            "github fine-grained",
            "GITHUB_TOKEN",
            "token: {}",
            "github" + "_pat_" + fake.mixed(22) + "_" + fake.mixed(59),
        ),
        _secret(
            "anthropic key",
            "ANTHROPIC_KEY",
            "ANTHROPIC_API_KEY={}",
            "sk-" + "ant-api03-" + fake.mixed(93, _B64URL) + "AA",
        ),
        _secret(
            "anthropic key in code",
            "ANTHROPIC_KEY",
            'client = Anthropic(api_key="{}")',
            "sk-" + "ant-admin01-" + fake.mixed(93, _B64URL) + "AA",
        ),
        _secret(
            "openai project key",
            "OPENAI_KEY",
            "OPENAI_API_KEY={}",
            "sk-" + "proj-" + fake.mixed(156, _B64URL),
        ),
        _secret("openai legacy key", "OPENAI_KEY", "openai.api_key = '{}'", "sk-" + fake.mixed(48)),
        _secret("openai key prose", "OPENAI_KEY", "I used {} for the test", "sk-" + fake.mixed(48)),
        _secret(
            "stripe live", "STRIPE_KEY", "STRIPE_SECRET_KEY={}", "sk_" + "live_" + fake.mixed(24)
        ),
        _secret(
            "stripe restricted", "STRIPE_KEY", "key {} rotated", "rk_" + "live_" + fake.mixed(24)
        ),
        _secret(
            "stripe test", "STRIPE_KEY", "stripe.api_key = '{}'", "sk_" + "test_" + fake.mixed(99)
        ),
        _secret(
            "stripe webhook", "STRIPE_KEY", "signing secret {}", "wh" + "sec_" + fake.mixed(32)
        ),
        _secret("google api", "GOOGLE_KEY", "key={}&q=maps", "AI" + "za" + fake.mixed(35, _B64URL)),
        _secret(
            "google api json",
            "GOOGLE_KEY",
            '{{"apiKey": "{}"}}',
            "AI" + "za" + fake.mixed(35, _B64URL),
        ),
        _secret(
            "google oauth",
            "GOOGLE_KEY",
            "client secret {}",
            "GOC" + "SPX-" + fake.mixed(28, _B64URL),
        ),
        _secret(
            "slack bot",
            "SLACK_TOKEN",
            "SLACK_BOT_TOKEN={}",
            "xo" + "xb-" + slack_ids + "-" + fake.mixed(24),
        ),
        _secret(
            "slack user",
            "SLACK_TOKEN",
            "using {} now",
            "xo" + "xp-" + slack_ids + "-" + fake.mixed(32),
        ),
        _secret(
            "slack webhook",
            "SLACK_TOKEN",
            "curl -X POST https://hooks.slack.com/services/{} -d @msg.json",
            webhook + "/" + fake.mixed(24),
        ),
        _secret(
            "npm", "NPM_TOKEN", "//registry.npmjs.org/:_authToken={}", "np" + "m_" + fake.mixed(36)
        ),
        _secret(
            "pypi",
            "PYPI_TOKEN",
            "password = {}",
            "py" + "pi-" + "AgEIcHlwaS5vcmc" + fake.mixed(60, _B64URL),
        ),
        _secret(
            "gitlab", "GITLAB_TOKEN", "PRIVATE-TOKEN: {}", "gl" + "pat-" + fake.mixed(20, _B64URL)
        ),
        _secret(
            "hugging face",
            "HUGGINGFACE_TOKEN",
            "huggingface-cli login --token {}",
            "h" + "f_" + fake.mixed(34),
        ),
    ]
    header = fake.b64url_json({"alg": "HS256", "typ": "JWT"})
    templates = ["Authorization: Bearer {}", "cookie: session={}; Path=/", "decoded {} ok"]
    for index, template in enumerate(templates):
        payload = fake.b64url_json({"sub": str(1000 + index), "name": "Jane", "iat": 1700000000})
        jwt = f"{header}.{payload}.{fake.mixed(43, _B64URL)}"
        cases.append(_secret(f"jwt {index}", "JWT", template, jwt))
    return cases


def _assignments(fake: _Fake) -> list[Case]:
    def password() -> str:
        return fake.mixed(14, _ALNUM + "!%*#^")

    basic = base64.b64encode(b"admin:" + fake.mixed(12).encode()).decode()
    return [
        _secret(
            "url password postgres",
            "PASSWORD",
            "postgres://app:{}@db.internal:5432/app",
            password(),
        ),
        _secret(
            "url password mysql",
            "PASSWORD",
            "DATABASE_URL=mysql://root:{}@localhost/shop",
            password(),
        ),
        _secret("url password redis", "PASSWORD", "redis://:{}@cache:6379/0", password()),
        _secret(
            "url password https",
            "PASSWORD",
            "pushed to https://deploy:{}@git.acme.io/r.git",
            password(),
        ),
        _secret("password=", "PASSWORD", "password={}", password()),
        _secret("password json", "PASSWORD", '{{"user": "admin", "password": "{}"}}', password()),
        _secret("PASSWORD yaml", "PASSWORD", "db:\n  PASSWORD: {}\n  host: x", password()),
        _secret("DB_PASSWORD env", "PASSWORD", "DB_PASSWORD={}", password()),
        _secret("passwd quoted", "PASSWORD", "passwd = '{}'", password()),
        _secret("--password=", "PASSWORD", "mysqldump --password={} shop", password()),
        _secret("PGPASSWORD", "PASSWORD", "PGPASSWORD={} psql -h db", password()),
        _secret(
            "passphrase spaces", "PASSWORD", '"passphrase": "{}"', "correct horse battery staple 42"
        ),
        _secret("password word", "PASSWORD", "password={}", "hunter2"),
        _secret("api_key=", "SECRET", 'api_key="{}"', fake.mixed(32)),
        _secret("apiKey json", "SECRET", '{{"apiKey": "{}"}}', fake.mixed(40, _B64URL)),
        _secret("SECRET_KEY", "SECRET", "SECRET_KEY={}", fake.mixed(50, _ALNUM + "!@#%^&*-_=+")),
        _secret("client_secret yaml", "SECRET", "client_secret: {}", fake.mixed(24)),
        _secret("token json", "SECRET", '{{"token": "{}", "expires": 3600}}', fake.mixed(30)),
        _secret("auth_token", "SECRET", 'auth_token = "{}"', fake.mixed(32)),
        _secret("X-Api-Key header", "SECRET", "X-Api-Key: {}", fake.mixed(32)),
        _secret("aws secret", "AWS_KEY", "aws_secret_access_key = {}", fake.mixed(40, _B64)),
        _secret("aws secret env", "AWS_KEY", "AWS_SECRET_ACCESS_KEY={}", fake.mixed(40, _B64)),
        _secret("aws secret json", "AWS_KEY", '"SecretAccessKey": "{}"', fake.mixed(40, _B64)),
        _secret(
            "bearer curl",
            "SECRET",
            "curl -H 'Authorization: Bearer {}' https://api.acme.io",
            fake.mixed(40, _B64URL),
        ),
        _secret("bearer log", "SECRET", "sent Bearer {} to the proxy", fake.mixed(32, _B64URL)),
        _secret("basic auth", "PASSWORD", "Authorization: Basic {}", basic),
        _secret("generic base62 32", "SECRET", "use {} to sign requests", fake.mixed(32)),
        _secret("generic base62 40", "SECRET", "webhook verifier {}", fake.mixed(40)),
        _secret("generic base62 64", "SECRET", "{}", fake.mixed(64)),
        _secret("generic urlsafe 43", "SECRET", "SIGNING={}", fake.mixed(43, _B64URL)),
        _secret("generic base64 44", "SECRET", "HMAC material {}=", fake.mixed(43, _B64)),
        _secret("generic in json", "SECRET", '{{"signing": "{}"}}', fake.mixed(48)),
    ]


def _pem(fake: _Fake, kind: str, newline: str = "\n", end: bool = True) -> str:
    label = f"{kind} PRIVATE" + " KEY"
    body = newline.join(fake.chars(_B64, 64) for _ in range(5))
    tail = f"{newline}-----END {label}-----" if end else ""
    return f"-----BEGIN {label}-----{newline}{body}{tail}"


def _blocks(fake: _Fake) -> list[Case]:
    return [
        _secret("pem rsa", "PRIVATE_KEY", "key file:\n{}\nend", _pem(fake, "RSA")),
        _secret("pem ec", "PRIVATE_KEY", "{}", _pem(fake, "EC")),
        _secret("pem openssh", "PRIVATE_KEY", "cat id_ed25519\n{}\n$ ", _pem(fake, "OPENSSH")),
        _secret(
            "pem escaped", "PRIVATE_KEY", '{{"private_key": "{}\\n"}}', _pem(fake, "RSA", "\\n")
        ),
        _secret("pem cut off", "PRIVATE_KEY", "head -3 key.pem\n{}", _pem(fake, "RSA", end=False)),
    ]


def _personal(fake: _Fake) -> list[Case]:
    cases = [
        _secret("email plain", "EMAIL", "contact {} for access", "jane.doe@acme-corp.io"),
        _secret("email author", "EMAIL", "Author: Jane Doe <{}>", "jane@corp.co.uk"),
        _secret("email plus", "EMAIL", "mailto:{}", "ops+alerts@company.com"),
        _secret("email json", "EMAIL", '{{"email": "{}"}}', "m.mueller@firma.de"),
        _secret("email digits", "EMAIL", "cc {}", "first_last99@mail.acme-corp.com"),
        _secret("phone us dashes", "PHONE", "call {} today", "212-555-0147"),
        _secret("phone us parens", "PHONE", "Phone: {}", "(415) 555-0132"),
        _secret("phone us dots", "PHONE", "phone {}", "415.555.0123"),
        _secret("phone us toll free", "PHONE", "support line {}", "1-800-555-0199"),
        _secret("phone intl uk", "PHONE", "tel: {}", "+44 20 7946 0958"),
        _secret("phone intl us", "PHONE", "mobile {}", "+1 (415) 555-0199"),
        _secret("phone intl de", "PHONE", "Telefon {}", "+49 30 901820"),
        _secret("phone intl compact", "PHONE", "whatsapp {}", "+4915112345678"),
        _secret("ssn", "SSN", "SSN: {}", "123-45-6789"),
        _secret("ssn prose", "SSN", "her number is {} on file", "078-05-1120"),
        _secret("ssn json", "SSN", '{{"ssn": "{}"}}', "219-09-9999"),
        _secret("ipv4 private", "IP", "connect to {} now", "10.20.30.40"),
        _secret("ipv4 documentation", "IP", "request from {} port 443", "203.0.113.77"),
        _secret("ipv4 json", "IP", '"serverIPAddress": "{}",', "192.168.1.15"),
        _secret("ipv4 with port", "IP", "listening on {}:8080", "198.51.100.2"),
        _secret("ipv6 compressed", "IP", "addr {} up", "2001:db8:85a3::8a2e:370:7334"),
        _secret("ipv6 link local", "IP", "inet6 {} scopeid", "fe80::1ff:fe23:4567:890a"),
        _secret("ipv6 bracketed", "IP", "http://[{}]:443/", "2001:db8::42"),
        _secret("ipv6 full", "IP", "{}", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
        _secret("home macos", "USER_PATH", "open {}/workspace/app/main.py", HOME),
        _secret("home linux", "USER_PATH", "cd {}/projects", "/home/" + USER),
        _secret("home windows", "USER_PATH", "dir {}\\AppData\\Local", "C:\\Users\\" + USER),
        _secret("home windows json", "USER_PATH", '"cwd": "{}\\\\src"', "C:\\\\Users\\\\" + USER),
        _secret("home other user", "USER_PATH", "ls {}/.ssh", "/home/cboos"),
        _secret("user at host", "USER_NAME", "{}@MacBook-Pro ~ %", USER),
        _secret("user in project folder", "USER_NAME", "~/.claude/projects/-Users-{}-app", USER),
        _secret("user as owner", "USER_NAME", "owner: {}", USER),
    ]
    cards = [
        ("visa spaces", "4", 16, " "),
        ("visa plain", "4", 16, ""),
        ("visa 13", "4", 13, ""),
        ("mastercard dashes", "53", 16, "-"),
        ("mastercard 2-series", "2221", 16, " "),
        ("discover", "6011", 16, ""),
        ("jcb", "3530", 16, " "),
    ]
    for label, prefix, size, sep in cards:
        number = fake.luhn(prefix, size)
        if sep:
            number = sep.join(number[i : i + 4] for i in range(0, size, 4))
        cases.append(_secret(f"card {label}", "CARD", "paid with {} yesterday", number))
    amex = fake.luhn("37", 15)
    cases.append(_secret("card amex", "CARD", "card: {}", f"{amex[:4]} {amex[4:10]} {amex[10:]}"))
    return cases


LOOKALIKES: tuple[tuple[str, str], ...] = (
    ("sha256", "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
    ("sha1", "blob 2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"),
    ("md5", "md5sum d41d8cd98f00b204e9800998ecf8427e  empty.txt"),
    ("git commit", "commit f0d148af2b8837294b8130c493462cec24d0fbda (HEAD -> main)"),
    ("git short", "Merge a1b2c3d into 9e8f7a6"),
    (
        "docker digest",
        "image@sha256:3b1d2f7a6c5e4d9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b",
    ),
    ("uuid", "session 1794ff5d-3e06-4647-8a8d-01b51798d275 resumed"),
    ("uuid upper", "{F47AC10B-58CC-4372-A567-0E02B2C3D479}"),
    ("uuid json", '"sessionId":"ef958aa1-0e93-49f0-bb71-150f63befcd1"'),
    ("tool use id", '"tool_use_id": "toolu_01A09q90qw90lq917835lq9zX"'),
    ("message id", '"id": "msg_01XFDUDYJgAACzvnptvVoYELabc"'),
    ("request id", '"requestId": "req_011CUjhfXGzL6t1bJCdzR9Ki"'),
    ("stripe customer id", "customer cus_NffrFeUfNV2HibQ7xR2s9kLp created"),
    ("stripe payment intent", "pi_3MtwBwLkdIwHu7ix28a3tqPa succeeded"),
    ("stripe publishable", "pk_" + "live_51H8kXyZ2eZvKYlo2C9aB3cD4eF5gH6iJ7kL8mN9"),
    (
        "data uri small",
        "![dot](data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ"
        "AAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==)",
    ),
    ("data uri large", "data:image/png;base64," + "iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB" * 20),
    (
        "sri hash",
        'integrity="sha512-Kq5sNclPz7QV2+lfQIuYAgGaZZ0X/+Rb0wD7ZeGXVkaAqLYf5aeTs3V9qZyvgSYLnRSg'
        'ZiM2hUbwIQGq8aQZog=="',
    ),
    ("version 4 part", "upgraded to version 1.2.3.4 today"),
    ("version v", "release v1.2.3.4"),
    ("version prerelease", "tag 1.2.3.4-rc1"),
    ("version package", "npm i jssoundrecorder@0.1.0"),
    ("version pip", "pip install numpy==1.24.3"),
    ("user agent", "Mozilla/5.0 Chrome/120.0.6099.109 Safari/537.36"),
    ("build number", "Windows 10.0.19041.1 build"),
    ("semver", "bumped 2.10.3 -> 2.11.0"),
    ("five part", "schema 1.2.3.4.5"),
    ("date iso", "2026-04-18T13:20:36.811Z"),
    ("date slash", "due 15/01/2024 and 01/15/2024"),
    ("date plain", "on 2024-12-01 we shipped"),
    ("git date", "Date:   Sat Oct 4 12:00:00 2025 +0100"),
    ("unix time", "ts=1700000000"),
    ("unix ms", "createdAt: 1700000000123"),
    ("compact date", "build-20240115-1"),
    ("time", "at 12:34:56 UTC"),
    ("mac address", "ether 00:1a:2b:3c:4d:5e"),
    ("loopback v4", "curl http://127.0.0.1:8000/health"),
    ("any address", "bind 0.0.0.0:5432"),
    ("netmask", "mask 255.255.255.0"),
    ("metadata ip", "curl 169.254.169.254/latest/meta-data"),
    ("multicast", "mdns 224.0.0.251"),
    ("loopback v6", "listen [::1]:8080"),
    ("cpp scope", "std::vector<std::string> names;"),
    ("python slice", "evens = items[0::2]"),
    ("arn", "arn:aws:iam::123456789012:role/Deploy"),
    ("unix path", "/usr/local/lib/python3.11/site-packages/pkg/__init__.py"),
    ("repo path", "src/components/Button/ButtonGroup2.test.tsx"),
    ("windows path", "C:\\Program Files\\Microsoft VS Code\\Code.exe"),
    ("shared home", "/Users/Shared/Library/data.db"),
    ("url home path", "see https://acme.org/home/about for details"),
    ("url users path", "GET https://api.acme.org/Users/list"),
    ("url plain", "https://github.com/anthropics/claude-code/issues/1234"),
    (
        "url drive id",
        "https://docs.google.com/spreadsheets/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/edit",
    ),
    ("url video", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
    ("url no credentials", "postgres://localhost:5432/app"),
    ("url user only", "ssh://git@github.com/acme/app.git"),
    ("scp remote", "git@github.com:acme/app.git"),
    ("noreply", "Co-Authored-By: Claude <noreply@anthropic.com>"),
    ("example email", "write to jane@example.com"),
    ("retina image", "logo@2x.png and icon@3x.jpg"),
    ("npm scope", "import x from '@types/node'"),
    ("decorator", "@pytest.fixture(scope='module')"),
    ("at mention diff", "+@README.md\n+@CONTRIBUTING.md"),
    ("local host email", "root@localhost"),
    ("python identifier", "test_combined_transcript_link_with_session_title"),
    ("camel identifier", "ThisIsAVeryLongCamelCaseIdentifierName2"),
    ("constant", "SUPER_LONG_CONSTANT_NAME_FOR_TESTING_123"),
    ("long word", "pneumonoultramicroscopicsilicovolcanoconiosis"),
    ("german word", "Donaudampfschifffahrtsgesellschaftskapitänsmütze"),
    ("kebab", "my-component-with-a-very-long-name-v2"),
    ("luhn fails", "order 4111 1111 1111 1112 shipped"),
    ("order number", "order #1234567890123456"),
    ("zeros", "0000 0000 0000 0000"),
    ("long digits", "x = 12345678901234567890123"),
    ("bare ten digits", "id 5551234567"),
    ("isbn", "ISBN 978-0-13-468599-1"),
    ("money", "total $1,299.99 (+12%)"),
    ("diff hunk", "@@ -1180,7 +1325,50 @@ def main():"),
    ("line numbers", "   120→    return 42\n   121→"),
    ("hex address", "at 0x7fff5fbff8c8"),
    ("pi", "pi = 3.141592653589793"),
    ("bad ssn", "code 000-12-3456 and 666-12-3456"),
    ("token type", "token: string"),
    ("password type", "def login(password: str) -> bool:"),
    ("password getpass", "password = getpass.getpass()"),
    ("api key env", "api_key=os.environ['OPENAI_API_KEY']"),
    ("token from header", 'token = request.headers.get("X-Token")'),
    ("max tokens", "max_tokens=1000"),
    ("token count", '"input_tokens": 1234, "output_tokens": 56'),
    ("password hash", "password_hash = bcrypt.hashpw(pw, salt)"),
    ("key lambda", "sorted(rows, key=lambda r: r[1])"),
    ("key value", '{"key": "value", "primary_key": true}'),
    ("secret template", "secret: ${{ secrets.DEPLOY_KEY }}"),
    ("password placeholder", 'password: "<your-password>"'),
    ("token none", "token = None"),
    ("password compare", "if password == 'admin':"),
    ("secret variable", "secret=secret"),
    ("token prose", "Token: the API token is required"),
    ("bearer template", "Authorization: Bearer ${TOKEN}"),
    ("bearer prose", "uses Bearer authentication for the API"),
    ("bearer f-string", "headers={'Authorization': f'Bearer {token}'}"),
    ("masked password", "password: ********"),
    ("elided key", "OPENAI_API_KEY=sk-..."),
    ("placeholder key", "OPENAI_API_KEY=your-api-key-here"),
    ("aws example key", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("redacted already", "password=[REDACTED:PASSWORD] and [REDACTED:EMAIL]"),
    ("sk word", "the task-list is a risk-free desk-top thing"),
    ("user lookalike", "the Dainty domain and daintree"),
    ("css hash", "main.3f2a9c1b.js and css-1x2y3z4"),
)
"""Strings that look like secrets or personal data and are not."""


def lookalike_cases() -> list[Case]:
    return [Case(label, text) for label, text in LOOKALIKES]


def cases() -> list[Case]:
    return secret_cases() + lookalike_cases()
