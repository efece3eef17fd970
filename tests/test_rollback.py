"""The signal CodeDeploy rolls back on, read from the translated template and the handlers.

For every function that CodeDeploy deploys (an alias with a ``CodeDeployLambdaAliasUpdate``
policy), each alarm of its deployment group must read only the new version's metrics, must
not fire on one failed invocation or one poison event retried by Lambda, must fire when the
new version fails its traffic, and must not count input that the handler rejects by design
(sample events whose stem ends in ``-invalid``): the handler either returns normally or
raises an exception its rollback alarm subtracts (the kind's ``errors_by_design``).

Alarms are judged by simulating CloudWatch on them: the metric math is evaluated minute by
minute on synthetic traffic, then ``DatapointsToAlarm`` of ``EvaluationPeriods`` decides.
"""

from __future__ import annotations

import ast
import json
import operator
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import available_kinds, whole_projects
from gates import load_template, sam_translate

from trigger_scaffold import load_catalog

pytestmark = pytest.mark.matrix

MINUTES = 10
# The default DeploymentStrategy (Canary10Percent5Minutes) bakes the canary for 5 minutes.
CANARY_MINUTES = 5
NEW_VERSION = "7"
STACK = "demo-stack"
Series = list[float | None]


# --- metric math -------------------------------------------------------------------------

_BINARY: dict[type, Callable[[float, float], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Eq: operator.eq,
}


def _evaluate(node: ast.AST, value_of: Callable[[str], float | None]) -> float | None:
    """One datapoint of a metric math expression (the subset the templates use)."""
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, value_of)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name):
        return value_of(node.id)
    if isinstance(node, ast.BinOp | ast.Compare):
        left = _evaluate(node.left, value_of)
        op, right_node = (
            (node.op, node.right)
            if isinstance(node, ast.BinOp)
            else (node.ops[0], node.comparators[0])
        )
        right = _evaluate(right_node, value_of)
        if left is None or right is None:
            return None
        if isinstance(op, ast.Div) and right == 0:
            return None
        return float(_BINARY[type(op)](left, right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = node.args
        if node.func.id == "FILL":
            value = _evaluate(args[0], value_of)
            return _evaluate(args[1], value_of) if value is None else value
        if node.func.id == "IF":
            condition = _evaluate(args[0], value_of)
            if condition is None:
                return None
            return _evaluate(args[1] if condition else args[2], value_of)
    raise ValueError(f"metric math the simulator does not know: {ast.dump(node)}")


def simulate(props: dict[str, Any], data: Callable[[dict[str, Any]], Series]) -> int | None:
    """The first minute at which the alarm is in ALARM, or None; ``data`` gives a metric's
    per-minute values (None: no datapoint)."""
    if "Metrics" in props:
        queries = {m["Id"]: m for m in props["Metrics"]}
        [result] = [m["Id"] for m in props["Metrics"] if m.get("ReturnData", True)]
    else:
        metric = {k: props[k] for k in ("Namespace", "MetricName", "Dimensions") if k in props}
        queries = {"m": {"Id": "m", "MetricStat": {"Metric": metric}}}
        result = "m"
    series = {i: data(q["MetricStat"]["Metric"]) for i, q in queries.items() if "MetricStat" in q}

    def value_at(minute: int) -> Callable[[str], float | None]:
        def value_of(query_id: str) -> float | None:
            if query_id in series:
                return series[query_id][minute]
            tree = ast.parse(queries[query_id]["Expression"], mode="eval")
            return _evaluate(tree, value_of)

        return value_of

    compare = {
        "GreaterThanThreshold": operator.gt,
        "GreaterThanOrEqualToThreshold": operator.ge,
        "LessThanThreshold": operator.lt,
        "LessThanOrEqualToThreshold": operator.le,
    }[props["ComparisonOperator"]]
    missing_breaches = props.get("TreatMissingData") == "breaching"
    periods = int(props.get("EvaluationPeriods", 1))
    needed = int(props.get("DatapointsToAlarm", periods))
    breaching: list[bool] = []
    for minute in range(MINUTES):
        point = value_at(minute)(result)
        breaching.append(missing_breaches if point is None else compare(point, props["Threshold"]))
        if sum(breaching[-periods:]) >= needed:
            return minute
    return None


# --- traffic -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Traffic:
    """Per-minute invocations and errors of the new and the old version during a canary."""

    new_invocations: list[int]
    new_errors: list[int]
    old_invocations: list[int]
    old_errors: list[int]


def _steady(value: int) -> list[int]:
    return [value] * MINUTES


def _at(minutes: tuple[int, ...], value: int = 1) -> list[int]:
    return [value if m in minutes else 0 for m in range(MINUTES)]


def _no_zero(values: list[int]) -> Series:
    return [float(v) if v else None for v in values]


def lambda_data(traffic: Traffic, version: str) -> Callable[[dict[str, Any]], Series]:
    """Lambda's metrics as CloudWatch serves them: a version's own series (ExecutedVersion)
    or, without that dimension, both versions together; no datapoint in an idle minute."""

    def data(metric: dict[str, Any]) -> Series:
        if metric["Namespace"] != "AWS/Lambda":
            return [None] * MINUTES
        new_only = _reads_version(metric, version)
        invocations = [
            n + (0 if new_only else o)
            for n, o in zip(traffic.new_invocations, traffic.old_invocations, strict=True)
        ]
        errors = [
            n + (0 if new_only else o)
            for n, o in zip(traffic.new_errors, traffic.old_errors, strict=True)
        ]
        values = {"Invocations": invocations, "Errors": errors}.get(metric["MetricName"])
        if values is None:
            return [None] * MINUTES
        return [float(v) if i else None for v, i in zip(values, invocations, strict=True)]

    return data


# A good version must survive these; each is a canary of 10 minutes.
MUST_NOT_ROLL_BACK = {
    "one failed invocation": Traffic(_steady(5), _at((0,)), _steady(45), _steady(0)),
    # Lambda retries a failed async event after about 1 and then 2 more minutes.
    "one poison event retried twice, no other traffic": Traffic(
        _at((0, 1, 3)), _at((0, 1, 3)), _steady(0), _steady(0)
    ),
    "the old version fails, the new one does not": Traffic(
        _steady(10), _steady(0), _steady(90), _steady(5)
    ),
    "1% of a busy new version's invocations fail": Traffic(
        _steady(1000), _steady(10), _steady(9000), _steady(90)
    ),
}
# A bad version must be rolled back while the canary bakes.
MUST_ROLL_BACK = {
    "the new version fails all of 10 invocations a minute": Traffic(
        _steady(10), _steady(10), _steady(90), _steady(0)
    ),
}


# --- the checks --------------------------------------------------------------------------


def _reads_version(metric: dict[str, Any], version: str) -> bool:
    return any(
        d["Value"] == {"Fn::GetAtt": [version, "Version"]} for d in metric.get("Dimensions", [])
    )


def _metrics_of(props: dict[str, Any]) -> list[dict[str, Any]]:
    if "Metrics" in props:
        return [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]
    return [{k: props[k] for k in ("Namespace", "MetricName", "Dimensions") if k in props}]


@dataclass(frozen=True)
class Deployed:
    """A function CodeDeploy shifts traffic for, and the alarms that roll it back."""

    function: str
    version: str
    alarms: dict[str, dict[str, Any]]


def deployed_functions(translated: dict[str, Any]) -> list[Deployed]:
    """Every function of a translated template whose alias CodeDeploy updates."""
    resources = translated["Resources"]
    found = []
    for alias in resources.values():
        policy = alias.get("UpdatePolicy", {}).get("CodeDeployLambdaAliasUpdate")
        if alias["Type"] != "AWS::Lambda::Alias" or policy is None:
            continue
        group = resources[policy["DeploymentGroupName"]["Ref"]]["Properties"]
        names = [a["Name"]["Ref"] for a in group.get("AlarmConfiguration", {}).get("Alarms", [])]
        found.append(
            Deployed(
                function=alias["Properties"]["FunctionName"]["Ref"],
                version=alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0],
                alarms={n: resources[n]["Properties"] for n in names},
            )
        )
    return found


def rollback_findings(translated: dict[str, Any]) -> list[str]:
    """What is wrong with the rollback alarms of every deployed function (class: issue 13/6)."""
    findings = []
    for deployed in deployed_functions(translated):
        if not deployed.alarms:
            findings.append(f"{deployed.function}: no alarm rolls its deployments back")
        for name, props in deployed.alarms.items():
            where = f"{deployed.function}: {name}"
            for metric in _metrics_of(props):
                if not _reads_version(metric, deployed.version):
                    findings.append(f"{where} reads {metric['MetricName']} of every version")
            for scenario, traffic in MUST_NOT_ROLL_BACK.items():
                minute = simulate(props, lambda_data(traffic, deployed.version))
                if minute is not None:
                    findings.append(f"{where} fires on {scenario} (minute {minute})")
            for scenario, traffic in MUST_ROLL_BACK.items():
                minute = simulate(props, lambda_data(traffic, deployed.version))
                if minute is None or minute >= CANARY_MINUTES:
                    findings.append(f"{where} stays quiet when {scenario}")
    return findings


# --- rejections by design ----------------------------------------------------------------

_DRIVER = """
import contextlib, importlib.util, io, json, os, sys
from moto import mock_aws

calls = json.loads(sys.stdin.read())
results = []


class Context:
    function_name = "demo-stack-function"
    function_version = "{version}"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:demo-stack-function:live"
    memory_limit_in_mb = 256
    aws_request_id = "0f5c3b8e-6a1d-4e2f-9b7c-2d8e4f6a1c3b"
    log_group_name = "/aws/lambda/demo-stack/function"
    log_stream_name = "2026/11/26/[7]0123456789abcdef"

    def get_remaining_time_in_millis(self):
        return 30_000


with mock_aws():
    import boto3

    for call in calls:
        for key, value in call["env"].items():
            if isinstance(value, dict) and "queue" in value:
                value = boto3.client("sqs").create_queue(QueueName=value["queue"])["QueueUrl"]
            elif isinstance(value, dict) and "topic" in value:
                value = boto3.client("sns").create_topic(Name=value["topic"])["TopicArn"]
            os.environ[key] = value
        folder = os.path.join("functions", call["function"])
        # The function's folder is its import root, as /var/task is on Lambda.
        sys.path.insert(0, folder)
        for name in os.listdir(folder):  # its own app and idempotency, not another function's
            if name.endswith(".py"):
                sys.modules.pop(name.removesuffix(".py"), None)
        path = os.path.join(folder, "handler.py")
        spec = importlib.util.spec_from_file_location("handler_" + str(len(results)), path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        event = json.load(open(os.path.join("events", call["event"] + ".json")))
        out = io.StringIO()
        raised = None
        with contextlib.redirect_stdout(out):
            try:
                module.lambda_handler(event, Context())
            except Exception as error:
                raised = type(error).__name__
        results.append({{"raised": raised, "stdout": out.getvalue()}})
json.dump(results, open(sys.argv[1], "w"))
"""


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


class Resolver:
    """Plain values for the intrinsics in function environments and alarm dimensions."""

    def __init__(self, translated: dict[str, Any], parameters: dict[str, str]) -> None:
        self.resources = translated["Resources"]
        self.parameters = {
            name: str(parameters.get(name, spec.get("Default", "")))
            for name, spec in translated.get("Parameters", {}).items()
        }

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return value
        if "Ref" in value:
            name = value["Ref"]
            pseudo = {"AWS::StackName": STACK, "AWS::Region": "us-east-1"}
            if name in pseudo:
                return pseudo[name]
            if name in self.parameters:
                return self.parameters[name]
            kind = self.resources.get(name, {}).get("Type")
            if kind == "AWS::SQS::Queue":
                return {"queue": name}
            if kind == "AWS::SNS::Topic":
                return {"topic": name}
            return f"{name}-id"
        if "Fn::GetAtt" in value:
            resource, attribute = value["Fn::GetAtt"]
            return NEW_VERSION if attribute == "Version" else f"{resource}-{attribute}"
        if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
            return re.sub(
                r"\$\{([^}!]+)\}", lambda m: str(self({"Ref": m.group(1)})), value["Fn::Sub"]
            )
        return json.dumps(value)


def _emf(stdout: str) -> dict[tuple[str, str, frozenset[tuple[str, str]]], float]:
    """Metric values printed in the embedded metric format, by (namespace, name, dimensions)."""
    found: dict[tuple[str, str, frozenset[tuple[str, str]]], float] = {}
    for line in stdout.splitlines():
        if not line.startswith("{") or "_aws" not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimensions in directive["Dimensions"]:
                dims = frozenset((d, str(document[d])) for d in dimensions)
                for metric in directive["Metrics"]:
                    value = document[metric["Name"]]
                    total = sum(value) if isinstance(value, list) else value
                    key = (directive["Namespace"], metric["Name"], dims)
                    found[key] = found.get(key, 0.0) + float(total)
    return found


@dataclass(frozen=True)
class Rejection:
    """One handler run on a sample event it rejects by design."""

    function: str
    event: str
    raised: str | None
    metrics: dict[tuple[str, str, frozenset[tuple[str, str]]], float]
    # The exceptions the function's kind raises by design (catalog: errors_by_design).
    by_design: tuple[str, ...] = ()


def invalid_events(project: Path) -> dict[str, list[str]]:
    """The ``-invalid`` sample events of each function, by function name."""
    names = [p.name for p in (project / "functions").iterdir() if (p / "handler.py").exists()]
    found: dict[str, list[str]] = {}
    for path in sorted((project / "events").glob("*-invalid.json")):
        owner = max((n for n in names if path.stem.startswith(f"{n}-")), key=len)
        found.setdefault(owner, []).append(path.stem)
    return found


def run_rejections(project: Path, translated: dict[str, Any]) -> list[Rejection]:
    """Run each function's handler on its ``-invalid`` sample events, inside moto."""
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    kinds = {t["name"]: t["kind"] for t in answers["triggers"]}
    catalog = load_catalog()
    calls = []
    for function, events in invalid_events(project).items():
        kind = catalog.trigger(kinds[function]) if function in kinds else None
        prefix = _pascal(function)
        overrides = {prefix + k: v for k, v in (kind.invalid_event_parameters if kind else ())}
        resolve = Resolver(translated, overrides)
        props = translated["Resources"][f"{prefix}Function"]["Properties"]
        env = {k: resolve(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}
        by_design = kind.errors_by_design if kind else ()
        calls += [
            {"function": function, "event": event, "env": env, "by_design": by_design}
            for event in events
        ]
    output = project / ".rejections.json"
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    fake = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    run = subprocess.run(
        [sys.executable, "-c", _DRIVER.format(version=NEW_VERSION), str(output)],
        input=json.dumps(calls),
        cwd=project,
        env={**base, **fake, "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    results = json.loads(output.read_text())
    return [
        Rejection(c["function"], c["event"], r["raised"], _emf(r["stdout"]), c["by_design"])
        for c, r in zip(calls, results, strict=True)
    ]


def rejection_data(
    rejection: Rejection, version: str, resolve: Resolver, volume: int = 100
) -> Callable[[dict[str, Any]], Series]:
    """Metrics of a new version whose every invocation, ``volume`` a minute, is this rejection."""
    errors = volume if rejection.raised else 0
    lambda_series = lambda_data(
        Traffic(_steady(volume), _steady(errors), _steady(0), _steady(0)), version
    )

    def data(metric: dict[str, Any]) -> Series:
        if metric["Namespace"] == "AWS/Lambda":
            return lambda_series(metric)
        dims = frozenset((d["Name"], str(resolve(d["Value"]))) for d in metric["Dimensions"])
        key = (str(resolve(metric["Namespace"])), metric["MetricName"], dims)
        return _no_zero([int(volume * rejection.metrics.get(key, 0.0))] * MINUTES)

    return data


def rejection_findings(translated: dict[str, Any], rejections: list[Rejection]) -> list[str]:
    """Rejections by design that the rollback alarm of their function counts as failures."""
    deployed = {d.function: d for d in deployed_functions(translated)}
    resolve = Resolver(translated, {})
    findings = []
    for rejection in rejections:
        target = deployed.get(f"{_pascal(rejection.function)}Function")
        if target is None:
            continue
        if rejection.raised and rejection.raised not in rejection.by_design:
            findings.append(
                f"{rejection.function} raises {rejection.raised} on events/{rejection.event}.json,"
                " which its kind does not declare in errors_by_design"
            )
        data = rejection_data(rejection, target.version, resolve)
        for name, props in target.alarms.items():
            if simulate(props, data) is not None:
                how = f"raises {rejection.raised}" if rejection.raised else "returns"
                findings.append(
                    f"{rejection.function} {how} on events/{rejection.event}.json and "
                    f"{name} counts it as a failure"
                )
    return findings


# --- the matrix --------------------------------------------------------------------------

PROJECTS = [(kind, ["--trigger", kind]) for kind in available_kinds()] + whole_projects()


@dataclass(frozen=True)
class Rendered:
    project: Path
    translated: dict[str, Any]


def render(dest: Path, args: list[str], home: Path) -> Path:
    """``new`` with this session's template home: module-scoped fixtures run before the
    autouse fixture that isolates it."""
    from trigger_scaffold._cli import main

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRIGGER_SCAFFOLD_HOME", str(home))
        assert main(["new", str(dest), "--no-input", "-q", *args]) == 0
    return dest


@pytest.fixture(scope="module", params=[args for _, args in PROJECTS], ids=[i for i, _ in PROJECTS])
def rendered(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, scaffold_home: Path
) -> Rendered:
    dest = render(tmp_path_factory.mktemp("rollback") / "svc", request.param, scaffold_home)
    return Rendered(dest, sam_translate(load_template(dest / "template.yaml")))


def test_rollback_alarms_judge_only_the_new_version_and_never_one_error(rendered: Rendered) -> None:
    deployed = deployed_functions(rendered.translated)
    catalog = load_catalog()
    answers = yaml.safe_load((rendered.project / ".copier-answers.yml").read_text())
    edge = [t for t in answers["triggers"] if not catalog.trigger(t["kind"]).safe_deployments]
    functions = list((rendered.project / "functions").iterdir())
    assert len(deployed) == len(functions) - len(edge)
    assert rollback_findings(rendered.translated) == []


def test_rejections_by_design_never_count_against_a_deployment(rendered: Rendered) -> None:
    rejections = run_rejections(rendered.project, rendered.translated)
    assert len(rejections) == sum(len(v) for v in invalid_events(rendered.project).values())
    assert rejection_findings(rendered.translated, rejections) == []


# --- the checks fail on the defects they guard against -----------------------------------

OLD_ALARM = {
    "Namespace": "AWS/Lambda",
    "MetricName": "Errors",
    "Dimensions": [
        {"Name": "FunctionName", "Value": {"Ref": "OrdersFunction"}},
        {"Name": "Resource", "Value": {"Fn::Sub": "${OrdersFunction}:live"}},
    ],
    "Statistic": "Sum",
    "Period": 60,
    "EvaluationPeriods": 1,
    "Threshold": 0,
    "ComparisonOperator": "GreaterThanThreshold",
    "TreatMissingData": "notBreaching",
}


@pytest.fixture(scope="module")
def rejecting(tmp_path_factory: pytest.TempPathFactory, scaffold_home: Path) -> Path:
    args = ["--trigger", "sqs:orders", "--trigger", "cognito", "--trigger", "iot"]
    dest = tmp_path_factory.mktemp("rejecting") / "svc"
    return render(dest, ["--trigger", "alexa", *args], scaffold_home)


def _translated(project: Path) -> dict[str, Any]:
    return sam_translate(load_template(project / "template.yaml"))


def test_rollback_check_fails_on_an_alias_alarm_that_fires_on_one_error(rejecting: Path) -> None:
    translated = _translated(rejecting)
    assert rollback_findings(translated) == []
    translated["Resources"]["OrdersFunctionRollbackAlarm"]["Properties"] = OLD_ALARM

    findings = rollback_findings(translated)

    assert "OrdersFunction: OrdersFunctionRollbackAlarm reads Errors of every version" in findings
    assert any("fires on one failed invocation" in f for f in findings)
    assert any("fires on the old version fails" in f for f in findings)
    assert all(f.startswith("OrdersFunction:") for f in findings)


def test_rollback_check_fails_on_a_new_version_alarm_with_no_floor(rejecting: Path) -> None:
    translated = _translated(rejecting)
    props = translated["Resources"]["OrdersFunctionRollbackAlarm"]["Properties"]
    [rate] = [m for m in props["Metrics"] if m.get("ReturnData")]
    rate["Expression"] = "failed / invocations"
    props["DatapointsToAlarm"] = 1

    findings = rollback_findings(translated)

    assert any("fires on one poison event retried twice" in f for f in findings)
    assert not any("every version" in f for f in findings)


def test_rollback_check_fails_on_an_alarm_that_never_fires(rejecting: Path) -> None:
    translated = _translated(rejecting)
    props = translated["Resources"]["OrdersFunctionRollbackAlarm"]["Properties"]
    props["DatapointsToAlarm"] = props["EvaluationPeriods"] = 6

    assert rollback_findings(translated) == [
        "OrdersFunction: OrdersFunctionRollbackAlarm stays quiet when "
        "the new version fails all of 10 invocations a minute"
    ]


# How each handler rejected input before rejections were kept out of the rollback signal.
OLD_HANDLERS = {
    "iot": ("        park_invalid(event, context, str(error))\n", "        raise\n"),
    "alexa": (
        '        return envelope(None, {})\n    request = event["request"]',
        '        raise\n    request = event["request"]',
    ),
    "cognito": ("        count_error_by_design(context)\n", ""),
}


@pytest.mark.parametrize("kind", sorted(OLD_HANDLERS))
def test_rejection_check_fails_on_the_old_handler(rejecting: Path, kind: str) -> None:
    translated = _translated(rejecting)
    handler = rejecting / "functions" / kind / "handler.py"
    current = handler.read_text()
    new, old = OLD_HANDLERS[kind]
    assert new in current
    try:
        assert rejection_findings(translated, run_rejections(rejecting, translated)) == []
        handler.write_text(current.replace(new, old, 1))
        findings = rejection_findings(translated, run_rejections(rejecting, translated))
    finally:
        handler.write_text(current)

    assert findings
    assert all(finding.startswith(f"{kind} ") for finding in findings)
    assert any("counts it as a failure" in finding for finding in findings)
