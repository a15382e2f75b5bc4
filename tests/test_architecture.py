"""The house rules that no linter checks by itself (docs/architecture.md); import-linter keeps the layers."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agent_pipelines", "assets", "sensors", "jobs")


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_no_private_name_is_imported_from_another_module() -> None:
    """A name with a leading underscore is its module's own: a second module that needs it means the
    seam is in the wrong place (make it public where it belongs, or move the code)."""
    found = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(f"{path.relative_to(ROOT)}: {node.module}.{alias.name}")
    assert found == []


def test_every_library_package_says_what_it_owns() -> None:
    """Each package's docstring says what it owns and what it may import (the map a newcomer reads)."""
    packages = sorted(p for p in (ROOT / "agent_pipelines").iterdir() if (p / "__init__.py").exists())
    missing = [p.name for p in packages if not ast.get_docstring(ast.parse((p / "__init__.py").read_text()))]
    assert missing == []


# The only modules that touch the process environment, and why each is an edge. Everything else is
# given its settings as arguments (agent_pipelines.core.settings.Settings, loaded once at an edge).
ENVIRONMENT_EDGES: dict[str, str] = {
    "agent_pipelines/core/settings.py": "the one reader: pydantic-settings loads every variable into "
    "the typed Settings; it also drops empty AWS_* variables, which the object-store libraries read "
    "themselves",
    "agent_pipelines/cli/common.py": "the command line's edge: exports DAGSTER_HOME and the instance's "
    "variables, which Dagster reads itself (here and in the processes it starts)",
    "agent_pipelines/cli/ui_cmd.py": "the command line's edge: hands the chosen folders to the "
    "`dagster dev` process it starts (whose code location loads its settings from them), and reads "
    "PORT, a generic variable that only `ui` uses",
    "agent_pipelines/orchestration/run_launch/__init__.py": "a process boundary: the launcher hands its "
    "instance's reference to the fork server through the environment, the one channel a "
    "multiprocessing fork server inherits",
    "agent_pipelines/orchestration/run_launch/warmup.py": "the other side of that boundary: the fork "
    "server reads the instance's reference the launcher left it",
    "agent_pipelines/live/routing/config.py": "alerts.yaml's ${NAME} references: the receivers' and "
    "actions' secrets are named by the file, so Settings cannot list them; read by the process that "
    "uses them (a detector run, an action's runner), as Dagster's EnvVar reads Telegram's token",
    "agent_pipelines/orchestration/event_storage.py": "Dagster's own variable: it hands a run's asset "
    "events over in batches only when DAGSTER_EVENT_BATCH_SIZE is set, read in whichever process "
    "stores them; set (unless set) where the batched SQLite storage loads, which is every process of "
    "the instance",
}
# Where the settings are loaded from the environment (``Settings.load()`` without a mapping).
SETTINGS_EDGES: dict[str, str] = {
    "agent_pipelines/cli/__init__.py": "the command line's main: loaded once, passed down in `args`",
    "agent_pipelines/definitions.py": "the code location: loaded once, each domain built from them and "
    "the resources that carry them into runs bound from them",
    "agent_pipelines/core/logger.py": "the public Python logger (`AgentWorkLogger()`): an orchestrator's "
    "own program constructs it, as it used the original PowerShell logger",
}


NAMES = ("environ", "environb", "getenv", "getenvb", "putenv", "unsetenv")


def _reads_environment(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        attribute = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        if attribute and node.value.id == "os" and node.attr in NAMES:  # type: ignore[attr-defined]
            lines.append(node.lineno)  # type: ignore[attr-defined]
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(a.name in NAMES for a in node.names)
        ):
            lines.append(node.lineno)
    return lines


def test_nothing_below_the_edges_reads_the_environment() -> None:
    """Settings are loaded once at an edge and passed down: a run is decided by what it was given."""
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in _sources()
        if path.relative_to(ROOT).as_posix() not in ENVIRONMENT_EDGES
        for line in _reads_environment(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert found == [], (
        "read the setting from the Settings you are given (see agent_pipelines/core/settings.py)"
    )
    for edge in ENVIRONMENT_EDGES:  # the list stays true: an edge that no longer needs it leaves it
        assert _reads_environment(ast.parse((ROOT / edge).read_text(encoding="utf-8"))), edge


def test_settings_are_loaded_from_the_environment_only_at_the_edges() -> None:
    found = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "load"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "Settings"
                and not node.args
                and not node.keywords
            ):
                found.append(path.relative_to(ROOT).as_posix())
    assert sorted(set(found)) == sorted(SETTINGS_EDGES)


MAX_LINES = 400


def test_no_module_is_over_400_lines() -> None:
    """A module over 400 lines holds more than one subject: split it along its seams (by purpose,
    not by line count: a part that needs the other's private names is on the wrong seam)."""
    long = {
        str(path.relative_to(ROOT)): n
        for path in _sources()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
