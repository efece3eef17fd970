"""copier.yml's validators, rendered as copier renders them, to compare with the CLI's rules."""

from __future__ import annotations

from typing import Any

import yaml
from jinja2.sandbox import SandboxedEnvironment

from trigger_scaffold._template import template_root


def _validator_env() -> tuple[SandboxedEnvironment, dict[str, Any]]:
    class Loader(yaml.SafeLoader):
        pass

    root = template_root()
    Loader.add_constructor(
        "!include",
        lambda loader, node: [yaml.safe_load((root / loader.construct_scalar(node)).read_text())],
    )
    config = yaml.load((root / "copier.yml").read_text(), Loader=Loader)
    env = SandboxedEnvironment(extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"])
    return env, config


ENV, CONFIG = _validator_env()


def copier_message(question: str, **context: Any) -> str:
    """What copier.yml's validator for ``question`` says of the answers (empty: accepted)."""
    template = ENV.from_string(CONFIG[question]["validator"])
    return template.render(catalog=CONFIG["catalog"]["default"], **context).strip()


def copier_accepts(question: str, **context: Any) -> bool:
    """Whether copier.yml's validator for ``question`` accepts the answer."""
    return copier_message(question, **context) == ""
