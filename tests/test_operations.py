"""Day-two operations: every rendered template has the alarms, deployments and limits it needs.

What must be alarmed is derived from the template's own resources (functions, the queues that
failures are routed to, stream event sources, APIs), never listed per kind.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import available_kinds, whole_projects
from gates import load_template
from test_rollback import render

from trigger_scaffold import load_catalog

pytestmark = pytest.mark.matrix
KINDS = available_kinds()
FAILURE_PATH_WORDS = ("deadletter", "onfailure", "erroraction", "redrive")


def _walk(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*path, str(key)))
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, path)


def _target(value: Any) -> str | None:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"]).split(".")[0]
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return None


def _alarms(resources: dict[str, Any]) -> list[dict[str, Any]]:
    return [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]


def _has_alarm(alarms: list[dict[str, Any]], metric: str, target: str) -> bool:
    for alarm in alarms:
        # Metric math alarms (the rollback alarms) are judged in test_rollback.py.
        if alarm.get("MetricName") != metric:
            continue
        for dimension in alarm["Dimensions"]:
            value = dimension["Value"]
            if _target(value) == target:
                return True
            if isinstance(value, dict) and target in str(value.get("Fn::Sub", "")):
                return True
    return False


def failure_queues(resources: dict[str, Any]) -> set[str]:
    """Queues that some resource routes failed events or messages to."""
    queues = {n for n, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    found = set()
    for resource in resources.values():
        for path, value in _walk(resource.get("Properties", {})):
            target = _target(value)
            words = "".join(path).lower()
            if target in queues and any(w in words for w in FAILURE_PATH_WORDS):
                found.add(target)
    return found


WHOLE = whole_projects()


@pytest.fixture(scope="module", params=[args for _, args in WHOLE], ids=[i for i, _ in WHOLE])
def all_kinds(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, scaffold_home: Path
) -> Path:
    """Every kind together, and each pattern with all of its entry kinds."""
    return render(tmp_path_factory.mktemp("ops") / "svc", request.param, scaffold_home)


def edge_functions(resources: dict[str, Any]) -> dict[str, str]:
    """Lambda@Edge functions, each with the distribution that runs it."""
    found = {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::CloudFront::Distribution":
            continue
        for path, value in _walk(resource["Properties"]):
            if path[-1:] == ("LambdaFunctionARN",) and _target(value):
                found[str(_target(value))] = name
    return found


def _metric_dimensions(alarm: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(namespace, metric, dimensions) of every metric an alarm reads, metric math included."""
    if "Metrics" not in alarm:
        return [(alarm["Namespace"], alarm["MetricName"], alarm["Dimensions"])]
    stats = [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
    return [(m["Namespace"], m["MetricName"], m["Dimensions"]) for m in stats]


def edge_alarm_findings(resources: dict[str, Any]) -> list[str]:
    """Lambda@Edge functions alarmed on their own (one-region) metrics, or not on their
    distribution's global ones."""
    findings = []
    alarms = _alarms(resources)
    for function, distribution in edge_functions(resources).items():
        global_errors = False
        for alarm in alarms:
            for namespace, metric, dimensions in _metric_dimensions(alarm):
                targets = {_target(d["Value"]) for d in dimensions}
                if namespace == "AWS/Lambda" and function in targets:
                    findings.append(f"{function}: {metric} alarm sees one region only")
                values = {d["Name"]: d["Value"] for d in dimensions}
                if (
                    (namespace, metric) == ("AWS/CloudFront", "5xxErrorRate")
                    and values.get("Region") == "Global"
                    and _target(values.get("DistributionId")) == distribution
                ):
                    global_errors = True
        if not global_errors:
            findings.append(f"{function}: no 5xxErrorRate alarm on {distribution} (Region Global)")
    return findings


def test_every_function_has_error_and_throttle_alarms(all_kinds: Path) -> None:
    resources = load_template(all_kinds / "template.yaml")["Resources"]
    alarms = _alarms(resources)
    functions = [n for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"]
    answers = yaml.safe_load((all_kinds / ".copier-answers.yml").read_text())
    pattern = load_catalog().pattern(answers["pattern"])
    assert len(functions) == len(answers["triggers"]) + len(pattern.functions)
    edge = edge_functions(resources)
    for function in functions:
        if function in edge:
            continue
        assert _has_alarm(alarms, "Errors", function), function
        assert _has_alarm(alarms, "Throttles", function), function
    assert edge_alarm_findings(resources) == []


def test_edge_alarm_check_fails_on_regional_function_alarms(new_project: Any) -> None:
    resources = load_template(new_project("--trigger", "cloudfront:site") / "template.yaml")[
        "Resources"
    ]
    assert list(edge_functions(resources)) == ["SiteFunction"]
    old = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": "SiteFunction"}}],
        },
    }
    without_global = {
        n: r for n, r in resources.items() if n != "SiteDistributionServerErrorsAlarm"
    }

    assert edge_alarm_findings({**resources, "SiteFunctionErrorsAlarm": old}) == [
        "SiteFunction: Errors alarm sees one region only"
    ]
    assert edge_alarm_findings(without_global) == [
        "SiteFunction: no 5xxErrorRate alarm on SiteDistribution (Region Global)"
    ]


def test_every_failure_queue_has_a_depth_alarm(all_kinds: Path) -> None:
    resources = load_template(all_kinds / "template.yaml")["Resources"]
    queues = failure_queues(resources)
    if yaml.safe_load((all_kinds / ".copier-answers.yml").read_text())["pattern"] == "none":
        assert len(queues) >= len(KINDS) // 2
    alarms = _alarms(resources)
    missing = [q for q in queues if not _has_alarm(alarms, "ApproximateNumberOfMessagesVisible", q)]
    assert not missing, f"no depth alarm on {missing}"


def test_stream_sources_and_apis_are_alarmed(all_kinds: Path) -> None:
    resources = load_template(all_kinds / "template.yaml")["Resources"]
    alarms = _alarms(resources)
    for name, resource in resources.items():
        events = resource.get("Properties", {}).get("Events", {})
        if any(e["Type"] in {"Kinesis", "DynamoDB"} for e in events.values()):
            assert _has_alarm(alarms, "IteratorAge", name), name
        if resource["Type"] == "AWS::Serverless::HttpApi":
            assert _has_alarm(alarms, "5xx", name), name
            assert _has_alarm(alarms, "Latency", name), name
        if resource["Type"] == "AWS::Serverless::Api":
            api_name = resource["Properties"]["Name"]["Fn::Sub"]
            assert any(a.get("MetricName") == "5XXError" and api_name in str(a) for a in alarms)
            assert any(
                a.get("MetricName") == "Latency"
                and a.get("ExtendedStatistic") == "p99"
                and api_name in str(a)
                for a in alarms
            )


def test_deployments_shift_traffic_and_roll_back_on_errors(all_kinds: Path) -> None:
    template = load_template(all_kinds / "template.yaml")
    resources = template["Resources"]
    assert template["Globals"]["Function"]["AutoPublishAlias"] == "live"
    catalog = load_catalog()
    answers = yaml.safe_load((all_kinds / ".copier-answers.yml").read_text())
    for trigger in answers["triggers"]:
        pascal = "".join(part.capitalize() for part in trigger["name"].split("-"))
        props = resources[f"{pascal}Function"]["Properties"]
        if not catalog.trigger(trigger["kind"]).safe_deployments:
            assert "DeploymentPreference" not in props
            continue
        preference = props["DeploymentPreference"]
        assert preference["Type"] == {"Ref": "DeploymentStrategy"}
        # The new version's own failure rate (tests/test_rollback.py judges it), not the
        # alias-wide errors alarm, which also counts the old version's errors.
        assert preference["Alarms"] == [{"Ref": f"{pascal}FunctionRollbackAlarm"}]
        assert "Fn::If" in props["ReservedConcurrentExecutions"]


FIREHOSE_METRICS = (
    "DeliveryToS3.DataFreshness",
    "ExecuteProcessing.Success",
    "DeliveryToS3.Success",
)


def test_delivery_streams_are_alarmed(all_kinds: Path) -> None:
    """Late data, failed transformations and failed S3 writes of every Firehose stream."""
    resources = load_template(all_kinds / "template.yaml")["Resources"]
    alarms = _alarms(resources)
    streams = [
        n for n, r in resources.items() if r["Type"] == "AWS::KinesisFirehose::DeliveryStream"
    ]
    for stream in streams:
        for metric in FIREHOSE_METRICS:
            assert _has_alarm(alarms, metric, stream), (stream, metric)


def _assumed_by(role: dict[str, Any], service: str) -> bool:
    statements = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    return any(service in str(s.get("Principal", {})) for s in statements)


def test_failed_batch_jobs_notify(all_kinds: Path) -> None:
    """Where jobs run with a role of the stack, a failed job reaches an alarmed queue."""
    resources = load_template(all_kinds / "template.yaml")["Resources"]
    alarms = _alarms(resources)
    roles = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Role" and _assumed_by(r, "batchoperations.s3.amazonaws.com")
    ]
    rules = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule"
        and r["Properties"].get("EventPattern", {}).get("detail", {}).get("eventName")
        == ["JobStatusChanged"]
    ]
    if yaml.safe_load((all_kinds / ".copier-answers.yml").read_text())["pattern"] == "none":
        assert roles
    assert len(rules) == len(roles)
    for rule in rules:
        assert rule["EventPattern"]["source"] == ["aws.s3"]
        assert rule["EventPattern"]["detail"]["serviceEventDetails"]["status"] == ["Failed"]
        [target] = rule["Targets"]
        queue = _target(target["Arn"])
        assert _has_alarm(alarms, "ApproximateNumberOfMessagesVisible", str(queue)), queue
