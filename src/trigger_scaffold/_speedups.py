"""Work copier repeats on every run of this template, done once.

copier renders this template three times per ``add-trigger`` or ``update`` and clones it five
times, and nothing in copier.yml can change that. Each speed-up here keeps copier's output
byte for byte (the test suite renders with and without them) and checks that the copier
internals it relies on are there; if they are not (a newer copier), it is skipped and the run
is slower, never different. ``TRIGGER_SCAFFOLD_NO_SPEEDUPS=1`` turns them all off.

- Compiled Jinja code is kept between runs in the trigger-scaffold data home, like ``.pyc``
  files: compiling partials, question defaults and file names is most of a render's cost.
  copier.yml cannot configure a bytecode cache without ``_jinja_extensions`` (and so
  ``--trust``).
- copier.yml, the catalog it includes and the computed answers (rendered to YAML text and
  parsed again) are parsed with libyaml when PyYAML has it.
- A local template repository (such as the mirror ``new`` records) is cloned once per
  revision and process: copier's other clones of it are hard-linked copies of the first
  (git replaces files by renaming them, never in place, and copier only reads templates).
- Whether the project's git tracks file modes (``core.fileMode``) is asked once per project,
  not once per written file.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import types
from collections import Counter
from collections.abc import Callable
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import jinja2
import yaml
from copier import _main as copier_main
from copier import _template as copier_template
from copier import _user_data as copier_user_data
from jinja2 import Environment, FileSystemBytecodeCache
from jinja2.bccache import Bucket

from trigger_scaffold._errors import TriggerScaffoldError
from trigger_scaffold._template import data_home, git

DISABLE = "TRIGGER_SCAFFOLD_NO_SPEEDUPS"
# How copier's clones of local templates were made in this process: "cloned" or "linked".
CLONES: Counter[str] = Counter()


class _CompiledCode(FileSystemBytecodeCache):
    """Compiled template code, one file per template name and Jinja configuration.

    Jinja recompiles when the source checksum differs. Keying by name (Jinja keys by path)
    matters because copier renders older template versions from temporary clones, which would
    otherwise add a file per partial for every clone.
    """

    def get_bucket(
        self, environment: Environment, name: str, filename: str | None, source: str
    ) -> Bucket:
        key = hashlib.sha1(
            f"{_code_settings(environment)}\0{name}".encode(), usedforsecurity=False
        ).hexdigest()
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket


def _code_settings(env: Environment) -> str:
    """Everything besides the source that decides the code Jinja compiles a template to."""
    return repr(
        (
            jinja2.__version__,
            type(env).__qualname__,
            env.block_start_string,
            env.block_end_string,
            env.variable_start_string,
            env.variable_end_string,
            env.comment_start_string,
            env.comment_end_string,
            env.line_statement_prefix,
            env.line_comment_prefix,
            env.trim_blocks,
            env.lstrip_blocks,
            env.newline_sequence,
            env.keep_trailing_newline,
            sorted(env.extensions),
            env.optimized,
            env.is_async,
            bool(env.autoescape),
            getattr(env.finalize, "__qualname__", None),
        )
    )


@cache
def _cache_in(directory: Path) -> _CompiledCode | None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home: render without the cache
        return None
    return _CompiledCode(str(directory))


def _cache_string_compiles(env: Environment, code_cache: _CompiledCode) -> None:
    """Let ``env.from_string`` (question defaults, validators, file names) use the cache."""
    compile_source: Any = env.compile

    def compile_cached(
        source: Any,
        name: str | None = None,
        filename: str | None = None,
        raw: bool = False,
        defer_init: bool = False,
    ) -> Any:
        if name is not None or raw or defer_init or not isinstance(source, str):
            return compile_source(source, name, filename, raw, defer_init)
        digest = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
        bucket = code_cache.get_bucket(env, f"<string {digest}>", None, source)
        if bucket.code is None:
            bucket.code = compile_source(source)
            code_cache.set_bucket(bucket)
        else:
            # Extensions reset their state in this hook (copier's yield tag does).
            env.preprocess(source)
        return bucket.code

    env.compile = compile_cached  # type: ignore[method-assign]


def _cache_compiled_code() -> bool:
    worker: Any = getattr(copier_main, "Worker", None)
    prop = vars(worker).get("jinja_env") if worker is not None else None
    if not isinstance(prop, cached_property):
        return False
    make_env = prop.func

    def jinja_env(self: Any) -> Any:
        env = make_env(self)
        code_cache = _cache_in(data_home() / "jinja-bytecode")
        if isinstance(env, Environment) and code_cache is not None:
            env.bytecode_cache = code_cache
            _cache_string_compiles(env, code_cache)
        return env

    patched = cached_property(jinja_env)
    patched.__set_name__(worker, "jinja_env")
    worker.jinja_env = patched
    return True


def _parse_yaml_with_libyaml() -> bool:
    fast_loader = getattr(yaml, "CSafeLoader", None)
    modules = (copier_template, copier_user_data)
    if fast_loader is None or any(getattr(m, "yaml", None) is not yaml for m in modules):
        return False

    def safe_load(stream: Any) -> Any:
        return yaml.load(stream, Loader=fast_loader)  # noqa: S506 - libyaml's safe loader

    # copier.yml and its includes: copier derives its loader from yaml.SafeLoader.
    config_yaml = types.ModuleType(yaml.__name__)
    config_yaml.__dict__.update(vars(yaml), SafeLoader=fast_loader)
    copier_template.yaml = config_yaml  # type: ignore[attr-defined]
    # Answers: computed ``yaml``/``json`` answers are rendered to text and parsed again.
    answers_yaml = types.ModuleType(yaml.__name__)
    answers_yaml.__dict__.update(vars(yaml), safe_load=safe_load)
    copier_user_data.yaml = answers_yaml  # type: ignore[attr-defined]
    return True


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # a file system without hard links
        shutil.copy2(src, dst)


def _link_tree(src: str | Path, dst: str | Path) -> None:
    shutil.copytree(src, dst, symlinks=True, copy_function=_link_or_copy, dirs_exist_ok=True)


_SEEDS: dict[tuple[str, str], Path] = {}


def _seed_dir() -> Path:
    root = Path(tempfile.mkdtemp(prefix="trigger-scaffold-clones."))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


def forget_clones() -> None:
    """Drop this process's first clones, so the next request clones again."""
    for seed in _SEEDS.values():
        shutil.rmtree(seed, ignore_errors=True)
    _SEEDS.clear()
    CLONES.clear()


def _commit_of(url: str, ref: str) -> str | None:
    """The commit ``ref`` names in the local repository ``url`` (None if it is not one)."""
    if not Path(url).is_dir():
        return None
    try:
        return git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=Path(url))
    except TriggerScaffoldError:
        return None


def _clone_local_templates_once() -> bool:
    clone = getattr(copier_template, "clone", None)
    if not callable(clone):
        return False

    def clone_once(url: str, ref: str = "HEAD", location: str | None = None) -> str:
        commit = _commit_of(url, ref)
        if location is None or commit is None:  # remote, or no such ref: copier's own way
            return str(clone(url, ref, location=location))
        # Keyed on the commit, not the ref: "HEAD" or a branch moves when the template does.
        seed = _SEEDS.get((url, commit))
        if seed is None or not seed.is_dir():
            result = str(clone(url, ref, location=location))
            CLONES["cloned"] += 1
            try:
                seed = _seed_dir()
                _link_tree(result, seed)
            except OSError:  # no room for the copy: later requests clone again
                return result
            _SEEDS[(url, commit)] = seed
            return result
        _link_tree(seed, location)
        CLONES["linked"] += 1
        return location

    copier_template.clone = clone_once  # type: ignore[attr-defined]
    return True


def _ask_file_mode_once() -> bool:
    worker: Any = getattr(copier_main, "Worker", None)
    sync_bit: Callable[..., None] | None = getattr(worker, "_sync_git_index_executable_bit", None)
    get_git = getattr(copier_main, "get_git", None)
    if worker is None or sync_bit is None or get_git is None:
        return False
    tracks_modes: dict[Path, bool] = {}

    def sync_when_modes_are_ignored(self: Any, dst_relpath: Path, src_mode: int) -> None:
        root = Path(self.subproject.local_abspath)
        if root not in tracks_modes:
            try:
                setting = get_git(context_dir=root)(
                    "config", "--type=bool", "--get", "core.fileMode"
                )
            except Exception:  # noqa: BLE001 - unset or not a repository, as copier reads it
                setting = "true"
            tracks_modes[root] = setting.strip() != "false"
        if not tracks_modes[root]:
            sync_bit(self, dst_relpath, src_mode)

    worker._sync_git_index_executable_bit = sync_when_modes_are_ignored
    return True


_APPLIED: dict[str, bool] = {}


def speed_up_copier() -> dict[str, bool]:
    """Apply the speed-ups once per process; return which ones copier's internals allowed."""
    if not _APPLIED and not os.environ.get(DISABLE):
        _APPLIED.update(
            compiled_code=_cache_compiled_code(),
            libyaml=_parse_yaml_with_libyaml(),
            clone_once=_clone_local_templates_once(),
            file_mode_once=_ask_file_mode_once(),
        )
    return dict(_APPLIED)
