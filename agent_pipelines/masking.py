"""The masking pre-pass: variable parts of one message that a regex can recognise on its own.

This is the first of two steps of error clustering (:mod:`agent_pipelines.clustering`); the second,
:mod:`agent_pipelines.miner`, learns from the whole set which *other* token positions vary. Masking
handles what has an unmistakable shape in a single message (URLs, e-mail addresses, UUIDs, dates and
times, IP addresses and host names, hex, paths, quoted names, durations, sizes, versions, numbers,
hashes, long random ids); the miner handles what does not (a function name, a user name, a branch).

Decisions (each documented where the rule lives):

* **Multi-line messages**: a Python traceback is represented by its final
  ``SomeError: ...`` line (the frames vary, the exception is the error); otherwise
  by its first line that contains a letter or digit, joined with the following
  line when it ends with ``:`` (``thread 'main' panicked at src/main.rs:5:9:`` is
  useless alone).  Later lines (stack frames, npm log tails) are dropped.
* **Exit and status codes are not variable**: the number after ``exit code``,
  ``exited with``, ``status code``, ``error code``, ``errno``, ``killed by signal``,
  ``HTTP``... and an HTTP status followed by its reason phrase (``404 Not Found``) is
  kept, because ``exit code 1`` and ``exit code 127`` or HTTP 401 and 404 are
  different failures.  Every other number is ``<NUM>``, including the number after a
  bare ``code``, ``rc =``, ``returned`` or ``exiting on signal`` (a daemon's shutdown
  signal or a routine's return value varies within one event) and a bare
  ``status: 200`` in an access log line.
* **Codes are not variable**: tokens such as ``TS2345``, ``E0308``, ``ENOENT`` keep
  their text; only long tokens mixing letters and digits (``req_011CUq7xXYZ9a``)
  become ``<ID>``.
* ``type``/``code``/``reason`` values inside JSON-ish payloads are kept
  (``'rate_limit_error'`` vs ``'overloaded_error'``), other quoted values are
  ``<QUOTED>``; a double-quoted phrase (with spaces) keeps its words.
* ``<IP>`` stands for any network address, IP literal (v4/v6, with port) or DNS host
  name: ``rhost=10.0.0.7`` and ``rhost=ec2-1-2-3-4.compute.amazonaws.com`` are the
  same event.  A host name is a dotted name under a top-level domain in use (every
  country code but the few that are also file extensions or key suffixes, and the
  generic ones); other dotted names (``mapred.task.id``, ``java.lang.NullPointerException``)
  are left to the miner, which generalises them where they vary.
* A clock reading is ``<TIME>`` whether it has seconds or not (``lifetime 02:19`` and
  ``lifetime 1:02:19`` are one event); the refs a ``git push`` reports
  (``[rejected] X -> Y``) are ``<REF>``.
* A run of placeholders separated only by punctuation collapses to one
  (``<SIZE> (<SIZE>)``, ``<QUOTED>, <QUOTED>``): variable-length lists are one kind.

The Python path (:func:`mask`) and the vectorized path (:func:`mask_expr`) share one rule table;
the patterns use only syntax that Python's ``re`` and Rust's ``regex`` crate read the same way (no
look-around, no back-references, ASCII word boundaries, explicit ASCII classes), and the test suite
checks that both give identical results on every corpus message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import polars as pl

__all__ = [
    "EMPTY_TEMPLATE",
    "PLACEHOLDERS",
    "MaskedKeys",
    "mask",
    "mask_expr",
    "mask_one_line_frame",
    "mask_series",
    "mask_values",
    "masked_keys",
]

#: Template of an empty or missing message.
EMPTY_TEMPLATE = "<EMPTY>"

#: Placeholder tokens the masking writes.
PLACEHOLDERS = (
    "<URL>",
    "<EMAIL>",
    "<UUID>",
    "<DATE>",
    "<TIME>",
    "<IP>",
    "<HEX>",
    "<PATH>",
    "<QUOTED>",
    "<REF>",
    "<USER>",
    "<PKG>",
    "<CMD>",
    "<NAME>",
    "<TARGET>",
    "<FUNC>",
    "<DUR>",
    "<SIZE>",
    "<VER>",
    "<NUM>",
    "<HASH>",
    "<ID>",
)

# Messages are cut before templating: a pathological 10 MB "message" must not stall
# a batch, and nothing past the first couple of KB changes what kind of error it is.
_MAX_INPUT_CHARS = 20_000
_MAX_LINE_CHARS = 1_024

_WS = r"[\t\n\v\f\r ]"  # explicit, so Python and Rust agree on what whitespace is
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_WDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_HEX4 = r"[0-9a-fA-F]{1,4}"
# Characters that may open a path or quoted name (stand-in for a look-behind).
_OPENER = r"(^|[\t\n\v\f\r '\"(\[{=:,<>])"
_PATH_CHARS = r"[A-Za-z0-9._@%+~-]"
# ":12:5" or "(12,5)" after a path, and pytest node ids ("::TestX::test_y[param]").
_LINECOL = r"(?:(?::[0-9]+){1,2}|\([0-9]+,[0-9]+\))?(?:::[A-Za-z0-9_.\[\]-]+)*"
_SEP = r"[ ,;#/+|(\[-]*"
# Top-level domains a host name may end in: every country code, the generic ones logs show, and the
# private ones (local, internal...). Country codes that are also common file extensions or key
# suffixes (setup.py, lib.rs, run.sh, README.md, Android.mk, libc.so, mapred.task.id, Makefile.am,
# configure.ac, x.cc) are left out: a host under one of those is left to the template miner.
_CCTLDS = """ad ae af ag ai al ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bm bn bo br bs bt bw by
bz ca cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm dz ec ee eg er es et eu fi fj fk
fm fo fr ga gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu ie il im io iq ir is
it je jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc me mg mh mm mn
mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pn pr
pt pw qa re ro ru rw sa sb sc sd se sg si sk sl sm sn sr ss st su sv sx sy sz tc td tf tg th tj tk tl
tm tn to tr tt tv tw tz ua ug uk us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw""".split()  # noqa: SIM905
_GTLDS = """com net org edu gov mil int info biz name pro aero coop museum mobi asia tel travel jobs cloud dev
xyz online site tech store shop blog club top live news space website host network systems email local
internal lan localdomain localhost corp home example invalid arpa test""".split()  # noqa: SIM905
# Longest first, so that an alternation never stops at a shorter name that prefixes a longer one.
_TLD = "|".join(sorted(_CCTLDS + _GTLDS, key=lambda t: (-len(t), t)))


def _run_with_digit(length: int) -> str:
    """A run of at least ``length`` letters and digits with a digit in it, from its first character."""
    first_digit_at = [f"[A-Za-z]{{{length - 1},}}[0-9][A-Za-z0-9]*"]
    first_digit_at += [f"[A-Za-z]{{{i}}}[0-9][A-Za-z0-9]{{{length - 1 - i},}}" for i in range(length - 1)]
    return "(?:" + "|".join(first_digit_at) + ")"


# Letters with both cases in them.
_MIXED_CASE = "[A-Za-z]*(?:[a-z][A-Za-z]*[A-Z]|[A-Z][A-Za-z]*[a-z])[A-Za-z]*"


@dataclass(frozen=True)
class _Rule:
    """One regex replacement, written once and compiled for both engines.

    ``pattern`` uses ``\\b`` for an ASCII word boundary and ``${n}`` in
    ``replacement`` for groups; everything else is common Python/Rust syntax.
    """

    name: str
    pattern: str
    replacement: str

    @property
    def rust_pattern(self) -> str:
        return self.pattern.replace(r"\b", r"(?-u:\b)").replace(r"\B", r"(?-u:\B)")

    @property
    def python_replacement(self) -> str:
        return re.sub(r"\$\{(\d+)\}", r"\\g<\1>", self.replacement)


# Run on the raw (multi-line) message: pick the line that names the error.
_LINE_RULES: tuple[_Rule, ...] = (
    # A Python traceback is its last line with a letter in it (the exception).
    _Rule(
        "traceback",
        r"(?s)^.*Traceback \(most recent call last\):.*\n([^\n]*[A-Za-z][^\n]*)" + _WS + r"*$",
        "${1}",
    ),
    # Drop leading lines without any letter or digit (rulers, blank lines).
    _Rule("leading_junk", r"^(?:[^A-Za-z0-9\n]*\n)+", ""),
    # "panicked at src/main.rs:5:9:" says nothing without the next line.
    _Rule("colon_join", r"^([^\n]*:)[\t\v\f\r ]*\n" + _WS + "*", "${1} "),
    # Keep only the first line.
    _Rule("rest", r"(?s)\n.*", ""),
)

# Run on the chosen line, in order: specific shapes first, bare numbers last.
_RULES: tuple[_Rule, ...] = (
    # Every whitespace run becomes one space. A lone space is left alone (it already is one): most
    # messages are all single spaces, and rewriting each one was the costliest pass of all.
    _Rule("whitespace", r"[\t\n\v\f\r]" + _WS + "*| " + _WS + "+", " "),
    # --- protect what looks variable but names the failure -------------------------
    _Rule(
        "keep_status_number",
        r"\b((?:[Ee]xit|EXIT) (?:[Cc]ode|[Ss]tatus)|exited with code|exited with|[Ss]tatus [Cc]ode|"
        r"[Rr]eturn [Cc]ode|statusCode|status_code|StatusCode|[Ee]rror [Cc]ode|[Ee]rrno|ERRNO|HTTP|"
        r"returned error|by signal)([ :=]+)(-?[0-9]{1,3})\b",
        "${1}${2}_QK${3}KQ_",
    ),
    _Rule("keep_http_reason", r"\b([1-5][0-9][0-9])( (?:[A-Z][a-z]+|OK)\b)", "_QK${1}KQ_${2}"),
    # JSON-ish keys ("type": / 'code':) keep their quotes out of <QUOTED> ...
    _Rule("keep_json_key_dq", r"([{,] *)\"([A-Za-z_][A-Za-z0-9_]*)\"( *:)", "${1}_QD_${2}_QD_${3}"),
    _Rule("keep_json_key_sq", r"([{,] *)'([A-Za-z_][A-Za-z0-9_]*)'( *:)", "${1}_QS_${2}_QS_${3}"),
    # ... and so do the values of keys that name an error kind.
    _Rule(
        "keep_kind_value_dq",
        r"(_QD_(?:type|code|error_type|errorType|reason|kind|error)_QD_ *: *)\"([A-Za-z_][A-Za-z0-9_.-]*)\"",
        "${1}_QD_${2}_QD_",
    ),
    _Rule(
        "keep_kind_value_sq",
        r"(_QS_(?:type|code|error_type|errorType|reason|kind|error)_QS_ *: *)'([A-Za-z_][A-Za-z0-9_.-]*)'",
        "${1}_QS_${2}_QS_",
    ),
    # Names that tools print bare after fixed words: package requirements (pip), shell
    # commands, Go identifiers, make targets, OOM-killed process names, and container /
    # pod / image names (only when they look like names: with a digit or - _ / : . @).
    _Rule(
        "pip_requirement",
        r"\b(the requirement|distribution found for) [A-Za-z0-9_.@/\[\],-]+(?:[=<>!~]=?[A-Za-z0-9_.*+-]+)*",
        "${1} <PKG>",
    ),
    _Rule("command_not_found", r"[A-Za-z0-9_./+-]+: command not found", "<CMD>: command not found"),
    # What a shell tool ran, after Node's / Claude Code's "Command failed": the command is the value.
    _Rule("command_failed", r"\b(Command failed(?: with exit code _QK-?[0-9]+KQ_)?: ).+$", "${1}<CMD>"),
    # Closing tags (</tool_use_error>) are markup, not paths: hide their slash until the end.
    _Rule("closing_tag", r"</([A-Za-z_][A-Za-z0-9_:.-]*)>", "<_SL_${1}>"),
    _Rule("go_undefined", r"\bundefined: [A-Za-z_][A-Za-z0-9_.]*", "undefined: <NAME>"),
    _Rule("make_target", r"\b(make(?:\[[0-9]+\])?: \*\*\* )\[[^\]\n]*\]", "${1}[<TARGET>]"),
    _Rule("killed_process", r"\b([Kk]illed process [0-9]+ )\([^)\n]*\)", "${1}(<NAME>)"),
    _Rule(
        "k8s_name",
        r"\b([Cc]ontainer|[Pp]od|[Ee]ndpoint|[Dd]eployment|[Nn]amespace|[Ii]mage|[Rr]epository|"
        r"pull access denied for) [A-Za-z0-9._]*[-_/:.@0-9][A-Za-z0-9._/:@-]*",
        "${1} <NAME>",
    ),
    _Rule(
        "py_function",
        r"\b[A-Za-z_][A-Za-z0-9_.]*\(\) (takes|got|missing)\b",
        "<FUNC>() ${1}",
    ),
    # --- unambiguous shapes ----------------------------------------------------------
    _Rule(
        "url",
        r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\t\n\v\f\r '\"<>()\[\]{}`]*[^\t\n\v\f\r '\"<>()\[\]{}`,.;:!?]",
        "<URL>",
    ),
    _Rule("email", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b", "<EMAIL>"),
    _Rule(
        "uuid",
        r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
        "<UUID>",
    ),
    # Dates in the shapes logs print them (ISO, common log format, 1/2/2024, RFC 2822, syslog), one pass.
    _Rule(
        "date",
        r"\b[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?)?"
        r"(?:Z|[+-][0-9]{2}:?[0-9]{2}|\b)"
        r"|\b[0-9]{1,2}/" + _MONTH + r"/[0-9]{4}(?::[0-9]{2}:[0-9]{2}:[0-9]{2})?(?: [+-][0-9]{4})?"
        r"|\b[0-9]{1,4}/[0-9]{1,2}/[0-9]{2,4}(?:[ T:][0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?)?\b"
        r"|\b(?:" + _WDAY + r",? )?[0-9]{1,2} " + _MONTH + r" [0-9]{4}(?: [0-9]{2}:[0-9]{2}:[0-9]{2})?"
        r"(?: GMT| UTC| [+-][0-9]{4})?\b"
        r"|\b(?:" + _WDAY + r",? )?" + _MONTH + r" +[0-9]{1,2}(?:,? [0-9]{4})?"
        r"(?: [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?)?(?: [0-9]{4})?\b",
        "<DATE>",
    ),
    # Network addresses, one pass: a DNS host name (a dotted name under a common top-level domain, not
    # glued to more name: java.net.ConnectException is a class), an IPv6 or an IPv4 literal.
    _Rule(
        "address",
        r"\b[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:" + _TLD + ")"
        r"(?::[0-9]{1,5})?([^A-Za-z0-9_.-]|\.(?:[^A-Za-z0-9]|$)|$)"
        r"|(^|[^0-9A-Za-z_:.])\[?(?:"
        + _HEX4
        + r"(?::"
        + _HEX4
        + r"){7}|(?:"
        + _HEX4
        + r"(?::"
        + _HEX4
        + r"){0,6})?::(?:"
        + _HEX4
        + r"(?::"
        + _HEX4
        + r"){0,6})?)(?:%[A-Za-z0-9]+)?\]?(?::[0-9]{1,5})?\b"
        r"|\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?:/[0-9]{1,2})?(?::[0-9]{1,5})?\b",
        "${2}<IP>${1}",
    ),
    _Rule("hex", r"\b0[xX][0-9a-fA-F]+\b", "<HEX>"),
    # --- paths and names -------------------------------------------------------------
    # Paths, one pass: Windows, absolute or ~/./.. Unix, relative with a directory, or a bare file name
    # with a known extension; with a :line:col or pytest node id after it.
    _Rule(
        "path",
        r"\b[A-Za-z]:\\[^\t\n\v\f\r '\"<>|*?:]*"
        + _LINECOL
        # Not glued to a word before it: \B before a non-word first character, \b before a word
        # one (a boundary test costs nothing, while a captured opener must be put back per match).
        + r"|\B(?:~|\.{1,2})?(?:/"
        + _PATH_CHARS
        + r"+)+/?"
        + _LINECOL
        + r"|(?:\b[A-Za-z0-9_]|\B[.@%+~-])"
        + _PATH_CHARS
        + r"*/(?:(?:"
        + _PATH_CHARS
        + r"+/)+"
        + _PATH_CHARS
        + r"*|[A-Za-z0-9_@%+-]+(?:\.[A-Za-z0-9_-]+)*\.[A-Za-z][A-Za-z0-9]{0,7})"
        + _LINECOL
        + r"|\b[A-Za-z0-9_.-]+\.(?:py|pyi|ipynb|js|mjs|cjs|ts|tsx|jsx|rs|go|java|kt|rb|c|cc|cpp|h|hpp|cs|"
        r"php|swift|json|yaml|yml|toml|lock|md|txt|sh|log|cfg|ini|conf|sql|html|css|scss|vue|properties|"
        r"xml|gradle|csv|parquet)" + _LINECOL + r"\b",
        "<PATH>",
    ),
    # A clock reading, hh:mm:ss(.fff) or mm:ss: a time of day or a duration, one kind either way
    # ("lifetime 02:19" and "lifetime 1:02:19" are the same event).
    _Rule("time", r"\b[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?\b", "<TIME>"),
    # What git push / fetch report per ref: "! [rejected] main -> main (fetch first)".
    _Rule(
        "git_push_ref",
        r"(\[(?:rejected|remote rejected|new branch|new tag|deleted|up to date)\] +)[^ ]+( +-> +)[^ ]+",
        "${1}<REF>${2}<REF>",
    ),
    _Rule(
        "git_ref",
        r"\b(refs/(?:heads|tags|remotes)/|origin/|remote ref |[Bb]ranch )[A-Za-z0-9._/-]*[A-Za-z0-9_]",
        "${1}<REF>",
    ),
    # Quoted values: 'lodash', `npm test`, 'User | undefined'. A double-quoted phrase with spaces
    # ("GET /v2/x HTTP/1.1", "Exceeded timeout of 5000 ms") keeps its words for the other rules
    # and the miner: it is more often a message or a request line than a value.
    _Rule(
        "quoted",
        r"\B'[^'\n]*'|\"[^\"\t\n\v\f\r ]*\"|`[^`\n]*`|‘[^’\n]*’|“[^”\t\n\v\f\r ]*”",
        "<QUOTED>",
    ),
    _Rule(
        "user",
        r"\b([Ii]nvalid user|for user|[Uu]ser=|[Uu]sername=|[Uu]ser:|login=)( ?)[A-Za-z0-9._$-]+",
        "${1}${2}<USER>",
    ),
    # --- quantities --------------------------------------------------------------------
    _Rule(
        "duration",
        r"(?:[<>]=?|~)?\b[0-9]+(?:\.[0-9]+)?"
        r"(?:(?:ns|us|µs|ms|s|m|h|d)(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))*"
        r"| ?(?:msec|millis|milliseconds?|secs?|seconds?|mins?|minutes?|hrs?|hours?|days?)"
        r"| (?:ms|ns|us|µs))\b",
        "<DUR>",
    ),
    _Rule("size", r"\b[0-9]+(?:\.[0-9]+)?(?: ?(?:[KMGTP]i?B|kB|B|bytes?)|[kKMGTP]i?)\b", "<SIZE>"),
    _Rule(
        "version",
        r"\bv?[0-9]+\.[0-9]+\.[0-9]+(?:[-+][0-9A-Za-z.-]*[0-9A-Za-z]|\.[0-9]+)*\b|\bv[0-9]+(?:\.[0-9]+)?\b",
        "<VER>",
    ),
    # A number is a maximal digit run not glued to letters/digits ("blk_-123", "core.42",
    # "rdd_2_1"); two passes because a match consumes the separator after it.
    _Rule("number", r"(^|[^A-Za-z0-9])-?[0-9]+(?:[.,][0-9]+)*([^A-Za-z0-9]|$)", "${1}<NUM>${2}"),
    _Rule(
        "number_again",
        r"(^|[^A-Za-z0-9])-?[0-9]+(?:[.,][0-9]+)*([^A-Za-z0-9]|$)",
        "${1}<NUM>${2}",
    ),
    # git short/long shas, sha256 digests (digits-only runs are <NUM> already).
    _Rule("hash", r"\b(?:[0-9a-f]{7,64}|[0-9A-F]{7,64})\b", "<HASH>"),
    # Long random ids: an alphanumeric run of >= 10 chars where letters and digits
    # interleave ("req_011CUq7xXYZab9"), unlike codes such as TS2345 or E0308; or one of
    # >= 16 chars with digits and both cases ("msg_01XFDUDYJgAACzvnptvVoYEL").  Done with
    # markers in linear passes: mark long runs, unmark the ones that do not qualify.
    # (Only runs with a digit are marked: a long word can never be an id, and marking it costs.)
    _Rule("id_mark_long", r"(^|[^A-Za-z0-9])(" + _run_with_digit(16) + ")", "${1}\x04${2}\x05"),
    _Rule("id_mark", "(^|[^A-Za-z0-9\x04])(" + _run_with_digit(10) + ")", "${1}\x02${2}\x03"),
    _Rule(
        "id",
        "[\x02\x04][A-Za-z0-9]*(?:[A-Za-z][0-9]+[A-Za-z]|[0-9][A-Za-z]+[0-9])[A-Za-z0-9]*[\x03\x05]"
        "|\x04(?:[0-9]+" + _MIXED_CASE + "|" + _MIXED_CASE + "[0-9]+)\x05",
        "<ID>",
    ),
    _Rule("id_unmark", "[\x02-\x05]", ""),
    # --- tidy up -----------------------------------------------------------------------
    _Rule(
        "collapse_runs",
        r"(<(?:URL|EMAIL|UUID|DATE|TIME|IP|HEX|PATH|QUOTED|DUR|SIZE|VER|NUM|HASH|ID)>)(?:"
        + _SEP
        + r"<(?:URL|EMAIL|UUID|DATE|TIME|IP|HEX|PATH|QUOTED|DUR|SIZE|VER|NUM|HASH|ID)>[)\]]?)+",
        "${1}",
    ),
    _Rule("unprotect_number", r"_QK(-?[0-9]+)KQ_", "${1}"),
    _Rule("unprotect_dq", "_QD_", '"'),
    _Rule("unprotect_sq", "_QS_", "'"),
    _Rule("unprotect_tag", "<_SL_", "</"),
)

_PY_LINE_RULES = tuple((re.compile(r.pattern, re.ASCII), r.python_replacement) for r in _LINE_RULES)
_PY_RULES = tuple((re.compile(r.pattern, re.ASCII), r.python_replacement) for r in _RULES)
_STRIP_CHARS = " \t\n\r\f\v"

# Gates: characters without which a rule cannot match. Much of the cost of masking is the regex
# engine scanning text that a rule will never match (a number rule over a message without a digit),
# so the batch path (:func:`masked_keys`) groups messages by the gates they pass and runs each rule
# only over groups that pass all of its gates. Gates are checked once, on the one-line text before
# the first rule. That is exact because no rule writes what a later rule's gate looks for
# (placeholders are capitals in <>, markers are letters, _ and \x02-\x05, and the digit gate counts
# those; the whitespace rule, the only one behind the space gate, runs first), so a rule skipped
# there would have changed nothing: tests/test_masking_fast.py holds gated against ungated. Only
# cheap gates pay: checking a gate costs a pass over every message, so a gate must spare more than
# that (measured: the digit, quote and space gates do; path or tool-word gates cost more than they
# saved on the generated errors).
_GATES: dict[str, tuple[str, ...]] = {
    # Each gate is any of its patterns: patterns simple enough for the regex engine's fast literal
    # search (a digit, a marker, two spaces: each alone a few times faster than one class of all).
    "digit": ("[0-9]", "[\\x02-\\x05]"),
    "quote": ("['\"`‘“]",),
    # What the whitespace rule rewrites: a whitespace character other than a space, or two in a row.
    "space": ("[\\t\\n\\v\\f\\r]", "  "),
}
_RULE_GATES: dict[str, tuple[str, ...]] = {
    "whitespace": ("space",),
    "keep_status_number": ("digit",),
    "keep_http_reason": ("digit",),
    "keep_json_key_dq": ("quote",),
    "keep_json_key_sq": ("quote",),
    "keep_kind_value_dq": ("quote",),
    "keep_kind_value_sq": ("quote",),
    "killed_process": ("digit",),
    "date": ("digit",),
    "hex": ("digit",),
    "time": ("digit",),
    "quoted": ("quote",),
    "duration": ("digit",),
    "size": ("digit",),
    "version": ("digit",),
    "number": ("digit",),
    "number_again": ("digit",),
    "id_mark_long": ("digit",),
    "id_mark": ("digit",),
    "id": ("digit",),
    "id_unmark": ("digit",),
    "unprotect_number": ("digit",),
}
# Gate signatures to mask apart at most (the rest join the cheapest group that covers them: running
# a rule over a message its gates would have spared is harmless, only slower).
_MAX_GATE_GROUPS = 12

# Two stages. Rules are functions of the text alone, so messages whose texts have become equal
# part way through the rules end equal: the batch path masks the distinct messages up to the
# quoted names (stage one: URLs, addresses, paths, quoted names, the values that make most
# messages distinct), then only the distinct texts left (stage two: numbers, hashes, ids, tidying).
# On the generated errors 197,529 distinct messages are 58,765 distinct texts at the cut, and the
# number, hash and id rules, a third of the regex work, run over those alone.
_STAGE_TWO_FROM = next(i for i, rule in enumerate(_RULES) if rule.name == "user")


def _mask_uncached(message: str) -> str:
    text = message[:_MAX_INPUT_CHARS]
    for regex, repl in _PY_LINE_RULES:
        text = regex.sub(repl, text)
    text = text[:_MAX_LINE_CHARS]
    for regex, repl in _PY_RULES:
        text = regex.sub(repl, text)
    text = text.strip(" ")
    return text or EMPTY_TEMPLATE


@lru_cache(maxsize=65_536)
def mask(message: str) -> str:
    """The masked text of one message (pure; cached).

    Variable parts become placeholder tokens (see :data:`PLACEHOLDERS`), whitespace is collapsed
    to single spaces, and a multi-line message is represented by the line that names the error
    (see the module docstring).  An empty message gives :data:`EMPTY_TEMPLATE`.  The result equals
    what :func:`mask_expr` computes for the same message.
    """
    return _mask_uncached(message)


# The one-line path masks many messages at a time: joined by "\n" into one string per chunk, every
# rule runs once per chunk instead of once per message (a pass over a column costs about as much per
# row as the regex work itself), then the chunk is split back.  This is exact because no message
# contains "\n", no rule writes or removes one (classes that may consume it put it back through
# their group), and with (?m) "^"/"$" match at the message boundaries exactly as at the ends of one
# message; the whitespace rule alone must leave "\n" alone.  tests/test_masking_fast.py holds this
# against the per-message rules on a varied corpus.
_CHUNK_ROWS = 2_048
_JOINED_WHITESPACE = r"[\t\v\f\r][\t\v\f\r ]*| [\t\v\f\r ]+"


def _joined_pattern(rule: _Rule) -> str:
    return "(?m)" + (_JOINED_WHITESPACE if rule.name == "whitespace" else rule.rust_pattern)


def _finished(text: pl.Expr) -> pl.Expr:
    """The last step of :func:`mask`: surrounding spaces go, and nothing left is :data:`EMPTY_TEMPLATE`."""
    stripped = text.str.strip_chars(" ")
    return pl.when(stripped == "").then(pl.lit(EMPTY_TEMPLATE)).otherwise(stripped)


def _chunked(frame: pl.LazyFrame, column: str, rules: Sequence[_Rule], *, finish: bool) -> pl.LazyFrame:
    """One column, ``column``: ``rules`` applied to each value (non-null, one-line: promised), in order."""
    joined = pl.col(column)
    for rule in rules:
        joined = joined.str.replace_all(_joined_pattern(rule), rule.replacement)
    out = (
        frame.select(column)
        .with_row_index("__row")
        .group_by((pl.col("__row") // _CHUNK_ROWS).alias("__chunk"), maintain_order=True)
        .agg(pl.col(column).str.join("\n"))
        .select(joined.str.split("\n"))
        .explode(column)
    )
    return out.select(_finished(pl.col(column)).alias(column)) if finish else out


def _rules_behind(gates: frozenset[str] | None, rules: Sequence[_Rule]) -> list[_Rule]:
    """The ``rules`` a text that passes only ``gates`` (``None``: every gate) can match."""
    return [r for r in rules if gates is None or all(g in gates for g in _RULE_GATES.get(r.name, ()))]


def mask_one_line_frame(
    frame: pl.LazyFrame, column: str, out: str, *, gates: frozenset[str] | None = None
) -> pl.LazyFrame:
    """``column, out`` with ``out`` = :func:`mask` of ``column``, for values without ``\n`` (promised).

    Same result as ``mask_expr(pl.col(column), multiline=False)``, several times faster: the rules
    run over chunks of messages joined by newlines (see the comment above). ``gates`` is a promise
    that no value passes any other gate (:data:`_GATES`): rules behind other gates are skipped.
    """
    text = frame.select(pl.col(column).cast(pl.String).fill_null("").str.slice(0, _MAX_LINE_CHARS))
    masked = _chunked(text, column, _rules_behind(gates, _RULES), finish=True).rename({column: out})
    return pl.concat([frame.select(column), masked], how="horizontal")


def _one_line(values: pl.Series) -> pl.Series:
    """What the one-line rules work on: null as "", a multi-line message as the line naming its error."""
    text = values.cast(pl.String).fill_null("").rename("__text")
    multi = text.str.contains("\n", literal=True).arg_true()
    if len(multi):
        lines = text.gather(multi).str.slice(0, _MAX_INPUT_CHARS)
        for rule in _LINE_RULES:
            lines = lines.str.replace_all(rule.rust_pattern, rule.replacement)
        text = text.scatter(multi, lines)
    return text.str.slice(0, _MAX_LINE_CHARS)


def _parts(height: int) -> list[tuple[int, int]]:
    """(offset, length) of the parts a column of ``height`` rows is masked in: one per pool thread."""
    size = max(_CHUNK_ROWS, -(-height // max(1, pl.thread_pool_size())))
    return [(offset, min(size, height - offset)) for offset in range(0, height, size)]


def _stage_one(texts: pl.Series) -> pl.Series:
    """``texts`` (non-null, one-line) through the stage-one rules, in order; gates skip what they can."""
    frame = pl.DataFrame({"__text": texts}).with_columns(
        pl.any_horizontal(*(pl.col("__text").str.contains(p) for p in patterns)).alias(f"__{gate}")
        for gate, patterns in _GATES.items()
    )
    signature = pl.sum_horizontal(
        *(pl.col(f"__{gate}").cast(pl.UInt8) * (1 << bit) for bit, gate in enumerate(_GATES))
    )
    frame = frame.select("__text", signature.alias("__sig")).with_row_index("__row")
    counts = dict(frame.get_column("__sig").value_counts().iter_rows())
    group_of = _gate_groups(counts)
    frame = frame.with_columns(pl.col("__sig").replace_strict(group_of, return_dtype=pl.Int64))
    rows: list[pl.Series] = []
    queries: list[pl.LazyFrame] = []
    for (sig,), group in frame.partition_by("__sig", as_dict=True, include_key=False).items():
        gates = frozenset(gate for bit, gate in enumerate(_GATES) if int(sig) >> bit & 1)
        rules = _rules_behind(gates, _RULES[:_STAGE_TWO_FROM])
        for offset, length in _parts(group.height):
            part = group.slice(offset, length)
            rows.append(part.get_column("__row"))
            queries.append(_chunked(part.lazy(), "__text", rules, finish=False))
    masked = pl.concat([q.get_column("__text") for q in pl.collect_all(queries)])
    return masked.gather(pl.concat(rows).arg_sort())


def _stage_two(texts: pl.Series) -> pl.Series:
    """``texts`` (out of :func:`_stage_one`) through the stage-two rules and the final strip, in order."""
    frame = texts.rename("__text").to_frame()
    queries = [
        _chunked(frame.lazy().slice(offset, length), "__text", _RULES[_STAGE_TWO_FROM:], finish=True)
        for offset, length in _parts(frame.height)
    ]
    return pl.concat([q.get_column("__text") for q in pl.collect_all(queries)])


class MaskedKeys(NamedTuple):
    """The masking of many messages, as a key per message and the masked text of each key.

    Equal keys mean equal masked texts; there are usually far fewer keys than messages, so work
    on masked texts (mining, joining) is done once per key, and each message looked up by its key.
    """

    #: One key per message, in order (the message's text part way through the rules).
    keys: pl.Series
    #: ``key``, ``masked``: one row per distinct key.
    table: pl.DataFrame


def masked_keys(values: pl.Series) -> MaskedKeys:
    """:func:`mask` of every value (null: empty), as :class:`MaskedKeys`; the batch path.

    A message repeated is masked once (when the distinct messages are fewer than half the rows, they
    are found first); the rules run in two stages (see :data:`_STAGE_TWO_FROM`), over chunks of
    messages at a time, skipping the rules a message's gates rule out (see :data:`_GATES`), the
    parts in parallel on every pool thread.
    """
    text = values.cast(pl.String).fill_null("")
    if text.is_empty():
        return MaskedKeys(text.rename("key"), pl.DataFrame(schema={"key": pl.String, "masked": pl.String}))
    if text.n_unique() * 2 <= text.len():
        distinct = text.unique()
        halfway = pl.DataFrame({"__value": distinct, "key": _stage_one(_one_line(distinct))})
        keys = (
            text.rename("__value")
            .to_frame()
            .join(halfway, on="__value", how="left", maintain_order="left")
            .get_column("key")
        )
    else:
        keys = _stage_one(_one_line(text)).rename("key")
    distinct_keys = keys.unique()
    table = pl.DataFrame({"key": distinct_keys, "masked": _stage_two(distinct_keys)})
    return MaskedKeys(keys, table)


def _gate_groups(counts: dict[int, int]) -> dict[int, int]:
    """Gate signature (bit i: passes gate i) -> signature of the group that masks it.

    The :data:`_MAX_GATE_GROUPS` most common signatures are masked apart; every other one joins the
    chosen signature that covers it with the fewest gates (all gates, at worst: every rule).
    """
    every = (1 << len(_GATES)) - 1
    chosen = sorted(counts, key=lambda sig: (-counts[sig], sig))[:_MAX_GATE_GROUPS]
    if every not in chosen:
        chosen.append(every)
    return {
        sig: min((c for c in chosen if c & sig == sig), key=lambda c: (c.bit_count(), c)) for sig in counts
    }


def mask_values(values: pl.Series, out: str = "masked") -> pl.DataFrame:
    """Each distinct value of ``values`` (a column named like ``values``) and its :func:`mask` (``out``)."""
    distinct = values.cast(pl.String).unique()
    keys, table = masked_keys(distinct)
    return (
        pl.DataFrame({values.name: distinct, "key": keys})
        .join(table, on="key", how="left", maintain_order="left")
        .select(values.name, pl.col("masked").alias(out))
    )


def mask_series(values: pl.Series) -> pl.Series:
    """:func:`mask` of every value (null: empty), in order, named like ``values``; the batch path."""
    keys, table = masked_keys(values)
    return (
        keys.to_frame()
        .join(table, on="key", how="left", maintain_order="left")
        .get_column("masked")
        .alias(values.name)
    )


def mask_expr(message: pl.Expr, *, multiline: bool = True) -> pl.Expr:
    """Polars expression computing :func:`mask` for a string column.

    Every step is ``str.replace_all`` with a Rust regex, so it runs outside the GIL.  Nulls give
    :data:`EMPTY_TEMPLATE`.  ``multiline=False`` is a promise that no value contains ``\\n``: the
    rules that pick a line out of a multi-line message (no-ops on one line) are then skipped.
    """
    expr = message.cast(pl.String).fill_null("")
    if multiline:
        expr = expr.str.slice(0, _MAX_INPUT_CHARS)
        for rule in _LINE_RULES:
            expr = expr.str.replace_all(rule.rust_pattern, rule.replacement)
    expr = expr.str.slice(0, _MAX_LINE_CHARS)
    for rule in _RULES:
        expr = expr.str.replace_all(rule.rust_pattern, rule.replacement)
    return _finished(expr)
