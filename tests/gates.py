"""The offline gates every generated project must pass.

1. cfn-lint on template.yaml: no errors, no warnings.
2. The SAM transform (aws-sam-translator, in-process) accepts it, and cfn-lint reports nothing
   on the translated CloudFormation.
3. ``ruff format --check`` and ``ruff check`` with the project's own settings.
4. The project's own pytest, with no AWS credentials or region in the environment.

Run by hand: ``python tests/gates.py PROJECT_DIR [PROJECT_DIR ...]``.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from cfnlint.api import ManualArgs, lint
from samtranslator.translator.transform import transform

REGION = "us-east-1"
BIN = Path(sys.executable).parent


class CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short tags into their long form."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    """template.yaml as plain data, short tags expanded."""
    data: dict[str, Any] = yaml.load(path.read_text(), Loader=CfnLoader)
    return data


class _NoManagedPolicies:
    """Stands in for the IAM-backed loader: names resolve to the public AWS managed ARNs."""

    def load(self) -> dict[str, str]:
        return {}


def sam_translate(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation that SAM makes of ``template``, as ``sam validate`` would."""
    fragment = copy.deepcopy(template)
    for name, resource in fragment.get("Resources", {}).items():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(
            props.get("CodeUri"), str
        ):
            props["CodeUri"] = f"s3://bucket/{name}.zip"
        if resource.get("Type") == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = f"s3://bucket/{name}.zip"
        if resource.get("Type") == "AWS::Serverless::StateMachine" and isinstance(
            props.get("DefinitionUri"), str
        ):
            props["DefinitionUri"] = f"s3://bucket/{name}.asl.json"
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    translated: dict[str, Any] = transform(fragment, {}, _NoManagedPolicies())  # type: ignore[arg-type]
    return translated


def cfn_lint(text: str) -> list[str]:
    """cfn-lint findings (errors and warnings) for a template given as text."""
    matches = lint(text, config=ManualArgs(regions=[REGION]))
    return [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches]


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str | None:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode == 0:
        return None
    return f"{' '.join(cmd[:3])} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"


def _clean_env() -> dict[str, str]:
    """The environment without any AWS configuration: tests must not need it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


def gate_failures(project: Path, *, run_tests: bool = True) -> list[str]:
    """Every gate finding for one generated project; empty when all gates pass."""
    failures: list[str] = []
    template_path = project / "template.yaml"
    failures += [f"cfn-lint template.yaml: {f}" for f in cfn_lint(template_path.read_text())]
    try:
        translated = sam_translate(load_template(template_path))
    except Exception as error:  # noqa: BLE001 - any translator failure is a gate failure
        failures.append(f"SAM transform: {error}")
    else:
        text = json.dumps(translated, indent=1)
        failures += [f"cfn-lint translated: {f}" for f in cfn_lint(text)]
    ruff = str(BIN / "ruff")
    for cmd in ([ruff, "format", "--check", "--diff", "."], [ruff, "check", "."]):
        if (problem := _run(cmd, project)) is not None:
            failures.append(problem)
    if run_tests:
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
        if (problem := _run(cmd, project, env=_clean_env())) is not None:
            failures.append(problem)
    return failures


if __name__ == "__main__":
    status = 0
    for arg in sys.argv[1:]:
        found = gate_failures(Path(arg))
        print(f"{arg}: {'all gates pass' if not found else 'FAILED'}")
        for finding in found:
            print(f"  - {finding}")
        status |= bool(found)
    raise SystemExit(status)
