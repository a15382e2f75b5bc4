"""Markdown escaping: any text from the logs renders as itself (a CommonMark renderer as the oracle)."""

from __future__ import annotations

import html
import re

import polars as pl
from hypothesis import example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from agent_pipelines.analytics.metrics import markdown_table
from agent_pipelines.text import markdown as md

RENDER = MarkdownIt("commonmark").enable("table")


def rendered_text(source: str) -> str:
    """What a reader sees: the HTML's text, tags dropped, entities decoded."""
    out = RENDER.render(source)
    return html.unescape(re.sub(r"<[^>]+>", "", out)).strip()


def test_placeholders_survive() -> None:
    label = "HTTP 401 Unauthorized: GET <URL> (request <UUID>)"
    assert rendered_text(md.escape(label)) == label
    docker = "Cannot connect to the Docker daemon at <PATH>. Is the docker daemon running?"
    assert rendered_text(md.escape(docker)) == docker


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=80))
@example("- x")
@example("1. x")
@example("12) x")
@example("---")
@example("=")
@example("+ plus")
@example("a\\")
def test_any_line_renders_as_itself(text: str) -> None:
    expected = " ".join(text.split())
    if not expected:
        return
    got = rendered_text(md.escape(text))
    assert " ".join(got.split()) == expected


def test_cells_stay_in_their_column() -> None:
    frame = pl.DataFrame({"label": ["a | b <PATH>", "*x* _y_ [z](u)"], "n": [1, 2]})
    source = markdown_table(frame)
    out = RENDER.render(source)
    cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", out)]
    assert cells == ["a | b <PATH>", "1", "*x* _y_ [z](u)", "2"]


def test_escape_expr_matches_escape() -> None:
    values = ["GET <URL> | x", "a_b*c", None, "  two   spaces\nnewline ", "- x", "1. y", "---"]
    frame = pl.DataFrame({"v": values}).select(md.escape_expr(pl.col("v")))
    assert frame["v"].to_list() == [md.escape(v) if v is not None else None for v in values]
