"""The secrets-rotation kind: its generated contract test guards the rotation steps.

The project's own contract test (``tests/contract/test_<name>_contract.py``) runs the four
steps against moto's Secrets Manager. Each mutation below brings back a defect a rotation
function can have; the contract test must fail on every one, and pass on the handler as
generated.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import available_kinds
from gates import _clean_env

from trigger_scaffold._cli import main

pytestmark = [
    pytest.mark.matrix,
    pytest.mark.skipif(
        "secrets-rotation" not in available_kinds(), reason="narrowed with TS_KINDS"
    ),
]
HANDLER = Path("functions") / "secrets-rotation" / "handler.py"
CONTRACT = "tests/contract/test_secrets-rotation_contract.py"

# (defect, the generated text, the defective text, a contract test that must fail)
MUTATIONS = [
    (
        "a retried createSecret draws a new value",
        '        logger.info("Pending value exists: kept")\n        return\n',
        '        logger.info("Pending value exists: kept")\n',
        "test_a_rotation_interrupted_after_create_resumes_with_the_same_value",
    ),
    (
        "steps run again for a version already current",
        '            logger.info("Version is already AWSCURRENT: nothing to do")\n'
        "            return\n",
        '            logger.info("Version is already AWSCURRENT: nothing to do")\n',
        "test_each_step_again_after_the_rotation_changes_nothing",
    ),
    (
        "a version not staged AWSPENDING is rotated",
        "    if CURRENT not in stages and PENDING not in stages:\n",
        "    if False:\n",
        "test_a_version_not_staged_for_rotation_is_refused",
    ),
    (
        "testSecret tests nothing",
        '    "testSecret": test_secret,\n',
        '    "testSecret": lambda secret_id, token: None,\n',
        "test_a_failed_test_keeps_the_current_value",
    ),
    (
        "finishSecret leaves AWSCURRENT where it was",
        "VersionStage=CURRENT, MoveToVersionId=token, RemoveFromVersionId=current",
        "VersionStage=PENDING, RemoveFromVersionId=token",
        "test_rotation_runs_the_four_steps_and_makes_a_new_value_current",
    ),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("rotation") / "vault"
    assert main(["new", str(dest), "--no-input", "--quiet", "--trigger", "secrets-rotation"]) == 0
    return dest


def _contract(project: Path) -> subprocess.CompletedProcess[str]:
    """The project's contract test of the rotation function, run as the project runs it."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            CONTRACT,
        ],
        cwd=project,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_contract_holds_for_the_generated_handler(project: Path) -> None:
    ran = _contract(project)
    assert ran.returncode == 0, ran.stdout[-3000:]


@pytest.mark.parametrize(
    ("defect", "generated", "defective", "failing"), MUTATIONS, ids=[m[0] for m in MUTATIONS]
)
def test_the_contract_fails_on_a_broken_rotation_step(
    project: Path, tmp_path: Path, defect: str, generated: str, defective: str, failing: str
) -> None:
    mutated = tmp_path / "vault"
    shutil.copytree(project, mutated)
    handler = mutated / HANDLER
    text = handler.read_text()
    assert generated in text, f"the handler no longer has what '{defect}' mutates"
    handler.write_text(text.replace(generated, defective, 1))

    ran = _contract(mutated)

    assert ran.returncode != 0, f"the contract test passed with '{defect}'"
    assert f"FAILED {CONTRACT}::{failing}" in ran.stdout, ran.stdout[-3000:]
