"""The bedrock-agent kind: its generated contract test guards the shape of the agent's answer.

An agent refuses an answer whose shape does not match the format of its call (function
details or OpenAPI schema). The project's own contract test
(``tests/contract/test_<name>_contract.py``) checks every answer against its call; each
mutation below brings back a broken shape or state, and the contract test must fail on every
one, and pass on the handler as generated.
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
    pytest.mark.skipif("bedrock-agent" not in available_kinds(), reason="narrowed with TS_KINDS"),
]
HANDLER = Path("functions") / "bedrock-agent" / "handler.py"
CONTRACT = "tests/contract/test_bedrock-agent_contract.py"

# (defect, the generated text, the defective text, a contract test that must fail)
MUTATIONS = [
    (
        "an OpenAPI call answered in the function-details shape",
        '    if "apiPath" in event:\n        api: ApiResult = {',
        "    if False:\n        api: ApiResult = {",
        "test_an_action_is_answered_in_the_format_of_the_call[openapi]",
    ),
    (
        "the function-details body not under TEXT",
        '        function: FunctionResponse = {"responseBody": {"TEXT": text}}',
        '        function: FunctionResponse = {"responseBody": {"application/json": text}}',
        "test_an_action_is_answered_in_the_format_of_the_call[function-details]",
    ),
    (
        "the body as JSON, not as text",
        '    text: TextBody = {"body": json.dumps(body)}',
        '    text: TextBody = {"body": body}  # type: ignore[typeddict-item]',
        "test_an_action_is_answered_in_the_format_of_the_call[openapi]",
    ),
    (
        "the responseState outside the function response",
        '            function["responseState"] = state',
        '            function["responseStatus"] = state  # type: ignore[typeddict-unknown-key]',
        "test_wrong_input_reprompts_the_model[function-details]",
    ),
    (
        "wrong input failing the turn instead of reprompting",
        'status=400, state="REPROMPT")',
        'status=400, state="FAILURE")',
        "test_wrong_input_reprompts_the_model[openapi]",
    ),
    (
        "session attributes dropped",
        '        "sessionAttributes": event.get("sessionAttributes") or {},',
        '        "sessionAttributes": {},',
        "test_an_action_is_answered_in_the_format_of_the_call[function-details]",
    ),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("agent") / "helpdesk"
    assert main(["new", str(dest), "--no-input", "--quiet", "--trigger", "bedrock-agent"]) == 0
    return dest


def _contract(project: Path) -> subprocess.CompletedProcess[str]:
    """The project's contract test of the action group, run as the project runs it."""
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
def test_the_contract_fails_on_a_broken_answer(
    project: Path, tmp_path: Path, defect: str, generated: str, defective: str, failing: str
) -> None:
    mutated = tmp_path / "helpdesk"
    shutil.copytree(project, mutated)
    handler = mutated / HANDLER
    text = handler.read_text()
    assert generated in text, f"the handler no longer has what '{defect}' mutates"
    handler.write_text(text.replace(generated, defective, 1))

    ran = _contract(mutated)

    assert ran.returncode != 0, f"the contract test passed with '{defect}'"
    assert f"FAILED {CONTRACT}::{failing}" in ran.stdout, ran.stdout[-3000:]
