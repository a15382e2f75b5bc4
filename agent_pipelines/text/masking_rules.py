"""The masking rules: the variable parts of one message that a regex can recognise on its own.

This is the first of two steps of error clustering (:mod:`agent_pipelines.analytics.clustering`); the second,
:mod:`agent_pipelines.text.miner`, learns from the whole set which *other* token positions vary. Masking
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

This module is the rule table; :mod:`agent_pipelines.text.masking` applies it. The Python path
(:func:`~agent_pipelines.text.masking.mask`) and the polars paths share the table, so the patterns use
only syntax that Python's ``re`` and Rust's ``regex`` crate read the same way (no look-around, no
back-references, ASCII word boundaries, explicit ASCII classes), and the test suite checks that both
give identical results on every corpus message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "EMPTY_TEMPLATE",
    "LINE_RULES",
    "MAX_INPUT_CHARS",
    "MAX_LINE_CHARS",
    "PLACEHOLDERS",
    "RULES",
    "Rule",
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
MAX_INPUT_CHARS = 20_000
MAX_LINE_CHARS = 1_024

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
class Rule:
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
LINE_RULES: tuple[Rule, ...] = (
    # A Python traceback is its last line with a letter in it (the exception).
    Rule(
        "traceback",
        r"(?s)^.*Traceback \(most recent call last\):.*\n([^\n]*[A-Za-z][^\n]*)" + _WS + r"*$",
        "${1}",
    ),
    # Drop leading lines without any letter or digit (rulers, blank lines).
    Rule("leading_junk", r"^(?:[^A-Za-z0-9\n]*\n)+", ""),
    # "panicked at src/main.rs:5:9:" says nothing without the next line.
    Rule("colon_join", r"^([^\n]*:)[\t\v\f\r ]*\n" + _WS + "*", "${1} "),
    # Keep only the first line.
    Rule("rest", r"(?s)\n.*", ""),
)

# Run on the chosen line, in order: specific shapes first, bare numbers last.
RULES: tuple[Rule, ...] = (
    # Every whitespace run becomes one space. A lone space is left alone (it already is one): most
    # messages are all single spaces, and rewriting each one was the costliest pass of all.
    Rule("whitespace", r"[\t\n\v\f\r]" + _WS + "*| " + _WS + "+", " "),
    # --- protect what looks variable but names the failure -------------------------
    Rule(
        "keep_status_number",
        r"\b((?:[Ee]xit|EXIT) (?:[Cc]ode|[Ss]tatus)|exited with code|exited with|[Ss]tatus [Cc]ode|"
        r"[Rr]eturn [Cc]ode|statusCode|status_code|StatusCode|[Ee]rror [Cc]ode|[Ee]rrno|ERRNO|HTTP|"
        r"returned error|by signal)([ :=]+)(-?[0-9]{1,3})\b",
        "${1}${2}_QK${3}KQ_",
    ),
    Rule("keep_http_reason", r"\b([1-5][0-9][0-9])( (?:[A-Z][a-z]+|OK)\b)", "_QK${1}KQ_${2}"),
    # JSON-ish keys ("type": / 'code':) keep their quotes out of <QUOTED> ...
    Rule("keep_json_key_dq", r"([{,] *)\"([A-Za-z_][A-Za-z0-9_]*)\"( *:)", "${1}_QD_${2}_QD_${3}"),
    Rule("keep_json_key_sq", r"([{,] *)'([A-Za-z_][A-Za-z0-9_]*)'( *:)", "${1}_QS_${2}_QS_${3}"),
    # ... and so do the values of keys that name an error kind.
    Rule(
        "keep_kind_value_dq",
        r"(_QD_(?:type|code|error_type|errorType|reason|kind|error)_QD_ *: *)\"([A-Za-z_][A-Za-z0-9_.-]*)\"",
        "${1}_QD_${2}_QD_",
    ),
    Rule(
        "keep_kind_value_sq",
        r"(_QS_(?:type|code|error_type|errorType|reason|kind|error)_QS_ *: *)'([A-Za-z_][A-Za-z0-9_.-]*)'",
        "${1}_QS_${2}_QS_",
    ),
    # Names that tools print bare after fixed words: package requirements (pip), shell
    # commands, Go identifiers, make targets, OOM-killed process names, and container /
    # pod / image names (only when they look like names: with a digit or - _ / : . @).
    Rule(
        "pip_requirement",
        r"\b(the requirement|distribution found for) [A-Za-z0-9_.@/\[\],-]+(?:[=<>!~]=?[A-Za-z0-9_.*+-]+)*",
        "${1} <PKG>",
    ),
    Rule("command_not_found", r"[A-Za-z0-9_./+-]+: command not found", "<CMD>: command not found"),
    # What a shell tool ran, after Node's / Claude Code's "Command failed": the command is the value.
    Rule("command_failed", r"\b(Command failed(?: with exit code _QK-?[0-9]+KQ_)?: ).+$", "${1}<CMD>"),
    # Closing tags (</tool_use_error>) are markup, not paths: hide their slash until the end.
    Rule("closing_tag", r"</([A-Za-z_][A-Za-z0-9_:.-]*)>", "<_SL_${1}>"),
    Rule("go_undefined", r"\bundefined: [A-Za-z_][A-Za-z0-9_.]*", "undefined: <NAME>"),
    Rule("make_target", r"\b(make(?:\[[0-9]+\])?: \*\*\* )\[[^\]\n]*\]", "${1}[<TARGET>]"),
    Rule("killed_process", r"\b([Kk]illed process [0-9]+ )\([^)\n]*\)", "${1}(<NAME>)"),
    Rule(
        "k8s_name",
        r"\b([Cc]ontainer|[Pp]od|[Ee]ndpoint|[Dd]eployment|[Nn]amespace|[Ii]mage|[Rr]epository|"
        r"pull access denied for) [A-Za-z0-9._]*[-_/:.@0-9][A-Za-z0-9._/:@-]*",
        "${1} <NAME>",
    ),
    Rule(
        "py_function",
        r"\b[A-Za-z_][A-Za-z0-9_.]*\(\) (takes|got|missing)\b",
        "<FUNC>() ${1}",
    ),
    # --- unambiguous shapes ----------------------------------------------------------
    Rule(
        "url",
        r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\t\n\v\f\r '\"<>()\[\]{}`]*[^\t\n\v\f\r '\"<>()\[\]{}`,.;:!?]",
        "<URL>",
    ),
    Rule("email", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b", "<EMAIL>"),
    Rule(
        "uuid",
        r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
        "<UUID>",
    ),
    # Dates in the shapes logs print them (ISO, common log format, 1/2/2024, RFC 2822, syslog), one pass.
    Rule(
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
    Rule(
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
    Rule("hex", r"\b0[xX][0-9a-fA-F]+\b", "<HEX>"),
    # --- paths and names -------------------------------------------------------------
    # Paths, one pass: Windows, absolute or ~/./.. Unix, relative with a directory, or a bare file name
    # with a known extension; with a :line:col or pytest node id after it.
    Rule(
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
    Rule("time", r"\b[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?\b", "<TIME>"),
    # What git push / fetch report per ref: "! [rejected] main -> main (fetch first)".
    Rule(
        "git_push_ref",
        r"(\[(?:rejected|remote rejected|new branch|new tag|deleted|up to date)\] +)[^ ]+( +-> +)[^ ]+",
        "${1}<REF>${2}<REF>",
    ),
    Rule(
        "git_ref",
        r"\b(refs/(?:heads|tags|remotes)/|origin/|remote ref |[Bb]ranch )[A-Za-z0-9._/-]*[A-Za-z0-9_]",
        "${1}<REF>",
    ),
    # Quoted values: 'lodash', `npm test`, 'User | undefined'. A double-quoted phrase with spaces
    # ("GET /v2/x HTTP/1.1", "Exceeded timeout of 5000 ms") keeps its words for the other rules
    # and the miner: it is more often a message or a request line than a value.
    Rule(
        "quoted",
        r"\B'[^'\n]*'|\"[^\"\t\n\v\f\r ]*\"|`[^`\n]*`|‘[^’\n]*’|“[^”\t\n\v\f\r ]*”",
        "<QUOTED>",
    ),
    Rule(
        "user",
        r"\b([Ii]nvalid user|for user|[Uu]ser=|[Uu]sername=|[Uu]ser:|login=)( ?)[A-Za-z0-9._$-]+",
        "${1}${2}<USER>",
    ),
    # --- quantities --------------------------------------------------------------------
    Rule(
        "duration",
        r"(?:[<>]=?|~)?\b[0-9]+(?:\.[0-9]+)?"
        r"(?:(?:ns|us|µs|ms|s|m|h|d)(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))*"
        r"| ?(?:msec|millis|milliseconds?|secs?|seconds?|mins?|minutes?|hrs?|hours?|days?)"
        r"| (?:ms|ns|us|µs))\b",
        "<DUR>",
    ),
    Rule("size", r"\b[0-9]+(?:\.[0-9]+)?(?: ?(?:[KMGTP]i?B|kB|B|bytes?)|[kKMGTP]i?)\b", "<SIZE>"),
    Rule(
        "version",
        r"\bv?[0-9]+\.[0-9]+\.[0-9]+(?:[-+][0-9A-Za-z.-]*[0-9A-Za-z]|\.[0-9]+)*\b|\bv[0-9]+(?:\.[0-9]+)?\b",
        "<VER>",
    ),
    # A number is a maximal digit run not glued to letters/digits ("blk_-123", "core.42",
    # "rdd_2_1"); two passes because a match consumes the separator after it.
    Rule("number", r"(^|[^A-Za-z0-9])-?[0-9]+(?:[.,][0-9]+)*([^A-Za-z0-9]|$)", "${1}<NUM>${2}"),
    Rule(
        "number_again",
        r"(^|[^A-Za-z0-9])-?[0-9]+(?:[.,][0-9]+)*([^A-Za-z0-9]|$)",
        "${1}<NUM>${2}",
    ),
    # git short/long shas, sha256 digests (digits-only runs are <NUM> already).
    Rule("hash", r"\b(?:[0-9a-f]{7,64}|[0-9A-F]{7,64})\b", "<HASH>"),
    # Long random ids: an alphanumeric run of >= 10 chars where letters and digits
    # interleave ("req_011CUq7xXYZab9"), unlike codes such as TS2345 or E0308; or one of
    # >= 16 chars with digits and both cases ("msg_01XFDUDYJgAACzvnptvVoYEL").  Done with
    # markers in linear passes: mark long runs, unmark the ones that do not qualify.
    # (Only runs with a digit are marked: a long word can never be an id, and marking it costs.)
    Rule("id_mark_long", r"(^|[^A-Za-z0-9])(" + _run_with_digit(16) + ")", "${1}\x04${2}\x05"),
    Rule("id_mark", "(^|[^A-Za-z0-9\x04])(" + _run_with_digit(10) + ")", "${1}\x02${2}\x03"),
    Rule(
        "id",
        "[\x02\x04][A-Za-z0-9]*(?:[A-Za-z][0-9]+[A-Za-z]|[0-9][A-Za-z]+[0-9])[A-Za-z0-9]*[\x03\x05]"
        "|\x04(?:[0-9]+" + _MIXED_CASE + "|" + _MIXED_CASE + "[0-9]+)\x05",
        "<ID>",
    ),
    Rule("id_unmark", "[\x02-\x05]", ""),
    # --- tidy up -----------------------------------------------------------------------
    Rule(
        "collapse_runs",
        r"(<(?:URL|EMAIL|UUID|DATE|TIME|IP|HEX|PATH|QUOTED|DUR|SIZE|VER|NUM|HASH|ID)>)(?:"
        + _SEP
        + r"<(?:URL|EMAIL|UUID|DATE|TIME|IP|HEX|PATH|QUOTED|DUR|SIZE|VER|NUM|HASH|ID)>[)\]]?)+",
        "${1}",
    ),
    Rule("unprotect_number", r"_QK(-?[0-9]+)KQ_", "${1}"),
    Rule("unprotect_dq", "_QD_", '"'),
    Rule("unprotect_sq", "_QS_", "'"),
    Rule("unprotect_tag", "<_SL_", "</"),
)
