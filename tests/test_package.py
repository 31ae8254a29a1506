"""The package's shape: a Keras-free registry, uniform builders, no import cycle, no
side effects at import."""

import argparse
import ast
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import music_tagger
from music_tagger.models import builders as models

PACKAGE = Path(music_tagger.__file__).parent
ROOT = PACKAGE.parent


def _run_python(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
        cwd=ROOT, env={**_clean_env(), "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def _clean_env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "MPLBACKEND")}


def _modules() -> list[str]:
    """Every module of the package, by dotted name."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


# --------------------------------------------------------------------------- registry


def test_tags_and_the_keras_free_modules_need_neither_keras_nor_tensorflow():
    out = _run_python(
        "import sys, music_tagger; tags = music_tagger.TAGS; "
        "heavy = lambda: sorted(m for m in ('keras', 'tensorflow') if m in sys.modules); "
        "first = heavy(); "
        "import music_tagger.registry, music_tagger.models.architectures, music_tagger.errors; "
        "print(type(tags).__name__, len(tags), first, heavy())"
    )
    assert out == "tuple 50 [] []"


# --------------------------------------------------------------------------- builders

#: keras.applications' parameters, in its order, and the defaults they share here
#: (``pooling`` is left out: every network here already ends in a vector).
SHARED = ["include_top", "weights", "input_tensor", "input_shape", "classes",
          "classifier_activation", "name"]  # fmt: skip
SHARED_DEFAULTS = {"include_top": True, "input_tensor": None, "input_shape": None,
                   "classes": 50, "classifier_activation": "sigmoid", "name": None}  # fmt: skip
#: weights default to the released ones where they exist, as keras.applications does
WEIGHTS_DEFAULT = {"CRNN": "msd", "CNN": "msd", "K1C2": None, "K2C1": None, "K2C2": None,
                   "build": None, "CompactCNN": "msd"}  # fmt: skip
#: ... and include the top where the released weights have one (the compact files do not)
INCLUDE_TOP_DEFAULT = {"CompactCNN": False}
BUILDERS = {name: getattr(music_tagger, name) for name in WEIGHTS_DEFAULT}


def test_keras_applications_order_is_the_one_we_follow():
    keras_applications = pytest.importorskip("keras").applications
    params = list(inspect.signature(keras_applications.VGG16).parameters)
    assert [p for p in params if p != "pooling"] == SHARED


@pytest.mark.parametrize("name", BUILDERS)
def test_builders_have_keras_applications_parameters(name):
    params = list(inspect.signature(BUILDERS[name]).parameters.values())
    if name == "build":
        assert params[0].name == "arch"
        params = params[1:]
    shared, options = params[: len(SHARED)], params[len(SHARED) :]
    assert [p.name for p in shared] == SHARED
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in shared)
    defaults = {p.name: p.default for p in shared}
    assert defaults == {**SHARED_DEFAULTS, "weights": WEIGHTS_DEFAULT[name],
                        "include_top": INCLUDE_TOP_DEFAULT.get(name, True)}  # fmt: skip
    # architecture options come after them, keyword-only
    assert options and all(p.kind is p.KEYWORD_ONLY for p in options)


def test_every_builder_goes_through_the_one_factory(monkeypatch):
    calls = []

    def factory(arch, **kwargs):
        calls.append((arch, kwargs["weights"], kwargs["classes"]))
        return arch

    monkeypatch.setattr(models, "_application", factory)
    for name, builder in BUILDERS.items():
        args = ("k2c1",) if name == "build" else ()
        builder(*args, classes=7)
    assert calls == [
        ("crnn", "msd", 7), ("k2c2", "msd", 7), ("k1c2", None, 7), ("k2c1", None, 7),
        ("k2c2", None, 7), ("k2c1", None, 7), ("compact", "msd", 7),
    ]  # fmt: skip


# --------------------------------------------------------------------------- imports


def _sibling_imports(module: str) -> set[str]:
    """The package modules ``module`` imports, at module level or inside functions."""
    known = set(_modules())
    path = PACKAGE.parent / Path(*module.split("."))
    is_package = path.is_dir()
    source = (path / "__init__.py") if is_package else path.with_suffix(".py")
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            for alias in node.names:  # "from . import audio" imports a module
                if f"{target}.{alias.name}" in known:
                    found.add(f"{target}.{alias.name}")
                elif target in known:
                    found.add(target)
    found.discard(module)
    return found


def test_the_import_walk_sees_function_level_imports():
    graph = {m: _sibling_imports(m) for m in _modules()}
    assert "music_tagger.models.builders" in graph["music_tagger.tagging.networks"]  # inside _pretrained
    assert "music_tagger.audio.resample" in graph["music_tagger.audio.decode"]
    assert "music_tagger.errors" in graph["music_tagger.audio.decode"]  # "from ..errors"


def test_no_import_cycle():
    graph = {m: _sibling_imports(m) for m in _modules()}
    done, stack = set(), []

    def visit(module):
        if module in stack:
            cycle = stack[stack.index(module) :] + [module]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        stack.append(module)
        for target in sorted(graph[module]):
            visit(target)
        stack.pop()
        done.add(module)

    for module in graph:
        visit(module)


_SNAPSHOT = """
import json, os, random, sys
import matplotlib, numpy as np
import tensorflow as tf
from tensorflow.python.eager import context

def snapshot():
    return {
        "backend": dict.__getitem__(matplotlib.rcParams, "backend"),
        "environ": dict(os.environ),
        "random": repr(random.getstate()),
        "numpy": repr(np.random.get_state()),
        "tf_seed": context.global_seed(),
        "pyplot": "matplotlib.pyplot" in sys.modules,
    }
"""


def test_importing_every_module_changes_nothing_global():
    # a backend of the user's choice (matplotlib.use("Agg") at import would replace it)
    code = (
        _SNAPSHOT
        + "matplotlib.use('svg')\n"
        + f"""
import importlib
before = snapshot()
for name in {_modules()!r}:
    importlib.import_module(name)
after = snapshot()
print(json.dumps([k for k in before if before[k] != after[k]]))
"""
    )
    assert json.loads(_run_python(code)) == []


# --------------------------------------------------------------------------- the house

#: the longest a module may grow before it is split by concern
MAX_MODULE_LINES = 500
#: top-level modules besides the subpackages: __init__, __main__, errors, registry, ...
MAX_TOP_LEVEL_MODULES = 6
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _subpackage(module: str) -> str:
    """The subpackage a module lives in (``music_tagger`` for the top level)."""
    parts = module.split(".")
    is_package = (PACKAGE.parent / Path(*parts)).is_dir()
    return ".".join(parts[:2]) if len(parts) > 2 or is_package else parts[0]


def test_no_module_is_longer_than_the_limit():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}  # fmt: skip
    assert long == {}


def test_the_top_level_holds_few_modules_besides_the_subpackages():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def test_no_private_name_is_imported_across_subpackages():
    crossing = []
    for module in _modules():
        parts = module.split(".")
        path = PACKAGE.parent / Path(*parts)
        source = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        package = module if path.is_dir() else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(source.read_text())):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            target = f"{base}.{node.module}" if node.module else base
            private = [a.name for a in node.names if a.name.startswith("_") and a.name != "__version__"]
            if private and _subpackage(target) != _subpackage(module):
                crossing.append(f"{module}: from {target} import {', '.join(private)}")
    assert crossing == []


def test_the_private_import_check_sees_a_crossing():
    assert _subpackage("music_tagger.audio.decode") == "music_tagger.audio"
    assert _subpackage("music_tagger.audio") == "music_tagger.audio"
    assert _subpackage("music_tagger.errors") == "music_tagger"


def test_public_names_are_not_shadowed_by_subpackages():
    # "music_tagger.features" must stay the function even after a subpackage of that
    # name could have been imported: no subpackage shares a public name
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages.isdisjoint(music_tagger.__all__)


_PATH = re.compile(r"(?<![\w/.~-])((?:music_tagger|docs|tests|benchmarks|examples|weights|\.ci)/[\w./-]*\w)")
_LINK = re.compile(r"\]\((?!https?:|#)([^)\s]+)\)")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_path_a_document_names_exists(document):
    text = document.read_text()
    paths = set(_PATH.findall(text)) | {
        str((document.parent / link).resolve().relative_to(ROOT)) for link in _LINK.findall(text)
    }
    assert paths, "the check found no path at all"
    assert sorted(p for p in paths if not (ROOT / p).exists()) == []


def test_the_readme_lists_every_subcommand_and_no_other():
    from music_tagger.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    listed = set(re.findall(r"`music-tagger ([a-z][a-z-]*)`", (ROOT / "README.md").read_text()))
    assert listed == set(sub.choices)


def test_no_issue_numbers_in_user_facing_text():
    texts = [*DOCUMENTS, *PACKAGE.rglob("*.py"), *(ROOT / "examples").glob("*.py")]
    found = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in texts
             for m in re.finditer(r"\bissues? #?\d+", p.read_text(), re.IGNORECASE)]  # fmt: skip
    assert found == []


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


_IMPORT = re.compile(r"^\s*(?:>>> )?from (music_tagger[\w.]*) import ([\w, ]+)$", re.M)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_import_a_document_shows_works(document):
    import importlib

    shown = _IMPORT.findall(document.read_text())
    broken = [f"from {module} import {name.strip()}" for module, names in shown
              for name in names.split(",")
              if not hasattr(importlib.import_module(module), name.strip())
              and importlib.util.find_spec(f"{module}.{name.strip()}") is None]  # fmt: skip
    assert broken == []


def _choices(command: str, option: str) -> tuple:
    from music_tagger.cli import build_parser

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    (action,) = [a for a in sub.choices[command]._actions if option in a.option_strings]
    return tuple(action.choices)


@pytest.mark.parametrize("command, option, name", [
    ("tag", "--model", "PRETRAINED"), ("tag", "--format", "OUTPUT_FORMATS"), ("tag", "--engine", "ENGINES"),
    ("features", "--bn-semantics", "BN_READINGS"), ("features", "--level", "FEATURE_LEVELS"),
    ("features", "--arch", "FEATURE_NETWORKS"),
    ("finetune", "--bn-semantics", "BN_READINGS"), ("finetune", "--recipe", "RECIPES"),
    ("finetune", "--head", "HEADS"), ("finetune", "--head-fit", "HEAD_FITS"),
    ("tag", "--runtime", "RUNTIMES"), ("export", "--format", "EXPORT_FORMATS"), ("export", "--input", "EXPORT_INPUTS"),
])  # fmt: skip
def test_the_command_line_offers_the_vocabulary(command, option, name):
    from music_tagger import vocabulary

    assert _choices(command, option) == getattr(vocabulary, name)


def test_the_library_refuses_what_the_vocabulary_does_not_name():
    from music_tagger.errors import ParameterError
    from music_tagger.models import legacy

    with pytest.raises(ParameterError, match="bn_semantics must be one of 'variance', 'std_keras106'"):
        legacy.bn_layer_epsilon("crnn", "std")


# --------------------------------------------------------------------------- floors and roads

#: The floors of the house, bottom up: the one statement of the order. A module
#: imports only from its own room or from a floor below (``music_tagger`` is the front
#: door: its names resolve lazily, on first use, so it imports only ``util``).
FLOORS = (
    ("music_tagger.errors", "music_tagger.vocabulary"),
    ("music_tagger.util", "music_tagger.registry"),
    ("music_tagger",),
    ("music_tagger.audio",),
    ("music_tagger.models",),
    ("music_tagger.datasets",),
    ("music_tagger.runtime",),
    ("music_tagger.deploy",),
    ("music_tagger.tagging",),
    ("music_tagger.embeddings",),
    ("music_tagger.training",),
    ("music_tagger.library",),
    ("music_tagger.serve",),
    ("music_tagger.cli",),
    ("music_tagger.__main__",),
)


def _room(module: str) -> str:
    """A subpackage, or a top-level module on its own."""
    sub = _subpackage(module)
    return module if sub == "music_tagger" else sub


def test_no_import_reaches_a_floor_above():
    floor = {room: i for i, rooms in enumerate(FLOORS) for room in rooms}
    assert sorted({_room(m) for m in _modules()} - set(floor)) == [], "a room without a floor: add it to FLOORS"
    up = [f"{module} -> {target}" for module in _modules() for target in sorted(_sibling_imports(module))
          if _room(target) != _room(module) and floor[_room(target)] >= floor[_room(module)]]  # fmt: skip
    assert up == []


#: What starts processes or threads that run jobs: only music_tagger/util/workers.py may
#: use it (the package's one pool, util.workers.imap_jobs).
_POOL_MODULES = ("multiprocessing", "concurrent.futures")
_POOL_NAMES = {"Pool", "ProcessPoolExecutor", "ThreadPoolExecutor", "Process", "fork", "ThreadPool"}


def _pool_starts(source: str) -> list[str]:
    """What in ``source`` imports a pool's module or names a pool's class."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith(_POOL_MODULES)]
        elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith(_POOL_MODULES):
            found.append(node.module)
        elif isinstance(node, ast.Attribute) and node.attr in _POOL_NAMES:
            found.append(node.attr)
    return found


def _modules_where(check, *, but: Path) -> dict[str, list]:
    """``check(source)`` of every package module but ``but``, where it finds something."""
    return {str(p.relative_to(ROOT)): hits for p in sorted(PACKAGE.rglob("*.py"))
            if p != but and (hits := check(p.read_text()))}  # fmt: skip


def test_no_module_but_util_workers_runs_a_pool():
    assert _modules_where(_pool_starts, but=PACKAGE / "util" / "workers.py") == {}
    assert _pool_starts("from concurrent.futures import ProcessPoolExecutor") == ["concurrent.futures"]
    assert _pool_starts("import os\nos.fork()") == ["fork"]


def _hand_written_int_checks(source: str) -> list[int]:
    """Lines of ``source`` with an ``isinstance(x, bool)`` check (the integer check's tell)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance" and len(node.args) == 2:
            kinds = node.args[1].elts if isinstance(node.args[1], ast.Tuple) else [node.args[1]]
            if any(getattr(kind, "id", None) == "bool" for kind in kinds):
                lines.append(node.lineno)
    return lines


def test_integers_are_checked_by_util_checks_alone():
    found = _modules_where(_hand_written_int_checks, but=PACKAGE / "util" / "checks.py")
    assert found == {}, "use music_tagger.util.checks (positive_int, non_negative_int, int_between)"
    assert _hand_written_int_checks("ok = isinstance(n, bool) or n < 1") == [1]
    assert _hand_written_int_checks("ok = isinstance(n, (bool, float))") == [1]


def _pretrained_tables(source: str) -> list[int]:
    """Lines of ``source`` that spell the pretrained networks' table: a registry key of
    their weights outside a docstring, or a dict keyed by their names."""
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}  # fmt: skip
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if re.search(r"_msd_(theano|tensorflow)", node.value):
                lines.append(node.lineno)
        elif isinstance(node, ast.Dict):
            if {"crnn", "cnn"} <= {getattr(key, "value", None) for key in node.keys}:
                lines.append(node.lineno)
    return lines


def test_one_table_maps_a_pretrained_name_to_its_weights():
    found = _modules_where(_pretrained_tables, but=PACKAGE / "vocabulary.py")
    assert found == {}, "read music_tagger.vocabulary.MSD_NETWORKS, check with util.checks.pretrained_name"
    assert _pretrained_tables(Path(PACKAGE / "vocabulary.py").read_text()) != []
    assert _pretrained_tables('key = f"{name}_msd_theano"') == [1]
    assert _pretrained_tables('ARCHS = {"crnn": "crnn", "cnn": "k2c2"}') == [1]
    assert _pretrained_tables('def f():\n    """get_file("weights", "crnn_msd_theano")"""') == []


def _pretrained_checks(source: str) -> list[int]:
    """Lines of ``source`` that raise the pretrained-name message themselves."""
    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "must be 'crnn'" in node.value]  # fmt: skip


def test_one_check_refuses_an_unknown_pretrained_name():
    from music_tagger.errors import ParameterError
    from music_tagger.util.checks import pretrained_name

    found = _modules_where(_pretrained_checks, but=PACKAGE / "util" / "checks.py")
    assert found == {}, "check a pretrained name with music_tagger.util.checks.pretrained_name"
    assert _pretrained_checks("raise ParameterError(f\"model must be 'crnn' or 'cnn', got {m!r}\")") == [1]
    assert pretrained_name("CNN") == "cnn"
    with pytest.raises(ParameterError, match=r"^model must be 'crnn' or 'cnn', got 'vgg'$"):
        pretrained_name("vgg")
    with pytest.raises(ParameterError, match=r"^model must be 'crnn', 'cnn' or a keras.Model, got int$"):
        pretrained_name(3, or_model=True)


def test_every_docstring_example_runs():
    # every ">>>" example of the package that is not marked +SKIP, as doctest runs it
    import doctest
    import importlib

    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    report: list[str] = []
    tried = 0
    for name in _modules():
        for test in finder.find(importlib.import_module(name), name):
            result = runner.run(test, out=report.append)
            tried += result.attempted
    assert "".join(report) == ""
    assert tried > 100  # the examples were found


def test_every_import_a_module_docstring_shows_works():
    # skipped examples included: a docstring must not show an import that fails
    import importlib

    broken = []
    for module in _modules():
        path = ROOT / Path(*module.split("."))
        source = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        doc = ast.get_docstring(ast.parse(source.read_text()))
        for target, names in _IMPORT.findall(doc or ""):
            for name in (n.strip() for n in names.split(",")):
                if (
                    not hasattr(importlib.import_module(target), name)
                    and importlib.util.find_spec(f"{target}.{name}") is None
                ):
                    broken.append(f"{module}: from {target} import {name}")
    assert broken == []


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint and import order", "format"])
def test_the_formatter_and_the_import_sorter_report_nothing(command):
    # the settings are pyproject.toml's [tool.ruff]: the package, tests, benchmarks, examples
    ruff = Path(sys.executable).with_name("ruff")
    argv = [str(ruff)] if ruff.exists() else [sys.executable, "-m", "ruff"]
    proc = subprocess.run([*argv, *command, "."], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-1000:]
