"""Shared fixtures: sample events, fresh handler modules, a Lambda context and moto."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and a region, and every AWS call served by moto, never by AWS."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "tests")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "tests")
    with mock_aws():
        yield


@pytest.fixture
def load_event() -> Callable[[str], dict[str, Any]]:
    """Return a loader for ``events/<name>.json``; each call gives a fresh copy."""

    def load(name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((ROOT / "events" / f"{name}.json").read_text())
        return data

    return load


@pytest.fixture
def load_function() -> Iterator[Callable[[str], ModuleType]]:
    """Return an importer for ``functions/<name>/app.py``, run fresh inside moto and the env."""
    loaded: list[str] = []

    def load(name: str) -> ModuleType:
        module_name = f"_function_{name.replace('-', '_')}_app"
        path = ROOT / "functions" / name / "app.py"
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        loaded.append(module_name)
        spec.loader.exec_module(module)
        return module

    yield load
    for module_name in loaded:
        sys.modules.pop(module_name, None)


@dataclass
class FakeLambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str = "test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2026/11/26/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()
