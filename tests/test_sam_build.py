"""`sam build` without Docker on an interpreter that is not the function's runtime.

The generated functions build with ``BuildMethod: makefile``: pip installs the wheels of the
runtime and architecture the template names, so this machine's Python (3.11 in CI) never has to
match python3.13, and no container is started.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO

# The SAM CLI pins its own boto3, so `make setup` installs it in an environment of its own.
SAM_BIN = REPO / ".venv-sam" / "bin"
# Wheels for the python3.13/arm64 build, fetched by `make setup`: the build runs offline.
WHEELHOUSE = REPO / ".wheelhouse"
# CPython extension modules carry the interpreter and platform they were built for.
EXTENSION = re.compile(r"\.cpython-(?P<version>\d+)-(?P<machine>[a-z0-9_]+)-linux-gnu\.so$")


def foreign_binaries(build_dir: Path, version: str, machine: str) -> list[str]:
    """Files under ``build_dir`` that Lambda ``python<version>`` on ``machine`` cannot load:
    extension modules and wheels built for another interpreter or platform, and bytecode
    compiled by the local interpreter."""
    wanted_tag = "cp" + version.replace(".", "")
    found = []
    for path in sorted(build_dir.rglob("*")):
        name = path.relative_to(build_dir).as_posix()
        match = EXTENSION.search(path.name)
        built_elsewhere = path.suffix == ".so" and not (
            match and match["version"] == wanted_tag[2:] and match["machine"] == machine
        )
        if built_elsewhere or path.suffix == ".pyc":
            found.append(name)
        elif path.name == "WHEEL" and path.parent.name.endswith(".dist-info"):
            tags = re.findall(r"^Tag: (\S+)$", path.read_text(), flags=re.MULTILINE)
            if not any(_fits(tag, wanted_tag, machine) for tag in tags):
                found.append(f"{name} ({', '.join(tags)})")
    return found


def _fits(tag: str, wanted_tag: str, machine: str) -> bool:
    python, abi, platform = tag.split("-")
    pythons, abis = python.split("."), abi.split(".")
    if platform == "any":
        return True
    interpreter_ok = wanted_tag in pythons or (
        "abi3" in abis
        and any(p.startswith("cp3") and int(p[3:]) <= int(wanted_tag[3:]) for p in pythons)
    )
    return interpreter_ok and all(
        p.startswith("manylinux") and p.endswith(machine) for p in platform.split(".")
    )


def sam(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The SAM CLI with a region, no Docker reachable and no telemetry."""
    if not (SAM_BIN / "sam").exists():
        pytest.fail("the SAM CLI is missing: run `make setup` (it builds .venv-sam)")
    if not any(WHEELHOUSE.glob("pydantic_core-*.whl")):
        pytest.fail("the wheelhouse is missing: run `make setup` (it fills .wheelhouse)")
    env = {
        **os.environ,
        # Its own python3 (with pip) runs the Makefiles, as a user's would.
        "PATH": f"{SAM_BIN}{os.pathsep}{os.environ['PATH']}",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "DOCKER_HOST": "unix:///nonexistent/docker.sock",
        "SAM_CLI_TELEMETRY": "0",
        # The generated Makefiles' pip takes the wheels from the wheelhouse, never the network.
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(WHEELHOUSE),
    }
    return subprocess.run(
        [str(SAM_BIN / "sam"), *args], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )


def _wheel(tmp_path: Path, dist: str, tag: str) -> None:
    info = tmp_path / f"{dist}.dist-info"
    info.mkdir(parents=True)
    (info / "WHEEL").write_text(f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tag}\n")


def test_foreign_binaries_are_reported(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "_ok.cpython-313-aarch64-linux-gnu.so").touch()
    (tmp_path / "pkg" / "_local.cpython-311-x86_64-linux-gnu.so").touch()
    (tmp_path / "pkg" / "_arch.cpython-313-x86_64-linux-gnu.so").touch()
    (tmp_path / "pkg" / "__pycache__").mkdir()
    (tmp_path / "pkg" / "__pycache__" / "m.cpython-311.pyc").touch()
    _wheel(tmp_path, "good-1", "cp313-cp313-manylinux_2_17_aarch64")
    _wheel(tmp_path, "pure-1", "py3-none-any")
    _wheel(tmp_path, "stable-1", "cp39-abi3-manylinux_2_28_aarch64")
    _wheel(tmp_path, "local-1", "cp311-cp311-manylinux_2_17_x86_64")

    assert foreign_binaries(tmp_path, "3.13", "aarch64") == [
        "local-1.dist-info/WHEEL (cp311-cp311-manylinux_2_17_x86_64)",
        "pkg/__pycache__/m.cpython-311.pyc",
        "pkg/_arch.cpython-313-x86_64-linux-gnu.so",
        "pkg/_local.cpython-311-x86_64-linux-gnu.so",
    ]


@pytest.mark.matrix
def test_sam_build_installs_wheels_of_the_target_runtime(
    new_project: Callable[..., Path],
) -> None:
    assert sys.version_info[:2] != (3, 13), "this test needs a local Python that is not 3.13"
    # Defaults: python3.13 on arm64. Lambda@Edge is built for x86_64 whatever the default.
    project = new_project("--trigger", "sqs:jobs", "--trigger", "cloudfront:edge")
    assert "Runtime: python3.13" in (project / "template.yaml").read_text()
    # A compiled dependency, as a user adds one: Powertools' parser brings pydantic-core.
    requirements = project / "functions" / "jobs" / "requirements.txt"
    requirements.write_text(
        requirements.read_text().replace(
            "aws-lambda-powertools==", "aws-lambda-powertools[parser]=="
        )
    )

    validated = sam("validate", "--lint", cwd=project)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    built = sam("build", cwd=project)
    assert built.returncode == 0, built.stdout + built.stderr

    jobs = project / ".aws-sam" / "build" / "JobsFunction"
    assert [p.name for p in jobs.rglob("*.cpython-313-aarch64-linux-gnu.so")], "no pydantic-core"
    assert foreign_binaries(jobs, "3.13", "aarch64") == []
    edge = project / ".aws-sam" / "build" / "EdgeFunction"
    assert foreign_binaries(edge, "3.13", "x86_64") == []
    for function in (jobs, edge):
        assert (function / "handler.py").is_file()
        assert (function / "app.py").is_file()
        assert not (function / "Makefile").exists()
        assert not (function / "requirements.txt").exists()
    shutil.rmtree(project / ".aws-sam")
