"""Changing an existing project: add a trigger, take template updates, surface conflicts.

Both are copier updates. ``add-trigger`` changes the ``triggers`` answer and stays on the
project's template commit (no silent upgrade); ``update`` moves to a newer template commit.
Nothing is committed on the user's behalf, and conflicts end the command with exit code 3.
"""

from __future__ import annotations

import ast
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from copier import VcsRef, run_copy, run_update
from copier.errors import CopierError
from jinja2 import TemplateError

from trigger_scaffold._answers import (
    Trigger,
    check_fits_pattern,
    check_kind,
    check_name_is_free,
    check_trigger_name,
    free_name,
    with_default_auth,
    with_default_idempotency,
)
from trigger_scaffold._catalog import Catalog, StackCost, parse_catalog
from trigger_scaffold._errors import TriggerScaffoldError
from trigger_scaffold._quotas import check_quotas
from trigger_scaffold._render import first_line
from trigger_scaffold._speedups import speed_up_copier
from trigger_scaffold._template import data_home, ensure_template_repo, git

ANSWERS_FILE = ".copier-answers.yml"
_MARKER = re.compile(r"^(<{7}|>{7})( |$)", re.MULTILINE)


class ConflictError(TriggerScaffoldError):
    """The merge left conflicts for the user to resolve."""

    exit_code = 3


@dataclass(frozen=True)
class Project:
    """A generated project as recorded in its answers file."""

    root: Path
    answers: dict[str, Any]

    @property
    def triggers(self) -> tuple[Trigger, ...]:
        """The project's triggers, in template order."""
        return tuple(
            Trigger(
                str(t["name"]),
                str(t["kind"]),
                None if "auth" not in t else str(t["auth"]),
                None if "idempotency" not in t else bool(t["idempotency"]),
            )
            for t in self.answers["triggers"]
        )

    @property
    def src_path(self) -> str:
        """Where the project's template comes from."""
        return str(self.answers["_src_path"])

    @property
    def commit(self) -> str:
        """The template commit the project was last rendered from."""
        return str(self.answers["_commit"])

    @property
    def uses_bundled_template(self) -> bool:
        """Whether the template is this installation's mirror."""
        return Path(self.src_path).expanduser() == data_home() / "template"


def find_project(start: Path) -> Project:
    """The generated project at or above ``start``, with answers that can be updated."""
    start = start.absolute()
    root = next((p for p in (start, *start.parents) if (p / ANSWERS_FILE).is_file()), None)
    if root is None:
        raise TriggerScaffoldError(
            f"not inside a generated project: no {ANSWERS_FILE} in {start} or above "
            "(use -C DIR to point at one)"
        )
    try:
        answers = yaml.safe_load((root / ANSWERS_FILE).read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise TriggerScaffoldError(
            f"{ANSWERS_FILE} is not valid YAML ({first_line(error)}); restore it from git"
        ) from error
    if not isinstance(answers, dict):
        raise TriggerScaffoldError(f"{ANSWERS_FILE} is not a mapping; restore it from git")
    for key in ("_src_path", "_commit"):
        if not answers.get(key):
            raise TriggerScaffoldError(
                f"{ANSWERS_FILE} records no {key}, so copier cannot merge template changes "
                "into this project; restore the file from git"
            )
    triggers = answers.get("triggers")
    if not isinstance(triggers, list) or not all(
        isinstance(t, dict) and isinstance(t.get("name"), str) and isinstance(t.get("kind"), str)
        for t in triggers
    ):
        raise TriggerScaffoldError(
            f"{ANSWERS_FILE} has no valid 'triggers' list of {{name, kind}}; restore it from git"
        )
    return Project(root, answers)


def check_clean_git(project: Project) -> None:
    """Refuse unless the project is a git work tree with nothing uncommitted."""
    try:
        top = git("rev-parse", "--show-toplevel", cwd=project.root).strip()
    except TriggerScaffoldError as error:
        raise TriggerScaffoldError(
            f"{project.root} is not in a git repository; run "
            "`git init && git add -A && git commit -m 'Generated project'` first"
        ) from error
    if not top:  # pragma: no cover - git always prints the top level
        raise TriggerScaffoldError(f"{project.root} is not in a git repository")
    status = git("status", "--porcelain", "--untracked-files=all", "--", ".", cwd=project.root)
    dirty = [line[3:] for line in status.splitlines() if line.strip()]
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise TriggerScaffoldError(
            f"uncommitted changes in {shown}; commit them (git add -A && git commit) "
            "or stash them (git stash -u) first"
        )


def in_larger_repository(project: Project) -> bool:
    """Whether the project is a folder of a larger git repository (a monorepo)."""
    top = git("rev-parse", "--show-toplevel", cwd=project.root).strip()
    return Path(top).resolve() != project.root.resolve()


def template_catalog_at(project: Project) -> Catalog | None:
    """The catalog of the project's own template commit, when its source is a local git repo."""
    src = Path(project.src_path).expanduser()
    if not (src / ".git").exists():
        return None
    try:
        text = git("show", f"{project.commit}:templates/catalog.yml", cwd=src)
    except TriggerScaffoldError:
        return None
    return parse_catalog(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))  # noqa: S506


def plan_trigger(project: Project, kind: str, name: str | None, current: Catalog) -> Trigger:
    """The trigger to add, or a one-line refusal that says what to do instead."""
    check_kind(current, kind)
    known = template_catalog_at(project)
    if known is not None:
        available = {k.id for k in known.triggers if k.available}
        if kind not in available:
            raise TriggerScaffoldError(
                f"this project's template version ({project.commit}) does not generate "
                f"{kind!r} triggers yet; run `trigger-scaffold update` first"
            )
    pattern = (known or current).pattern(str(project.answers.get("pattern", "none")))
    taken = {t.name: t.kind for t in project.triggers}
    if name is None:
        name = free_name(kind, taken, current)
    check_fits_pattern(Trigger(name, kind), pattern)  # a refused kind first, then the name
    check_trigger_name(name)
    try:
        check_name_is_free(name, kind, taken, current)
    except TriggerScaffoldError as error:
        raise TriggerScaffoldError(
            f"{error}; pick another with --name (free: {free_name(kind, taken, current)!r})"
        ) from error
    # The project's own template version knows what its triggers cost, once it records it.
    costs = known if known is not None and known.stack_base != StackCost() else current
    kinds = [t.kind for t in project.triggers]
    check_quotas(costs, pattern.id, [*kinds, kind], adding=kind)
    # Recorded, so the answer is visible in .copier-answers.yml (when that version has one).
    return with_default_idempotency(
        with_default_auth(Trigger(name, kind), known or current), known or current, pattern.id
    )


def _run_copier_update(project: Project, data: dict[str, Any], vcs_ref: Any, quiet: bool) -> None:
    speed_up_copier()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run_update(
                project.root,
                data=data,
                defaults=True,
                overwrite=True,
                quiet=quiet,
                unsafe=False,
                vcs_ref=vcs_ref,
                conflict="inline",
            )
    except (CopierError, TemplateError, ValueError, OSError) as error:
        raise TriggerScaffoldError(f"copier update failed: {first_line(error)}") from error


def changes(project: Project) -> list[str]:
    """``git status`` lines of what the last update changed."""
    status = git("status", "--porcelain", "--untracked-files=all", "--", ".", cwd=project.root)
    return [line for line in status.splitlines() if line.strip()]


def conflicts(project: Project) -> list[str]:
    """Files that need the user's hand: unmerged paths, rejected hunks, conflict markers."""
    root = project.root
    found: dict[str, str] = {}
    unmerged = git("diff", "--name-only", "--diff-filter=U", "--relative", cwd=root)
    for path in unmerged.splitlines():
        found[path] = "merge conflict"
    for line in changes(project):
        path = line[3:].split(" -> ")[-1].strip('"')
        if path.endswith(".rej"):
            found[path] = "rejected hunk"
            continue
        file = root / path
        try:
            if file.is_file() and _MARKER.search(file.read_text(encoding="utf-8")):
                found.setdefault(path, "conflict markers")
        except (UnicodeDecodeError, OSError):
            continue
    return [f"{path} ({why})" for path, why in sorted(found.items())]


def report_conflicts(project: Project) -> None:
    """Raise with the list of conflicts and what to do next, if there are any."""
    found = conflicts(project)
    if found:
        raise ConflictError(
            "the merge left conflicts in "
            + ", ".join(found)
            + ": edit them (search for <<<<<<<), apply and delete any *.rej, run the tests, "
            "then commit; nothing was committed"
        )


def add_trigger(project: Project, trigger: Trigger, quiet: bool) -> None:
    """Render ``trigger`` into the project at its current template commit."""
    if project.uses_bundled_template:
        ensure_template_repo()
    data = {"triggers": [t.as_data() for t in (*project.triggers, trigger)]}
    _run_copier_update(project, data, VcsRef.CURRENT, quiet)
    report_conflicts(project)


def update(project: Project, vcs_ref: str | None, quiet: bool) -> dict[str, str]:
    """Merge template changes into the project (to ``vcs_ref``, else the newest).

    Returns what moved to the handler/app layout, by path (see ``adopt_split_layout``).
    """
    if project.uses_bundled_template:
        ensure_template_repo()
        vcs_ref = vcs_ref or "HEAD"
    _run_copier_update(project, {}, vcs_ref, quiet)
    report_conflicts(project)
    return adopt_split_layout(project, find_project(project.root))


def adopt_split_layout(before: Project, after: Project) -> dict[str, str]:
    """Move the single-file layout's files that hold nothing of the user's to the new one.

    Projects generated before the handler/app split keep ``functions/<name>/app.py`` (the
    whole handler) and ``tests/functions/test_<name>.py`` (its tests) through ``update``:
    they are the user's, and copier never touches them. A file that is still byte for byte
    what the old template generated holds nothing of the user's, so:

    - an unchanged ``app.py`` is replaced by the new one (the business logic alone);
    - unchanged tests are replaced by the new ones (tests of that business logic) where
      ``app.py`` was replaced too, and removed where the user changed ``app.py``: the new
      tests assume the new business logic, and the old ones tested the old entry point,
      whose contract tests now live in ``tests/contract/``.

    Edited files stay as they are (``business_logic_findings`` then says what to trim).
    Returns ``{path: "replaced" | "removed"}``.
    """
    legacy = [
        handler.parent.name
        for handler in sorted(after.root.glob("functions/*/handler.py"))
        if "lambda_handler" in (_top_level_names(handler.with_name("app.py")) or set())
    ]
    if not legacy:
        return {}
    done: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="trigger-scaffold-layout-") as scratch:
        old = _render_at(before, Path(scratch) / "old")
        new = _render_at(after, Path(scratch) / "new")

        def unchanged(path: str) -> bool:
            mine, was = after.root / path, old / path
            return mine.is_file() and was.is_file() and mine.read_bytes() == was.read_bytes()

        for name in legacy:
            app, tests = f"functions/{name}/app.py", f"tests/functions/test_{name}.py"
            if unchanged(app) and (new / app).is_file():
                (after.root / app).write_bytes((new / app).read_bytes())
                done[app] = "replaced"
            if not unchanged(tests):
                continue
            if app in done and (new / tests).is_file():
                (after.root / tests).write_bytes((new / tests).read_bytes())
                done[tests] = "replaced"
            elif app not in done:
                (after.root / tests).unlink()
                done[tests] = "removed"
    return done


def _render_at(project: Project, dest: Path) -> Path:
    """The project as its template at ``project.commit`` renders it from its answers."""
    answers = {k: v for k, v in project.answers.items() if not k.startswith("_")}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run_copy(
                project.src_path,
                dest,
                data=answers,
                defaults=True,
                overwrite=True,
                quiet=True,
                unsafe=False,
                vcs_ref=project.commit,
            )
    except (CopierError, TemplateError, ValueError, OSError) as error:
        raise TriggerScaffoldError(
            f"could not render template {project.commit} to compare: {first_line(error)}"
        ) from error
    return dest


def business_logic_findings(project: Project) -> list[str]:
    """What a function's ``app.py`` lacks, or still holds, after the handler/app split.

    Projects generated before the split kept their whole handler in ``app.py`` (theirs, so
    ``update`` leaves it alone); the new template-managed ``handler.py`` imports the business
    functions from it by name. A name it lacks fails at import; a leftover ``lambda_handler``
    is dead code that still looks like the entry point.
    """
    findings = []
    for handler in sorted(project.root.glob("functions/*/handler.py")):
        app = handler.with_name("app.py")
        rel = app.relative_to(project.root).as_posix()
        wanted = _imported_from_app(handler)
        if not app.is_file():
            if wanted:
                findings.append(f"{rel} is missing; handler.py imports {', '.join(wanted)} from it")
            continue
        defined = _top_level_names(app)
        if defined is None:
            continue
        missing = [name for name in wanted if name not in defined]
        if missing:
            findings.append(
                f"{rel} does not define {', '.join(missing)}, which handler.py imports from it"
            )
        if "lambda_handler" in defined:
            findings.append(
                f"{rel} still holds the single-file handler (lambda_handler): handler.py is "
                "the entry point now; keep only your business logic in app.py (see the "
                'README\'s "Add triggers and take template updates")'
            )
    return findings


def _imported_from_app(handler: Path) -> list[str]:
    try:
        tree = ast.parse(handler.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, OSError):
        return []
    return [
        alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module == "app" and node.level == 0
        for alias in node.names
    ]


def _top_level_names(module: Path) -> set[str] | None:
    """Names a module defines at its top level (also inside top-level ``if`` and ``try``)."""
    try:
        tree = ast.parse(module.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, OSError):
        return None
    names: set[str] = set()
    statements = list(tree.body)
    while statements:
        node = statements.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).partition(".")[0] for a in node.names)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            statements.extend(n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt))
    return names
