"""Fixtures every generated test may use live once, in the generated conftest.

A copy in a kind's or a pattern's test module drifts from the others (the ``printed`` fixture
once existed in 29 of them, in three spellings) and hides the shared one from that module.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from gates import _clean_env

from trigger_scaffold._template import template_root

pytestmark = pytest.mark.matrix

TEMPLATES = template_root() / "templates"
CONFTEST = Path("project/tests/conftest.py.jinja")
# A module-level fixture: its decorator (maybe with arguments, maybe stacked) and its name.
_FIXTURE = re.compile(r"^@pytest\.fixture\b.*\n(?:@.*\n)*def (\w+)\(", re.MULTILINE)


def _fixtures(text: str) -> set[str]:
    return set(_FIXTURE.findall(text))


def redefined_shared_fixtures(templates: Path) -> list[str]:
    """Template files that define a fixture of the generated conftest again, as ``path: name``."""
    shared = _fixtures((templates / CONFTEST).read_text())
    return [
        f"{path.relative_to(templates)}: {name}"
        for path in sorted(templates.rglob("*.py*"))
        if path.is_file() and path.relative_to(templates) != CONFTEST
        for name in sorted(_fixtures(path.read_text()) & shared)
    ]


def test_the_conftest_shares_printed() -> None:
    assert "printed" in _fixtures((TEMPLATES / CONFTEST).read_text())


def test_no_template_test_module_redefines_a_shared_fixture() -> None:
    assert redefined_shared_fixtures(TEMPLATES) == []


def test_a_module_defining_printed_again_is_reported(tmp_path: Path) -> None:
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATES / "project" / "tests", copy / "project" / "tests")
    shutil.copytree(TEMPLATES / "kinds" / "sqs", copy / "kinds" / "sqs")
    module = copy / "kinds" / "sqs" / "test.py.jinja"
    module.write_text(
        module.read_text()
        + "\n\n@pytest.fixture\ndef printed(handler: Any) -> Printed:\n    return lambda: []\n"
    )
    assert redefined_shared_fixtures(copy) == ["kinds/sqs/test.py.jinja: printed"]


# Your own tests, in two functions' test modules, read what the business logic logged. The
# contract tests run first and create the Loggers, so these tests meet handlers that already
# hold an older test's stdout; one function logs under a service of its own.
USER_TESTS = {"orders": ("process_message", "message"), "clicks": ("process_payload", "record")}
# A module of yours that still defines ``printed`` (as tests written before it was shared do).
OWN_PRINTED = """import pytest


@pytest.fixture
def printed(capsys: pytest.CaptureFixture[str]) -> str:
    return "mine"


def test_a_module_fixture_wins(printed: str) -> None:
    assert printed == "mine"
"""


def _pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    return subprocess.run(
        [*cmd, *args], cwd=project, env=_clean_env(), capture_output=True, text=True, check=False
    )


def test_printed_reads_every_function_in_one_session(new_project: Callable[..., Path]) -> None:
    project = new_project("--trigger", "sqs:orders", "--trigger", "kinesis:clicks")
    app = project / "functions" / "clicks" / "app.py"
    app.write_text(app.read_text().replace("Logger()", 'Logger(service="clicks-logic")', 1))
    for name, (function, logged) in USER_TESTS.items():
        with (project / "tests" / "functions" / f"test_{name}.py").open("a") as module:
            module.write(
                "\n\ndef test_it_logs(load_function: Any, printed: Any) -> None:\n"
                f"    load_function({name!r}, 'app').{function}({{'orderId': '1001'}})\n"
                f"    assert [line['message'] for line in printed()] == ['Processing {logged}']\n"
            )
    (project / "tests" / "functions" / "test_own_printed.py").write_text(OWN_PRINTED)
    result = _pytest(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout

    # The defect it guards against: only the handler of the test's own function (or of the
    # default service) redirected, as each module's copy of the fixture did.
    conftest = project / "tests" / "conftest.py"
    text = conftest.read_text()
    every_logger = "for logger in logging.Logger.manager.loggerDict.values()"
    assert every_logger in text
    conftest.write_text(text.replace(every_logger, 'for logger in [logging.getLogger("tests")]'))
    result = _pytest(project, "tests/contract/test_clicks_contract.py", "tests/functions")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed" in result.stdout
    assert "test_clicks.py::test_it_logs" in result.stdout
