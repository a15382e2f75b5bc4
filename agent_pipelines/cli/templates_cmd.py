"""``agent-pipelines templates``: cluster id and template of each error message, learned over the input."""

from __future__ import annotations

import argparse
import sys
from typing import BinaryIO, TextIO

from agent_pipelines.analytics.clustering import cluster_id, cluster_messages


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "templates",
        help="print cluster_id<TAB>template per error message (one per line), learned over the whole input",
        description=(
            "Read one error message per line from FILE (default: standard input), learn templates over "
            "all of them (masking of ids, paths, numbers... then the positions that vary across "
            "messages), and print, for each input line and in input order, its cluster id and template "
            "separated by a tab: the same clusters the pipelines give errors without a fingerprint. "
            "Ids are a hash of the template, so they are the same on every run and stay the same as the "
            "input grows for as long as a template does. Bytes that are not UTF-8 are replaced."
        ),
    )
    parser.add_argument("file", nargs="?", metavar="FILE", help="file of messages (default: stdin)")
    parser.set_defaults(func=run)


def read_lines(stream: BinaryIO) -> list[str]:
    """Every line of ``stream``, decoded leniently, without its line ending."""
    return [raw.decode("utf-8", errors="replace").rstrip("\r\n") for raw in stream]


def write_templates(lines: list[str], out: TextIO) -> int:
    """Cluster ``lines`` as one set and write ``cluster_id<TAB>template`` per line; returns the count."""
    templates = cluster_messages(lines)
    ids: dict[str, str] = {}
    for template in templates:
        cid = ids.get(template)
        if cid is None:
            cid = ids[template] = cluster_id(template)
        out.write(f"{cid}\t{template}\n")
    out.flush()
    return len(templates)


def run(args: argparse.Namespace) -> int:
    try:
        if args.file is None or args.file == "-":
            lines = read_lines(sys.stdin.buffer)
        else:
            with open(args.file, "rb") as fh:
                lines = read_lines(fh)
    except (OSError, ValueError) as exc:
        print(f"agent-pipelines templates: {exc}", file=sys.stderr)
        return 1
    write_templates(lines, sys.stdout)
    return 0
