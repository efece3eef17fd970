"""The secrets-rotation kind: its generated contract test guards the rotation steps.

The project's own contract test (``tests/contract/test_<name>_contract.py``) runs the four
steps against moto's Secrets Manager. Each mutation below brings back a defect a rotation
function can have; the contract test must fail on every one, and pass on the handler as
generated.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import available_kinds
from handler_mutations import assert_contract_fails, render, run_contract

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
    return render(tmp_path_factory.mktemp("rotation") / "vault", "secrets-rotation")


def test_the_contract_holds_for_the_generated_handler(project: Path) -> None:
    ran = run_contract(project, CONTRACT)
    assert ran.returncode == 0, ran.stdout[-3000:]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_the_contract_fails_on_a_broken_rotation_step(
    project: Path, tmp_path: Path, mutation: tuple[str, str, str, str]
) -> None:
    assert_contract_fails(project, tmp_path / "vault", HANDLER, CONTRACT, mutation)
