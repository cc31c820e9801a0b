"""The `.pyi` stubs match the built module (mypy's stubtest), and typed code using the API type-checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parents[1]


def test_stubtest() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "--mypy-config-file", str(PYTHON_DIR / "pyproject.toml"), "copiloot"],
        capture_output=True,
        text=True,
        cwd=PYTHON_DIR / "tests",  # import the installed package, not the source folder
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_package_is_typed() -> None:
    import copiloot

    assert (Path(copiloot.__file__).parent / "py.typed").is_file()
    assert (Path(copiloot.__file__).parent / "_native.pyi").is_file()


def test_wrapper_type_checks_against_the_stubs() -> None:
    # The Python layer (copiloot/__init__.py, pandas.py) calls _native exactly as _native.pyi declares.
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "-p", "copiloot"],
        capture_output=True,
        text=True,
        cwd=PYTHON_DIR,
    )
    assert out.returncode == 0, out.stdout + out.stderr
