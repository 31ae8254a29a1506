"""Packaging for music_tagger.

The registry of known weight files lives in the top-level ``weights/`` folder and is
installed as the package data ``music_tagger.registry``.
"""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def _requirements() -> list[str]:
    lines = (HERE / "requirements.txt").read_text().splitlines()
    reqs = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    return [r for r in reqs if not r.startswith("pytest")]


setup(
    name="music_tagger",
    version="0.1.0",
    description=(
        "The CRNN music auto-tagger of Choi et al. (2016) for Keras 3, faithful to "
        "the original weights"
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["music_tagger", "music_tagger.*"])
    + ["music_tagger.registry"],
    package_dir={"music_tagger.registry": "weights"},
    package_data={"music_tagger.registry": ["*.json"]},
    install_requires=_requirements(),
    extras_require={"test": ["pytest>=8"]},
    entry_points={"console_scripts": ["music-tagger=music_tagger.cli:main"]},
)
