"""Idempotency for at-least-once consumers: each business event has its effect once.

The kinds that offer it (catalog ``idempotency``: the key, what it identifies, the default)
get Powertools Idempotency on one DynamoDB table per project, keyed on what identifies the
business event. The answer is per trigger: ``new --idempotency NAME=on|off``, the wizard, or
``idempotency: true|false`` in copier's ``triggers`` answer, refused in the same words.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import available_kinds, run_cli
from copier_rules import copier_message

from trigger_scaffold import Trigger, load_catalog
from trigger_scaffold._answers import check_idempotency, check_idempotency_fits_pattern
from trigger_scaffold._errors import TriggerScaffoldError

CATALOG = load_catalog()
OFFERING = [k.id for k in CATALOG.triggers if k.idempotency is not None]
LIVE_OFFERING = [k for k in available_kinds() if CATALOG.trigger(k).idempotency is not None]
# What identifies the business event in each kind's record or event.
KEYS = {
    "sqs": "messageId",
    "sns": "Sns.MessageId",
    "eventbridge": '[id, "replay-name"]',
    "schedule": "[scheduleArn, scheduledTime]",
    "s3": "[s3.bucket.name, s3.object.key, s3.object.sequencer]",
    "dynamodb": "eventID",
    "kinesis": "eventID",
    "iot": "[deviceId, receivedAt]",
}
# On where nobody waits on a cold start; off where two writes per record slow an in-order
# shard (streams) or the event has no id of its own (iot). The benchmark reports the cost.
DEFAULT_ON = {"sqs", "sns", "eventbridge", "schedule", "s3"}


def test_the_catalog_answers_each_at_least_once_consumer() -> None:
    assert sorted(OFFERING) == sorted(KEYS)
    for kind, key in KEYS.items():
        offer = CATALOG.trigger(kind).idempotency
        assert offer is not None
        assert offer.key == key, kind
        assert offer.identifies, kind
        assert offer.default == (kind in DEFAULT_ON), kind


def _cli_message(trigger: Trigger, pattern: str = "none") -> str:
    try:
        check_idempotency(trigger, CATALOG)
        check_idempotency_fits_pattern(trigger, pattern)
    except TriggerScaffoldError as error:
        return str(error)
    return ""


@pytest.mark.parametrize("kind", available_kinds())
def test_idempotency_answers_agree_with_copier(kind: str) -> None:
    """copier.yml refuses exactly what the CLI refuses, in the same words."""
    for value in (True, False):
        trigger = Trigger("front", kind, idempotency=value)
        expected = _cli_message(trigger)
        assert copier_message("triggers", triggers=[trigger.as_data()]) == expected, kind
        assert (expected == "") == (kind in OFFERING), kind
        assert "\n" not in expected


@pytest.mark.parametrize("pattern", [p.id for p in CATALOG.patterns if p.id != "none"])
def test_a_pattern_entry_refuses_idempotency_on_in_the_same_words(pattern: str) -> None:
    trigger = Trigger("front", "sqs", idempotency=True)
    expected = _cli_message(trigger, pattern)
    assert expected.startswith("idempotency is generated only for projects without a pattern")
    said = copier_message("pattern", pattern=pattern, triggers=[trigger.as_data()])
    # The pattern may refuse the kind first; when it takes it, it says the same as the CLI.
    if CATALOG.pattern(pattern).accepts("sqs") and CATALOG.pattern(pattern).available:
        assert said == expected
    off = Trigger("front", "sqs", idempotency=False)
    assert _cli_message(off, pattern) == ""


def test_copier_refuses_a_value_that_is_not_true_or_false() -> None:
    said = copier_message("triggers", triggers=[{"name": "q", "kind": "sqs", "idempotency": "on"}])
    assert said == "idempotency of trigger 'q' must be true or false"


def test_the_answer_is_stored_with_the_kind_default(tmp_path: Path) -> None:
    if not {"sqs", "kinesis"} <= set(available_kinds()):
        pytest.skip("sqs and kinesis are not both in the narrowed matrix")
    dest = tmp_path / "svc"
    result = run_cli(
        "new", str(dest), "--no-input", "-q", "--trigger", "sqs:orders", "--trigger", "kinesis"
    )
    assert result.returncode == 0, result.stderr
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    assert answers["triggers"] == [
        {"name": "orders", "kind": "sqs", "idempotency": True},
        {"name": "kinesis", "kind": "kinesis", "idempotency": False},
    ]


def test_the_flag_is_refused_where_it_does_not_apply(tmp_path: Path) -> None:
    cases = {
        ("--trigger", "api", "--idempotency", "api=on"): (
            "trigger 'api' (api) takes no idempotency answer: only at-least-once consumers do ("
        ),
        ("--trigger", "sqs", "--idempotency", "sqs=yes"): (
            "--idempotency 'sqs=yes': write NAME=on or NAME=off, e.g. --idempotency orders=off"
        ),
        ("--trigger", "sqs", "--idempotency", "x=on"): (
            "--idempotency 'x=on': no trigger named 'x'; triggers: sqs"
        ),
        ("--trigger", "sqs", "--pattern", "pub-sub", "--idempotency", "sqs=on"): (
            "idempotency is generated only for projects without a pattern so far: trigger 'sqs' "
            "would be an entry of pattern 'pub-sub' (answer it off)"
        ),
    }
    for number, (args, message) in enumerate(cases.items()):
        dest = tmp_path / f"x{number}"
        result = run_cli("new", str(dest), "--no-input", *args)
        assert result.returncode != 0, args
        assert message in result.stderr, (args, result.stderr)
        assert not dest.exists()


# --- the translated template: one table, grants and environment for idempotent functions ----

ITEM_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
}


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for policy in role["Properties"].get("Policies", [])
        for s in policy["PolicyDocument"]["Statement"]
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def idempotency_problems(translated: dict[str, Any], on: set[str], off: set[str]) -> list[str]:
    """What the template gets wrong about idempotency, for functions (PascalCase) on and off."""
    problems: list[str] = []
    resources = translated["Resources"]
    store = resources.get("IdempotencyStore")
    if not on:
        return ["IdempotencyStore without idempotent functions"] if store else []
    if store is None or store["Type"] != "AWS::DynamoDB::Table":
        return ["no IdempotencyStore table"]
    props = store["Properties"]
    if props.get("BillingMode") != "PAY_PER_REQUEST":
        problems.append("the table is not on demand")
    if props.get("TimeToLiveSpecification") != {"AttributeName": "expiration", "Enabled": True}:
        problems.append("no TTL on the expiration attribute")
    if props.get("SSESpecification", {}).get("SSEEnabled") is not True:
        problems.append("the table is not encrypted with a KMS key")
    if props.get("PointInTimeRecoverySpecification") != {"PointInTimeRecoveryEnabled": True}:
        problems.append("no point-in-time recovery")
    if props.get("KeySchema") != [{"AttributeName": "id", "KeyType": "HASH"}]:
        problems.append("the key is not `id`, the one Powertools writes")
    alarms = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"].get("MetricName") == "WriteThrottleEvents"
        and {"Name": "TableName", "Value": {"Ref": "IdempotencyStore"}}
        in r["Properties"].get("Dimensions", [])
    ]
    if not alarms:
        problems.append("no write-throttle alarm on the table")
    store_arn = {"Fn::GetAtt": ["IdempotencyStore", "Arn"]}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for statement in _statements(resource):
            actions = set(_as_list(statement["Action"]))
            targets = _as_list(statement["Resource"])
            if any(a.startswith("dynamodb:") and "*" in a for a in actions):
                problems.append(f"{logical_id} has a dynamodb wildcard action")
            if store_arn in targets and "*" in targets:
                problems.append(f"{logical_id} reaches the table through '*'")
    for name in on | off:
        role = resources[f"{name}FunctionRole"]
        grants = [s for s in _statements(role) if store_arn in _as_list(s["Resource"])]
        env = resources[f"{name}Function"]["Properties"].get("Environment", {})
        has_env = "IDEMPOTENCY_TABLE" in env.get("Variables", {})
        if name in off:
            if grants:
                problems.append(f"{name} is not idempotent but may use the table")
            if has_env:
                problems.append(f"{name} is not idempotent but is given IDEMPOTENCY_TABLE")
            continue
        if not has_env:
            problems.append(f"{name} is not given IDEMPOTENCY_TABLE")
        if [(set(_as_list(s["Action"])), _as_list(s["Resource"])) for s in grants] != [
            (ITEM_ACTIONS, [store_arn])
        ]:
            problems.append(f"{name} is not granted exactly the four item actions on the table")
    return problems


def _render_pair(kind: str) -> Any:
    from stages import render

    return render(("--trigger", f"{kind}:front", "--trigger", f"{kind}:back", "--idempotency",
                   "front=on", "--idempotency", "back=off"))  # fmt: skip


@pytest.mark.matrix
@pytest.mark.parametrize("kind", LIVE_OFFERING)
def test_one_table_and_least_privilege_grants_for_idempotent_functions_only(kind: str) -> None:
    project = _render_pair(kind)
    assert idempotency_problems(project.translated, {"Front"}, {"Back"}) == []
    store = project.template["Resources"]["IdempotencyStore"]
    # Kept in prod like the project's other data stores (tests/test_stages.py).
    assert store["DeletionPolicy"] == {"Fn::If": ["IsProduction", "Retain", "Delete"]}
    assert store["UpdateReplacePolicy"] == {"Fn::If": ["IsProduction", "Retain", "Delete"]}
    assert (project.path / "functions" / "front" / "idempotency.py").is_file()
    assert not (project.path / "functions" / "back" / "idempotency.py").exists()
    assert (project.path / "tests" / "contract" / "test_front_idempotency.py").is_file()
    assert not (project.path / "tests" / "contract" / "test_back_idempotency.py").exists()
    key = CATALOG.trigger(kind).idempotency
    assert key is not None
    module = (project.path / "functions" / "front" / "idempotency.py").read_text()
    # The key in one obvious place, the one line to change.
    assert [line for line in module.splitlines() if line.startswith("KEY = ")] == [
        f"KEY = {key.key!r}" if '"' in key.key else f'KEY = "{key.key}"'
    ]
    assert 'key_prefix="front"' in module


@pytest.mark.matrix
@pytest.mark.parametrize("kind", LIVE_OFFERING)
def test_no_table_when_every_function_is_off(kind: str) -> None:
    from stages import render

    project = render(("--trigger", f"{kind}:front", "--idempotency", "front=off"))
    assert idempotency_problems(project.translated, set(), {"Front"}) == []
    assert "IdempotencyStore" not in project.template_text


MUTATIONS: dict[str, Any] = {
    "wildcard table grant": lambda r: r["FrontFunctionRole"]["Properties"]["Policies"][0][
        "PolicyDocument"
    ]["Statement"][-1].update(Resource=["*"]),
    "grant to the function that is off": lambda r: r["BackFunctionRole"]["Properties"]["Policies"][
        0
    ]["PolicyDocument"]["Statement"].append(
        {
            "Effect": "Allow",
            "Action": sorted(ITEM_ACTIONS),
            "Resource": [{"Fn::GetAtt": ["IdempotencyStore", "Arn"]}],
        }
    ),
    "extra action": lambda r: r["FrontFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ][-1]["Action"].append("dynamodb:Scan"),
    "no TTL": lambda r: r["IdempotencyStore"]["Properties"].pop("TimeToLiveSpecification"),
    "no PITR": lambda r: r["IdempotencyStore"]["Properties"].pop(
        "PointInTimeRecoverySpecification"
    ),
    "provisioned": lambda r: r["IdempotencyStore"]["Properties"].update(BillingMode="PROVISIONED"),
    "no encryption": lambda r: r["IdempotencyStore"]["Properties"].pop("SSESpecification"),
    "no alarm": lambda r: r.pop("IdempotencyStoreWriteThrottlesAlarm"),
    "no environment": lambda r: r["FrontFunction"]["Properties"].pop("Environment"),
}


@pytest.mark.matrix
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_the_template_check_reports_each_mutation(mutation: str) -> None:
    if "sqs" not in LIVE_OFFERING:
        pytest.skip("sqs is not in the narrowed matrix")
    translated = copy.deepcopy(_render_pair("sqs").translated)
    MUTATIONS[mutation](translated["Resources"])
    assert idempotency_problems(translated, {"Front"}, {"Back"}) != []


# --- the generated tests fail on a handler that gets idempotency wrong ----------------------

GENERATED_TESTS = (
    "test_a_duplicate_delivery_does_its_work_once",
    "test_failed_work_is_not_remembered",
    "test_a_delivery_in_progress_elsewhere_is_retried_not_dropped",
)
IN_PROGRESS_DROPPED = """

def once(record: dict[str, Any], work: Callable[[], object]) -> None:
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
    )

    try:
        _once(record=record, work=work)
    except IdempotencyAlreadyInProgressError:
        pass
"""
SWALLOWED = """    try:
        work()
    except Exception:
        return None
"""
# Each defect, as an edit of the rendered function (file, old, new), and the generated test
# that must fail on it.
DEFECTS: dict[str, tuple[str, str, str, str]] = {
    "skips idempotency": (
        "handler.py",
        "once(record=",
        "(lambda record, work: work())(record=",
        GENERATED_TESTS[0],
    ),
    "remembers a failure as success": (
        "idempotency.py",
        "    work()\n",
        SWALLOWED,
        GENERATED_TESTS[1],
    ),
    "drops an in-progress duplicate": (
        "idempotency.py",
        "def once(",
        "def _once(",
        GENERATED_TESTS[2],
    ),
    "never lets an in-progress record lapse": (
        "handler.py",
        "start(context)",
        "None",
        GENERATED_TESTS[2],
    ),
}


def _generated_results(project: Path) -> dict[str, str]:
    """Outcome of each generated idempotency test of function `front`: passed or failed."""
    import subprocess
    import sys

    from gates import _clean_env

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-p",
         "no:xdist", "tests/contract/test_front_idempotency.py"],
        cwd=project, env=_clean_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    outcomes = {}
    for line in result.stdout.splitlines():
        word, _, rest = line.partition(" ")
        # Outcome lines of the -rA summary name a test; captured log lines (ERROR ...) do not.
        if word in ("PASSED", "FAILED", "ERROR") and rest.startswith("tests/"):
            outcomes[rest.split("::")[-1].split(" ")[0]] = word.lower()
    return outcomes


@pytest.mark.matrix
@pytest.mark.parametrize("kind", LIVE_OFFERING)
def test_the_generated_tests_fail_on_each_idempotency_defect(kind: str, tmp_path: Path) -> None:
    import shutil

    from stages import render

    source = render(("--trigger", f"{kind}:front", "--idempotency", "front=on")).path
    assert _generated_results(source) == dict.fromkeys(GENERATED_TESTS, "passed")
    for defect, (file, old, new, test) in DEFECTS.items():
        project = tmp_path / defect.replace(" ", "-")
        shutil.copytree(source, project)
        path = project / "functions" / "front" / file
        text = path.read_text()
        assert old in text, (kind, defect)
        text = text.replace(old, new, 1)
        if defect == "drops an in-progress duplicate":
            text += IN_PROGRESS_DROPPED
        path.write_text(text)
        outcomes = _generated_results(project)
        assert outcomes.get(test) == "failed", (kind, defect, outcomes)
