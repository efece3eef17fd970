"""Call a handler as Lambda does: its environment, a context with a deadline, a timeout."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from .template import Function, Template

Handler = Callable[[Any, Any], Any]


@dataclass
class LambdaContext:
    """The context object Lambda passes to a Python handler.

    DOCS https://docs.aws.amazon.com/lambda/latest/dg/python-context.html
    """

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    log_group_name: str
    timeout: int
    function_version: str = "$LATEST"
    log_stream_name: str = "local/[$LATEST]local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before Lambda would stop the invocation."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class TimedOut(BaseException):
    """Raised in the handler when its timeout has passed. A BaseException, like Lambda's
    stop, so ``except Exception`` in the handler cannot carry on past it."""


@dataclass
class Outcome:
    """What an invocation gave: a response, or Lambda's error object."""

    response: Any = None
    error: dict[str, Any] | None = None


class LocalFunction:
    """A function of the template, loaded once (a warm execution environment)."""

    def __init__(self, template: Template, function: Function):
        self.template = template
        self.function = function
        self.environment = template.environment(function)
        self._handler: Handler | None = None

    def context(self) -> LambdaContext:
        """A fresh context for one invocation."""
        env = self.environment
        return LambdaContext(
            function_name=env["AWS_LAMBDA_FUNCTION_NAME"],
            memory_limit_in_mb=self.function.memory,
            invoked_function_arn=self.template.arn_of(self.function.logical_id),
            log_group_name=env["AWS_LAMBDA_LOG_GROUP_NAME"],
            timeout=self.function.timeout,
        )

    def invoke(self, event: Any) -> Outcome:
        """Run the handler on ``event``; logs and metrics go to stderr as Lambda's log lines."""
        context = self.context()
        try:
            with self._environment(), redirect_stdout(sys.stderr), _deadline(self.function.timeout):
                handler = self._load()
                return Outcome(response=handler(event, context))
        except TimedOut:
            message = f"Task timed out after {self.function.timeout:.2f} seconds"
            return Outcome(error={"errorType": "Sandbox.Timedout", "errorMessage": message})
        except Exception as error:  # noqa: BLE001 - reported as Lambda reports it
            traceback.print_exc(file=sys.stderr)
            return Outcome(
                error={
                    "errorType": type(error).__name__,
                    "errorMessage": str(error),
                    "requestId": context.aws_request_id,
                    "stackTrace": traceback.format_tb(error.__traceback__),
                }
            )

    def _load(self) -> Handler:
        if self._handler is None:
            module_path, _, attribute = self.function.handler.rpartition(".")
            path = self.function.code_dir / (module_path.replace(".", "/") + ".py")
            # The function's folder is the root of its package, as /var/task is in Lambda.
            sys.path.insert(0, str(self.function.code_dir))
            # Every function has an `app` module: the one this handler imports must be its own,
            # not the one of a function loaded before it in this process.
            _forget_modules_of(self.function.code_dir)
            module = _import(f"_local_{self.function.logical_id}", path)
            self._handler = getattr(module, attribute)
        return self._handler

    @contextmanager
    def _environment(self) -> Iterator[None]:
        saved = dict(os.environ)
        os.environ.update(self.environment)
        # Powertools Tracer would look for an X-Ray daemon once it believes it runs in Lambda.
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


def _forget_modules_of(folder: Path) -> None:
    """Drop the cached modules named like the top-level modules and packages of ``folder``."""
    names = {p.stem for p in folder.glob("*.py")}
    names |= {p.name for p in folder.iterdir() if (p / "__init__.py").is_file()}
    for loaded in list(sys.modules):
        if loaded.partition(".")[0] in names:
            del sys.modules[loaded]


def _import(name: str, path: os.PathLike[str]) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import the handler module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """Interrupt the handler after ``seconds``, where this platform has SIGALRM."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        raise TimedOut

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
