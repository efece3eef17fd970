"""The copier speed-ups change how fast a project is generated, never what is generated."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import run_cli
from copier import _main as copier_main
from jinja2.sandbox import SandboxedEnvironment

from trigger_scaffold import _speedups
from trigger_scaffold._template import git


def cli(*args: str, cwd: Path, speedups: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if speedups:
        monkeypatch.delenv(_speedups.DISABLE, raising=False)
    else:
        monkeypatch.setenv(_speedups.DISABLE, "1")
    result = run_cli(*args, cwd=cwd)
    assert result.returncode == 0, result.stderr


def commit_all(project: Path, message: str) -> None:
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--message", message, cwd=project)


def differences(left: Path, right: Path) -> list[str]:
    """Files that differ or exist on one side only, outside .git."""
    found: list[str] = []

    def walk(cmp: filecmp.dircmp[str], prefix: str) -> None:
        for name in [*cmp.left_only, *cmp.right_only, *cmp.diff_files, *cmp.funny_files]:
            found.append(prefix + name)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(left, right, ignore=[".git", "__pycache__"]), "")
    return sorted(found)


@pytest.fixture
def _speedups_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_speedups.DISABLE, raising=False)


@pytest.mark.usefixtures("_speedups_on")
def test_every_speedup_applies_to_the_pinned_copier() -> None:
    assert _speedups.speed_up_copier() == {
        "compiled_code": True,
        "libyaml": True,
        "clone_once": True,
        "file_mode_once": True,
    }


def test_new_add_trigger_and_update_are_byte_identical_without_speedups(
    tmp_path: Path, template_v1: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each step runs on two copies of a project, with and without the speed-ups.

    A pattern project renders several units through the yield tag; the update crosses two
    template versions, so both are cloned and rendered from the cached compiled code.
    """
    trees = {}
    for speedups in (True, False):
        parent = tmp_path / ("fast" if speedups else "plain")
        parent.mkdir()
        args = ["--pattern", "pub-sub", "--trigger", "sqs:orders", "--trigger", "s3:uploads"]
        cli("new", "svc", "--no-input", "-q", "--template", str(template_v1), *args,
            cwd=parent, speedups=speedups, monkeypatch=monkeypatch)  # fmt: skip
        project = parent / "svc"
        commit_all(project, "Generated")
        cli("add-trigger", "schedule", "--name", "nightly", "-q", cwd=project,
            speedups=speedups, monkeypatch=monkeypatch)  # fmt: skip
        commit_all(project, "Added")
        trees[speedups] = project

    readme = template_v1 / "templates" / "project" / "README.md.jinja"
    readme.write_text(readme.read_text() + "\nRelease notes: v2.\n")
    git("commit", "--quiet", "--all", "--message", "v2", cwd=template_v1)
    git("tag", "v2.0.0", cwd=template_v1)
    for speedups, project in trees.items():
        cli("update", "-q", cwd=project, speedups=speedups, monkeypatch=monkeypatch)
        assert "Release notes: v2." in (project / "README.md").read_text()

    assert differences(trees[True], trees[False]) == []
    assert git("status", "--porcelain", cwd=trees[True]) == git(
        "status", "--porcelain", cwd=trees[False]
    )


@pytest.mark.usefixtures("_speedups_on")
def test_copier_clones_a_local_template_once_per_revision(tmp_path: Path) -> None:
    from trigger_scaffold._cli import main

    _speedups.forget_clones()
    assert main(["new", str(tmp_path / "svc"), "--no-input", "-q", "--trigger", "sqs"]) == 0
    commit_all(tmp_path / "svc", "Generated")
    assert _speedups.CLONES == {"cloned": 1}

    _speedups.forget_clones()
    assert main(["add-trigger", "s3", "-q", "-C", str(tmp_path / "svc")]) == 0

    # copier asks for five clones of the project's template commit: one is made.
    assert _speedups.CLONES == {"cloned": 1, "linked": 4}
    assert (tmp_path / "svc" / "functions" / "s3" / "app.py").is_file()


def test_compiled_strings_are_cached_per_jinja_configuration(tmp_path: Path) -> None:
    source = "[% if 1 %]square[% endif %]{% if 1 %}curly{% endif %}"
    code_cache = _speedups._CompiledCode(str(tmp_path))

    def render(**options: str) -> str:
        env = SandboxedEnvironment(**options)
        _speedups._cache_string_compiles(env, code_cache)
        return env.from_string(source).render()

    square = {"block_start_string": "[%", "block_end_string": "%]"}
    for _ in range(2):  # compiled, then read back from the cache
        assert render() == "[% if 1 %]square[% endif %]curly"
        assert render(**square) == "square{% if 1 %}curly{% endif %}"
    assert len(list(tmp_path.iterdir())) == 2


@pytest.mark.usefixtures("_speedups_on")
@pytest.mark.parametrize(("file_mode", "index_mode"), [("false", "100755"), ("true", "100644")])
def test_executable_bits_reach_the_index_only_when_git_ignores_modes(
    tmp_path: Path, file_mode: str, index_mode: str
) -> None:
    """copier's own rule, with core.fileMode read once per project instead of per file."""
    _speedups.speed_up_copier()
    git("init", "--quiet", cwd=tmp_path)
    git("config", "core.fileMode", file_mode, cwd=tmp_path)
    for name in ("run.sh", "build.sh"):
        (tmp_path / name).write_text("echo hi\n")
    commit_all(tmp_path, "scripts")
    worker = SimpleNamespace(subproject=SimpleNamespace(local_abspath=tmp_path))

    for name in ("run.sh", "build.sh"):
        copier_main.Worker._sync_git_index_executable_bit(worker, Path(name), 0o100755)

    staged = git("ls-files", "--stage", cwd=tmp_path).split()
    assert staged.count(index_mode) == 2, staged


@pytest.mark.usefixtures("_speedups_on")
def test_a_template_that_moves_on_is_cloned_again(tmp_path: Path, template_repo: Path) -> None:
    """The clone cache is keyed on the commit: HEAD of a local template that gained a commit
    renders the new commit, not the copy cached for the old one."""
    from copier import run_copy

    _speedups.speed_up_copier()
    _speedups.forget_clones()
    repo = tmp_path / "repo"
    shutil.copytree(template_repo, repo)
    data = {"project_name": "svc", "triggers": "[{name: orders, kind: sqs}]"}

    def render(dest: Path) -> str:
        run_copy(str(repo), dest, data=data, defaults=True, quiet=True, vcs_ref="HEAD")
        return (dest / "README.md").read_text()

    assert "A convention of our fork" not in render(tmp_path / "before")
    readme = repo / "templates" / "project" / "README.md.jinja"
    readme.write_text(readme.read_text() + "\nA convention of our fork.\n")
    git("commit", "--quiet", "--all", "--message", "Fork", cwd=repo)

    assert "A convention of our fork" in render(tmp_path / "after")
    assert _speedups.CLONES["cloned"] == 2
