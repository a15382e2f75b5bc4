"""Scrub secrets out of text before it leaves the machine (Telegram, logs, exceptions).

Why this exists: agent transcripts routinely contain whatever the agent saw — ``.env`` files,
``curl -H "Authorization: Bearer ..."`` commands, git remotes with embedded credentials — and
alerts quote those lines verbatim. Anything we post to a chat or write to a log must pass through
:func:`redact` first.

Design choices:

* **Key names stay visible** (``password=[REDACTED]``, ``Authorization: Bearer [REDACTED]``) so
  a reader still knows *what* was there, which is usually what the alert is about.
* **Patterns are anchored on well-known prefixes** (``sk-``, ``ghp_``, ``AKIA``, ``eyJ...``) or on
  a key name; we do not redact "anything that looks random", because that destroys git SHAs,
  UUIDs and paths, which are exactly what makes an alert actionable.
* **Explicit secrets** (:func:`register_secret` or ``secrets=``) are scrubbed literally even when
  they match no pattern — the configured bot token must never leak, whatever its shape.
* All quantifiers that could run over long inputs are bounded, so a megabyte of base64 in a tool
  output cannot make redaction quadratic.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

REDACTED = "[REDACTED]"
"""The marker that replaces a secret value."""

_MIN_EXPLICIT_SECRET_LEN = 6
"""Explicit secrets shorter than this are ignored: scrubbing ``"abc"`` everywhere would mangle text
and a 3-character secret is not worth protecting this way."""

_registry_lock = threading.Lock()
_registered: set[str] = set()

# Key names whose *value* is a secret. Matched at the end of a key (so ``DB_PASSWORD``,
# ``X-Api-Key``, ``aws_secret_access_key`` match) but never as a prefix of a longer word
# (``tokenizer``, ``secrets``, ``max_tokens``, ``password_file`` stay untouched).
# ``pwd`` is deliberately absent: ``PWD=/home/me`` is the working directory in every shell log.
_SECRET_KEYS = (
    r"password|passwd|passphrase|pass_?word|"
    r"secret|client[_-]?secret|secret[_-]?key|secret[_-]?access[_-]?key|"
    r"token|access[_-]?token|refresh[_-]?token|auth[_-]?token|id[_-]?token|bot[_-]?token|"
    r"api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?"
)
_SECRET_KEY_RE = re.compile(rf"(?:^|[^A-Za-z0-9])(?:{_SECRET_KEYS})$", re.IGNORECASE)

# Values that are placeholders, not secrets: leave them alone so ``password=None`` or
# ``token=${TOKEN}`` in a config dump is not turned into noise.
_PLACEHOLDER_RE = re.compile(
    r"""^(?:|null|none|nil|true|false|undefined|\*+|\.\.\.|x+|<[^<>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?
    |\{\{[^{}]*\}\}|\[REDACTED[^\]]*\]?)$""",
    re.IGNORECASE | re.VERBOSE,
)


def _sub_keep_prefix(pattern: re.Pattern[str]) -> Callable[[str], str]:
    """A substitution that keeps group ``prefix`` and replaces the rest of the match."""

    def apply(text: str) -> str:
        return pattern.sub(lambda m: m.group("prefix") + REDACTED, text)

    return apply


def _sub_all(pattern: re.Pattern[str], replacement: str = REDACTED) -> Callable[[str], str]:
    def apply(text: str) -> str:
        return pattern.sub(replacement, text)

    return apply


# --- Private key blocks (PEM). A truncated block (no END line, common in cut-off logs) is redacted
# up to the end of the base64 run so half a key never leaks either.
_PEM_RE = re.compile(
    r"-----BEGIN (?P<kind>[A-Z0-9 ]{0,40})PRIVATE KEY-----"
    r"(?:[\s\S]{0,20000}?-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----|[A-Za-z0-9+/=\s\\:,.-]{0,20000})"
)


def _redact_pem(text: str) -> str:
    return _PEM_RE.sub(lambda m: f"-----BEGIN {m.group('kind')}PRIVATE KEY-----{REDACTED}", text)


# --- Credentials embedded in URLs: scheme://user:password@host -> keep the user, drop the password.
_URL_CREDS_RE = re.compile(
    r"(?P<prefix>\b[A-Za-z][A-Za-z0-9+.-]{0,20}://[^\s/:@\"'<>]{1,256}:)(?P<pw>[^\s/@\"'<>]{1,512})(?=@)"
)

# --- HTTP auth headers: "Authorization: Bearer x", "Authorization: Basic x", "Authorization: token x".
_AUTH_HEADER_RE = re.compile(
    r"(?P<prefix>\b(?:proxy-)?authorization\\?[\"']?\s*[:=]\s*\\?[\"']?\s*"
    r"(?:(?:bearer|basic|token|bot|digest|apikey)\s+)?)"
    r"(?P<value>[^\s\"'\\,;]{1,4096})",
    re.IGNORECASE,
)
# A bare "Bearer <token>" outside a header (e.g. in a curl command split over lines).
_BEARER_RE = re.compile(r"(?P<prefix>\bBearer\s+)(?P<value>[A-Za-z0-9._~+/=-]{8,4096})", re.IGNORECASE)

# --- Provider tokens recognisable by their shape.
_TOKEN_PATTERNS: tuple[re.Pattern[str], ...] = (
    # Prefixes must not follow a letter or digit ("task-..." is no key) but may follow "_" (MY_KEY_sk-...),
    # which a \b would miss.
    # Telegram bot token, also inside /bot<TOKEN>/ URLs (no word boundary between "bot" and the id).
    re.compile(r"(?<![0-9])\d{6,12}:[A-Za-z0-9_-]{30,200}"),
    # OpenAI / Anthropic / similar: sk-..., sk-ant-api03-..., sk-proj-...
    re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{20,300}"),
    # Stripe-style secret keys.
    re.compile(r"(?<![A-Za-z0-9])(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,200}"),
    # GitHub: personal, OAuth, user-to-server, server-to-server, refresh, fine-grained PAT.
    re.compile(r"(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9]{20,255}"),
    re.compile(r"(?<![A-Za-z0-9])github_pat_[A-Za-z0-9_]{20,255}"),
    # AWS access key ids (long-term and temporary).
    re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"),
    # Slack.
    re.compile(r"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,255}"),
    # Google API keys and OAuth access tokens.
    re.compile(r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_-]{35}"),
    re.compile(r"(?<![A-Za-z0-9])ya29\.[0-9A-Za-z_-]{20,2048}"),
    # GitLab, npm, Hugging Face, PyPI, DigitalOcean tokens; Slack app tokens and webhook URLs; SendGrid.
    re.compile(r"(?<![A-Za-z0-9])glpat-[0-9A-Za-z_-]{20,64}"),
    re.compile(r"(?<![A-Za-z0-9])npm_[0-9A-Za-z]{36}"),
    re.compile(r"(?<![A-Za-z0-9])hf_[0-9A-Za-z]{30,64}"),
    re.compile(r"(?<![A-Za-z0-9])pypi-AgE[0-9A-Za-z_-]{50,512}"),
    re.compile(r"(?<![A-Za-z0-9])dop_v1_[0-9a-f]{64}"),
    re.compile(r"(?<![A-Za-z0-9])xapp-[0-9A-Za-z-]{10,255}"),
    re.compile(r"hooks\.slack\.com/services/[A-Za-z0-9_/-]{20,200}"),
    re.compile(r"(?<![A-Za-z0-9])SG\.[0-9A-Za-z_-]{16,64}\.[0-9A-Za-z_-]{16,64}"),
    # JWTs: header.payload.signature, both first parts base64url JSON objects ("eyJ" == '{"').
    re.compile(r"(?<![A-Za-z0-9])eyJ[A-Za-z0-9_-]{5,4096}\.eyJ[A-Za-z0-9_-]{5,8192}\.[A-Za-z0-9_-]{0,4096}"),
)

# --- key=value, key: value, "key": "value", --key value (also backslash-escaped JSON inside strings).
_QUOTED_VALUE = r"""(?:\\"(?:[^"\\]|\\(?!"))*\\"|"(?:[^"\\]|\\.)*"|'[^'\n]*')"""
_BARE_VALUE = r"""[^\s"'&,;}\])<>]{1,4096}"""
_KV_RE = re.compile(
    rf"""(?P<prefix>
        (?<![A-Za-z0-9_])
        (?P<q>\\?["']?)                       # optional opening quote of a JSON/YAML key
        [A-Za-z0-9_.-]{{0,40}}?(?:{_SECRET_KEYS})
        (?P=q)
        \s*[:=]\s*
    )
    (?P<value>{_QUOTED_VALUE}|{_BARE_VALUE})
    """,
    re.IGNORECASE | re.VERBOSE,
)
_CLI_FLAG_RE = re.compile(
    r"(?P<prefix>(?<![A-Za-z0-9_-])--?(?:password|passwd|token|api-key|apikey|secret|client-secret)(?:=|\s+))"
    r"(?P<value>[^\s\"'-][^\s\"']{0,4095}|\"[^\"]*\"|'[^']*')",
    re.IGNORECASE,
)


def _kv_replace(match: re.Match[str]) -> str:
    value = match.group("value")
    quote_chars = ""
    inner = value
    if value.startswith('\\"'):
        quote_chars, inner = '\\"', value[2:-2]
    elif value[:1] in "\"'":
        quote_chars, inner = value[0], value[1:-1]
    if _PLACEHOLDER_RE.match(inner.strip()):
        return match.group(0)
    return f"{match.group('prefix')}{quote_chars}{REDACTED}{quote_chars}"


def _redact_kv(text: str) -> str:
    return _KV_RE.sub(_kv_replace, text)


def _redact_cli(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        value = m.group("value")
        inner = value[1:-1] if value[:1] in "\"'" else value
        if _PLACEHOLDER_RE.match(inner):
            return m.group(0)
        return m.group("prefix") + REDACTED

    return _CLI_FLAG_RE.sub(repl, text)


def _redact_auth_header(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        if _PLACEHOLDER_RE.match(m.group("value")):
            return m.group(0)
        return m.group("prefix") + REDACTED

    return _AUTH_HEADER_RE.sub(repl, text)


# Order matters: whole blocks first, then structures that keep a visible prefix, then bare tokens,
# then key=value (which skips values already replaced by an earlier step).
_STEPS: tuple[Callable[[str], str], ...] = (
    _redact_pem,
    _sub_keep_prefix(_URL_CREDS_RE),
    _redact_auth_header,
    _sub_keep_prefix(_BEARER_RE),
    *(_sub_all(p) for p in _TOKEN_PATTERNS),
    _redact_cli,
    _redact_kv,
)

# Per step, a test that is true whenever the step's pattern can match (it looks for a piece every match
# contains), made on the text as it is right before the step: a step whose test fails cannot change
# the text and is skipped. Most text holds none of the pieces, and ``piece in text`` is a hundred times
# cheaper than the step's substitution (redacting a transcript record ran all two dozen on every
# string). Case-insensitive pieces are looked for in the lowered text only when it is ASCII: Unicode
# case folding makes ``ſ`` an ``s`` and ``K`` (Kelvin) a ``k``, so other text goes to the regex.


def _has(*pieces: str) -> Callable[[str], bool]:
    if len(pieces) == 1:
        piece = pieces[0]
        return lambda text: piece in text
    return lambda text: any(piece in text for piece in pieces)


def _has_folded(words: tuple[str, ...], pattern: str, also: tuple[str, ...] = ()) -> Callable[[str], bool]:
    """``pattern`` (lower case) searched ignoring case; in ASCII text, as the lowered text matched
    case-sensitively (the same answer there, ten times faster), after a look for its ``words``."""
    folded, lowered = re.compile(pattern, re.IGNORECASE), re.compile(pattern)

    def gate(text: str) -> bool:
        if also and not any(piece in text for piece in also):
            return False
        if not text.isascii():
            return folded.search(text) is not None
        low = text.lower()
        return any(word in low for word in words) and lowered.search(low) is not None

    return gate


_KEY_WORDS = ("pass", "secret", "token", "api", "access", "private", "credential")  # in every _SECRET_KEYS
_GATES: tuple[Callable[[str], bool], ...] = (
    _has("PRIVATE KEY-----"),
    _has("://"),
    _has_folded(("authorization",), "authorization"),
    _has_folded(("bearer",), "bearer"),
    lambda text: ":" in text and re.search(r"\d{6}:", text) is not None,
    _has("sk-"),
    _has("k_live_", "k_test_"),
    _has("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    _has("github_pat_"),
    _has("AKIA", "ASIA", "AGPA", "AIDA", "AROA"),
    _has("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-"),
    _has("AIza"),
    _has("ya29."),
    _has("glpat-"),
    _has("npm_"),
    _has("hf_"),
    _has("pypi-AgE"),
    _has("dop_v1_"),
    _has("xapp-"),
    _has("hooks.slack.com/services/"),
    _has("SG."),
    _has("eyJ"),
    _has_folded(
        ("-pass", "-token", "-api", "-secret", "-client-secret"),
        "-(?:password|passwd|token|api-key|apikey|secret|client-secret)",
    ),
    _has_folded(_KEY_WORDS, rf"""(?:{_SECRET_KEYS})\\?["']?\s*[:=]""", also=(":", "=")),
)
assert len(_GATES) == len(_STEPS)


def register_secret(value: str | None) -> None:
    """Always scrub ``value`` from redacted text, whatever its shape.

    Call this with every configured credential (the bot token) at start-up. Values shorter than
    six characters are ignored to avoid scrubbing common substrings.
    """
    if value and len(value) >= _MIN_EXPLICIT_SECRET_LEN:
        with _registry_lock:
            _registered.add(value)


def unregister_secret(value: str | None) -> None:
    """Forget a registered secret (mainly for tests)."""
    with _registry_lock:
        _registered.discard(value or "")


def registered_secrets() -> frozenset[str]:
    """A snapshot of the registered secrets (never log this)."""
    with _registry_lock:
        return frozenset(_registered)


def _explicit_variants(secrets: Iterable[str]) -> list[str]:
    """The literal forms to scrub: raw and percent-encoded (a token's ``:`` becomes ``%3A`` in URLs)."""
    variants: set[str] = set()
    for secret in secrets:
        if secret and len(secret) >= _MIN_EXPLICIT_SECRET_LEN:
            variants.add(secret)
            variants.add(quote(secret, safe=""))
    # Longest first so a secret that contains another one is scrubbed whole.
    return sorted(variants, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str | None] | None = None) -> str:
    """Return ``text`` with secrets replaced by ``[REDACTED]`` (key names kept visible).

    ``secrets`` adds literal values to scrub for this call only, on top of the registered ones.
    Non-string input is converted with ``str()`` so callers can pass exceptions directly.
    """
    if not isinstance(text, str):
        text = str(text)
    explicit = set(registered_secrets())
    if secrets:
        explicit.update(s for s in secrets if s)
    for literal in _explicit_variants(explicit):
        if literal in text:
            text = text.replace(literal, REDACTED)
    if not text:
        return text
    for gate, step in zip(_GATES, _STEPS, strict=True):
        if gate(text):
            text = step(text)
    return text


def is_secret_key(key: str) -> bool:
    """True when a mapping key names a secret (``password``, ``GITHUB_TOKEN``, ``x-api-key``...)."""
    return bool(_SECRET_KEY_RE.search(key))


def redact_value(
    obj: Any, secrets: Iterable[str | None] | None = None, *, screen: Callable[[str], bool] | None = None
) -> Any:
    """Redact recursively through dicts, lists, tuples and sets; strings go through :func:`redact`.

    A string value under a secret-named key (``{"password": "hunter2"}``) is replaced entirely,
    because its value would not match any pattern on its own. Other scalars are returned unchanged.
    ``screen`` (a cheap test that is true whenever :func:`redact` could change a string, such as
    :func:`~agent_pipelines.text.redaction_frame.might_hold_secret`) spares the two dozen patterns
    every string it clears: the importers redact whole records, most of whose strings hold nothing.
    """
    secret_list = [s for s in (secrets or ()) if s]
    return _redact_value(obj, secret_list, depth=0, screen=screen)


def _redact_value(
    obj: Any, secrets: list[str], depth: int, screen: Callable[[str], bool] | None = None
) -> Any:
    if depth > 50:  # pathological nesting: give up structure, keep safety
        return redact(repr(obj), secrets)
    if isinstance(obj, str):
        if screen is not None and not secrets and not screen(obj):
            return obj
        return redact(obj, secrets)
    if isinstance(obj, Mapping):
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            if isinstance(key, str) and is_secret_key(key) and isinstance(value, str):
                out[key] = value if _PLACEHOLDER_RE.match(value.strip()) else REDACTED
            else:
                out[key] = _redact_value(value, secrets, depth + 1, screen)
        return out
    if isinstance(obj, list):
        return [_redact_value(v, secrets, depth + 1, screen) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_redact_value(v, secrets, depth + 1, screen) for v in obj)
    if isinstance(obj, (set, frozenset)):
        return type(obj)(_redact_value(v, secrets, depth + 1, screen) for v in obj)
    return obj


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the fully formatted message of every record it sees.

    Installed on loggers we do not control (``urllib3.connectionpool`` logs request lines that
    contain ``/bot<TOKEN>/`` at DEBUG level) so enabling debug logging can never leak the token.
    """

    def __init__(self, secrets: Iterable[str | None] | None = None) -> None:
        super().__init__()
        self._secrets = [s for s in (secrets or ()) if s]

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw template, still redacted
            message = str(record.msg)
        record.msg = redact(message, self._secrets)
        record.args = None
        return True


def install_log_filter(logger_name: str) -> None:
    """Add a :class:`RedactingFilter` to ``logger_name`` once (idempotent)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
