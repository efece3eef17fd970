"""Where the copier template comes from, and the local git repository it is served from.

Copier can only update a project whose template is a git repository. The package carries
the template as plain files (in a wheel) or runs from a checkout (in development). Both are
mirrored into a git repository in the user's data directory, one commit per template
version, so ``new`` works offline, records a ``_src_path`` that outlives the command and a
``_commit`` that ``update`` can three-way merge from.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from trigger_scaffold._errors import TriggerScaffoldError

_PACKAGE_DIR = Path(__file__).resolve().parent
_PACKAGED = _PACKAGE_DIR / "_template"
_CHECKOUT = _PACKAGE_DIR.parents[1]
TEMPLATE_ENTRIES = ("copier.yml", "templates")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".DS_Store")
# A fixed identity and date make the mirror's commits reproducible across machines.
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "trigger-scaffold",
    "GIT_AUTHOR_EMAIL": "trigger-scaffold@localhost",
    "GIT_COMMITTER_NAME": "trigger-scaffold",
    "GIT_COMMITTER_EMAIL": "trigger-scaffold@localhost",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
}


def _is_template_tree(path: Path) -> bool:
    return all((path / entry).exists() for entry in TEMPLATE_ENTRIES)


def template_root() -> Path:
    """The template files of this installation: the checkout in development, else package data."""
    if _is_template_tree(_CHECKOUT) and (_CHECKOUT / "pyproject.toml").is_file():
        return _CHECKOUT
    if _is_template_tree(_PACKAGED):
        return _PACKAGED
    raise TriggerScaffoldError("the bundled template is missing; reinstall trigger-scaffold")


def data_home() -> Path:
    """Where trigger-scaffold keeps its template mirror (``TRIGGER_SCAFFOLD_HOME`` overrides)."""
    explicit = os.environ.get("TRIGGER_SCAFFOLD_HOME")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "trigger-scaffold"


def git(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run git quietly and return its output; a failure becomes a one-line error."""
    if shutil.which("git") is None:
        raise TriggerScaffoldError("git is required but was not found on PATH")
    result = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise TriggerScaffoldError(f"git {args[0]} failed: {detail[-1] if detail else 'no output'}")
    return result.stdout


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: single-user use, no lock
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fingerprint(source: Path) -> str:
    """Names, sizes and modification times of the template files: cheap to compute."""
    digest = hashlib.sha256()
    for entry in TEMPLATE_ENTRIES:
        root = source / entry
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts:
                stat = path.stat()
                line = f"{path.relative_to(source)}|{stat.st_size}|{stat.st_mtime_ns}\n"
                digest.update(line.encode())
    return digest.hexdigest()


def sync_template_repo(source: Path, repo: Path, message: str, tag: str | None = None) -> str:
    """Mirror the template files of ``source`` into the git repo ``repo``; return HEAD.

    A commit is made only when the files differ from HEAD, so the same template always
    maps to the same commit and projects stay updatable across reinstalls. When the source
    files are unchanged since the last sync, nothing is copied and no git command runs.
    ``tag`` (a release number such as ``0.1.0``) names the first commit of that release, so
    copier records the release as the project's template version instead of a commit count.
    """
    with _locked(repo.parent / f".{repo.name}.lock"):
        stamp = repo / ".git" / "trigger-scaffold-source"
        fingerprint = f"{source.resolve()}|{tag}|{_fingerprint(source)}"
        head = repo / ".git" / "refs" / "heads" / "main"
        if stamp.is_file() and head.is_file() and stamp.read_text() == fingerprint:
            return head.read_text().strip()
        commit = _sync(source, repo, message)
        if tag is not None and _RELEASE.fullmatch(tag):
            _tag_once(repo, tag)
        stamp.write_text(fingerprint)
        return commit


# Copier reads versions from tags with dunamai's unprefixed pattern (``1.2.3``, no ``v``).
_RELEASE = re.compile(r"\d+(\.\d+)*")


def _tag_once(repo: Path, tag: str) -> None:
    """Tag HEAD with ``tag`` unless the release is tagged already.

    A tag never moves: projects record it. Later commits of the same release (a checkout
    whose template is being edited) get copier's ``1.2.3-N-gHASH`` versions after it.
    """
    if not git("tag", "--list", tag, cwd=repo).strip():
        git("tag", tag, cwd=repo, env=_GIT_ENV)


def _sync(source: Path, repo: Path, message: str) -> str:
    if not (repo / ".git").is_dir():
        repo.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", cwd=repo)
        git("symbolic-ref", "HEAD", "refs/heads/main", cwd=repo)
    for child in repo.iterdir():
        if child.name == ".git":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    for entry in TEMPLATE_ENTRIES:
        src = source / entry
        if src.is_dir():
            shutil.copytree(src, repo / entry, ignore=_IGNORED)
        else:
            shutil.copy2(src, repo / entry)
    git("add", "--all", cwd=repo)
    if git("status", "--porcelain", cwd=repo).strip():
        git("commit", "--quiet", "--message", message, cwd=repo, env=_GIT_ENV)
        # One pack instead of a loose file per object: copier clones the mirror up to five
        # times per command, and a local clone links every object file.
        git("repack", "-a", "-d", "-q", cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).strip()


def ensure_template_repo() -> Path:
    """The git repository that serves this installation's template, brought up to date."""
    from trigger_scaffold import __version__

    repo = data_home() / "template"
    sync_template_repo(
        template_root(), repo, f"trigger-scaffold {__version__} template", tag=__version__
    )
    return repo
