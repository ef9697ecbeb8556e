"""API keys and tokens: read once, stripped and checked, and never printed.

Every credential costlab hands to an HTTP client comes through `env_key`: the value of one
environment variable with surrounding whitespace stripped (a key pasted with its line break, or
`export KEY="$(cat file)"`, ends in "\\n"), then checked to be something an HTTP header can carry.
A bad value is a ConfigError that names the variable and what is wrong, never the value: the HTTP
libraries' own errors quote the header ("Invalid header value b'sk-ant-admin01-...'").

`redact` is the second line: the CLI passes every message it prints through it (costlab.cli), so an
exception text that carries a key (an `sk-ant-` key, a Bearer token, an x-api-key header, a header
value quoted by an HTTP library, or the value of any credential variable set in the environment)
reaches the terminal as `[redacted]`.
"""

from __future__ import annotations

import os
import re

from costlab.errors import ConfigError

# The environment variables costlab (or the SDK clients it makes) reads credentials from.
SECRET_VARIABLES = (
    "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_ADMIN_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK", "GOOGLE_OAUTH_ACCESS_TOKEN",
)
REDACTED = "[redacted]"


def check_key(value: str, where: str) -> str:
    """`value` stripped of surrounding whitespace; a ConfigError naming `where` (never the value) when
    what is left is empty or holds a character an HTTP header cannot carry (a space, a line break or
    another control character, anything outside printable ASCII)."""
    key = value.strip()
    if not key:
        raise ConfigError(f"{where} is set but empty: set it to the key, or unset it")
    for i, ch in enumerate(key):
        if not "\x21" <= ch <= "\x7e":
            what = ("a space" if ch == " " else "a line break" if ch in "\r\n" else "a tab" if ch == "\t"
                    else f"the control character U+{ord(ch):04X}" if ord(ch) < 0x20 or ord(ch) == 0x7f
                    else f"the non-ASCII character U+{ord(ch):04X}")
            raise ConfigError(f"{where} holds {what} at character {i + 1} of {len(key)}: an API key is printable "
                              "ASCII with no spaces. Set it again without quotes or line breaks (the value is not shown).")
    return key


def env_key(name: str) -> str | None:
    """The credential in environment variable `name`, checked (check_key); None when it is not set or
    blank. The variable itself is left holding the stripped value (or removed when blank), so an SDK
    or boto3 that reads it by itself reads what costlab checked."""
    value = os.environ.get(name)
    if value is None:
        return None
    if not value.strip():
        del os.environ[name]
        return None
    key = check_key(value, name)
    if key != value:
        os.environ[name] = key
    return key


def check_env_keys(names: tuple[str, ...] = SECRET_VARIABLES) -> None:
    """Check (and strip, see env_key) every one of these variables that is set."""
    for name in names:
        env_key(name)


_PATTERNS = (
    # Anthropic keys: sk-ant-api03-..., sk-ant-admin01-..., sk-ant-oat01-...
    (re.compile(r"sk-ant-[A-Za-z0-9_\-]*"), REDACTED),
    # Authorization: Bearer <token>; AWS4-HMAC-SHA256 Credential=..., Signature=...
    (re.compile(r"(?i)\b(bearer)(\s+|%20)[^\s'\",;]+"), rf"\1 {REDACTED}"),
    (re.compile(r"(?i)\b(credential|signature|x-amz-security-token)=[^\s'\",;]+"), rf"\1={REDACTED}"),
    # A key header with its value, as text, a dict or a repr: x-api-key: ..., 'x-api-key': '...'
    (re.compile(r"(?i)((?:x-api-key|api[_-]?key|authorization|auth[_-]?token|access[_-]?token|secret[_-]?key|"
                r"session[_-]?token|password)['\"]?\s*[:=]\s*)(b?['\"])?[^\s'\",;}]+['\"]?"), rf"\1{REDACTED}"),
    # An HTTP library quoting a header it refused: Invalid header value b'...', Illegal header value ...
    (re.compile(r"(?i)(header (?:value|name)s?\s*:?\s*)(b?'[^']*'|b?\"[^\"]*\"|\S+)"), rf"\1{REDACTED}"),
)


def redact(text: str) -> str:
    """`text` with anything that looks like a credential replaced by [redacted]."""
    for name in SECRET_VARIABLES:
        value = os.environ.get(name)
        for form in {value or "", (value or "").strip()}:
            if len(form) >= 8:  # a short value would redact ordinary words
                text = text.replace(form, REDACTED).replace(repr(form)[1:-1], REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
