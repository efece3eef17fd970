"""What the generated handlers promise AWS, checked by running them in-process (matrix tier).

- Stream order: every function that an event source mapping feeds from a Kinesis or DynamoDB
  stream stops at the first failed record and reports it and every later record, because
  Lambda restarts the shard at the lowest reported sequence number: no later record may take
  effect before the failed one.
- FIFO group order: every function that an event source mapping feeds from an SQS FIFO
  queue stops a message group at its first failed message and reports it and every later
  message of that group, unprocessed, while the other groups are processed: SQS redelivers
  the reported messages in order, so no later message of a group takes effect first.
- Optional fields: every kind's handler runs on its sample events with the fields AWS may
  leave out (the catalog's ``optional_fields``) removed, without a KeyError, TypeError or
  AttributeError (raised, logged, or turned into a batch item failure).
- Metric dimensions: every EMF document a handler prints has one dimension set, with
  ``function`` (the function's name) and ``service``, as the READMEs say.

Each check runs over every kind alone, every pattern with each entry kind, and the project
with every kind, and is shown to fail on a mutated copy of a handler.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import itertools
import json
import os
import re
import shutil
import socket
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import pytest
import yaml
from aws_lambda_powertools import Metrics
from conftest import available_kinds, whole_projects
from gates import load_template, sam_translate
from moto import mock_aws

from trigger_scaffold import load_catalog
from trigger_scaffold._cli import main

pytestmark = pytest.mark.matrix
CATALOG = load_catalog()
KINDS = available_kinds()
# Each import gets a service (and so a Powertools logger) of its own, writing to the stdout
# of its time: Powertools configures a logger once per service name and process.
_IMPORTS = itertools.count()


def _specs() -> list[tuple[str, list[str]]]:
    """Every kind alone, every pattern with each entry kind, and every kind together."""
    specs = [(kind, ["--trigger", kind]) for kind in KINDS]
    for pattern in CATALOG.patterns:
        if pattern.id == "none" or not pattern.available:
            continue
        specs += [
            (f"{pattern.id}-{kind}", ["--pattern", pattern.id, "--trigger", kind])
            for kind in KINDS
            if pattern.accepts(kind)
        ]
    return specs + [spec for spec in whole_projects() if spec[0] == "every-kind"]


SPECS = _specs()


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, list[str]], Path]:
    """Render a project once per module run (``new --no-input``), keyed by its spec id."""
    base = tmp_path_factory.mktemp("contracts")
    rendered: dict[str, Path] = {}

    def make(spec_id: str, args: list[str]) -> Path:
        if spec_id not in rendered:
            dest = base / spec_id
            code = main(["new", str(dest), "--no-input", "--quiet", *args])
            assert code == 0, f"new {' '.join(args)} exited {code}"
            rendered[spec_id] = dest
        return rendered[spec_id]

    return make


@dataclass
class _Context:
    """The Lambda context attributes that handlers and Powertools read."""

    function_name: str = "contract-check"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:contract-check"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    log_group_name: str = "/aws/lambda/contract-check"
    log_stream_name: str = "2026/01/01/[$LATEST]0"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@dataclass(frozen=True)
class Function:
    """One generated function: its code directory and the translated template around it."""

    project: Path
    logical_id: str
    directory: Path
    module_file: str
    handler_name: str
    variables: dict[str, Any]
    resources: dict[str, Any]
    parameters: dict[str, Any]

    @property
    def name(self) -> str:
        return self.directory.name

    def kind(self) -> str | None:
        """The catalog kind of the trigger this function serves, if it serves one."""
        answers = yaml.safe_load((self.project / ".copier-answers.yml").read_text())
        kinds = {t["name"]: t["kind"] for t in answers["triggers"]}
        return kinds.get(self.name)

    def sample_events(self) -> dict[str, dict[str, Any]]:
        """The function's sample events (``events/<name>-<stem>.json``), by stem."""
        return {
            path.stem.removeprefix(f"{self.name}-"): json.loads(path.read_text())
            for path in sorted((self.project / "events").glob(f"{self.name}-*.json"))
        }


def _functions(project: Path) -> tuple[dict[str, Function], dict[str, Any]]:
    """The project's functions by logical id, and the translated template's resources."""
    source = load_template(project / "template.yaml")
    translated = sam_translate(source)
    resources: dict[str, Any] = translated["Resources"]
    global_vars = source.get("Globals", {}).get("Function", {}).get("Environment", {})
    functions = {}
    for logical_id, resource in source["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] != "AWS::Serverless::Function" or "CodeUri" not in props:
            continue
        module, handler = props["Handler"].rsplit(".", 1)
        variables = {
            **global_vars.get("Variables", {}),
            **props.get("Environment", {}).get("Variables", {}),
        }
        functions[logical_id] = Function(
            project=project,
            logical_id=logical_id,
            directory=project / props["CodeUri"],
            module_file=f"{module.replace('.', '/')}.py",
            handler_name=handler,
            variables=variables,
            resources=resources,
            parameters=source.get("Parameters", {}),
        )
    return functions, resources


def _target(resources: dict[str, Any], reference: Any) -> str | None:
    """The logical id of the function that a FunctionName reference names (through aliases)."""
    if not isinstance(reference, dict) or "Ref" not in reference:
        return None
    logical_id: str = reference["Ref"]
    resource = resources.get(logical_id, {})
    if resource.get("Type") == "AWS::Lambda::Alias":
        return _target(resources, resource["Properties"]["FunctionName"])
    return logical_id


def _stream_source(resources: dict[str, Any], mapping: dict[str, Any]) -> str | None:
    """``kinesis`` or ``dynamodb`` for a mapping that reads one of those streams, else None."""
    arn = mapping.get("EventSourceArn")
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        logical_id, attribute = arn["Fn::GetAtt"]
        kind = resources.get(logical_id, {}).get("Type")
        if kind == "AWS::Kinesis::Stream" or kind == "AWS::Kinesis::StreamConsumer":
            return "kinesis"
        if kind == "AWS::DynamoDB::Table" and attribute == "StreamArn":
            return "dynamodb"
    if "StartingPosition" in mapping and "Topics" not in mapping:
        # A stream this check cannot tell apart: fail rather than pass it by.
        raise AssertionError(f"event source mapping on an unknown stream: {arn}")
    return None


def stream_consumers(project: Path) -> list[tuple[Function, str]]:
    """Every function an event source mapping feeds from a Kinesis or DynamoDB stream."""
    functions, resources = _functions(project)
    found = []
    for resource in resources.values():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        props = resource["Properties"]
        source = _stream_source(resources, props)
        if source is None:
            continue
        target = _target(resources, props["FunctionName"])
        assert target in functions, f"stream mapping to {target}, not a function with code"
        found.append((functions[target], source))
    return found


def _forget_modules_of(directory: Path) -> None:
    """Drop the modules a function folder holds (``app``, ``idempotency``...) from the cache."""
    for source in directory.glob("*.py"):
        sys.modules.pop(source.stem, None)


@contextlib.contextmanager
def loaded(function: Function) -> Iterator[ModuleType]:
    """The function's handler module, imported fresh as Lambda would, with moto for AWS.

    Environment variables come from the template: literals as they are, a parameter as its
    default, a topic or queue reference as a moto topic or queue, anything else a
    placeholder. No network.
    """
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": f"contracts-{next(_IMPORTS)}",
        "POWERTOOLS_METRICS_NAMESPACE": "contracts",
    }
    module_name = f"_contract_{function.name.replace('-', '_')}"
    with (
        mock.patch.dict(os.environ, env),
        mock_aws(),
        mock.patch.object(socket.socket, "connect", side_effect=OSError("no network here")),
    ):
        import boto3

        for name, value in function.variables.items():
            if name.startswith("POWERTOOLS_"):
                continue
            if isinstance(value, str):
                os.environ[name] = value
                continue
            ref = value.get("Ref") if isinstance(value, dict) else None
            kind = function.resources.get(ref, {}).get("Type")
            if "Default" in function.parameters.get(ref, {}):
                os.environ[name] = str(function.parameters[ref]["Default"])
            elif kind == "AWS::SNS::Topic":
                os.environ[name] = boto3.client("sns").create_topic(Name=ref)["TopicArn"]
            elif kind == "AWS::SQS::Queue":
                os.environ[name] = boto3.client("sqs").create_queue(QueueName=ref)["QueueUrl"]
            elif kind == "AWS::DynamoDB::Table":  # the idempotency store, as declared
                props = function.resources[ref]["Properties"]
                boto3.client("dynamodb").create_table(
                    TableName=ref,
                    KeySchema=props["KeySchema"],
                    AttributeDefinitions=props["AttributeDefinitions"],
                    BillingMode="PAY_PER_REQUEST",
                )
                os.environ[name] = ref
            else:
                os.environ[name] = f"placeholder-{name.lower()}"
        spec = importlib.util.spec_from_file_location(
            module_name, function.directory / function.module_file
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        Metrics().clear_default_dimensions()
        Metrics().clear_metrics()
        sys.modules[module_name] = module
        # The function's folder is its import root, as /var/task is on Lambda: the handler
        # imports its own `app` and `idempotency`, not those another function loaded before.
        sys.path.insert(0, str(function.directory))
        _forget_modules_of(function.directory)
        try:
            spec.loader.exec_module(module)
            yield module
        finally:
            sys.path.remove(str(function.directory))
            _forget_modules_of(function.directory)
            sys.modules.pop(module_name, None)
            Metrics().clear_default_dimensions()
            Metrics().clear_metrics()


# --- Stream order -------------------------------------------------------------------------

_SEQUENCE = {
    "kinesis": lambda r: r["kinesis"]["sequenceNumber"],
    "dynamodb": lambda r: r["dynamodb"]["SequenceNumber"],
}


def _reported(response: Any) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def stream_order_violations(function: Function, source: str) -> list[str]:
    """How ``function`` breaks stream order on its sample batch; empty when it keeps it."""
    kind = function.kind()
    logic = CATALOG.trigger(kind).business_logic if kind else None
    if logic is None:
        return [f"{function.name}: no business_logic in the catalog for kind {kind!r}"]
    batches = [
        e
        for e in function.sample_events().values()
        if any(r.get("eventSource") == f"aws:{source}" for r in e.get("Records", []))
    ]
    if not batches:
        return [f"{function.name}: no sample {source} batch in events/"]
    sequence = _SEQUENCE[source]
    problems = []
    with loaded(function) as module:
        handler = getattr(module, function.handler_name)
        calls: list[int] = []

        def record(*_: Any, **__: Any) -> None:
            calls.append(1)

        def fail_first(*_: Any, **__: Any) -> None:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("first record fails")

        for batch in batches:
            module.__dict__[logic] = record
            # The records the handler accepts: the sample may carry poisoned ones. Drop the
            # first reported record until none is.
            records = list(batch["Records"])
            for _ in batch["Records"]:
                reported = _reported(handler({**batch, "Records": records}, _Context()))
                records = [r for r in records if not reported or sequence(r) != reported[0]]
            if len(records) < 2:
                problems.append(f"{function.name}: sample batch has < 2 good records")
                continue
            event = {**batch, "Records": records}
            calls.clear()
            clean = _reported(handler(event, _Context()))
            if clean or len(calls) != len(records):
                problems.append(
                    f"{function.name}: clean batch reported {clean} and called {logic} "
                    f"{len(calls)} times for {len(records)} records"
                )
                continue
            calls.clear()
            module.__dict__[logic] = fail_first
            try:
                response = handler(event, _Context())
            except Exception as error:  # noqa: BLE001 - any raise is the finding
                problems.append(f"{function.name}: raised {error!r} instead of reporting")
                continue
            if len(calls) != 1:
                problems.append(
                    f"{function.name}: {len(calls) - 1} later record(s) processed after the "
                    "first failed"
                )
            if _reported(response) != [sequence(r) for r in records]:
                problems.append(
                    f"{function.name}: reported {_reported(response)}, not the failed record "
                    "and every later one"
                )
    return problems


@pytest.mark.parametrize("kind", [k for k in ("kinesis", "dynamodb") if k in KINDS])
def test_stream_order_check_fails_on_a_handler_that_processes_past_a_failure(
    render: Callable[[str, list[str]], Path], tmp_path: Path, kind: str
) -> None:
    project = tmp_path / kind
    shutil.copytree(render(kind, ["--trigger", kind]), project)
    [(function, source)] = stream_consumers(project)
    assert stream_order_violations(function, source) == []
    app = function.directory / function.module_file
    # Powertools' BatchProcessor as before: every record is processed, failed or not.
    text = app.read_text()
    assert "        if self.fail_messages:\n" in text
    app.write_text(text.replace("        if self.fail_messages:\n", "        if False:\n"))

    problems = stream_order_violations(function, source)

    assert any("later record(s) processed" in p for p in problems), problems
    assert any("not the failed record and every later one" in p for p in problems), problems


# --- FIFO group order ---------------------------------------------------------------------


def fifo_consumers(project: Path) -> list[Function]:
    """Every function an event source mapping feeds from an SQS FIFO queue."""
    functions, resources = _functions(project)
    found = []
    for resource in resources.values():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        props = resource["Properties"]
        arn = props.get("EventSourceArn")
        if not (isinstance(arn, dict) and "Fn::GetAtt" in arn):
            continue
        queue = resources.get(arn["Fn::GetAtt"][0], {})
        if queue.get("Type") != "AWS::SQS::Queue":
            continue
        if str(queue["Properties"].get("FifoQueue")).lower() != "true":
            continue
        target = _target(resources, props["FunctionName"])
        assert target in functions, f"FIFO queue mapping to {target}, not a function with code"
        found.append(functions[target])
    return found


def _group(record: dict[str, Any]) -> str:
    return str(record["attributes"]["MessageGroupId"])


def fifo_order_violations(function: Function) -> list[str]:
    """How ``function`` breaks per-group order on its sample batch; empty when it keeps it."""
    kind = function.kind()
    logic = CATALOG.trigger(kind).business_logic if kind else None
    if logic is None:
        return [f"{function.name}: no business_logic in the catalog for kind {kind!r}"]
    batches = [
        e
        for e in function.sample_events().values()
        if any("MessageGroupId" in r.get("attributes", {}) for r in e.get("Records", []))
    ]
    if not batches:
        return [f"{function.name}: no sample FIFO batch in events/"]
    problems = []
    with loaded(function) as module:
        handler = getattr(module, function.handler_name)
        calls: list[int] = []

        def record(*_: Any, **__: Any) -> None:
            calls.append(1)

        def fail_first(*_: Any, **__: Any) -> None:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("first message fails")

        for batch in batches:
            module.__dict__[logic] = record
            # The messages the handler accepts: drop the first reported one until none is.
            records = list(batch["Records"])
            for _ in batch["Records"]:
                reported = _reported(handler({**batch, "Records": records}, _Context()))
                records = [r for r in records if not reported or r["messageId"] != reported[0]]
            first = [r for r in records if _group(r) == _group(records[0])] if records else []
            others = [r for r in records if r not in first]
            if len(first) < 2 or not others:
                problems.append(
                    f"{function.name}: sample batch needs a group of >= 2 good messages and "
                    "another group"
                )
                continue
            event = {**batch, "Records": records}
            calls.clear()
            clean = _reported(handler(event, _Context()))
            if clean or len(calls) != len(records):
                problems.append(
                    f"{function.name}: clean batch reported {clean} and called {logic} "
                    f"{len(calls)} times for {len(records)} messages"
                )
                continue
            calls.clear()
            module.__dict__[logic] = fail_first
            try:
                response = handler(event, _Context())
            except Exception as error:  # noqa: BLE001 - any raise is the finding
                problems.append(f"{function.name}: raised {error!r} instead of reporting")
                continue
            if len(calls) > 1 + len(others):
                problems.append(f"{function.name}: later message(s) of the failed group processed")
            if len(calls) < 1 + len(others):
                problems.append(f"{function.name}: other groups not processed")
            if _reported(response) != [r["messageId"] for r in first]:
                problems.append(
                    f"{function.name}: reported {_reported(response)}, not the failed message "
                    "and every later one of its group, alone"
                )
    return problems


@pytest.mark.skipif("sqs-fifo" not in KINDS, reason="narrowed with TS_KINDS")
@pytest.mark.parametrize(
    ("generated", "defective", "finding"),
    [
        # Powertools' plain BatchProcessor: every message is processed, failed group or not.
        (
            "processor = SqsFifoPartialProcessor(skip_group_on_error=True)",
            "processor = BatchProcessor(event_type=EventType.SQS)",
            "later message(s) of the failed group processed",
        ),
        # The FIFO processor without skip_group_on_error: the first failure stops every group
        # (here the batch's first message, so Powertools fails the whole batch).
        ("skip_group_on_error=True", "skip_group_on_error=False", "instead of reporting"),
    ],
    ids=["batch-processor", "whole-batch"],
)
def test_fifo_order_check_fails_on_a_handler_that_breaks_group_order(
    render: Callable[[str, list[str]], Path],
    tmp_path: Path,
    generated: str,
    defective: str,
    finding: str,
) -> None:
    project = tmp_path / "sqs-fifo"
    shutil.copytree(render("sqs-fifo", ["--trigger", "sqs-fifo"]), project)
    [function] = fifo_consumers(project)
    assert fifo_order_violations(function) == []
    handler = function.directory / function.module_file
    text = handler.read_text()
    assert generated in text
    text = text.replace(generated, defective).replace(
        "    SqsFifoPartialProcessor,\n",
        "    BatchProcessor,\n    EventType,\n    SqsFifoPartialProcessor,\n",
    )
    handler.write_text(text)

    problems = fifo_order_violations(function)

    assert any(finding in p for p in problems), problems


# --- Optional fields and metric dimensions ------------------------------------------------

_CRASH = re.compile(r"\b(KeyError|TypeError|AttributeError)\b")
# The dimensions every function's metrics carry (project README, "Running it").
DIMENSIONS = ["function", "service"]


def without(event: Any, path: str) -> int:
    """Delete ``path`` (dots, ``*`` for every list item) from ``event``; return how often.

    Keys may hold dots themselves (``CodePipeline.job``): the key that matches is taken.
    """
    if isinstance(event, list) and (path == "*" or path.startswith("*.")):
        rest = path[2:]
        return sum(without(item, rest) for item in event) if rest else 0
    if isinstance(event, dict):
        for key in list(event):
            if path == key:
                del event[key]
                return 1
            if path.startswith(f"{key}."):
                return without(event[key], path[len(key) + 1 :])
    return 0


@dataclass(frozen=True)
class Outcome:
    """How one invocation ended, as far as crashes on missing fields show."""

    raised: str | None
    crashes: int
    failures: int
    printed: str

    def worse_than(self, other: Outcome) -> bool:
        raised = self.raised is not None and _CRASH.search(self.raised) is not None
        return (
            (raised and self.raised != other.raised)
            or self.crashes > other.crashes
            or self.failures > other.failures
        )


def _forget_deliveries() -> None:
    """Empty the idempotency store: each invocation compared here is a first delivery."""
    table = os.environ.get("IDEMPOTENCY_TABLE")
    if not table:
        return
    import boto3

    dynamodb = boto3.client("dynamodb")
    for item in dynamodb.scan(TableName=table).get("Items", []):
        dynamodb.delete_item(TableName=table, Key={"id": item["id"]})


def invoke(handler: Callable[..., Any], event: dict[str, Any], out: io.StringIO) -> Outcome:
    _forget_deliveries()
    start = out.tell()
    raised, failures = None, 0
    try:
        # Warnings as errors would replace the exception under test (Powertools warns when
        # a failed invocation has no metric to publish).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            response = handler(copy.deepcopy(event), _Context())
    except Exception as error:  # noqa: BLE001 - how it ended is what is compared
        raised = f"{type(error).__name__}: {error}"
    else:
        if isinstance(response, dict) and "batchItemFailures" in response:
            failures = len(response["batchItemFailures"])
    printed = out.getvalue()[start:]
    return Outcome(raised, len(_CRASH.findall(printed)), failures, printed)


def dimension_problems(function: Function, printed: str) -> list[str]:
    """EMF documents in ``printed`` without the dimensions every function's metrics carry."""
    problems = []
    for line in printed.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        emf = json.loads(line)
        for directive in emf["_aws"]["CloudWatchMetrics"]:
            # One dimension set, which may add a documented one of its own (the
            # aggregator's per-back-end metrics add ``backend``).
            sets = directive["Dimensions"]
            if (
                len(sets) != 1
                or not set(DIMENSIONS) <= set(sets[0])
                or emf.get("function") != function.name
            ):
                problems.append(
                    f"{function.name}: metrics with dimensions {directive['Dimensions']} "
                    f"(function={emf.get('function')!r}), not {DIMENSIONS}"
                )
    return problems


def optional_field_problems(function: Function, kind: str) -> list[str]:
    """How ``function`` fails on its sample events without the kind's optional fields."""
    paths = CATALOG.trigger(kind).optional_fields
    problems: list[str] = []
    removed_any = False
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), loaded(function) as m:
        handler = getattr(m, function.handler_name)
        for stem, event in function.sample_events().items():
            full = invoke(handler, event, out)
            problems += dimension_problems(function, full.printed)
            reduced = copy.deepcopy(event)
            if not sum(without(reduced, path) for path in paths):
                continue
            removed_any = True
            cut = invoke(handler, reduced, out)
            if cut.worse_than(full):
                problems.append(
                    f"{function.name}: {stem} without {', '.join(paths)}: raised {cut.raised}, "
                    f"{cut.failures} failed records, {cut.crashes} crash(es) logged "
                    f"(with them: {full.raised}, {full.failures}, {full.crashes})\n"
                    + cut.printed[-2000:]
                )
    if paths and not removed_any:
        problems.append(f"{function.name}: no sample event has any of {paths}")
    return problems


def trigger_functions(project: Path) -> list[tuple[Function, str]]:
    """The functions that serve the project's triggers, with their kinds."""
    functions, _ = _functions(project)
    found = [(f, f.kind()) for f in functions.values()]
    return [(f, kind) for f, kind in found if kind is not None]


@pytest.mark.parametrize(("spec_id", "args"), SPECS, ids=[s for s, _ in SPECS])
def test_handlers_keep_their_contracts(
    render: Callable[[str, list[str]], Path], spec_id: str, args: list[str]
) -> None:
    """Stream and FIFO order, optional fields and metric dimensions, on one project."""
    project = render(spec_id, args)
    problems = [
        problem
        for function, source in stream_consumers(project)
        for problem in stream_order_violations(function, source)
    ]
    problems += [
        problem
        for function in fifo_consumers(project)
        for problem in fifo_order_violations(function)
    ]
    problems += [
        problem
        for function, kind in trigger_functions(project)
        for problem in optional_field_problems(function, kind)
    ]
    assert not problems, "\n".join(problems)


# Each mutation brings back a defect a handler had: (kind, generated line, defective line).
MUTATIONS = [
    (
        "cloudfront",
        'correlation_id.value = cf.get("config", {}).get("requestId") or getattr(\n'
        '        context, "aws_request_id", ""\n'
        "    )",
        'correlation_id.value = cf["config"]["requestId"]',
    ),
    (
        "ses",
        'name: (receipt.get(f"{name}Verdict") or {}).get("status", "GRAY")',
        'name: receipt[f"{name}Verdict"]["status"]',
    ),
    (
        "sns",
        'raw_attributes: dict[str, Any] = notification.get("MessageAttributes") or {}',
        'raw_attributes = notification["MessageAttributes"]',
    ),
]


@pytest.mark.parametrize(
    ("kind", "generated", "defective"),
    [m for m in MUTATIONS if m[0] in KINDS],
    ids=[m[0] for m in MUTATIONS if m[0] in KINDS],
)
def test_optional_field_check_fails_on_a_handler_that_needs_them(
    render: Callable[[str, list[str]], Path],
    tmp_path: Path,
    kind: str,
    generated: str,
    defective: str,
) -> None:
    project = tmp_path / kind
    shutil.copytree(render(kind, ["--trigger", kind]), project)
    [(function, _)] = trigger_functions(project)
    assert optional_field_problems(function, kind) == []
    app = function.directory / function.module_file
    text = app.read_text()
    assert generated in text
    app.write_text(text.replace(generated, defective))

    problems = optional_field_problems(function, kind)

    assert any("raised KeyError" in p for p in problems), problems


@pytest.mark.skipif("cloudfront" not in KINDS, reason="narrowed with TS_KINDS")
def test_dimension_check_fails_on_metrics_without_the_function_dimension(
    render: Callable[[str, list[str]], Path], tmp_path: Path
) -> None:
    project = tmp_path / "cloudfront"
    shutil.copytree(render("cloudfront", ["--trigger", "cloudfront"]), project)
    [(function, kind)] = trigger_functions(project)
    app = function.directory / function.module_file
    text = app.read_text()
    # Lambda@Edge's own EMF writer, as it was: the service dimension alone.
    assert '"Dimensions": [["function", "service"]]' in text
    app.write_text(
        text.replace('"Dimensions": [["function", "service"]]', '"Dimensions": [["service"]]')
    )

    problems = optional_field_problems(function, kind)

    assert any("metrics with dimensions [['service']]" in p for p in problems), problems


README_DIMENSIONS = "dimensions `service` and `function`"


def readme_dimension_problems(text: str) -> list[str]:
    """What a kind README gets wrong about the dimensions of the metrics it names."""
    if "namespace" not in text:
        return []
    if README_DIMENSIONS not in text.replace("\n", " "):
        return [f"names a metric namespace but not the {README_DIMENSIONS}"]
    return []


@pytest.mark.parametrize("kind", KINDS)
def test_kind_readmes_state_the_emitted_dimensions(kind: str) -> None:
    readme = Path(__file__).parent.parent / "templates" / "kinds" / kind / "readme.md.jinja"
    assert readme_dimension_problems(readme.read_text()) == []


def test_readme_dimension_check_fails_on_the_old_wording() -> None:
    old = "Each batch counts `RecordsFailed` (namespace `demo`, dimension `service`)."
    assert readme_dimension_problems(old) != []
