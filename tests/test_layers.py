"""The layers (DESIGN.md): theory <- pluralign <- sims, experiments <- paper_figures <- pluralign.cli.

Every import statement of every module, lazy ones inside functions included, is read from the source
(AST, nothing is executed) and checked against the arrows: a module may import its own layer and the
layers below it, never one above. Import names live under ``pluralign.*`` only: ``import theory`` or
``from sims import ...`` fails here even though the folders sit at the repository root.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {  # import name -> folder (setup.py's package-dir map)
    "pluralign.theory": ROOT / "theory",
    "pluralign.sims": ROOT / "sims",
    "pluralign.experiments": ROOT / "experiments",
    "pluralign.paper_figures": ROOT / "paper_figures",
    "pluralign": ROOT / "pluralign",
}
LAYER_OF_PREFIX = [  # first match wins
    ("pluralign.theory", "theory"),
    ("pluralign.sims", "sims"),
    ("pluralign.experiments", "experiments"),
    ("pluralign.paper_figures", "paper_figures"),
    ("pluralign.cli", "cli"),
    ("pluralign.__main__", "cli"),
    ("pluralign.testing", "testing"),
    ("pluralign", "core"),
]
ALLOWED = {  # layer -> the layers it may import
    "theory": {"theory"},
    "core": {"theory", "core"},
    "testing": {"theory", "core", "testing"},
    "sims": {"theory", "core", "sims"},
    "experiments": {"theory", "core", "experiments"},
    "paper_figures": {"theory", "core", "sims", "experiments", "paper_figures"},
    "cli": {"theory", "core", "testing", "sims", "experiments", "paper_figures", "cli"},
}
TOP_LEVEL_FORBIDDEN = {"theory", "sims", "experiments", "paper_figures"}
THEORY_FORBIDDEN = {"torch", "gymnasium", "mujoco", "stable_baselines3", "transformers", "trl", "peft"}


def layer(module: str) -> str | None:
    for prefix, name in LAYER_OF_PREFIX:
        if module == prefix or module.startswith(prefix + "."):
            return name
    return None


def modules() -> list[tuple[str, Path]]:
    out = []
    for name, folder in FOLDERS.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            mod = ".".join([name, *parts])
            if name == "pluralign" and layer(mod) in {"theory", "sims", "experiments", "paper_figures"}:
                continue
            out.append((mod, path))
    return out


def imports(mod: str, path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = mod.split(".")
                base = base if is_pkg else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((node.lineno, target))
    return out


def violations(mods: list[tuple[str, Path]] | None = None) -> list[str]:
    """Every import against the arrows in ``mods`` ((module name, source path); default: the package's)."""
    bad = []
    for mod, path in modules() if mods is None else mods:
        here = layer(mod)
        for line, target in imports(mod, path):
            top = target.split(".")[0]
            where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{line}"
            if top in TOP_LEVEL_FORBIDDEN:
                bad.append(f"{where}: imports top-level {target!r} (use pluralign.{target})")
                continue
            if here == "theory" and top in THEORY_FORBIDDEN:
                bad.append(f"{where}: the theory layer imports {top} (numpy / scipy / cvxpy only)")
            there = layer(target)
            if there is not None and there not in ALLOWED[here]:
                bad.append(f"{where}: {here} module {mod} imports {target} ({there} layer: an upward arrow)")
    return bad


def test_walks_every_layer():
    found = {layer(m) for m, _ in modules()}
    assert {"theory", "core", "sims", "experiments", "paper_figures", "cli", "testing"} <= found


def test_no_import_points_up_a_layer():
    bad = violations()
    assert not bad, "imports against the arrows:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "mod, target, ok",
    [
        ("pluralign.theory.zero_sum", "pluralign.em", False),
        ("pluralign.em", "pluralign.theory.leaky_elbo", True),
        ("pluralign.em", "pluralign.runs", True),
        ("pluralign.runs", "pluralign.cli.common", False),
        ("pluralign.sims.mpi.study", "pluralign.experiments.prec", False),
        ("pluralign.paper_figures.style", "pluralign.sims.mpi", True),
        ("pluralign.cli.sims", "pluralign.paper_figures.style", True),
        ("pluralign.sims.mpi", "pluralign.paper_figures.style", False),
    ],
)
def test_the_rule_itself(mod, target, ok):
    """The arrows themselves: which layer may import which."""
    assert (layer(target) in ALLOWED[layer(mod)]) is ok


def test_planted_violations_are_caught(tmp_path):
    """The checker can fail: planted sources with a lazy relative import upward (resolved against the
    module's package), a top-level import name and a heavy library in theory are each reported; downward
    imports of the same forms are not."""
    core = tmp_path / "core_mod.py"
    core.write_text("import numpy\nfrom ..theory import zero_sum\n\n\ndef f():\n    from ..sims.mpi import study\n"
                    "    import experiments.prec\n")
    theory = tmp_path / "theory_mod.py"
    theory.write_text("import scipy\n\n\ndef g():\n    import torch\n")
    bad = violations([("pluralign.aggregation.demo", core), ("pluralign.theory.demo", theory)])
    assert len(bad) == 3, bad
    assert any("core module pluralign.aggregation.demo imports pluralign.sims.mpi" in b for b in bad)  # lazy, relative
    assert any("imports top-level 'experiments.prec'" in b for b in bad)
    assert any("the theory layer imports torch" in b for b in bad)
