"""Regenerate ``agent_errors.jsonl``: a labelled corpus of tool and agent error messages.

Each *kind* is one real-world error (git, npm, pip, cargo, tsc, pytest, docker, kubectl,
HTTP clients, Python/Node/Java/Rust runtimes, the kernel OOM killer, LLM APIs, agent
tools...) written the way the tool prints it, with its variable parts (paths, ids,
hosts, ports, numbers, names, timestamps, trailing stack frames) drawn at random.
Near misses are separate kinds on purpose (ENOENT vs EACCES, exit code 1 vs 127,
HTTP 401/403/404/429/500, TS2322 vs TS2345, rate-limit vs overloaded).  The label of a
message is its kind, so grouping accuracy on this file measures "same error together,
different errors apart".

    .venv/bin/python benchmarks/data/make_agent_errors.py   # rewrites agent_errors.jsonl
"""

from __future__ import annotations

import json
import random
import string
import uuid
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).with_name("agent_errors.jsonl")
PER_KIND = 8

R = random.Random(20240601)


def pick(*xs: str) -> str:
    return R.choice(xs)


def num(lo: int = 1, hi: int = 99999) -> int:
    return R.randint(lo, hi)


def ident() -> str:
    return pick("user_id", "config", "items", "token", "model_name", "payload", "retries", "df", "ctx")


def word() -> str:
    return pick("alpha", "billing", "auth", "search", "ingest", "report", "cart", "agent", "sync", "ui")


def module() -> str:
    return pick("lodash", "react", "express", "@types/node", "zod", "numpy", "pandas", "requests", "yaml")


def unix_path(ext: str | None = None) -> str:
    ext = ext or pick("py", "ts", "js", "json", "rs", "go", "txt", "log")
    depth = R.randint(1, 4)
    parts = [pick("home", "srv", "tmp", "var", "workspace", "Users")] + [word() for _ in range(depth)]
    return "/" + "/".join(parts) + f"/{word()}_{num(1, 99)}.{ext}"


def rel_path(ext: str) -> str:
    return "/".join(pick("src", "lib", "app", "packages/core/src") for _ in range(R.randint(1, 2))) + (
        f"/{word()}.{ext}"
    )


def host() -> str:
    return pick("api.github.com", "registry.npmjs.org", "pypi.org", "db.internal", "example.com", "s3.amazonaws.com")


def ip() -> str:
    return f"{num(1, 223)}.{num(0, 255)}.{num(0, 255)}.{num(1, 254)}"


def port() -> int:
    return R.choice([80, 443, 3000, 5432, 6379, 8000, 8080, 9200, num(1024, 65535)])


def hexs(n: int) -> str:
    return "".join(R.choice("0123456789abcdef") for _ in range(n))


def rid(prefix: str, n: int = 24) -> str:
    return prefix + "".join(R.choice(string.ascii_letters + string.digits) for _ in range(n))


def branch() -> str:
    return pick("main", "develop", f"feature/{word()}-{num(1, 999)}", f"fix/{word()}", f"release/{num(1, 9)}.{num(0, 9)}")


def iso() -> str:
    return f"2024-{num(1, 12):02d}-{num(1, 28):02d}T{num(0, 23):02d}:{num(0, 59):02d}:{num(0, 59):02d}Z"


def py_frames() -> str:
    lines = ["Traceback (most recent call last):"]
    for _ in range(R.randint(1, 4)):
        lines.append(f'  File "{unix_path("py")}", line {num(1, 900)}, in {ident()}')
        lines.append(f"    {ident()} = {ident()}({ident()})")
    return "\n".join(lines)


def node_stack() -> str:
    return "\n".join(f"    at {ident()} ({unix_path('js')}:{num(1, 500)}:{num(1, 80)})" for _ in range(3))


KINDS: dict[str, Callable[[], str]] = {
    # --- git -----------------------------------------------------------------------------
    "git_push_rejected": lambda: f"error: failed to push some refs to 'git@github.com:{word()}/{word()}.git'",
    "git_pathspec": lambda: f"error: pathspec '{branch()}' did not match any file(s) known to git",
    "git_merge_conflict": lambda: f"CONFLICT (content): Merge conflict in {rel_path(pick('py', 'ts', 'md'))}",
    "git_remote_ref": lambda: f"fatal: couldn't find remote ref {branch()}",
    "git_index_lock": lambda: f"fatal: Unable to create '{unix_path('x').rsplit('/', 1)[0]}/.git/index.lock': File exists.",
    "git_overwritten": lambda: (
        "error: Your local changes to the following files would be overwritten by checkout:\n\t"
        + rel_path("py")
        + "\nPlease commit your changes or stash them before you switch branches.\nAborting"
    ),
    "git_publickey": lambda: f"git@{pick('github.com', 'gitlab.com')}: Permission denied (publickey).",
    "git_auth_failed": lambda: (
        f"remote: Invalid username or password.\nfatal: Authentication failed for 'https://github.com/{word()}/{word()}.git/'"
    ),
    # --- npm / node ----------------------------------------------------------------------
    "npm_enoent": lambda: (
        f"npm ERR! code ENOENT\nnpm ERR! syscall open\nnpm ERR! path {unix_path('json')}\nnpm ERR! errno -2"
    ),
    "npm_eacces": lambda: (
        f"npm ERR! code EACCES\nnpm ERR! syscall mkdir\nnpm ERR! path /usr/local/lib/node_modules/{module()}\nnpm ERR! errno -13"
    ),
    "npm_e404": lambda: f"npm ERR! 404 Not Found - GET https://registry.npmjs.org/{module()}{num(1, 9)} - Not found",
    "npm_eresolve": lambda: (
        f"npm ERR! code ERESOLVE\nnpm ERR! ERESOLVE unable to resolve dependency tree\nnpm ERR! While resolving: {word()}@{num(0, 9)}.{num(0, 9)}.{num(0, 9)}"
    ),
    "npm_missing_script": lambda: f'npm ERR! Missing script: "{pick("build", "test", "lint", "dev", "start:prod")}"',
    "node_module_not_found": lambda: (
        f"Error: Cannot find module '{module()}'\nRequire stack:\n- {unix_path('js')}\n- {unix_path('js')}"
    ),
    "node_econnrefused": lambda: f"Error: connect ECONNREFUSED {pick(ip(), '127.0.0.1', '::1')}:{port()}\n{node_stack()}",
    "node_undefined_prop": lambda: f"TypeError: Cannot read properties of undefined (reading '{ident()}')\n{node_stack()}",
    "node_eaddrinuse": lambda: f"Error: listen EADDRINUSE: address already in use :::{port()}",
    "node_heap_oom": lambda: (
        f"<--- Last few GCs --->\n\n[{num(100, 99999)}:0x{hexs(12)}]   {num(1000, 99999)} ms: Mark-Compact "
        f"{num(100, 4000)}.{num(0, 9)} ({num(100, 4000)}.{num(0, 9)}) -> {num(100, 4000)}.{num(0, 9)} MB\n\n"
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"
    ),
    "node_enoent_open": lambda: f"Error: ENOENT: no such file or directory, open '{unix_path()}'",
    "node_eacces_open": lambda: f"Error: EACCES: permission denied, open '{unix_path()}'",
    "node_enotfound": lambda: f"Error: getaddrinfo ENOTFOUND {host()}",
    "node_etimedout": lambda: f"Error: connect ETIMEDOUT {ip()}:{port()}",
    # --- python --------------------------------------------------------------------------
    "py_module_not_found": lambda: f"{py_frames()}\nModuleNotFoundError: No module named '{module()}'",
    "py_keyerror": lambda: f"{py_frames()}\nKeyError: '{ident()}'",
    "py_file_not_found": lambda: f"FileNotFoundError: [Errno 2] No such file or directory: '{unix_path()}'",
    "py_permission": lambda: f"PermissionError: [Errno 13] Permission denied: '{unix_path()}'",
    "py_attribute_none": lambda: f"{py_frames()}\nAttributeError: 'NoneType' object has no attribute '{ident()}'",
    "py_typeerror_args": lambda: (
        f"TypeError: {ident()}() takes {num(1, 4)} positional arguments but {num(5, 9)} were given"
    ),
    "py_recursion": lambda: f"{py_frames()}\nRecursionError: maximum recursion depth exceeded while calling a Python object",
    "py_json_decode": lambda: (
        f"json.decoder.JSONDecodeError: Expecting value: line {num(1, 300)} column {num(1, 80)} (char {num(0, 9999)})"
    ),
    "py_requests_conn": lambda: (
        f"requests.exceptions.ConnectionError: HTTPConnectionPool(host='{pick('localhost', host())}', port={port()}): "
        f"Max retries exceeded with url: /v1/{word()}/{num()} (Caused by NewConnectionError('<urllib3.connection."
        f"HTTPConnection object at 0x{hexs(12)}>: Failed to establish a new connection: [Errno 111] Connection refused'))"
    ),
    "py_disk_full": lambda: f"OSError: [Errno 28] No space left on device: '{unix_path()}'",
    "py_ssl_verify": lambda: (
        f"ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get "
        f"local issuer certificate (_ssl.c:{num(900, 1100)})"
    ),
    # --- pip / pytest ----------------------------------------------------------------------
    "pip_no_version": lambda: (
        f"ERROR: Could not find a version that satisfies the requirement {module().strip('@/')}{pick('', '==' + str(num(1, 9)) + '.' + str(num(0, 20)), '>=' + str(num(1, 3)) + '.0')} (from versions: none)"
    ),
    "pip_externally_managed": lambda: (
        "error: externally-managed-environment\n\n× This environment is externally managed\n╰─> To install Python "
        f"packages system-wide, try apt install python3-{module().strip('@/')}"
    ),
    "pytest_assert": lambda: (
        f"FAILED tests/test_{word()}.py::test_{ident()}{pick('', '[case' + str(num(1, 9)) + ']')} - "
        f"AssertionError: assert {num()} == {num()}"
    ),
    "pytest_collect": lambda: f"ERROR collecting tests/{word()}/test_{word()}.py",
    "pytest_summary": lambda: f"========== {num(1, 30)} failed, {num(1, 500)} passed in {num(1, 300)}.{num(10, 99)}s ==========",
    # --- typescript / rust / go / java ---------------------------------------------------
    "tsc_2345": lambda: (
        f"{rel_path('ts')}({num(1, 400)},{num(1, 80)}): error TS2345: Argument of type '{pick('string', 'number', 'User | undefined')}' "
        f"is not assignable to parameter of type '{pick('number', 'string', 'User')}'."
    ),
    "tsc_2322": lambda: (
        f"{rel_path('tsx')}({num(1, 400)},{num(1, 80)}): error TS2322: Type '{pick('string', 'null', 'number[]')}' "
        f"is not assignable to type '{pick('number', 'string', 'Props')}'."
    ),
    "tsc_2307": lambda: f"error TS2307: Cannot find module '{module()}' or its corresponding type declarations.",
    "rust_e0308": lambda: f"error[E0308]: mismatched types\n  --> {rel_path('rs')}:{num(1, 500)}:{num(1, 80)}",
    "rust_e0425": lambda: f"error[E0425]: cannot find value `{ident()}` in this scope",
    "rust_panic_unwrap": lambda: (
        f"thread '{pick('main', 'tokio-runtime-worker')}' panicked at {rel_path('rs')}:{num(1, 500)}:{num(1, 80)}:\n"
        f"called `Option::unwrap()` on a `None` value\nnote: run with `RUST_BACKTRACE=1` environment variable"
    ),
    "cargo_no_package": lambda: f"error: no matching package named `{pick('serde_jsonn', 'tokio-utils', 'rand_core2')}` found",
    "go_undefined": lambda: f"./{word()}.go:{num(1, 300)}:{num(1, 40)}: undefined: {pick('NewClient', 'cfg', 'http.Serve', 'parseArgs')}",
    "java_npe": lambda: (
        f'Exception in thread "main" java.lang.NullPointerException: Cannot invoke "{pick("String.length", "List.size")}()" '
        f'because "{ident()}" is null\n\tat com.example.{word()}.Main.main(Main.java:{num(1, 200)})'
    ),
    # --- build / shell ---------------------------------------------------------------------
    "shell_command_not_found": lambda: f"bash: {pick('pnpm', 'rg', 'poetry', 'jq', 'uv')}: command not found",
    "cmd_exit_1": lambda: f"Command `{pick('npm test', 'pytest -x', 'cargo build', 'make lint')}` exited with code 1",
    "cmd_exit_127": lambda: f"Command `{pick('npm test', 'pytest -x', 'cargo build', 'make lint')}` exited with code 127",
    "make_error": lambda: f"make: *** [Makefile:{num(1, 90)}: {pick('build', 'test', 'all', 'dist/app')}] Error 2",
    "tool_timeout": lambda: f"Tool call {rid('toolu_01')} timed out after {pick(str(num(1, 600)) + 's', str(num(1, 9)) + 'm' + str(num(1, 59)) + 's', str(num(100, 9999)) + 'ms')}",
    # --- docker / kubernetes --------------------------------------------------------------
    "docker_daemon": lambda: (
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
    ),
    "docker_pull_denied": lambda: (
        f"Error response from daemon: pull access denied for {pick('ghcr.io/', '', 'registry.internal:5000/')}{word()}/{word()}-{num(1, 9)}, "
        "repository does not exist or may require 'docker login': denied: requested access to the resource is denied"
    ),
    "docker_port_allocated": lambda: (
        f"Error response from daemon: driver failed programming external connectivity on endpoint {word()}-{num(1, 9)} "
        f"({hexs(64)}): Bind for 0.0.0.0:{port()} failed: port is already allocated"
    ),
    "k8s_pod_not_found": lambda: f'Error from server (NotFound): pods "{word()}-{hexs(9)}-{hexs(5)}" not found',
    "k8s_crashloop": lambda: (
        f"Back-off restarting failed container {word()}-{num(1, 9)} in pod {word()}-{hexs(9)}-{hexs(5)}_{pick('default', 'prod')}({uuid.UUID(int=R.getrandbits(128))})"
    ),
    "k8s_oomkilled": lambda: f"OOMKilled: container {word()}-{num(1, 9)} exceeded memory limit {R.choice([256, 512, 1024, 2048])}Mi",
    "kernel_oom": lambda: (
        f"Out of memory: Killed process {num(100, 99999)} ({pick('python3', 'node', 'java', 'cc1plus')}) total-vm:{num()}kB, "
        f"anon-rss:{num()}kB, file-rss:0kB, shmem-rss:0kB, UID:{num(0, 2000)} pgtables:{num(100, 9999)}kB oom_score_adj:0"
    ),
    # --- HTTP / LLM APIs -----------------------------------------------------------------
    "http_401": lambda: f"401 Unauthorized: invalid x-api-key (request id: {rid('req_011C', 16)})",
    "http_403": lambda: f"requests.exceptions.HTTPError: 403 Client Error: Forbidden for url: https://{host()}/v1/{word()}/{num()}",
    "http_404": lambda: f"requests.exceptions.HTTPError: 404 Client Error: Not Found for url: https://{host()}/repos/{word()}/{word()}",
    "http_500": lambda: f"requests.exceptions.HTTPError: 500 Server Error: Internal Server Error for url: https://{host()}/api/{word()}",
    "http_status_503": lambda: f"AxiosError: Request failed with status code 503 at {iso()}",
    "llm_rate_limit": lambda: (
        "Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error', 'message': 'This request would "
        f"exceed the rate limit for your organization ({uuid.UUID(int=R.getrandbits(128))}) of {R.choice([40000, 80000, 400000])} "
        "input tokens per minute.'}}"
    ),
    "llm_overloaded": lambda: (
        "Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', 'message': 'Overloaded'}, "
        f"'request_id': '{rid('req_011C', 16)}'" + "}"
    ),
    "llm_prompt_too_long": lambda: f"prompt is too long: {num(200001, 400000)} tokens > 200000 maximum",
    "llm_context_length": lambda: (
        f"This model's maximum context length is {R.choice([8192, 128000])} tokens. However, your messages resulted in "
        f"{num(130000, 200000)} tokens. Please reduce the length of the messages."
    ),
    "http_read_timeout": lambda: (
        f"ReadTimeout: HTTPSConnectionPool(host='{host()}', port=443): Read timed out. (read timeout={num(5, 600)})"
    ),
    "agent_edit_not_found": lambda: (
        f"<tool_use_error>String to replace not found in file.\nString: {ident()} = {num()}</tool_use_error>"
    ),
    "agent_max_output": lambda: f"Claude's response exceeded the {R.choice([8192, 32000, 64000])} output token maximum.",
    "agent_session_expired": lambda: f"Session {uuid.UUID(int=R.getrandbits(128))} expired at {iso()}; re-authenticate with {pick('alice', 'bob', 'ci-bot')}@{pick('example.com', 'corp.dev')}",
    "cuda_oom": lambda: (
        f"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate {num(20, 900)}.00 MiB. GPU 0 has a total capacity "
        f"of {R.choice([15.77, 23.65, 79.15])} GiB of which {num(1, 900)}.{num(10, 99)} MiB is free."
    ),
}


def main() -> None:
    rows = []
    for kind, make in KINDS.items():
        for _ in range(PER_KIND):
            rows.append({"kind": kind, "message": make()})
    R.shuffle(rows)
    with OUT.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} messages of {len(KINDS)} kinds to {OUT}")


if __name__ == "__main__":
    main()
