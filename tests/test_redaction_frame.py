"""The column-wise redaction pass where text enters (reader, importers): its polars screen must flag
every text :func:`redact` would change (a superset), and JSON text must stay JSON."""

from __future__ import annotations

import json

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from test_redaction import NEGATIVE, POSITIVE

from agent_pipelines.text.redaction import REDACTED, redact, register_secret, unregister_secret
from agent_pipelines.text.redaction_frame import flagged, might_hold_secret, redact_frame, redact_series

# Shapes added with the redaction at the edge (issue 22): (text, a piece that must vanish)
MORE = [
    ("oauth ya29.a0AfH6SMBx3Kq9Vv8LmZr2TpYc7Wq", "a0AfH6SMBx3Kq9"),
    ("git push https://oauth2:glpat-Ab3dE6gH9jK2mN5pQ8sT@gitlab.com/x", "glpat-Ab3dE6gH9j"),
    ("//registry.npmjs.org/:_authToken=npm_Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6", "npm_Ab3dE6gH9jK2"),
    ("HF token hf_Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3", "hf_Ab3dE6gH9jK2"),
    (
        "password pypi-AgEIcHlwaS5vcmcCJGU4ZmVlYjYyLTk3ZTEtNGE1Ny1iZGM5LTI4OTNhMDg3NjM5MgACKlsz",
        "AgEIcHlwaS5vcmc",
    ),
    ("do dop_v1_" + "a3" * 32, "a3a3a3a3a3a3"),
    ("slack xapp-1-A0123456789-1234567890123-abcdef0123456789", "A0123456789-1234"),
    ("POST https://hooks.slack.com/services/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", "Xy9Zw8Vu7Ts6"),
    ("sendgrid SG.Ab3dE6gH9jK2mN5pQ8sT1v.Wx4yZ7bC0eF3hJ6kL9mN2pQ5sT8vW1yZ4", "Wx4yZ7bC0eF3"),
]
FRAGMENTS = (
    [t for t, _, _ in POSITIVE]
    + [t for t, _ in MORE]
    + NEGATIVE
    + ["token", "Bearer ", "://u:p@h", '\\"', "'", "=", ": "]
)


def test_every_known_secret_shape_is_flagged() -> None:
    texts = [t for t, _, _ in POSITIVE]
    assert flagged(pl.Series(texts)).all()
    assert all(might_hold_secret(t) for t in texts)


def test_more_token_shapes_are_redacted_and_flagged() -> None:
    for text, piece in MORE:
        assert piece not in redact(text), text
        assert might_hold_secret(text) and flagged(pl.Series([text])).item(), text


def test_ordinary_text_is_mostly_not_flagged() -> None:
    """The screen is what keeps redaction cheap: most ordinary log text must pass it."""
    ordinary = [t for t in NEGATIVE if redact(t) == t]
    assert flagged(pl.Series(ordinary)).sum() <= len(ordinary) // 3


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=6))
def test_the_screen_flags_whatever_redact_would_change(parts: list[str]) -> None:
    text = " ".join(parts)
    if redact(text) != text:
        assert flagged(pl.Series([text])).item(), text
        assert might_hold_secret(text), text


# Whitespace JSON writes as an escape (\t \n \r \f \b, \u000b, \u2028...) or keeps as it is (\u00a0...):
# text with it after a secret-like word reads as whitespace once decoded, and is redacted then.
JSON_SPACES = ["\x0b", "\x0c", "\x08", "\t", "\n", "\r", "\u2028", "\u2003", "\xa0", " "]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(FRAGMENTS), st.sampled_from(JSON_SPACES), st.text(max_size=12)), max_size=8
    ),
    st.booleans(),
)
def test_the_screen_flags_the_json_text_of_whatever_redact_would_change(
    parts: list[str], ascii: bool
) -> None:
    """The ``data`` column is screened as JSON text and redacted decoded (bug: a Bearer token after a
    whitespace JSON writes as ``\u000b`` stayed in ``data``: the screen saw no whitespace there)."""
    text = "".join(parts)
    if redact(text) != text:
        encoded = json.dumps({"message": text}, ensure_ascii=ascii)
        assert flagged(pl.Series([encoded])).item(), encoded
        assert might_hold_secret(encoded), encoded
        assert redact_series(pl.Series([encoded]), is_json=True).item() == json.dumps(
            {"message": redact(text)}, ensure_ascii=False
        )


def test_a_secret_after_an_escaped_whitespace_leaves_data() -> None:
    token = "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF"
    cells = []
    for space in [
        "\x0b",
        "\x0c",
        "\u2028",
        "\u2003",
    ]:  # whitespace that JSON writes escaped (\u2003 unescaped)
        cells += [
            json.dumps({"cmd": f"curl -H 'X: Bearer{space}{token}'"}),
            json.dumps({"cmd": f"export TOKEN{space}={token}"}),
        ]
    cells.append(json.dumps({"output": json.dumps({"log": '{"password": "' + token + '"}'})}))
    out = redact_series(pl.Series(cells), is_json=True).to_list()
    for before, after in zip(cells, out, strict=True):
        assert token[:12] not in after, before


def test_registered_secrets_are_flagged() -> None:
    register_secret("odd-shaped-literal-secret")
    try:
        column = pl.Series(["x odd-shaped-literal-secret y", "nothing"])
        assert flagged(column).to_list() == [True, False]
        assert redact_series(column).to_list() == [f"x {REDACTED} y", "nothing"]
    finally:
        unregister_secret("odd-shaped-literal-secret")


def test_json_columns_stay_json_and_lose_their_secrets() -> None:
    params = {"command": 'curl -H "Authorization: Bearer abcdefgh12345678"', "password": "hunter2", "n": 3}
    frame = pl.DataFrame(
        {
            "tool_params": [json.dumps(params), '{"plain": "text"}', None],
            "message": ["auth failed for sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv", "fine", None],
            "count": [1, 2, 3],
        }
    )
    out = redact_frame(frame, ["tool_params"])
    cleaned = json.loads(out["tool_params"][0])
    assert (
        cleaned["password"] == REDACTED and "abcdefgh12345678" not in cleaned["command"] and cleaned["n"] == 3
    )
    assert out["tool_params"][1] == '{"plain": "text"}' and out["tool_params"][2] is None
    assert out["message"].to_list() == [f"auth failed for {REDACTED}", "fine", None]
    assert out["count"].to_list() == [1, 2, 3]


# Values for the fields of a line: secrets, text near them, escapes, objects holding either.
_VALUE = st.one_of(
    st.sampled_from(FRAGMENTS),
    st.text(max_size=12),
    st.builds(
        lambda a, b: f"{a}{b}", st.sampled_from(FRAGMENTS), st.sampled_from(["\n", "\\", '"', "\t", "é"])
    ),
    # a token after a space JSON writes as an escape (\u000b, \f): flagged decoded, not as JSON text
    st.builds(
        lambda ws: f"Bearer{ws}Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7", st.sampled_from(["\x0b", "\x0c", "\u2028", " "])
    ),
)
_SECRET_KEYS = ["token", "password", "note", "api_key"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["attempt_id", "task_title", "model", "branch", "error", "tool_call", "end"]),
            _VALUE,
            st.sampled_from(_SECRET_KEYS),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_the_readers_shortcuts_redact_exactly_what_screening_every_cell_does(
    fields: list[tuple[str, str, str]],
) -> None:
    """The reader screens ids and titles once per distinct value, and a payload field only where
    its line holds an escape or ``data`` itself is flagged (a field is then a piece of ``data``'s
    text): the same cells as screening every cell of every column."""
    from agent_pipelines.core.reader.blocks import _JSON_COLUMNS, _OWN_COLUMNS, parse_lines

    lines = []
    for i, (where, value, key) in enumerate(fields):
        event: dict = {"timestamp": "2026-03-02T10:00:00.000Z", "attempt_id": "a-1", "event_type": "error",
                       "data": {"error_message": "failed"}}  # fmt: skip
        if where in ("attempt_id", "task_title", "model", "branch"):
            event[where] = value if where != "attempt_id" else f"a-{i % 2}"
            event["task_title"] = value if where == "attempt_id" else event.get("task_title", "t")
        elif where == "error":
            event["data"] = {"error_message": value, "stack_trace": f"at {value}"}
        elif where == "tool_call":
            event.update(event_type="tool_call", data={"tool_name": "Bash", "tool_params": {key: value}})
        else:
            event.update(
                event_type="session_end", data={"completion_status": "success", "outcome": {key: value}}
            )
        lines.append(json.dumps(event, ensure_ascii=i % 2 == 0).encode())
    block = b"\n".join(lines) + b"\n"
    shortcut, _, _ = parse_lines(block, "x", 1, 0, 1 << 20)
    plain, _, _ = parse_lines(block, "x", 1, 0, 1 << 20, redact=False)
    assert shortcut.equals(redact_frame(plain, _JSON_COLUMNS, skip=_OWN_COLUMNS))


def test_the_reader_redacts_a_secret_after_an_escaped_whitespace_in_data() -> None:
    """The reported case, end to end: a tool call's command with ``Bearer\\u000b<token>``."""
    from test_contract import line

    from agent_pipelines.core.reader import read_bytes

    token = "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF"
    raw = line(
        "tool_call", {"tool_name": "Bash", "tool_params": {"command": f"curl -H 'X: Bearer\x0b{token}'"}}
    )
    assert b"Bearer\\u000b" in raw
    result = read_bytes(raw + b"\n")
    assert result.events.height == 1
    assert token[:12] not in json.dumps(result.events.row(0, named=True), default=str)
