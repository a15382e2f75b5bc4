"""Redaction skips a step when the text lacks a piece every match of the step's pattern contains: the
result must be what running every step gives, whatever the text (hypothesis, over text made of the
patterns' own pieces, key names in odd cases and Unicode look-alikes that IGNORECASE folds)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agent_pipelines.text import redaction

PIECES = [
    "-----BEGIN RSA PRIVATE KEY-----",
    "MIIEow",
    "-----END RSA PRIVATE KEY-----",
    "https://",
    "user:",
    "pa55@",
    "host",
    "Authorization: ",
    "Bearer ",
    "bEaReR\t",
    "123456789:",
    "AAH" * 11,
    "sk-",
    "sk_live_",
    "rk_test_",
    "ghp_",
    "github_pat_",
    "AKIA",
    "ASIA",
    "XYZ0123456789ABCD",
    "xoxb-",
    "AIza",
    "ya29.",
    "glpat-",
    "npm_",
    "hf_",
    "pypi-AgE",
    "dop_v1_",
    "0123456789abcdef" * 4,
    "xapp-",
    "hooks.slack.com/services/",
    "SG.",
    "eyJ",
    "abcdefghij",
    ".",
    "--password ",
    "-Token=",
    "--api-key ",
    "PassWord",
    "\u017fecret",
    "to\u212aen",
    "api_key",
    '\\"',
    '"',
    "'",
    ": ",
    "=",
    " ",
    "\n",
    "value1234",
    "${X}",
    "None",
    "[REDACTED]",
]


def _every_step(text: str) -> str:
    for step in redaction._STEPS:
        text = step(text)
    return text


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=6), max_size=14))
def test_gated_redaction_equals_every_step(parts: list[str]) -> None:
    text = "".join(parts)
    assert redaction.redact(text) == _every_step(text)
