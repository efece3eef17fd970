"""pytest-copie renders what ``trigger-scaffold new --no-input`` renders, file for file.

The render matrix and the lifecycle tests render through pytest-copie's fixtures, with the
answers the CLI parses from ``new``'s flags (``conftest.new_answers``). This holds those
renders to the projects users get from ``new``.
"""

from __future__ import annotations

import filecmp
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import new_answers

from trigger_scaffold import load_catalog

SAMPLES = {
    "defaults": [],
    "named-sqs": ["--trigger", "sqs:orders", "--trigger", "s3"],
    "public-api-x86": [
        "--trigger",
        "api:web",
        "--auth",
        "web=none",
        "--runtime",
        "python3.12",
        "--architecture",
        "x86_64",
        "--project-name",
        "shop",
    ],
    "pattern": ["--pattern", "fan-out-fan-in", "--trigger", "sqs:orders", "--ci", "none"],
}


def files(root: Path) -> dict[str, Path]:
    """Every file of a project but its git repository, by path relative to ``root``."""
    return {
        str(path.relative_to(root)): path
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


@pytest.mark.parametrize("args", SAMPLES.values(), ids=SAMPLES.keys())
def test_plugin_renders_what_new_renders(
    copie: Any, bundled_template: Path, new_project: Callable[..., Path], args: list[str]
) -> None:
    made = new_project(*args)
    result = copie.copy(extra_answers=new_answers(*args), template_dir=bundled_template)
    assert result.exit_code == 0, result.exception
    ours, theirs = files(result.project_dir), files(made)
    assert sorted(ours) == sorted(theirs)
    different = [rel for rel in sorted(ours) if not filecmp.cmp(ours[rel], theirs[rel], False)]
    assert different == []


def test_answers_are_the_ones_new_records() -> None:
    """``new_answers`` fills in what ``new`` would: the defaults, the API's auth mode."""
    catalog = load_catalog()
    defaults = catalog.defaults
    assert new_answers("--trigger", "api", name="svc") == {
        "project_name": "svc",
        "triggers": [{"name": "api", "kind": "api", "auth": catalog.trigger("api").auth_modes[0]}],
        "pattern": defaults.pattern,
        "runtime": defaults.runtime,
        "architecture": defaults.architecture,
        "ci": defaults.ci,
    }
