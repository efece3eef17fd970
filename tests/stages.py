"""What AWS does with a generated project's stages, read off its files: helpers for the checks.

The checks take the data of a rendered project (template, translated template, samconfig.toml,
README) and return the problems they find, so a test can run them on the real output and on a
copy mutated to carry the defect.
"""

from __future__ import annotations

import atexit
import re
import shlex
import shutil
import tempfile
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import available_kinds, whole_projects
from gates import load_template, sam_translate

from trigger_scaffold import load_catalog
from trigger_scaffold._cli import main

REGION = "us-east-1"
ACCOUNT = "123456789012"
PRODUCTION = "prod"
UNTOLD = "needs a value and the README does not say to add it"
NO_VALUE = object()


@dataclass(frozen=True)
class Project:
    """One rendered project, loaded once for every check."""

    path: Path
    template: dict[str, Any]
    translated: dict[str, Any]
    samconfig: dict[str, Any]
    readme: str
    template_text: str


_RENDERED: dict[tuple[str, ...], Project] = {}
_ROOT = Path(tempfile.mkdtemp(prefix="stages-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)


def render(args: tuple[str, ...]) -> Project:
    """``trigger-scaffold new`` with ``args``, rendered once per test session."""
    if args not in _RENDERED:
        dest = _ROOT / f"p{len(_RENDERED)}" / "svc"
        assert main(["new", str(dest), "--no-input", "--quiet", *args]) == 0, args
        template = load_template(dest / "template.yaml")
        _RENDERED[args] = Project(
            path=dest,
            template=template,
            translated=sam_translate(template),
            samconfig=tomllib.loads((dest / "samconfig.toml").read_text()),
            readme=(dest / "README.md").read_text(),
            template_text=(dest / "template.yaml").read_text(),
        )
    return _RENDERED[args]


def matrix_specs() -> list[tuple[str, tuple[str, ...]]]:
    """Every kind alone, every pattern with each entry kind, and the whole projects."""
    kinds = available_kinds()
    specs = [(kind, ("--trigger", kind)) for kind in kinds]
    specs += [
        (f"{p.id}+{kind}", ("--pattern", p.id, "--trigger", kind))
        for p in load_catalog().patterns
        if p.id != "none" and p.available
        for kind in kinds
        if p.accepts(kind)
    ]
    return specs + [(spec, tuple(args)) for spec, args in whole_projects()]


# --- samconfig.toml environments -------------------------------------------------------------


def environments(samconfig: dict[str, Any]) -> list[str]:
    """The environments that `sam deploy --config-env <env>` can deploy."""
    return [
        env
        for env, commands in samconfig.items()
        if isinstance(commands, dict) and "deploy" in commands
    ]


def _section(samconfig: dict[str, Any], env: str, command: str) -> dict[str, Any]:
    section: dict[str, Any] = samconfig.get(env, {}).get(command, {}).get("parameters", {})
    return section


def setting(samconfig: dict[str, Any], env: str, command: str, key: str) -> Any:
    """A command's setting in ``env``, falling back to the environment's global section."""
    for section in (_section(samconfig, env, command), _section(samconfig, env, "global")):
        if key in section:
            return section[key]
    return None


def overrides(samconfig: dict[str, Any], env: str) -> dict[str, str]:
    """``parameter_overrides`` of ``env``'s deploy command as a mapping."""
    text = setting(samconfig, env, "deploy", "parameter_overrides") or ""
    words = shlex.split(text) if isinstance(text, str) else list(text)
    return dict(word.split("=", 1) for word in words)


def stage_of(template: dict[str, Any], samconfig: dict[str, Any], env: str) -> str:
    """The Stage an environment deploys: its override, else the template's default, else (a
    template without stages) production for `default`, the environment `sam deploy` uses."""
    default = template.get("Parameters", {}).get("Stage", {}).get("Default")
    return str(
        overrides(samconfig, env).get("Stage", default or (PRODUCTION if env == "default" else env))
    )


# --- evaluating a template for one stack -------------------------------------------------------


class Stack:
    """Resolves intrinsic functions as CloudFormation would for one stack of the template."""

    def __init__(self, template: dict[str, Any], name: str, parameters: dict[str, str]) -> None:
        self.template = template
        self.name = name
        unique = uuid.uuid5(uuid.NAMESPACE_DNS, name)
        self.id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/{unique}"
        self.parameters: dict[str, Any] = {}
        for key, spec in template.get("Parameters", {}).items():
            value = parameters.get(key, spec.get("Default"))
            value = "" if value is None else str(value)
            self.parameters[key] = value.split(",") if spec["Type"].startswith("List<") else value

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::StackName": self.name,
            "AWS::StackId": self.id,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        # A resource's physical id: CloudFormation makes it unique to the stack.
        return f"<{self.name}/{name}>"

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            key = match.group(1)
            if key in variables:
                return str(self.resolve(variables[key]))
            if "." in key and not key.startswith("AWS::"):
                return str(self.resolve({"Fn::GetAtt": key.split(".", 1)}))
            return str(self._ref(key))

        return re.sub(r"\$\{([^!}][^}]*)\}", one, text)

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function evaluated for this stack."""
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) != 1 or not next(iter(value)).startswith(("Fn::", "Ref", "Condition")):
            return {k: r for k, v in value.items() if (r := self.resolve(v)) is not NO_VALUE}
        [(function, arg)] = value.items()
        if function == "Ref":
            return self._ref(arg)
        if function == "Condition":
            return self.condition(arg)
        if function == "Fn::GetAtt":
            target, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return f"<{self.name}/{target}.{attribute}>"
        if function == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            return self._sub(text, variables)
        if function == "Fn::Join":
            return str(arg[0]).join(str(v) for v in self.resolve(arg[1]))
        if function == "Fn::Select":
            return self.resolve(arg[1])[int(self.resolve(arg[0]))]
        if function == "Fn::Split":
            return str(self.resolve(arg[1])).split(arg[0])
        if function == "Fn::If":
            return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
        if function == "Fn::Equals":
            return str(self.resolve(arg[0])) == str(self.resolve(arg[1]))
        if function == "Fn::Not":
            return not self.resolve(arg[0])
        if function == "Fn::And":
            return all(self.resolve(a) for a in arg)
        if function == "Fn::Or":
            return any(self.resolve(a) for a in arg)
        raise NotImplementedError(f"{function} is not evaluated here")


def stack_for(project: Project, env: str, template: dict[str, Any] | None = None) -> Stack:
    """The stack ``env`` deploys: its stack name and parameter overrides."""
    name = setting(project.samconfig, env, "deploy", "stack_name")
    return Stack(template or project.translated, str(name), overrides(project.samconfig, env))


# --- class 1: every environment deploys without prompting --------------------------------------


def required_parameters(template: dict[str, Any]) -> list[str]:
    """Parameters no deployment can do without: no Default, an AWS-specific type (the
    placeholder id must exist), or a Default that an unconditional template Rule refuses."""
    refused: set[tuple[str, str]] = set()
    for rule in template.get("Rules", {}).values():
        if "RuleCondition" in rule:
            continue
        for assertion in rule.get("Assertions", []):
            test = assertion["Assert"]
            equals = test.get("Fn::Not", [{}])[0].get("Fn::Equals") if "Fn::Not" in test else None
            if equals and isinstance(equals[0], dict) and "Ref" in equals[0]:
                refused.add((equals[0]["Ref"], str(equals[1])))
    needed = []
    for name, spec in template.get("Parameters", {}).items():
        kind = spec["Type"]
        if (
            "Default" not in spec
            or kind.startswith(("AWS::", "List<AWS::"))
            or (name, str(spec["Default"])) in refused
        ):
            needed.append(name)
    return needed


def before_first_deploy(readme: str) -> str:
    """The README's "Before the first deploy" section (empty when it has none)."""
    match = re.search(r"(?ms)^### Before the first deploy\n(.*?)(?=^#)", readme)
    return match.group(1) if match else ""


def unprompted_deploy_problems(project: Project) -> list[str]:
    """Why ``sam deploy --config-env <env>`` would stop or fail before creating anything."""
    problems = []
    template, samconfig = project.template, project.samconfig
    parameters = template.get("Parameters", {})
    section = before_first_deploy(project.readme)
    iam = any(r["Type"].startswith("AWS::IAM::") for r in project.translated["Resources"].values())
    envs = environments(samconfig)
    if not {"default", "dev"} <= set(envs):
        problems.append(f"samconfig.toml deploys {envs}, not a default and a dev environment")
    for env in envs:
        given = overrides(samconfig, env)
        for key in given:
            if key not in parameters:
                problems.append(f"[{env}] overrides {key}, which template.yaml does not have")
        for name in required_parameters(template):
            if name in given:
                continue
            told = (
                re.search(rf"(?m)^- `{name}`", section) and f"[{env}.deploy.parameters]" in section
            )
            if not told:
                problems.append(f"[{env}] cannot deploy: {name} {UNTOLD}")
        if not setting(samconfig, env, "deploy", "stack_name"):
            problems.append(f"[{env}] has no stack_name: sam deploy asks for --stack-name")
        if not (
            setting(samconfig, env, "deploy", "resolve_s3")
            or setting(samconfig, env, "deploy", "s3_bucket")
        ):
            problems.append(f"[{env}] has no artifact bucket (resolve_s3 or s3_bucket)")
        capabilities = str(setting(samconfig, env, "deploy", "capabilities") or "")
        if iam and "IAM" not in capabilities:
            problems.append(f"[{env}] creates IAM resources without CAPABILITY_IAM")
        transforms = template.get("Transform")
        if (
            isinstance(transforms, list)
            and len(transforms) > 1
            and "CAPABILITY_AUTO_EXPAND" not in capabilities
        ):
            problems.append(f"[{env}] deploys several transforms without CAPABILITY_AUTO_EXPAND")
    return problems


# --- class 4: two stages share nothing --------------------------------------------------------

# Top-level properties that end in "Name" but name something inside a parent resource of the
# same stack (an API's stage, a function's alias) or are not names at all.
SCOPED_NAMES = {
    ("AWS::Lambda::Alias", "Name"),
    ("AWS::ApiGateway::Stage", "StageName"),
    ("AWS::ApiGatewayV2::Stage", "StageName"),
    ("AWS::Logs::LogStream", "LogStreamName"),
    ("AWS::Cognito::UserPoolClient", "ClientName"),
    ("AWS::CloudWatch::Alarm", "MetricName"),
    ("AWS::CodeDeploy::DeploymentGroup", "DeploymentConfigName"),
    ("AWS::IAM::Policy", "PolicyName"),
    ("AWS::IAM::RolePolicy", "PolicyName"),
}


def _names(stack: Stack) -> dict[str, tuple[str, str]]:
    found = {}
    for logical, resource in stack.template["Resources"].items():
        for key, value in resource.get("Properties", {}).items():
            if key.endswith("Name") and (resource["Type"], key) not in SCOPED_NAMES:
                found[f"{logical}.{key}"] = (resource["Type"], str(stack.resolve(value)))
    return found


def _series(stack: Stack) -> dict[str, str]:
    found = {}
    for logical, resource in stack.template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudWatch::Alarm" and "Namespace" in props:
            dimensions = sorted(
                (d["Name"], str(stack.resolve(d["Value"]))) for d in props.get("Dimensions", [])
            )
            found[f"alarm {logical}"] = repr(
                (stack.resolve(props["Namespace"]), props["MetricName"], dimensions)
            )
        if resource["Type"] == "AWS::Lambda::Function":
            variables = props.get("Environment", {}).get("Variables", {})
            if "POWERTOOLS_METRICS_NAMESPACE" in variables:
                namespace = stack.resolve(variables["POWERTOOLS_METRICS_NAMESPACE"])
                service = stack.resolve(variables.get("POWERTOOLS_SERVICE_NAME", ""))
                found[f"metrics of {logical}"] = repr((namespace, service))
    return found


def shared_between_stages(project: Project) -> list[str]:
    """Names and metric series the prod and dev stacks of ``project`` would share."""
    prod, dev = stack_for(project, "default"), stack_for(project, "dev")
    problems = []
    if prod.name == dev.name:
        problems.append(f"both environments deploy the stack {prod.name}")
    dev_names = {value: key for key, value in _names(dev).items()}
    for key, value in _names(prod).items():
        if value in dev_names:
            problems.append(f"{key} is {value[1]!r} in both stages")
    dev_series = set(_series(dev).values())
    for key, value in _series(prod).items():
        if value in dev_series:
            problems.append(f"{key} reads/writes the same series in both stages: {value}")
    return problems


# --- class 5: sam sync only where it cannot hurt ---------------------------------------------


def sync_problems(project: Project) -> list[str]:
    """`sam sync` skips change sets and CodeDeploy: no production environment may configure it."""
    problems = []
    for env, commands in project.samconfig.items():
        if not isinstance(commands, dict) or "sync" not in commands:
            continue
        if env not in environments(project.samconfig):
            problems.append(f"[{env}.sync] configures sync for an environment that deploys nothing")
        elif stage_of(project.template, project.samconfig, env) == PRODUCTION:
            problems.append(f"[{env}.sync] configures sam sync on the production stage")
        else:
            # sync takes none of deploy's settings: without them it deploys the stack with the
            # template's defaults (Stage prod) and untagged.
            for key in ("parameter_overrides", "tags"):
                if setting(project.samconfig, env, "sync", key) != setting(
                    project.samconfig, env, "deploy", key
                ):
                    problems.append(f"[{env}.sync] {key} differ from [{env}.deploy]")
    return problems


# --- class 11: production keeps its data, other stages delete theirs ---------------------------

STATEFUL = {
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
    "AWS::DynamoDB::GlobalTable",
    "AWS::Cognito::UserPool",
    "AWS::Kinesis::Stream",
    "AWS::CodeCommit::Repository",
    "AWS::EFS::FileSystem",
    "AWS::RDS::DBCluster",
    "AWS::RDS::DBInstance",
    "AWS::SecretsManager::Secret",
}


def retention_problems(project: Project) -> list[str]:
    """Stateful resources must be kept in prod and deleted in dev; nothing else is kept in dev."""
    problems = []
    template = project.translated
    prod, dev = stack_for(project, "default"), stack_for(project, "dev")
    for name, resource in template["Resources"].items():
        kind = resource["Type"]
        for attribute in ("DeletionPolicy", "UpdateReplacePolicy"):
            declared = resource.get(attribute, "Delete")
            if isinstance(declared, dict) and "Condition" in resource:
                # AWS::LanguageExtensions refuses an intrinsic policy on a conditional resource.
                problems.append(f"{name}: intrinsic {attribute} on a resource with a Condition")
                continue
            in_prod, in_dev = prod.resolve(declared), dev.resolve(declared)
            if kind in STATEFUL and (in_prod, in_dev) != ("Retain", "Delete"):
                problems.append(
                    f"{name} ({kind}): {attribute} is {in_prod} in prod and {in_dev} in dev"
                )
            elif kind not in STATEFUL and kind != "AWS::Lambda::Version" and in_dev == "Retain":
                problems.append(f"{name} ({kind}) outlives the dev stack ({attribute} Retain)")
        if kind == "AWS::Cognito::UserPool":
            protection = dev.resolve(resource["Properties"].get("DeletionProtection", "INACTIVE"))
            if protection == "ACTIVE":
                problems.append(f"{name}: DeletionProtection ACTIVE stops the dev stack's deletion")
    original = project.template
    intrinsic = any(
        isinstance(r.get(a), dict)
        for r in original["Resources"].values()
        for a in ("DeletionPolicy", "UpdateReplacePolicy")
    )
    transforms = original.get("Transform")
    transforms = transforms if isinstance(transforms, list) else [transforms]
    if intrinsic and transforms[:1] != ["AWS::LanguageExtensions"]:
        problems.append(
            "intrinsic DeletionPolicy needs AWS::LanguageExtensions as the first transform"
        )
    return problems
