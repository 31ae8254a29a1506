"""Lazy public names for a package: its ``__getattr__``, ``__dir__`` and ``__all__``.

A package lists which submodule defines each public name; the submodule is imported
on first use, so importing the package stays cheap (no TensorFlow until a model is
built) and changes nothing global. This is the pattern of ``lazy_loader``, used by
librosa and scikit-image, in a dozen lines.

Examples
--------
>>> from music_tagger.util.lazy import attach
>>> __getattr__, __dir__, __all__ = attach("music_tagger", {"TAGS": "registry"})
>>> len(__getattr__("TAGS"))
50
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, Callable


def attach(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """Module-level ``__getattr__``, ``__dir__`` and ``__all__`` for ``package``.

    Parameters
    ----------
    package : str
        The package's dotted name (``__name__``).
    exports : dict of str to str
        Public name -> submodule (relative to ``package``) that defines it.

    Returns
    -------
    getattr_ : callable
        Imports the defining submodule on first access of a public name.
    dir_ : callable
        The package's globals and its public names, sorted.
    all_ : list of str
        The public names, sorted.
    """

    def getattr_(name: str) -> Any:
        if name in exports:
            return getattr(import_module(f".{exports[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def dir_() -> list[str]:
        import sys

        return sorted(set(vars(sys.modules[package])) | set(exports))

    return getattr_, dir_, sorted(exports)
