"""Every ``python -m benign_lightning ...`` command in the README and docs/ still runs as written:
the app's overrides compose and validate (every value of a swept key, as the CLI checks them before
Hydra starts), and each ``python -m benign_lightning.<command>`` answers ``--help`` with its
subcommand and lists every option the page writes. So the docs cannot drift from the code. (The
reports in docs/reproduction/ are written from the registry, whose sweeps test_reproduce.py
composes.)"""

from __future__ import annotations

import contextlib
import importlib
import io
import re
import shlex
from pathlib import Path

import pytest

from benign_lightning.config import check_command_line
from benign_lightning.reproduce.entry import SCALES
from benign_lightning.reproduce.registry import ENTRIES

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND = re.compile(r"python -m benign_lightning(\.[\w.]+)?(?=\s|$)(.*)")
PLACEHOLDER = re.compile(r"<|\.\.\.|\[|^[A-Z][A-Z0-9_]*$|^\$")
# The top-level modules a user runs; ``reproduce`` is a package with its own __main__.
MODULE = {"reproduce": "benign_lightning.reproduce.__main__"}


def _code_lines(text: str) -> list[str]:
    """Inline code spans and the lines of fenced blocks, continuation lines joined."""
    found, block, fenced, shell = [], [], False, {}
    for line in text.splitlines():
        if line.startswith("```"):
            fenced, shell = not fenced, {}
            continue
        if fenced:
            if assigned := re.match(r'(\w+)="([^"]*)"', line):  # C="..." then $C in the lines below
                shell[assigned.group(1)] = assigned.group(2)
            for name, value in shell.items():
                line = line.replace(f"${name}", value)
            block.append(line)
            if not line.rstrip().endswith("\\"):
                found.append(" ".join(part.rstrip().removesuffix("\\") for part in block))
                block = []
        else:
            found += re.findall(r"`([^`]+)`", line)
    return found


def _commands() -> list[tuple[str, str, str]]:
    """(page, module or "", argument string) of every command the pages show, each once."""
    out, seen = [], set()
    for page in PAGES:
        for code in _code_lines(page.read_text()):
            match = COMMAND.search(code)
            if match:
                args = re.split(r"\s+#", match.group(2))[0]  # a comment after the command
                module = (match.group(1) or "").lstrip(".")
                if (module, args.strip()) not in seen:
                    seen.add((module, args.strip()))
                    out.append((page.name, module, args.strip()))
    return out


COMMANDS = _commands()


def test_the_docs_show_commands() -> None:
    """The extraction finds the pages' commands (so the checks below cannot pass on nothing)."""
    modules = {module for _, module, _ in COMMANDS}
    assert len(COMMANDS) >= 30, COMMANDS
    assert {"", "reproduce", "aggregate", "detect", "influence", "theory"} <= modules, modules


def _words(args: str) -> list[str]:
    return [w for w in shlex.split(args) if not PLACEHOLDER.search(w)]


@pytest.mark.parametrize("page, args", [(p, a) for p, m, a in COMMANDS if m == ""])
def test_app_command_composes(page: str, args: str) -> None:
    overrides = [w for w in _words(args) if w not in ("-m", "--multirun", "--cfg", "job", "hydra", "--help")]
    check_command_line(overrides)  # raises ConfigError naming the override


@pytest.mark.parametrize("page, module, args", [c for c in COMMANDS if c[1] != ""])
def test_module_command_answers_help(page: str, module: str, args: str) -> None:
    words = _words(args)
    main = importlib.import_module(MODULE.get(module, f"benign_lightning.{module}")).main
    leading = [w for w in words[:1] if not w.startswith("-") and "=" not in w]  # a subcommand or an entry
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown), pytest.raises(SystemExit) as done:
        main([*leading, "--help"])
    assert done.value.code == 0, f"{page}: python -m benign_lightning.{module} {args}"
    # every option the page writes is one the command's parser knows (a renamed flag fails here)
    options = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", shown.getvalue()))
    written = {w.split("=")[0] for w in shlex.split(args) if w.startswith("-") and not PLACEHOLDER.search(w)}
    assert written <= options, f"{page}: {module} {args}: {written - options} not among its options"
    if module == "reproduce":
        names = [w for w in words if not w.startswith("-") and "=" not in w and w not in SCALES]
        assert set(names) <= {e.name for e in ENTRIES} | {"all"}, f"{page}: unknown figure in {args}"
