"""Packaging: one version, one dependency list, the registry shipped as package data.

The wheel itself is built and installed non-editable by ``.ci/run`` (building it here
would need the network for the build backend); these tests pin the declarations it
is built from.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import tomllib

import music_tagger
from music_tagger import cli

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower()


def test_version_has_one_source(capsys):
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "music_tagger.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", music_tagger.__version__)
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.split() == ["music-tagger", music_tagger.__version__]


def test_requirements_txt_matches_pyproject():
    """requirements.txt is the dependencies plus the test extra, markers included."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    listed = sorted(ln.replace(" ", "") for ln in lines if ln.strip() and not ln.startswith("#"))
    project = PYPROJECT["project"]
    declared = sorted(r.replace(" ", "") for r in project["dependencies"] + project["optional-dependencies"]["test"])
    assert listed == declared


def test_ray_is_an_optional_extra_only():
    project = PYPROJECT["project"]
    assert "ray" not in {_name(r) for r in project["dependencies"]}
    assert {_name(r) for r in project["optional-dependencies"]["ray"]} == {"ray"}


def test_registry_and_the_serve_page_are_package_data():
    assert PYPROJECT["tool"]["setuptools"]["package-data"]["music_tagger"] == ["registry.json", "serve/static/*"]
    assert resources.files("music_tagger").joinpath("registry.json").is_file()
    static = resources.files("music_tagger").joinpath("serve", "static")
    assert sorted(p.name for p in static.iterdir()) == ["app.js", "index.html", "style.css"]


def test_console_script_points_at_the_cli():
    assert PYPROJECT["project"]["scripts"] == {"music-tagger": "music_tagger.cli:main"}
