"""``agent-pipelines templates``: print the cluster id and template of each error message."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import BinaryIO, TextIO

from agent_pipelines.clustering import cluster_id, derive_template


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "templates",
        help="print cluster_id<TAB>template for each error message (one per line)",
        description=(
            "Read one error message per line from FILE (default: standard input) and print, for each "
            "input line and in order, its cluster id and template separated by a tab: the same key the "
            "pipelines use for errors without a fingerprint. Reading standard input streams: each "
            "result is written as soon as its line arrives. Bytes that are not UTF-8 are replaced."
        ),
    )
    parser.add_argument("file", nargs="?", metavar="FILE", help="file of messages (default: stdin)")
    parser.set_defaults(func=run)


def _lines(stream: BinaryIO) -> Iterator[str]:
    for raw in stream:
        yield raw.decode("utf-8", errors="replace").rstrip("\r\n")


def write_templates(stream: BinaryIO, out: TextIO, *, flush_each: bool) -> int:
    """Template every line of ``stream`` onto ``out``; returns the number of lines."""
    count = 0
    for line in _lines(stream):
        template = derive_template(line)
        out.write(f"{cluster_id(template)}\t{template}\n")
        count += 1
        if flush_each:
            out.flush()
    out.flush()
    return count


def run(args: argparse.Namespace) -> int:
    if args.file is None or args.file == "-":
        # Streaming (e.g. `tail -f errors.txt | agent-pipelines templates`): flush per line.
        write_templates(sys.stdin.buffer, sys.stdout, flush_each=True)
        return 0
    try:
        with open(args.file, "rb") as fh:
            write_templates(fh, sys.stdout, flush_each=False)
    except OSError as exc:
        print(f"agent-pipelines templates: {exc}", file=sys.stderr)
        return 1
    return 0
