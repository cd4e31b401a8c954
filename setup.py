"""Build hook: compiles hijackwatch/detect/_walk.pyx when Cython and a C compiler are
there; otherwise installs the pure-Python package (same results, slower walk).

Metadata lives in pyproject.toml. Install with ``pip install --no-build-isolation``
so the extension is compiled against the lxml the environment runs (its headers
and C API must match the installed lxml).
"""

from __future__ import annotations

import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

WARNING = (
    "hijackwatch: the compiled document walk was not built ({}); installing the "
    "pure-Python walk (same results, slower detection)."
)


_warned: list[object] = []


def _warn(reason: object) -> None:
    """Say once why the extension is missing (a failed build also fails its copy)."""
    if not _warned:
        _warned.append(reason)
        line = "*" * 78
        print(f"\n{line}\n{WARNING.format(reason)}\n{line}\n", file=sys.stderr)


class OptionalBuildExt(build_ext):
    """build_ext that warns instead of failing: the extension is an optimisation."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # compiler missing, headers missing, ...
            _warn(exc)

    def build_extension(self, ext) -> None:  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as exc:
            _warn(exc)


def _extensions() -> list:
    try:
        import lxml
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError as exc:
        _warn(exc)
        return []
    ext = Extension(
        "hijackwatch.detect._walk",
        ["hijackwatch/detect/_walk.pyx"],
        include_dirs=lxml.get_include(),
    )
    try:
        return cythonize([ext], language_level=3, quiet=True)
    except Exception as exc:
        _warn(exc)
        return []


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
