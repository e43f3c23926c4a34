"""What ``pip install .`` gives a user: one top-level import name, ``pluralign``, with the user's folders
(theory/, sims/, experiments/, paper_figures/) inside it as ``pluralign.theory`` etc., and the open data
sets shipped with it. Builds the real wheel (setuptools, as pip does) and imports from it outside the
repository."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    (whl,) = out.glob("pluralign-*.whl")
    return whl


def test_the_wheel_has_one_top_level_name(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"pluralign", next(t for t in tops if t.endswith(".dist-info"))}
    top_level = next(n for n in names if n.endswith("top_level.txt"))
    assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["pluralign"]
    for sub in ("theory", "sims", "experiments", "paper_figures"):
        assert f"pluralign/{sub}/__init__.py" in names
    for data in ("pluralign/_data/mpi/mpi_120.csv", "pluralign/_data/mpi/LICENSE",
                 "pluralign/_data/anthropic-persona/SOURCE.txt"):
        assert data in names


def test_installed_wheel_imports_under_pluralign_only(wheel, tmp_path):
    target = tmp_path / "site"
    res = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                          str(wheel)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    code = (
        "import importlib.util, pluralign, pluralign.theory.zero_sum, pluralign.sims, pluralign.datasets as d\n"
        f"assert pluralign.__file__.startswith({str(target)!r}), pluralign.__file__\n"
        "assert all(importlib.util.find_spec(n) is None for n in ('theory', 'sims', 'experiments', 'paper_figures'))\n"
        f"assert str(d.dataset_dir('mpi')).startswith({str(target)!r})\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLURALIGN_")}
    env["PYTHONPATH"] = str(target)
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]
