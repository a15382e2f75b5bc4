"""Synthetic labelled messages for the kinds of variable part issue 9 names as failure classes.

Each class is a handful of events written for this benchmark in the shape of public system logs
(SSH and PAM lines, cluster node messages, proxy logs, daemons, git), with the variable part drawn
at random, seeded: host names under many top-level domains and IP literals, bracketed and
enumerated node ids, lists of values of different lengths, ``mm:ss`` and ``hh:mm:ss`` durations,
status numbers that vary within one event, and git branch names. Near misses are separate events
(``Connection closed`` / ``Connection reset``, ``rhost=`` with and without ``user=``, two
``registered new driver`` names, ``exited with code 1`` / ``127``). They test that the clustering
handles each class; they say nothing about accuracy on any real log.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable

Event = tuple[str, Callable[[random.Random], str]]


def _word(r: random.Random, lo: int = 3, hi: int = 8) -> str:
    return "".join(r.choice(string.ascii_lowercase) for _ in range(r.randint(lo, hi)))


def _ip(r: random.Random) -> str:
    return ".".join(str(r.randint(1, 254)) for _ in range(4))


_TLDS = [
    "at",
    "lt",
    "pk",
    "my",
    "ro",
    "be",
    "no",
    "tr",
    "bg",
    "sk",
    "hr",
    "rs",
    "net",
    "com",
    "kz",
    "ge",
]


def _host(r: random.Random) -> str:
    k = r.random()
    if k < 0.3:
        return _ip(r)
    if k < 0.6:
        return f"{_word(r)}-{r.randint(1, 254)}-{r.randint(1, 254)}.{_word(r)}.{_word(r)}.{r.choice(_TLDS)}"
    if k < 0.8:
        return f"{_word(r)}.{_word(r)}.{r.choice(_TLDS)}"
    return f"{_word(r)}{r.randint(1, 999)}.{r.choice(_TLDS)}"


def _node(r: random.Random) -> str:
    return f"{r.choice('ABCD')}{r.randint(1, 12)}"


def _clock(r: random.Random) -> str:
    k = r.random()
    if k < 0.4:
        return f"{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
    if k < 0.8:
        return f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
    return "<1 sec"


def _branch(r: random.Random) -> str:
    return r.choice(
        [
            f"feature/{_word(r)}-{r.randint(100, 999)}d",
            f"ve/{r.randint(4096, 65535):x}-{_word(r)}",
            "main",
            f"fix/{_word(r)}",
            f"{_word(r)}-{_word(r)}",
            f"release/v{r.randint(1, 9)}.{r.randint(0, 9)}",
        ]
    )


def _date(r: random.Random) -> str:
    return f"Fri Jun {r.randint(10, 28)} {r.randint(10, 23)}:{r.randint(10, 59)}:{r.randint(10, 59)} 2005"


CLASSES: dict[str, list[Event]] = {
    "hosts": [
        (
            "disconnect",
            lambda r: f"Received disconnect from {_host(r)}: 11: Bye Bye [preauth]",
        ),
        (
            "no_ident",
            lambda r: f"Did not receive identification string from {_host(r)}",
        ),
        (
            "reverse",
            lambda r: (
                f"reverse mapping checking getaddrinfo for {_host(r)} [{_ip(r)}] failed - "
                "POSSIBLE BREAK-IN ATTEMPT!"
            ),
        ),
        ("closed", lambda r: f"Connection closed by {_host(r)} [preauth]"),
        ("reset", lambda r: f"Connection reset by {_host(r)} [preauth]"),
        (
            "auth",
            lambda r: f"authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={_host(r)}",
        ),
        (
            "auth_user",
            lambda r: (
                "authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
                f"rhost={_host(r)} user={_word(r)}"
            ),
        ),
        (
            "connection",
            lambda r: f"connection from {_ip(r)} ({_host(r)}) at {_date(r)}",
        ),
    ],
    "node ids": [
        (
            "datasource",
            lambda r: f"data_thread() got not answer from any [Thunderbird_{_node(r)}] datasource",
        ),
        (
            "node_down",
            lambda r: f"node node-{r.randint(1, 255)} is down [cluster-{r.choice('ab')}{r.randint(1, 30)}]",
        ),
        (
            "link",
            lambda r: (
                "Link error on broadcast tree "
                f"Interconnect-{r.randint(0, 3)}{r.choice('TN')}{r.randint(0, 30):02d}"
            ),
        ),
        (
            "irq",
            lambda r: f"PCI Interrupt Link [LNK{r.choice('ABCDEFGH')}] enabled at IRQ {r.randint(3, 15)}",
        ),
        ("driver_hub", lambda r: "usbcore: registered new driver hub"),
        ("driver_usbfs", lambda r: "usbcore: registered new driver usbfs"),
    ],
    "lists": [
        (
            "irqs",
            lambda r: (
                "PCI Interrupt Link [LNKB] (IRQs "
                + " ".join(str(r.randint(3, 15)) for _ in range(r.randint(3, 8)))
                + ")"
            ),
        ),
        (
            "heartbeat",
            lambda r: (
                "Lost heartbeat from nodes "
                + " ".join(f"node-{r.randint(1, 255)}" for _ in range(r.randint(1, 5)))
                + " in rack 7"
            ),
        ),
        (
            "targeting",
            lambda r: (
                f"Targeting domains:node-{_node(r)} and nodes:node-[{r.randint(0, 30)}-{r.randint(31, 63)}] "
                f"child of command {r.randint(1000, 4000)}"
            ),
        ),
        ("waiting", lambda r: f"Waiting for {r.randint(1, 9)} tasks to finish"),
    ],
    "durations": [
        (
            "close",
            lambda r: (
                f"{_host(r)}:{r.randint(80, 9000)} close, {r.randint(0, 9999)} bytes sent, "
                f"{r.randint(0, 99999)} bytes received, lifetime {_clock(r)}"
            ),
        ),
        (
            "open",
            lambda r: f"{_host(r)}:{r.randint(80, 9000)} open through proxy proxy.example.hk:5070 HTTPS",
        ),
        ("session", lambda r: f"Session {r.randint(1, 999)} ended after {_clock(r)}"),
    ],
    "status numbers": [
        ("signal", lambda r: f"syslogd exiting on signal {r.choice([1, 2, 9, 15])}"),
        (
            "rc",
            lambda r: f"ciod: LOGIN chdir({_word(r)}) failed: rc = {r.randint(0, 5)}",
        ),
        ("abnormal", lambda r: f"ALERT exited abnormally with [{r.randint(1, 3)}]"),
        ("returned", lambda r: f"tftp transfer returned {r.randint(0, 4)} after retry"),
        (
            "code",
            lambda r: f"mailer finished with code {r.randint(0, 4)} for msg {r.randint(1000, 9999)}",
        ),
        ("exit_1", lambda r: f"Command '{_word(r)}' exited with code 1"),
        ("exit_127", lambda r: f"Command '{_word(r)}' exited with code 127"),
    ],
    "git branches": [
        (
            "rejected",
            lambda r: (
                f"! [rejected] {_branch(r)} -> {_branch(r)} (non-fast-forward) error: failed to push some "
                f"refs to 'git@github.com:{_word(r)}/{_word(r)}.git'"
            ),
        ),
        (
            "remote_rejected",
            lambda r: f"! [remote rejected] {_branch(r)} -> {_branch(r)} (pre-receive hook declined)",
        ),
        (
            "pathspec",
            lambda r: f"error: pathspec '{_branch(r)}' did not match any file(s) known to git",
        ),
    ],
}


def variable_classes(per_class: int = 200, seed: int = 3) -> dict[str, tuple[list[str], list[str]]]:
    """Class name -> (messages, event labels), ``per_class`` messages each, seeded."""
    rng = random.Random(seed)
    out = {}
    for name, events in CLASSES.items():
        messages, labels = [], []
        for _ in range(per_class):
            label, make = rng.choice(events)
            messages.append(make(rng))
            labels.append(label)
        out[name] = (messages, labels)
    return out
