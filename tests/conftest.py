"""Fixtures for the repository's tests: an isolated template home and project rendering."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trigger_scaffold import load_catalog
from trigger_scaffold._cli import main
from trigger_scaffold._quotas import fits

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    # Tests that commit must not depend on the machine's git identity.
    os.environ.update(
        {
            "GIT_AUTHOR_NAME": "Test Author",
            "GIT_AUTHOR_EMAIL": "author@example.com",
            "GIT_COMMITTER_NAME": "Test Committer",
            "GIT_COMMITTER_EMAIL": "committer@example.com",
        }
    )
    # Module-scoped fixtures render before `_isolated_home` applies: without this they would
    # share the user's template mirror, and xdist workers would race on it.
    home = tempfile.mkdtemp(prefix="scaffold-home-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["TRIGGER_SCAFFOLD_HOME"] = home


@pytest.fixture(scope="session")
def scaffold_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template mirror of this session's own (per xdist worker), not the user's."""
    return tmp_path_factory.mktemp("scaffold-home")


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed git repository of this checkout's template, as copier users get it."""
    from trigger_scaffold._template import sync_template_repo, template_root

    repo = tmp_path_factory.mktemp("template-repo") / "repo"
    sync_template_repo(template_root(), repo, "template under test")
    return repo


@pytest.fixture
def template_v1(tmp_path: Path) -> Path:
    """A throwaway git repository of this template, tagged v1.0.0."""
    from trigger_scaffold._template import git, sync_template_repo, template_root

    repo = tmp_path / "template"
    sync_template_repo(template_root(), repo, "v1")
    git("tag", "v1.0.0", cwd=repo)
    return repo


@pytest.fixture(autouse=True)
def _isolated_home(scaffold_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIGGER_SCAFFOLD_HOME", str(scaffold_home))


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real entry point in a child process, with no terminal attached and no colour."""
    return subprocess.run(
        [sys.executable, "-m", "trigger_scaffold", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )


def available_kinds() -> list[str]:
    """Kinds this template version generates; ``TS_KINDS=sqs,s3`` narrows the matrix."""
    kinds = [k.id for k in load_catalog().triggers if k.available]
    wanted = os.environ.get("TS_KINDS")
    return [k for k in kinds if k in wanted.split(",")] if wanted else kinds


def whole_projects() -> list[tuple[str, list[str]]]:
    """Projects that whole-template checks run on: every kind together, and each pattern
    with all of its entry kinds together (``new`` arguments by an id). Kinds that would pass
    CloudFormation's quotas in one stack go on in a second project (``<id>-2``), as
    ``new`` would refuse them."""
    catalog = load_catalog()
    kinds = available_kinds()
    specs = [(spec, args) for spec, args in _fitting("every-kind", "none", kinds)]
    for pattern in catalog.patterns:
        entries = [k for k in kinds if pattern.accepts(k)]
        if pattern.id != "none" and pattern.available and entries:
            specs += [
                (spec, ["--pattern", pattern.id, *args])
                for spec, args in _fitting(pattern.id, pattern.id, entries)
            ]
    return specs


def _fitting(spec: str, pattern: str, kinds: list[str]) -> list[tuple[str, list[str]]]:
    """``kinds`` in as few projects of ``pattern`` as CloudFormation's quotas allow."""
    catalog = load_catalog()
    groups: list[list[str]] = [[]]
    for kind in kinds:
        if groups[-1] and not fits(catalog, pattern, [*groups[-1], kind]):
            groups.append([])
        groups[-1].append(kind)
    return [
        (spec if i == 0 else f"{spec}-{i + 1}", [a for k in group for a in ("--trigger", k)])
        for i, group in enumerate(groups)
    ]


@pytest.fixture
def new_project(tmp_path: Path) -> Callable[..., Path]:
    """Run ``trigger-scaffold new`` in-process with ``--no-input`` and return the project."""

    def make(*args: str, name: str = "demo-svc") -> Path:
        dest = tmp_path / name
        code = main(["new", str(dest), "--no-input", "--quiet", *args])
        assert code == 0, f"new {' '.join(args)} exited {code}"
        return dest

    return make


def new_answers(*args: str, name: str = "demo-svc") -> dict[str, Any]:
    """The answers ``trigger-scaffold new NAME --no-input ARGS`` renders, as copier data.

    Parsed, completed and checked by the CLI's own code, so a render with these answers is
    the project ``new`` makes (``test_copie.py`` compares the two).
    """
    from trigger_scaffold._answers import validate
    from trigger_scaffold._cli import _build_parser, _gather
    from trigger_scaffold._quotas import check_quotas

    catalog = load_catalog()
    parsed = _build_parser(catalog).parse_args(["new", name, "--no-input", *args])
    answers = validate(_gather(parsed, catalog, Path(name)), catalog)
    check_quotas(catalog, answers.pattern, [t.kind for t in answers.triggers])
    return answers.as_data()


@pytest.fixture(scope="session")
def bundled_template(scaffold_home: Path) -> Path:
    """The template repository ``new`` renders from in this session (``scaffold_home``'s)."""
    from trigger_scaffold._speedups import speed_up_copier
    from trigger_scaffold._template import ensure_template_repo

    speed_up_copier()  # as `new` does: the same output, rendered faster
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRIGGER_SCAFFOLD_HOME", str(scaffold_home))
        return ensure_template_repo()


@pytest.fixture(scope="session")
def rendered_once(copie_session: Any, bundled_template: Path) -> Callable[..., Path]:
    """pytest-copie's render of ``new --no-input ARGS``, made once per session and shared.

    Read it, run gates in it, or copy it before changing anything: other tests get the same
    directory for the same arguments.
    """
    projects: dict[tuple[str, ...], Path] = {}

    def render(*args: str, name: str = "demo-svc") -> Path:
        key = (name, *args)
        if key not in projects:
            result = copie_session.copy(
                extra_answers=new_answers(*args, name=name), template_dir=bundled_template
            )
            assert result.exit_code == 0, f"{args}: {result.exception}"
            projects[key] = result.project_dir
        return projects[key]

    return render
