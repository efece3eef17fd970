"""Template fixes reach existing projects: the entry point is the template's, the logic the user's.

Every function is ``handler.py`` (the Lambda entry point, template-managed) plus ``app.py``
(the business logic, created once and never touched). These tests update real projects with
real copier merges:

- a project generated *before* the split (the template as of the last commit with
  single-file handlers, ``tests/data/template-before-split.tar.gz``), with its business logic
  edited, takes the current template plus a deliberate contract fix: the edits are kept, the
  fix reaches every ``handler.py``, and the gates and the project's own tests pass;
- a project generated now, with every ``handler.py`` edited, takes a template change in
  the same files elsewhere: the edits are kept (or a conflict is reported, never lost).
"""

from __future__ import annotations

import ast
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import run_cli, whole_projects
from gates import gate_failures, load_template

from trigger_scaffold._template import TEMPLATE_ENTRIES, git, sync_template_repo, template_root

BEFORE_SPLIT = Path(__file__).parent / "data" / "template-before-split.tar.gz"
CONTRACT_FIX = (
    "\n\n\n# Contract fix under test: the template changed every entry point after release 1.\n"
    'CONTRACT_REVISION = "2"\n'
)
LOGIC_EDIT = '\n\ndef my_rule() -> str:\n    """Written by the user."""\n    return "mine"\n'
ENTRY_EDIT = "# Reviewed by our platform team: keep this line.\n"


def _commit_all(project: Path, message: str) -> None:
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--message", message, cwd=project)


def _source_with_contract_fix(dest: Path) -> Path:
    """This checkout's template, with a fix appended to every entry point's template."""
    dest.mkdir()
    for entry in TEMPLATE_ENTRIES:
        src = template_root() / entry
        if src.is_dir():
            shutil.copytree(src, dest / entry)
        else:
            shutil.copy2(src, dest / entry)
    handlers = sorted((dest / "templates").rglob("handler.py.jinja"))
    assert handlers
    for handler in handlers:
        text = handler.read_text()
        # Pattern entries that include a shared module already carry the fix through it.
        if text.strip().startswith("{% include") and text.count("\n") <= 1:
            continue
        handler.write_text(text.rstrip("\n") + CONTRACT_FIX)
    shared = dest / "templates" / "patterns" / "simple-web-service" / "crud.py.jinja"
    shared.write_text(shared.read_text().rstrip("\n") + CONTRACT_FIX)
    return dest


def _release(repo: Path, source: Path, tag: str) -> None:
    sync_template_repo(source, repo, f"release {tag}")
    git("tag", tag, cwd=repo)


def _new(template: Path | None, parent: Path, args: list[str]) -> Path:
    project = parent / "svc"
    source = ["--template", str(template)] if template else []
    result = run_cli("new", str(project), "--no-input", "-q", *source, *args)
    assert result.returncode == 0, result.stderr
    _commit_all(project, "Generated")
    return project


def _known_to(source: Path, args: list[str]) -> list[str]:
    """``args`` without the triggers of kinds that the template in ``source`` does not know
    (kinds added since it was released)."""
    import yaml

    kinds = set(yaml.safe_load((source / "templates" / "catalog.yml").read_text())["triggers"])
    pairs = list(zip(args[::2], args[1::2], strict=True))
    kept = [
        a for flag, value in pairs for a in (flag, value) if flag != "--trigger" or value in kinds
    ]
    if "--trigger" not in kept:
        pytest.skip("every kind of this project is newer than the template before the split")
    return kept


def _files(project: Path, pattern: str) -> dict[str, str]:
    return {p.relative_to(project).as_posix(): p.read_text() for p in sorted(project.glob(pattern))}


def _before_split(tmp_path: Path) -> tuple[Path, Path]:
    """A template repository at release 1.0.0 = the template before the split; its source."""
    old = tmp_path / "before-split"
    old.mkdir()
    with tarfile.open(BEFORE_SPLIT) as archive:
        archive.extractall(old, filter="data")
    repo = tmp_path / "template"
    _release(repo, old, "1.0.0")
    return repo, old


@pytest.mark.matrix
@pytest.mark.parametrize(("label", "args"), whole_projects(), ids=[s[0] for s in whole_projects()])
def test_a_project_from_before_the_split_takes_contract_fixes_and_keeps_its_logic(
    tmp_path: Path, label: str, args: list[str]
) -> None:
    repo, old = _before_split(tmp_path)
    args = _known_to(old, args)
    project = _new(repo, tmp_path, args)
    assert not list(project.glob("functions/*/handler.py")), "the fixture predates the split"
    # The user edits the business logic of every function but the first.
    untouched, *edited_apps = sorted(project.glob("functions/*/app.py"))
    for app in edited_apps:
        with app.open("a") as handle:
            handle.write(LOGIC_EDIT)
    _commit_all(project, "User edits")
    edited = {p.relative_to(project).as_posix(): p.read_text() for p in edited_apps}
    _release(repo, _source_with_contract_fix(tmp_path / "fixed"), "2.0.0")
    (tmp_path / "fresh").mkdir()
    fresh = _new(repo, tmp_path / "fresh", args)

    result = run_cli("update", cwd=project)

    assert result.returncode == 0, result.stderr
    # Edited business logic is the user's: kept byte for byte, and handler.py imports it.
    assert {p: (project / p).read_text() for p in edited} == edited
    # Files still as generated hold nothing of the user's: they take the new layout, and
    # the old generated tests of an edited app.py give way to tests/contract/.
    name = untouched.parent.name
    for path in (f"functions/{name}/app.py", f"tests/functions/test_{name}.py"):
        assert (project / path).read_text() == (fresh / path).read_text(), path
    assert [p.name for p in (project / "tests" / "functions").iterdir()] == [f"test_{name}.py"]
    assert "Removed the old generated tests" in result.stderr
    handlers = _files(project, "functions/*/handler.py")
    apps = _files(project, "functions/*/app.py")
    assert sorted(handlers) == sorted(p.replace("app.py", "handler.py") for p in apps)
    assert [p for p, text in handlers.items() if 'CONTRACT_REVISION = "2"' not in text] == []
    # An edited old app.py still holds the old entry point: update says what to trim.
    assert result.stderr.count("still holds the single-file handler") == len(edited), result.stderr
    assert gate_failures(project) == []


def test_an_edited_old_test_file_is_kept(tmp_path: Path) -> None:
    repo, _ = _before_split(tmp_path)
    project = _new(repo, tmp_path, ["--trigger", "sqs:orders"])
    tests = project / "tests" / "functions" / "test_orders.py"
    with tests.open("a") as handle:
        handle.write('\n\ndef test_mine() -> None:\n    assert "mine"\n')
    _commit_all(project, "My test")
    edited = tests.read_text()
    _release(repo, _source_with_contract_fix(tmp_path / "fixed"), "2.0.0")

    result = run_cli("update", cwd=project)

    assert result.returncode == 0, result.stderr
    assert tests.read_text() == edited
    # The unedited app.py took the new layout; the old tests run against the new entry point.
    assert "lambda_handler" not in (project / "functions" / "orders" / "app.py").read_text()
    assert "Moved to the handler.py/app.py layout" in result.stderr
    assert gate_failures(project) == []


def test_the_check_fails_on_the_single_file_layout(tmp_path: Path) -> None:
    """Before the split, a fix to a handler's template never reached a project: app.py was the
    user's. The check above (the fix in every entry point) finds exactly that."""
    repo, old = _before_split(tmp_path)
    project = _new(repo, tmp_path, ["--trigger", "sqs:orders"])
    sqs = old / "templates" / "kinds" / "sqs" / "handler.py.jinja"
    sqs.write_text(sqs.read_text().rstrip("\n") + CONTRACT_FIX)
    _release(repo, old, "2.0.0")

    result = run_cli("update", cwd=project)

    assert result.returncode == 0, result.stderr
    assert not (project / "functions" / "orders" / "handler.py").exists()
    assert 'CONTRACT_REVISION = "2"' not in (project / "functions/orders/app.py").read_text()


@pytest.mark.matrix
@pytest.mark.parametrize(("label", "args"), whole_projects(), ids=[s[0] for s in whole_projects()])
def test_edits_to_a_managed_entry_point_survive_an_update(
    tmp_path: Path, label: str, args: list[str]
) -> None:
    repo = tmp_path / "template"
    _release(repo, template_root(), "1.0.0")
    project = _new(repo, tmp_path, args)
    for handler in project.glob("functions/*/handler.py"):
        text = handler.read_text()
        marker = "from __future__ import annotations\n"
        assert marker in text, handler
        handler.write_text(text.replace(marker, marker + "\n" + ENTRY_EDIT, 1))
    _commit_all(project, "Edit the entry points")
    _release(repo, _source_with_contract_fix(tmp_path / "fixed"), "2.0.0")

    result = run_cli("update", cwd=project)

    handlers = _files(project, "functions/*/handler.py")
    assert handlers
    if result.returncode == 0:
        assert [p for p, text in handlers.items() if ENTRY_EDIT not in text] == []
        assert [p for p, text in handlers.items() if 'CONTRACT_REVISION = "2"' not in text] == []
        assert not result.stderr.count("single-file handler")
    else:
        # A conflict is reported and nothing is committed; the edit is still in the file.
        assert result.returncode == 3, result.stderr
        assert "conflict" in result.stderr
        assert git("log", "-1", "--format=%s", cwd=project).strip() == "Edit the entry points"
        assert [p for p, text in handlers.items() if ENTRY_EDIT not in text] == []


def test_a_conflicting_template_change_to_an_edited_entry_point_is_reported(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "template"
    _release(repo, template_root(), "1.0.0")
    project = _new(repo, tmp_path, ["--trigger", "sqs:orders"])
    handler = project / "functions" / "orders" / "handler.py"
    line = 'raise ValueError("message body must be a JSON object")'
    assert line in handler.read_text()
    handler.write_text(handler.read_text().replace(line, 'raise TypeError("mine")'))
    _commit_all(project, "My rule")
    source = _source_with_contract_fix(tmp_path / "fixed")
    sqs = source / "templates" / "kinds" / "sqs" / "handler.py.jinja"
    sqs.write_text(sqs.read_text().replace(line, 'raise ValueError("not a JSON object")'))
    _release(repo, source, "2.0.0")

    result = run_cli("update", cwd=project)

    assert result.returncode == 3, result.stderr
    assert "functions/orders/handler.py" in result.stderr
    assert git("log", "-1", "--format=%s", cwd=project).strip() == "My rule"
    assert 'raise TypeError("mine")' in handler.read_text()


def test_update_names_what_an_old_app_py_lacks(tmp_path: Path) -> None:
    project = _new(None, tmp_path, ["--trigger", "sqs:orders"])
    app = project / "functions" / "orders" / "app.py"
    app.write_text(app.read_text().replace("def process_message(", "def handle_message("))
    app.write_text(app.read_text() + "\n\ndef lambda_handler(event, context):\n    pass\n")
    from trigger_scaffold._lifecycle import business_logic_findings, find_project

    findings = business_logic_findings(find_project(project))

    assert findings == [
        "functions/orders/app.py does not define process_message, which handler.py imports from it",
        "functions/orders/app.py still holds the single-file handler (lambda_handler): "
        "handler.py is the entry point now; keep only your business logic in app.py (see the "
        'README\'s "Add triggers and take template updates")',
    ]


def handler_problems(project: Path) -> list[str]:
    """Functions whose ``Handler`` names no function defined at the top of its module file."""
    problems = []
    resources = load_template(project / "template.yaml")["Resources"]
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] != "AWS::Serverless::Function" or "CodeUri" not in props:
            continue
        module, _, attribute = props["Handler"].rpartition(".")
        path = project / props["CodeUri"] / f"{module.replace('.', '/')}.py"
        if not path.is_file():
            problems.append(f"{logical_id}: {props['Handler']} but no {path.name}")
            continue
        defined = {
            node.name
            for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.FunctionDef)
        }
        if attribute not in defined:
            problems.append(f"{logical_id}: {path.name} defines no {attribute}")
    return problems


@pytest.mark.matrix
@pytest.mark.parametrize(("label", "args"), whole_projects(), ids=[s[0] for s in whole_projects()])
def test_every_handler_setting_names_the_entry_point(
    new_project: Callable[..., Path], label: str, args: list[str]
) -> None:
    project = new_project(*args)

    assert handler_problems(project) == []
    assert (project / "functions").is_dir()


def test_handler_check_fails_on_a_handler_setting_left_on_app(
    new_project: Callable[..., Path],
) -> None:
    project = new_project("--trigger", "sqs:orders")
    template = project / "template.yaml"
    text = template.read_text()
    assert "Handler: handler.lambda_handler" in text
    template.write_text(
        text.replace("Handler: handler.lambda_handler", "Handler: app.lambda_handler")
    )

    assert handler_problems(project) == ["OrdersFunction: app.py defines no lambda_handler"]
