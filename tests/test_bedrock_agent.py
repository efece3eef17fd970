"""The bedrock-agent kind: its generated contract test guards the shape of the agent's answer.

An agent refuses an answer whose shape does not match the format of its call (function
details or OpenAPI schema). The project's own contract test
(``tests/contract/test_<name>_contract.py``) checks every answer against its call; each
mutation below brings back a broken shape or state, and the contract test must fail on every
one, and pass on the handler as generated.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import available_kinds
from handler_mutations import assert_contract_fails, render, run_contract

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
    return render(tmp_path_factory.mktemp("agent") / "helpdesk", "bedrock-agent")


def test_the_contract_holds_for_the_generated_handler(project: Path) -> None:
    ran = run_contract(project, CONTRACT)
    assert ran.returncode == 0, ran.stdout[-3000:]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_the_contract_fails_on_a_broken_answer(
    project: Path, tmp_path: Path, mutation: tuple[str, str, str, str]
) -> None:
    assert_contract_fails(project, tmp_path / "helpdesk", HANDLER, CONTRACT, mutation)
