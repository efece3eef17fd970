"""Rendering new projects with copier, all-or-nothing."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from copier import run_copy
from copier.errors import CopierError
from jinja2 import TemplateError

from trigger_scaffold._answers import Answers
from trigger_scaffold._errors import TriggerScaffoldError
from trigger_scaffold._speedups import speed_up_copier
from trigger_scaffold._template import git


def first_line(error: BaseException) -> str:
    """The first non-empty line of an error, without copier's 'Validation error' prefix."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    prefix = "Validation error for question "
    if text.startswith(prefix):
        text = text.split(": ", 1)[-1]
    return text


def check_destination(dest: Path) -> None:
    """Refuse a destination that cannot become a new project directory, saying why."""
    if dest.is_dir():
        if any(dest.iterdir()):
            raise TriggerScaffoldError(
                f"destination {str(dest)!r} already exists and is not empty; choose a new directory"
            )
        return
    if dest.exists() or dest.is_symlink():
        raise TriggerScaffoldError(
            f"destination {str(dest)!r} is a file, not a directory; choose a new directory"
        )
    parent = dest.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise TriggerScaffoldError(
            f"cannot create {str(dest)!r}: {str(parent)!r} is a file, not a directory"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise TriggerScaffoldError(
            f"cannot create {str(dest)!r}: no permission to write in {str(parent)!r}"
        )


def render_new(answers: Answers, dest: Path, *, src: str, vcs_ref: str | None) -> Path | None:
    """Render ``answers`` into ``dest`` with copier; on any failure nothing is left behind.

    The project is rendered into a hidden sibling directory and moved into place only once
    complete, so an error or Ctrl-C never leaves a half-written destination. Returns the
    top of the git repository that already held ``dest`` (a monorepo), else None: then the
    project got a repository of its own.
    """
    dest = dest.resolve()
    check_destination(dest)
    speed_up_copier()
    created_parents: list[Path] = []
    parent = dest.parent
    while not parent.exists():
        created_parents.append(parent)
        parent = parent.parent
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(
            tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
        )
    except OSError as error:
        for created in created_parents:
            with contextlib.suppress(OSError):
                created.rmdir()
        raise TriggerScaffoldError(
            f"cannot create {str(dest)!r}: {error.strerror or first_line(error)}"
        ) from error
    try:
        with warnings.catch_warnings():
            # Copier's warnings (e.g. a dirty local template) are not the user's problem here.
            warnings.simplefilter("ignore")
            run_copy(
                src,
                staging,
                data=answers.as_data(),
                defaults=True,
                overwrite=True,
                quiet=True,
                unsafe=False,
                vcs_ref=vcs_ref,
            )
        if dest.exists():
            dest.rmdir()
        os.replace(staging, dest)
    except (CopierError, TemplateError, ValueError, OSError) as error:
        raise TriggerScaffoldError(
            f"could not generate the project: {first_line(error)}"
        ) from error
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        if not dest.exists():
            for created in created_parents:
                with contextlib.suppress(OSError):
                    created.rmdir()
    return _init_git(dest)


def enclosing_repository(path: Path) -> Path | None:
    """The top of the git work tree that holds ``path``, if any (``path`` must exist)."""
    try:
        top = git("rev-parse", "--show-toplevel", cwd=path).strip()
    except TriggerScaffoldError:
        return None
    return Path(top) if top else None


def _init_git(dest: Path) -> Path | None:
    """Start a git repository (add-trigger and update merge through it), unless in one."""
    if shutil.which("git") is None:
        return None
    outer = enclosing_repository(dest)
    if outer is not None:
        return outer
    git("-c", "init.defaultBranch=main", "init", "--quiet", cwd=dest)
    return None
