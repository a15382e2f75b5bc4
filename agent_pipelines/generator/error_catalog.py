"""The kinds of errors the generator makes agents hit, with their variable parts.

Each kind is one true cluster: its messages differ only in ids, numbers, paths, hashes, durations
and quoted names, the way a real tool prints the same failure twice. Kinds are chosen to be close
to each other where real logs are (ENOENT vs EACCES, 401 vs 403, push vs pull) so that a clusterer
that over-generalizes is caught by the ground truth.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass

Maker = Callable[[random.Random], str]


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _word(rng: random.Random, lo: int = 4, hi: int = 10) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(lo, hi)))


def _path(rng: random.Random) -> str:
    root = rng.choice(["src", "lib", "app", "packages/core/src", "tests", "scripts"])
    ext = rng.choice(["ts", "py", "js", "tsx", "rs", "go"])
    return f"{root}/{_word(rng)}/{_word(rng)}.{ext}"


def _uuid(rng: random.Random) -> str:
    h = _hex(rng, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _branch(rng: random.Random) -> str:
    return f"ve/{_hex(rng, 4)}-{_word(rng)}-{_word(rng)}"


def _pkg(rng: random.Random) -> str:
    return rng.choice(["@types/", "@org/", ""]) + _word(rng, 3, 9) + rng.choice(["", "-utils", "-core", "js"])


def _ip(rng: random.Random) -> str:
    return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _ver(rng: random.Random) -> str:
    return f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 40)}"


@dataclass(frozen=True)
class ErrorKind:
    kind: str
    category: str
    fingerprint: str
    fingerprint_policy: str  # always | never | mixed
    make: Maker


KINDS: tuple[ErrorKind, ...] = (
    ErrorKind("git_push_rejected", "git", "git_push_failed", "always",
              lambda r: f"! [rejected] {_branch(r)} -> {_branch(r)} (non-fast-forward) error: failed to push some refs to 'git@github.com:{_word(r)}/{_word(r)}.git'"),
    ErrorKind("git_not_repo", "git", "git_not_repo", "mixed",
              lambda r: f"fatal: not a git repository (or any of the parent directories): /workspace/{_word(r)}/.git"),
    ErrorKind("git_merge_conflict", "git", "git_merge_conflict", "never",
              lambda r: f"CONFLICT (content): Merge conflict in {_path(r)}"),
    ErrorKind("git_auth_denied", "auth", "git_auth_denied", "always",
              lambda r: f"remote: Permission to {_word(r)}/{_word(r)}.git denied to {_word(r)}-bot. fatal: unable to access 'https://github.com/{_word(r)}/{_word(r)}.git/': The requested URL returned error: 403"),
    ErrorKind("npm_enoent", "dependency", "npm_enoent", "mixed",
              lambda r: f"npm ERR! code ENOENT npm ERR! syscall open npm ERR! path /workspace/{_word(r)}/package.json"),
    ErrorKind("npm_eacces", "dependency", "npm_eacces", "never",
              lambda r: f"npm ERR! code EACCES npm ERR! syscall mkdir npm ERR! path /usr/local/lib/node_modules/{_pkg(r)}"),
    ErrorKind("npm_install_timeout", "dependency", "npm_install_timeout", "always",
              lambda r: f"npm ERR! network request to https://registry.npmjs.org/{_pkg(r)} failed, reason: ETIMEDOUT after {r.randint(30, 300)}s"),
    ErrorKind("module_not_found", "dependency", "module_not_found", "mixed",
              lambda r: f"Error: Cannot find module '{_pkg(r)}' imported from {_path(r)}"),
    ErrorKind("pip_no_matching", "dependency", "pip_no_matching_dist", "never",
              lambda r: f"ERROR: No matching distribution found for {_word(r)}=={_ver(r)}"),
    ErrorKind("tsc_type_error", "build", "tsc_type_error", "never",
              lambda r: f"{_path(r)}({r.randint(1, 900)},{r.randint(1, 80)}): error TS2322: Type '{_word(r)}' is not assignable to type '{_word(r)}'."),
    ErrorKind("tsc_missing_prop", "build", "tsc_missing_property", "mixed",
              lambda r: f"{_path(r)}({r.randint(1, 900)},{r.randint(1, 80)}): error TS2339: Property '{_word(r)}' does not exist on type '{_word(r).capitalize()}'."),
    ErrorKind("test_failed", "test", "test_failed", "always",
              lambda r: f"FAILED tests/test_{_word(r)}.py::test_{_word(r)} - AssertionError: assert {r.randint(0, 999)} == {r.randint(0, 999)}"),
    ErrorKind("jest_timeout", "test", "jest_timeout", "never",
              lambda r: f"thrown: \"Exceeded timeout of {r.choice([5000, 10000, 30000])} ms for a test.\" at {_path(r)}:{r.randint(1, 400)}:{r.randint(1, 40)}"),
    ErrorKind("lint_failed", "build", "lint_failed", "mixed",
              lambda r: f"{_path(r)}:{r.randint(1, 500)}:{r.randint(1, 80)}: error  '{_word(r)}' is assigned a value but never used  no-unused-vars"),
    ErrorKind("context_window", "model", "context_window_exceeded", "always",
              lambda r: f"Error: This model's maximum context length is {r.choice([128000, 200000, 1000000])} tokens. However, your messages resulted in {r.randint(200001, 400000)} tokens."),
    ErrorKind("rate_limited", "model", "rate_limited", "mixed",
              lambda r: f"429 Too Many Requests: rate limit exceeded for org-{_hex(r, 12)}, retry after {r.randint(1, 60)}s (request id req_{_hex(r, 24)})"),
    ErrorKind("api_key_missing", "api_key", "api_key_missing", "always",
              lambda r: f"Error: OPENAI_API_KEY environment variable is missing or empty (checked {_path(r)} and process env at {r.randint(10, 59)}ms)"),
    ErrorKind("unauthorized_401", "auth", "http_401", "never",
              lambda r: f"HTTP 401 Unauthorized: GET https://api.{_word(r)}.com/v{r.randint(1, 3)}/{_word(r)}/{r.randint(1000, 99999)} (request {_uuid(r)})"),
    ErrorKind("forbidden_403", "auth", "http_403", "never",
              lambda r: f"HTTP 403 Forbidden: POST https://api.{_word(r)}.com/v{r.randint(1, 3)}/{_word(r)}/{r.randint(1000, 99999)} (request {_uuid(r)})"),
    ErrorKind("env_var_missing", "environment", "env_var_missing", "mixed",
              lambda r: f"KeyError: '{_word(r).upper()}_{_word(r).upper()}' environment variable not set in {_path(r)}"),
    ErrorKind("db_conn_refused", "environment", "db_connection_refused", "always",
              lambda r: f"connect ECONNREFUSED {_ip(r)}:{r.choice([5432, 3306, 6379, 27017])} after {r.randint(1, 30)} retries"),
    ErrorKind("docker_daemon", "environment", "docker_daemon_unavailable", "never",
              lambda r: f"Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running? (pid {r.randint(100, 65000)})"),
    ErrorKind("oom_killed", "resources", "oom_killed", "mixed",
              lambda r: f"Process {r.randint(100, 65000)} killed: out of memory (rss {r.randint(2000, 16000)} MiB, limit {r.choice([2048, 4096, 8192])} MiB)"),
    ErrorKind("disk_full", "resources", "disk_full", "never",
              lambda r: f"OSError: [Errno 28] No space left on device: '/tmp/{_word(r)}-{_hex(r, 8)}/{_word(r)}.bin'"),
    ErrorKind("cmd_timeout", "timeout", "command_timeout", "always",
              lambda r: f"Command `{r.choice(['npm test', 'pytest -x', 'cargo build', 'make all'])}` timed out after {r.randint(60, 1800)}s in /workspace/{_word(r)}"),
    ErrorKind("python_attr", "runtime", "python_attribute_error", "mixed",
              lambda r: f"AttributeError: 'NoneType' object has no attribute '{_word(r)}' (File \"{_path(r)}\", line {r.randint(1, 800)})"),
    ErrorKind("js_undefined", "runtime", "js_undefined_property", "never",
              lambda r: f"TypeError: Cannot read properties of undefined (reading '{_word(r)}') at {_word(r)} ({_path(r)}:{r.randint(1, 500)}:{r.randint(1, 60)})"),
    ErrorKind("cargo_borrow", "build", "cargo_borrow_error", "never",
              lambda r: f"error[E0502]: cannot borrow `{_word(r)}` as mutable because it is also borrowed as immutable --> {_path(r)}:{r.randint(1, 500)}:{r.randint(1, 60)}"),
    ErrorKind("patch_failed", "tooling", "patch_apply_failed", "mixed",
              lambda r: f"apply_patch failed: hunk #{r.randint(1, 9)} FAILED at line {r.randint(1, 900)} in {_path(r)} (commit {_hex(r, 40)})"),
    ErrorKind("scope_exceeded", "scope", "scope_exceeded", "always",
              lambda r: f"Task scope exceeded: {r.randint(21, 90)} files changed, limit is 20 (diff {r.randint(1000, 9000)} lines in {r.randint(3, 20)} packages)"),
    ErrorKind("ssl_cert", "environment", "ssl_certificate_error", "never",
              lambda r: f"SSLError: certificate verify failed: unable to get local issuer certificate (_ssl.c:{r.randint(900, 1100)}) for host {_word(r)}.internal.example.com"),
    ErrorKind("port_in_use", "environment", "port_in_use", "mixed",
              lambda r: f"Error: listen EADDRINUSE: address already in use :::{r.randint(3000, 9999)}"),
)  # fmt: skip

KINDS_BY_NAME: dict[str, ErrorKind] = {k.kind: k for k in KINDS}
