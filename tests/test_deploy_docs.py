"""The recipes of docs/deploy.md run as written, each in a fresh process.

The blocks run in order in one folder (the SavedModel recipe loads what the block
before it exported); a ``print(...)  # text`` line must print exactly ``text``.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

#: trains networks or prepares stores: left out of the contributor's `-m "not slow"` run
pytestmark = pytest.mark.slow

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

DOC = Path(__file__).resolve().parent.parent / "docs" / "deploy.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def _expected_output(code: str) -> list[str]:
    """The comments of the block's ``print`` lines: what each must print."""
    return [m.group(1).strip() for m in re.finditer(r"^print\(.*\)\s+# (.*)$", code, re.M)]


def test_the_document_has_its_recipes():
    assert len(BLOCKS) >= 5
    assert all(len(block.strip().splitlines()) <= 12 for block in BLOCKS)  # about 10 lines each


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("recipes")


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_each_recipe_runs_as_written(index, workdir, monkeypatch):
    code = BLOCKS[index]
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(DOC.parent.parent), KERAS_HOME=str(workdir))
    proc = subprocess.run([sys.executable, "-c", code], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = [line.strip() for line in proc.stdout.strip().splitlines() if line.strip()]
    assert printed == _expected_output(code)
