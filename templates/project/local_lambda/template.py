"""Read template.yaml: the functions, their environment and the names of their resources."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ACCOUNT = "123456789012"
NO_VALUE = object()


class _Loader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation's short tags (``!Ref``, ``!Sub``...) into the
    long form (``{"Ref": ...}``, ``{"Fn::Sub": ...}``)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _intrinsic)
# Dates stay strings, as CloudFormation reads them ("2010-09-09").
_Loader.yaml_implicit_resolvers = {
    key: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Function:
    """One ``AWS::Serverless::Function`` of the template."""

    logical_id: str
    name: str
    code_dir: Path
    handler: str
    runtime: str
    timeout: int
    memory: int
    properties: dict[str, Any]

    def sample_events(self, root: Path, others: list[str]) -> list[Path]:
        """The function's sample events: ``events/<name>-*.json``, without those of another
        function whose name extends this one's (``s3-batch-task`` is s3-batch's)."""
        longer = [f"{o}-" for o in others if o.startswith(f"{self.name}-")]
        return sorted(
            path
            for path in (root / "events").glob(f"{self.name}-*.json")
            if not any(path.name.startswith(prefix) for prefix in longer)
        )


class Template:
    """template.yaml with its intrinsic functions resolved the way a deployment would.

    Parameters take their defaults; resources get the names they have in moto (or, with
    ``physical_ids``, the ones of the deployed stack).
    """

    def __init__(self, root: Path, region: str, physical_ids: dict[str, str] | None = None):
        self.root = root
        self.region = region
        text = (root / "template.yaml").read_text()
        self.body: dict[str, Any] = yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader
        self.stack_name = stack_name(root)
        self.account = ACCOUNT
        self.physical_ids = physical_ids or {}
        self.resources: dict[str, dict[str, Any]] = self.body.get("Resources", {})
        # A CommaDelimitedList is a list to the intrinsics, as CloudFormation passes it.
        self.parameters: dict[str, Any] = {
            name: str(spec.get("Default", "")).split(",")
            if spec.get("Type") == "CommaDelimitedList"
            else spec.get("Default", "")
            for name, spec in self.body.get("Parameters", {}).items()
        }
        self._globals: dict[str, Any] = self.body.get("Globals", {}).get("Function", {})

    # --- functions ---------------------------------------------------------------------------
    def functions(self) -> list[Function]:
        """Every function, in template order."""
        found = []
        for logical_id, resource in self.resources.items():
            if resource.get("Type") != "AWS::Serverless::Function":
                continue
            props = resource.get("Properties", {})
            code_dir = self.root / str(props.get("CodeUri", ".")).rstrip("/")
            found.append(
                Function(
                    logical_id=logical_id,
                    name=code_dir.name,
                    code_dir=code_dir,
                    handler=str(self._setting(props, "Handler", "app.lambda_handler")),
                    runtime=str(self._setting(props, "Runtime", "python3.13")),
                    # Lambda's defaults when neither the function nor Globals set them.
                    timeout=int(self._setting(props, "Timeout", 3)),
                    memory=int(self._setting(props, "MemorySize", 128)),
                    properties=props,
                )
            )
        return found

    def function(self, wanted: str) -> Function:
        """A function by its folder name (``orders``) or logical id (``OrdersFunction``)."""
        for function in self.functions():
            if wanted in (function.name, function.logical_id):
                return function
        names = ", ".join(f.name for f in self.functions())
        raise LookupError(f"no function '{wanted}' in template.yaml; functions: {names}")

    def _setting(self, props: dict[str, Any], key: str, default: Any) -> Any:
        return self.resolve(props.get(key, self._globals.get(key, default)))

    def environment(self, function: Function) -> dict[str, str]:
        """The variables Lambda sets: Globals, then the function's own, then Lambda's."""
        variables: dict[str, str] = {}
        own = function.properties.get("Environment", {})
        # Environment: !Ref AWS::NoValue drops the Globals too (Lambda@Edge has none).
        if self.resolve(own) is not NO_VALUE:
            for source in (self._globals.get("Environment", {}), own):
                for key, value in (source.get("Variables") or {}).items():
                    resolved = self.resolve(value)
                    if resolved is not NO_VALUE:
                        variables[key] = str(resolved)
        logging = {
            **self._globals.get("LoggingConfig", {}),
            **function.properties.get("LoggingConfig", {}),
        }
        log_group = self.resolve(
            logging.get("LogGroup", f"/aws/lambda/{self.name_of(function.logical_id)}")
        )
        # DOCS https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
        variables.update(
            {
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
                "AWS_LAMBDA_FUNCTION_NAME": self.name_of(function.logical_id),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory),
                "AWS_LAMBDA_LOG_GROUP_NAME": str(log_group),
                "AWS_LAMBDA_LOG_STREAM_NAME": "local/[$LATEST]local",
                "LAMBDA_TASK_ROOT": str(function.code_dir),
                "_HANDLER": function.handler,
            }
        )
        if logging.get("LogFormat") == "JSON":
            variables["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
            variables["AWS_LAMBDA_LOG_LEVEL"] = str(logging.get("ApplicationLogLevel", "INFO"))
        return variables

    # --- names -------------------------------------------------------------------------------
    def name_of(self, logical_id: str) -> str:
        """The physical name of a resource: its own name property, else one made up the way
        CloudFormation does (stack name + logical id)."""
        if logical_id in self.physical_ids:
            return re.split(r"[/:]", self.physical_ids[logical_id])[-1]
        resource = self.resources.get(logical_id, {})
        props = resource.get("Properties", {})
        for key in (
            "TableName",
            "QueueName",
            "BucketName",
            "TopicName",
            "Name",
            "StreamName",
            "FunctionName",
            "LogGroupName",
            "EventBusName",
        ):
            if key in props:
                value = self.resolve(props[key])
                if isinstance(value, str):
                    return value
        name = f"{self.stack_name}-{logical_id}"
        if resource.get("Type") == "AWS::S3::Bucket":
            name = name.lower()[:63]
        if resource.get("Type") == "AWS::SQS::Queue" and self.resolve(props.get("FifoQueue")) in (
            True,
            "true",
        ):
            name += ".fifo"
        return name

    def arn_of(self, logical_id: str) -> str:
        """The ARN of a resource, built from its type and name."""
        kind = self.resources.get(logical_id, {}).get("Type", "")
        name, where = self.name_of(logical_id), f"{self.region}:{self.account}"
        arns = {
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{where}:table/{name}",
            "AWS::Serverless::SimpleTable": f"arn:aws:dynamodb:{where}:table/{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{where}:{name}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{where}:{name}",
            "AWS::Kinesis::Stream": f"arn:aws:kinesis:{where}:stream/{name}",
            "AWS::Serverless::StateMachine": f"arn:aws:states:{where}:stateMachine:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{where}:stateMachine:{name}",
            "AWS::Events::EventBus": f"arn:aws:events:{where}:event-bus/{name}",
            "AWS::Serverless::Function": f"arn:aws:lambda:{where}:function:{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{where}:log-group:{name}:*",
        }
        return arns.get(kind, f"arn:aws:local:{where}:{logical_id}")

    def ref(self, logical_id: str) -> str:
        """What ``!Ref`` returns for a resource of this template."""
        kind = self.resources.get(logical_id, {}).get("Type", "")
        if logical_id in self.physical_ids:
            return self.physical_ids[logical_id]
        if kind == "AWS::SQS::Queue":
            return (
                f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self.name_of(logical_id)}"
            )
        if kind in (
            "AWS::SNS::Topic",
            "AWS::Serverless::StateMachine",
            "AWS::StepFunctions::StateMachine",
        ):
            return self.arn_of(logical_id)
        return self.name_of(logical_id)

    def attribute(self, logical_id: str, attribute: str) -> str:
        """What ``!GetAtt`` returns, for the attributes functions are usually given."""
        if attribute in ("Arn", "TopicArn"):
            return self.arn_of(logical_id)
        if attribute in ("QueueName", "Name", "TopicName"):
            return self.name_of(logical_id)
        if attribute == "QueueUrl":
            return self.ref(logical_id)
        if attribute == "StreamArn":
            return f"{self.arn_of(logical_id)}/stream/local"
        return f"{logical_id}.{attribute}"

    # --- intrinsic functions -----------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        """``value`` with its intrinsic functions evaluated; ``NO_VALUE`` for AWS::NoValue."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = self._intrinsics().get(key)
            if handler is not None:
                return handler(arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _intrinsics(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self._ref,
            "Fn::GetAtt": lambda arg: self.attribute(
                *(arg if isinstance(arg, list) else str(arg).split(".", 1))
            ),
            "Fn::Sub": self._sub,
            "Fn::Join": lambda arg: str(arg[0]).join(str(v) for v in self.resolve(arg[1])),
            "Fn::Select": lambda arg: self.resolve(arg[1])[int(self.resolve(arg[0]))],
            "Fn::Split": lambda arg: str(self.resolve(arg[1])).split(str(arg[0])),
            "Fn::If": lambda arg: self.resolve(arg[1] if self.condition(arg[0]) else arg[2]),
            "Fn::Equals": lambda arg: str(self.resolve(arg[0])) == str(self.resolve(arg[1])),
            "Fn::Not": lambda arg: not self._truth(arg[0]),
            "Fn::And": lambda arg: all(self._truth(a) for a in arg),
            "Fn::Or": lambda arg: any(self._truth(a) for a in arg),
            "Condition": self.condition,
        }

    def _truth(self, value: Any) -> bool:
        return bool(self.resolve(value))

    def condition(self, name: str) -> bool:
        """The value of a named condition of the template, with parameters at their defaults."""
        return self._truth(self.body.get("Conditions", {}).get(name, False))

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account}:stack/"
            f"{self.stack_name}/00000000-0000-0000-0000-000000000000",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        logical_id, _, suffix = name.partition(".")
        if suffix == "Alias":  # SAM's AutoPublishAlias: the alias ARN
            return f"{self.arn_of(logical_id)}:live"
        return self.ref(logical_id)

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name and not name.startswith("AWS::"):
                return str(self.attribute(*name.split(".", 1)))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


def stack_name(root: Path) -> str:
    """The stack name `sam deploy` uses (samconfig.toml), else the folder's name."""
    config = root / "samconfig.toml"
    if config.exists():
        settings = tomllib.loads(config.read_text())
        name = settings.get("default", {}).get("global", {}).get("parameters", {}).get("stack_name")
        if isinstance(name, str):
            return name
    return root.name


def mentions(value: Any, logical_id: str) -> bool:
    """Whether a piece of the template refers to a resource (``!Ref X``, ``X.Alias``...)."""
    return re.search(rf"\b{re.escape(logical_id)}\b", json.dumps(value)) is not None
