"""Mutation testing with per-function test selection: how many small code changes do the tests catch?

A self-written AST mutator (mutmut 3 copies the sources into a ``mutants/`` tree and imports them from
there, which does not reach ``theory/`` -- installed as ``pluralign.theory`` through setuptools'
package-dir map; this script serves the mutated module under its import name instead).

1. Trace: each module's test files run once with a profiler that records, per test, which functions of
   the module it executes (``--trace-cache`` keeps the result). Tests that fail unmutated are dropped.
2. Mutate: every mutation point of the module (operators + - * / **, comparisons, and/or, unary minus
   and not, numeric constants, max/min and argmax/argmin, True/False) gives one mutant; ``--sample N``
   draws N of them at random (``--seed``) across the selected modules, ``--per-module N`` N per module.
3. Run: each mutant runs only the tests that executed the mutated function (a mutant outside every
   function -- a constant, a dataclass default, a decorator -- runs every test of the module's test
   files; one in a function no test runs survives as "uncovered"), stopping at the first failure, in a
   pytest child forked from a parent that imported numpy / scipy / torch / pytest once (``--no-fork``: a
   fresh interpreter each), with the mutated source served under the module's import name. The
   unmutated modules go through the same runner first and must pass. A run past 30 s + 10x its tests'
   traced time (at most ``--timeout``) counts as killed.

Prints the kill rate per module -- of all mutants, and of those not judged equivalent in
:data:`EQUIVALENT` -- and every survivor. ``--rerun RESULTS.json`` keeps an earlier run's kills and
re-runs its survivors (tests only grow); ``--report RESULTS.json`` reprints the tables. Run it from
the checkout the tests import (it stops if the traced files are not the imported ones). Not a CI step.

    python benchmarks/mutation.py --sample 80 --seed 0                        # theory/, a random sample
    python benchmarks/mutation.py --modules core --per-module 20 --seed 1     # the numeric core
    python benchmarks/mutation.py --modules theory/zero_sum.py                # one module, every mutant

Core run (issue 14 item 12; 2026-12-01, a 2-core machine at load ~18, so times are contended):
``--modules core --per-module 20 --seed 1`` (220 of 1539 mutants), on the tests of commit 47b016d:
168/220 killed (76.4%), 60 min wall, 998 s CPU (user + sys, tracing included). The survivors were
then killed by tests added in ``tests/pluralign/`` (``--rerun``), except those judged in
:data:`EQUIVALENT` (equivalent or harmless, the reason with each); ``pal/train.py:135`` (the or of
the context-features check) was killed by hand only (its test was added after the re-run started).
After (``--rerun``, the tests of branch ``mut``): 204/220 killed (92.7%); 15 judged equivalent or
harmless; 204/205 non-equivalent killed (99.5%), every module >= 95%. The one non-equivalent
survivor left by that run, ``pal/models.py:163`` (``d_context > 0`` -> ``> 1`` in ``prototype_matrix``:
no test fitted a PAL-B with exactly one context feature), is killed by hand since (the PAL-B score test
draws 1 or 2 context features): 205/205 of the sample's non-equivalent mutants.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # before the fork runner imports numpy / torch; inherited by every child

#: mutants judged equivalent or harmless, (module, mutation, source line) -> why; the kill rate over the
#: non-equivalent mutants leaves them out.  Core: from the core run in the module docstring; theory: from
#: the ``--sample 80 --seed 0`` run of theory/README.md section 6.
EQUIVALENT: dict[tuple[str, str, str], str] = {
    ('theory/identifiability.py', 'Add -> Sub',
     'return self.means[comp] + np.einsum("sij,sj->si", L[comp], z)'):
        'equivalent in law: z ~ N(0, I) is symmetric, so mu - L z has the law of mu + L z (the draws promised)',
    ('theory/identifiability.py', '1 -> 2',
     'atom = ~np.any(f.covs.reshape(f.M, -1) != 0, axis=1)'):
        'equivalent: numpy reads any negative reshape length (-2 as -1) as the one inferred dimension',
    ('theory/identifiability.py', '1e-12 -> 2e-12',
     'options={"maxfev": int(max_evals), "xatol": 1e-6, "fatol": 1e-12})'):
        "harmless: Nelder-Mead's stopping tolerance in the witness refinement, doubled (only an improvement "
        "on the screened maximum is promised)",
    ('theory/leaky_elbo.py', '.any -> .all', 'if np.any(np.isneginf(J[pos])):'):
        'equivalent: log_lik is finite and <= 0, so J < +inf; one -inf term with q > 0 already makes the sum '
        '-inf, the value returned early',
    ('theory/leaky_elbo.py', '0 -> 1',
     'z = np.array(np.unravel_index(flat, (K,) * N), dtype=int).reshape(N) if N > 0 else np.zeros(0, int)'):
        'equivalent: the N = 0 branch is dead (check_inputs rejects a log_lik without users)',
    ('theory/leaky_elbo.py', '0.0001 -> 0.0002', 'if fc >= f + 1e-4 * t * float(g @ step) or t < 1e-12:'):
        "harmless: the Armijo constant of the Newton line search (any c in (0, 1/2) converges to the same "
        "maximizer, to the stopping tolerance)",
    ('theory/leaky_elbo.py', '0 -> 1',
     'def check_prop_a4(X, y, z, rho, nu: float, seed: int = 0, n_perturb: int = 20) -> float:'):
        'harmless: a default seed; every caller passes its own (tests, theory/check.py)',
    ('theory/leaky_elbo.py', '0 -> 1',
     'def probe_f_nu_decrease(seed: int = 0, n_instances: int = 12, lrs=(0.5, 8.0, 32.0),'):
        'harmless: a default seed; every caller passes its own (tests, theory/check.py)',
    ('theory/leaky_elbo.py', 'Mult -> Div', 'if drop < -1e-9 * max(1.0, abs(f[t - 1])):'):
        'harmless: the rounding threshold 1e-9 max(1, |F|) -> 1e-9 / max(1, |F|); on the probe runs |F| is '
        '113..761 and the smallest decrease is 7.6e-3, so both thresholds count the same drops',
    ('theory/zero_sum.py', 'Gt -> GtE', 'neg = (dv < 0) & (mask > 0)'):
        'equivalent: every Newton direction is multiplied by the mask, so dv = 0 (never < 0) off it',
    ('theory/zero_sum.py', '.all -> .any',
     'bad = ~(np.isfinite(xb).all(1) & np.isfinite(yb).all(1) & np.isfinite(zb).all(1) & np.isfinite(sb).all(1))'):
        'equivalent: a non-finite dy_i makes ds_i = (rsy_i - s_i dy_i) / y_i non-finite, so the s check '
        'already flags every non-finite y',
    ('theory/zero_sum.py', '1.0 -> 2.0', 'eta = 1.0 / scale if scale > 0 else 1.0'):
        'equivalent: the step used only when R = 0, where every loss is 0 and the strategies stay uniform',
    ('theory/pal_bounds.py', '0.5 -> 1.0',
     'return 0.5 - (y[None] * am).mean(axis=2) / (2 * c) - (y[None, :, :, None] * qd).mean(axis=2).max(axis=2) / (2 * c)'):
        "equivalent: the constant of the affine rho cancels in C.7's E rho - mean rho and in C.8's increments; "
        "in C.12's E sup sum_i eps_i rho_i it adds c sum_i eps_i, of mean 0",
    ('pluralign/aggregation/pooling.py', '1e-08 -> 2e-08',
     'def validate_distributions(P, name: str = "distributions", atol: float = 1e-8) -> np.ndarray:'):
        'harmless: the default tolerance on row sums, doubled',
    ('pluralign/aggregation/pooling.py', 'Gt -> GtE',
     'if sum_to_one and abs(w.sum() - 1.0) > 1e-9:'):
        'equivalent: |sum w - 1| is never exactly 1e-9',
    ('pluralign/choice.py', 'IsNot -> Is',
     'return t.as_tensor(np.asarray(x, dtype=float), dtype=dtype, device=like.device if like is not None else None)'):
        'equivalent on the CPU: device=None is the CPU, where every `like` tensor of the tests lives; only a CUDA run can tell (not run)',
    ('pluralign/choice.py', 'Gt -> GtE',
     'c = (rng.random(p.shape[0])[:, None] > np.cumsum(p, axis=1)).sum(axis=1).clip(0, n - 1)'):
        'equivalent: a uniform draw equal to a cumulative probability has probability ~0',
    ('pluralign/dpo.py', '0.0 -> 1.0',
     'return total / s if float(s) > 0 else total * 0.0'):
        'equivalent: with every weight 0 (finite log-probabilities) total is already 0, so total * 1.0 = total * 0.0',
    ('pluralign/em.py', '1e-08 -> 2e-08',
     'tol: float = 1e-8'):
        "harmless: EMConfig's default stopping tolerance, doubled",
    ('pluralign/em.py', '1.0 -> 2.0',
     'scale = max(1.0, rec_w.sum())'):
        'harmless: the floor of the Newton gradient-tolerance scale',
    ('pluralign/em.py', '31 -> 32',
     'km = KMeans(K, init="k-means++", n_init=1, random_state=int(rng.integers(2**31)))'):
        "equivalent: k-means' seed drawn from [0, 2^32) instead of [0, 2^31), both valid seeds",
    ('pluralign/mmra.py', '1 -> 2',
     'zero = np.zeros((1, T.shape[1]))'):
        'equivalent: two identical null rows in the game instead of one',
    ('pluralign/mmra.py', 'True -> False',
     'Gn = G / np.clip(G.sum(axis=0, keepdims=True), 1e-300, None)'):
        'equivalent: G / G.sum(axis=0) broadcasts as with keepdims',
    ('pluralign/pal/train.py', '0.01 -> 0.02',
     'lr_map: float = 1e-2'):
        'harmless: a default Adam learning rate (no paper value asserted)',
    ('pluralign/pal/train.py', '0.01 -> 0.02',
     'lr_prototypes: float = 1e-2'):
        'harmless: a default Adam learning rate (no paper value asserted)',
    ('pluralign/pal/train.py', '0.05 -> 0.1',
     'lr_weights: float = 5e-2'):
        'harmless: a default Adam learning rate (no paper value asserted)',
    ('pluralign/pal/train.py', '1 -> 2',
     'W = W[None].expand(int(batch.users.max()) + 1, -1)'):
        'equivalent: one extra broadcast row of the (K,) weights, never indexed',
    ('pluralign/pal/train.py', 'drop USub',
     'u = self.model_.utilities_w(batch.x, torch.softmax(logits, -1)[batch.users], batch.ctx)'):
        'equivalent: softmax over dim 1 of the 2-d logits is dim -1',
}

#: module file -> the test files that exercise it (the theory layer with the theory tests)
THEORY = {
    "theory/pal_bounds.py": ["tests/theory/test_pal_bounds.py"],
    "theory/zero_sum.py": ["tests/theory/test_zero_sum.py"],
    "theory/identifiability.py": ["tests/theory/test_identifiability.py"],
    "theory/leaky_elbo.py": ["tests/theory/test_leaky_elbo.py"],
    "theory/emdpo.py": ["tests/theory/test_emdpo.py"],
    "theory/validation.py": ["tests/theory/test_validation.py", "tests/theory/test_zero_sum.py",
                             "tests/theory/test_leaky_elbo.py"],
}

#: the numeric core of pluralign/ (issue 14 item 12): module -> the test files that exercise it.  Per-function
#: test selection keeps the cost of a long list low (a mutant runs only the tests that executed its function).
CORE = {
    "pluralign/em.py": ["tests/pluralign/test_em.py", "tests/pluralign/test_em_reference.py",
                        "tests/pluralign/test_bad_inputs.py"],
    "pluralign/choice.py": ["tests/pluralign/test_choice.py", "tests/pluralign/test_choice_samplers.py",
                            "tests/pluralign/test_choice_users.py"],
    "pluralign/dpo.py": ["tests/pluralign/test_dpo.py"],
    "pluralign/bpref.py": ["tests/pluralign/test_bpref.py", "tests/pluralign/test_bad_inputs.py"],
    "pluralign/welfare.py": ["tests/pluralign/test_welfare.py"],
    "pluralign/aggregation/social_choice.py": ["tests/pluralign/test_social_choice.py",
                                               "tests/pluralign/test_bad_inputs.py"],
    "pluralign/aggregation/pooling.py": ["tests/pluralign/test_pooling.py", "tests/pluralign/test_bad_inputs.py"],
    "pluralign/mmra.py": ["tests/pluralign/test_mmra.py", "tests/pluralign/test_bad_inputs.py"],
    "pluralign/pal/models.py": ["tests/pluralign/test_pal.py"],
    "pluralign/pal/train.py": ["tests/pluralign/test_pal.py"],
    "pluralign/data.py": ["tests/pluralign/test_data.py", "tests/pluralign/test_bad_inputs.py"],
}

PACKAGE_DIRS = {"theory": "pluralign.theory", "sims": "pluralign.sims", "experiments": "pluralign.experiments",
                "paper_figures": "pluralign.paper_figures", "pluralign": "pluralign"}


def import_name(path: str) -> str:
    parts = Path(path).with_suffix("").parts
    return ".".join([PACKAGE_DIRS[parts[0]], *parts[1:]]).removesuffix(".__init__")


# --------------------------------------------------------------------------------------------- mutations

_BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Pow: ast.Mult,
          ast.FloorDiv: ast.Div, ast.Mod: ast.Mult}
_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
        ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
_NAMES = {"max": "min", "min": "max", "argmax": "argmin", "argmin": "argmax", "maximum": "minimum",
          "minimum": "maximum", "any": "all", "all": "any"}


def _docstring_nodes(tree) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                out.add(id(first.value))
    return out


def mutation_points(tree) -> list[tuple[int, str, str]]:
    """(node index in ast.walk order, kind, description) of every mutation; deterministic."""
    doc = _docstring_nodes(tree)
    pts = []
    for i, node in enumerate(ast.walk(tree)):
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOP:
            pts.append((i, "binop", f"{type(node.op).__name__} -> {_BINOP[type(node.op)].__name__}"))
        elif isinstance(node, ast.AugAssign) and type(node.op) in _BINOP:
            pts.append((i, "augop", f"{type(node.op).__name__}= -> {_BINOP[type(node.op)].__name__}="))
        elif isinstance(node, ast.Compare):
            for j, op in enumerate(node.ops):
                if type(op) in _CMP:
                    pts.append((i, f"cmp{j}", f"{type(op).__name__} -> {_CMP[type(op)].__name__}"))
        elif isinstance(node, ast.BoolOp):
            pts.append((i, "boolop", f"{type(node.op).__name__} -> {'Or' if isinstance(node.op, ast.And) else 'And'}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
            pts.append((i, "unary", f"drop {type(node.op).__name__}"))
        elif isinstance(node, ast.Constant) and id(node) not in doc:
            v = node.value
            if isinstance(v, bool):
                pts.append((i, "const", f"{v} -> {not v}"))
            elif isinstance(v, (int, float)) and not isinstance(v, complex):
                pts.append((i, "const", f"{v!r} -> {_mut_const(v)!r}"))
        elif isinstance(node, ast.Attribute) and node.attr in _NAMES:
            pts.append((i, "attr", f".{node.attr} -> .{_NAMES[node.attr]}"))
        elif isinstance(node, ast.Name) and node.id in ("max", "min", "any", "all") and isinstance(node.ctx, ast.Load):
            pts.append((i, "name", f"{node.id} -> {_NAMES[node.id]}"))
    return pts


def _mut_const(v):
    if isinstance(v, int):
        return v + 1
    return v * 2 if v != 0 else 1.0


def apply_mutation(source: str, index: int, kind: str) -> tuple[str, int]:
    """The mutated module source (ast.unparse) and the line of the mutated node."""
    tree = ast.parse(source)
    for i, node in enumerate(ast.walk(tree)):
        if i != index:
            continue
        line = getattr(node, "lineno", 0)
        if kind == "binop" or kind == "augop":
            node.op = _BINOP[type(node.op)]()
        elif kind.startswith("cmp"):
            j = int(kind[3:])
            node.ops[j] = _CMP[type(node.ops[j])]()
        elif kind == "boolop":
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        elif kind == "unary":
            # replace the UnaryOp by its operand: find the parent
            for parent in ast.walk(tree):
                for field, val in ast.iter_fields(parent):
                    if val is node:
                        setattr(parent, field, node.operand)
                    elif isinstance(val, list):
                        for k, item in enumerate(val):
                            if item is node:
                                val[k] = node.operand
        elif kind == "const":
            node.value = (not node.value) if isinstance(node.value, bool) else _mut_const(node.value)
        elif kind == "attr":
            node.attr = _NAMES[node.attr]
        elif kind == "name":
            node.id = _NAMES[node.id]
        return ast.unparse(ast.fix_missing_locations(tree)), line
    raise IndexError(index)


def mutant_diff(source: str, index: int, kind: str) -> list[str]:
    """The changed lines of a mutant: '-' the statement as it is, '+' as mutated (both through ast.unparse,
    so the two differ in the mutation only)."""
    before = ast.unparse(ast.parse(source)).splitlines()
    after = apply_mutation(source, index, kind)[0].splitlines()
    return [ln for ln in difflib.unified_diff(before, after, lineterm="", n=0)
            if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]


def enclosing_function(tree, line: int):
    """First line (decorators included) of the innermost def or lambda containing ``line`` (None: module level)."""
    best = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            start = node.lineno
            end = getattr(node, "end_lineno", start)
            if start <= line <= end and (best is None or start >= best[0]):
                first = min([d.lineno for d in getattr(node, "decorator_list", [])] + [start])
                best = (start, first, node.lineno)
    if best is None:
        return None
    return best


# --------------------------------------------------------------------------------------------- tracing

_TRACE_PLUGIN = r"""
import json, os, sys, time
TARGETS = set(json.loads(os.environ["MUT_TRACE_FILES"]))
OUT = os.environ["MUT_TRACE_OUT"]
_current = [None]
_calls, _failed, _dur = {}, [], {}

def _prof(frame, event, arg):
    if event == "call" and _current[0] is not None:
        f = frame.f_code.co_filename
        if f in TARGETS:
            _calls.setdefault(_current[0], set()).add((f, frame.f_code.co_firstlineno))

def pytest_runtest_call(item):
    _current[0] = item.nodeid
    sys.setprofile(_prof)

def pytest_runtest_teardown(item):
    sys.setprofile(None)
    _current[0] = None

def pytest_runtest_logreport(report):
    _dur[report.nodeid] = _dur.get(report.nodeid, 0.0) + report.duration
    if report.failed:
        _failed.append(report.nodeid)

def pytest_sessionfinish(session):
    sys.setprofile(None)
    with open(OUT, "w") as fh:
        json.dump({"calls": {k: sorted(v) for k, v in _calls.items()}, "failed": _failed, "durations": _dur}, fh)
"""


_MUTANT_PLUGIN = r"""
import importlib.abc, importlib.util, os, sys
NAME, FILE = os.environ["MUT_MODULE"], os.environ["MUT_FILE"]

class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname == NAME:
            return importlib.util.spec_from_file_location(fullname, FILE)
        return None

sys.meta_path.insert(0, _Finder())
"""


def _env(extra: dict, plugin_dir: str) -> dict:
    env = dict(os.environ)
    env.update(extra)
    env["PYTHONPATH"] = plugin_dir + os.pathsep + env.get("PYTHONPATH", "")
    return env


def trace(modules: dict, plugin_dir: str, cache: Path | None) -> dict:
    """{module path: {function first line: [test node ids]}}, "*" -> every passing test id of the module's test
    files (for mutants outside any function: constants, defaults, decorators) and
    "@dur" -> {test id: seconds}.  A test that fails on the unmutated code is dropped (with a warning): it
    would "kill" every mutant."""
    if cache and cache.exists():
        return json.loads(cache.read_text())
    files = {str((ROOT / m).resolve()): m for m in modules}
    out: dict = {m: {"*": [], "@dur": {}} for m in modules}
    test_files = sorted({t for ts in modules.values() for t in ts})
    for tf in test_files:
        res_file = Path(plugin_dir) / "trace.json"
        res_file.unlink(missing_ok=True)
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "mut_trace", tf],
                           cwd=ROOT, env=_env({"MUT_TRACE_FILES": json.dumps(list(files)),
                                               "MUT_TRACE_OUT": str(res_file)}, plugin_dir),
                           capture_output=True, text=True)
        print(f"  traced {tf} ({time.perf_counter() - t0:.0f}s)", flush=True)
        if not res_file.exists():
            sys.exit(f"tracing {tf} failed (rc {r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        res = json.loads(res_file.read_text())
        failed = set(res["failed"])
        if failed:
            print(f"  WARNING: {len(failed)} test(s) of {tf} fail on the unmutated code, dropped: {sorted(failed)}",
                  flush=True)
        calls = {k: v for k, v in res["calls"].items() if k not in failed}
        for nodeid, hits in calls.items():
            for f, line in hits:
                m = files[f]
                if tf in modules[m]:
                    out[m].setdefault(str(line), []).append(nodeid)
        ran = sorted(k for k in res["durations"] if k not in failed)  # every test, also those that call nothing
        for m, ts in modules.items():  # of the module (they may read its constants): module-level mutants
            if tf in ts:
                out[m]["*"] += ran
                out[m]["@dur"].update({k: res["durations"][k] for k in ran})
    for m in modules:
        if not any(k not in ("*", "@dur") for k in out[m]):
            sys.exit(f"trace: no test ran a function of {m} as {ROOT / m}: is the package imported from another "
                     "checkout (an editable install elsewhere)? Run the script from the tree the tests import.")
    if cache:
        cache.write_text(json.dumps(out))
    return out


def _verdict(rc: int | None, log: str) -> str:
    if rc is None:
        return "killed (timeout)"
    if rc == 0:
        return "survived"
    if rc in (1, 2, 3, 4) and ("failed" in log or "error" in log.lower()):
        return "killed"
    return f"killed (rc {rc})"


def run_mutant(module: str, source: str, tests: list[str], plugin_dir: str, timeout: float) -> str:
    """Fresh-interpreter runner (``--no-fork``): a pytest process that imports the mutant in place of the module."""
    mfile = Path(plugin_dir) / ("mutant_" + Path(module).name)
    mfile.write_text(source)
    env = _env({"MUT_MODULE": import_name(module), "MUT_FILE": str(mfile)}, plugin_dir)
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "mut_plugin",
                            *tests], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return _verdict(None, "")
    return _verdict(r.returncode, r.stdout)


class ForkRunner:
    """Runs each mutant's tests in a child forked from a parent that has imported the heavy third-party
    dependencies (numpy, scipy, torch, matplotlib, pytest, hypothesis) once: a fresh interpreter spends 4-10 s
    importing them per mutant, more than most mutants' tests take.  The parent never imports ``pluralign``,
    so each child imports the package afresh, with the mutant served under the module's import name."""

    PRELOAD = ("numpy", "scipy.optimize", "scipy.special", "scipy.stats", "scipy.linalg", "torch", "matplotlib",
               "matplotlib.pyplot", "pytest", "hypothesis", "hypothesis.extra.numpy")

    def __init__(self, plugin_dir: str):
        import importlib

        self.plugin_dir = plugin_dir
        for name in self.PRELOAD:
            try:
                importlib.import_module(name)
            except ImportError:
                pass
        if any(k == "pluralign" or k.startswith("pluralign.") for k in sys.modules):
            raise RuntimeError("the fork parent imported pluralign: children would not see the mutant")

    def run(self, module: str, source: str, tests: list[str], timeout: float) -> str:
        mfile = Path(self.plugin_dir) / ("mutant_" + Path(module).name)
        mfile.write_text(source)
        log = Path(self.plugin_dir) / "mutant.log"
        pid = os.fork()
        if pid == 0:  # child
            rc = 70
            try:
                fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                os.chdir(ROOT)
                import importlib.abc
                import importlib.util

                name, path = import_name(module), str(mfile)

                class _Finder(importlib.abc.MetaPathFinder):
                    def find_spec(self, fullname, p, target=None):
                        return importlib.util.spec_from_file_location(fullname, path) if fullname == name else None

                sys.meta_path.insert(0, _Finder())
                import pytest

                rc = int(pytest.main(["-x", "-q", "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning",
                                      *tests]))
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(rc)
        t0 = time.monotonic()
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() - t0 > timeout:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                return _verdict(None, "")
            time.sleep(0.02)
        rc = os.waitstatus_to_exitcode(status)
        return _verdict(rc if rc >= 0 else 128 - rc, log.read_text(errors="replace"))


def _select(universe: list, sample: int, per_module: int, seed: int) -> list:
    rng = random.Random(seed)
    if per_module:
        chosen = []
        for m in dict.fromkeys(u[0] for u in universe):
            pts = [u for u in universe if u[0] == m]
            chosen += rng.sample(pts, min(per_module, len(pts)))
    elif sample:
        chosen = rng.sample(universe, min(sample, len(universe)))
    else:
        chosen = list(universe)
    return sorted(chosen, key=lambda t: (t[0], t[1]))


def _tables(modules: list, results: list, what: str, diff: bool = False) -> None:
    print(f"\nkill rate per module ({what}; 'equivalent': judged in EQUIVALENT):")
    print(f"  {'module':42s} {'killed':>12s} {'rate':>7s} {'equivalent':>10s} {'non-equiv. rate':>16s}")

    def row(name, rs):
        k = sum(r["status"].startswith("killed") for r in rs)
        eq = sum(1 for r in rs if not r["status"].startswith("killed") and _judged(r))
        ne = len(rs) - eq
        print(f"  {name:42s} {k:5d}/{len(rs):<6d} {100 * k / max(1, len(rs)):6.1f}% {eq:10d} "
              f"{k:5d}/{ne:<4d}{100 * k / max(1, ne):6.1f}%")

    for m in modules:
        rs = [r for r in results if r["module"] == m]
        if rs:
            row(m, rs)
    row("all", results)
    print("\nsurvivors:")
    for r in results:
        if not r["status"].startswith("killed"):
            why = _judged(r)
            print(f"  {r['module']}:{r['line']}  {r['mutation']}  [{r['status']}]  | {r['source']}"
                  + (f"\n      equivalent: {why}" if why else ""))
            if diff:
                _print_diff(r)


def _print_diff(r: dict) -> None:
    """The mutant's diff, from the module as it is now (a note instead where it no longer has that mutant)."""
    src = (ROOT / r["module"]).read_text()
    lines = src.splitlines()
    ok = "index" in r and 0 < r["line"] <= len(lines) and lines[r["line"] - 1].strip() == r["source"]
    if ok:
        try:
            ok = apply_mutation(src, r["index"], r["kind"])[1] == r["line"]
        except (IndexError, KeyError, AttributeError):
            ok = False
    if not ok:
        print("      (diff: the module has changed since this result)")
        return
    for ln in mutant_diff(src, r["index"], r["kind"]):
        print("      " + ln)


def _judged(r: dict) -> str | None:
    return EQUIVALENT.get((r["module"], r["mutation"], r["source"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modules", nargs="*", default=["theory"],
                    help="'theory', 'core' (the CORE map) or module paths from either map")
    ap.add_argument("--sample", type=int, default=0, help="random sample of mutants across the modules (0: all)")
    ap.add_argument("--per-module", type=int, default=0, help="instead: a random sample of this many per module")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=240.0,
                    help="seconds per mutant at most (past it: killed); each mutant gets 30 s + 10x the traced "
                         "duration of its tests, if less")
    ap.add_argument("--no-fork", action="store_true", help="a fresh interpreter per mutant (slower)")
    ap.add_argument("--list", action="store_true", help="list the chosen mutants and stop")
    ap.add_argument("--diff", action="store_true",
                    help="with each survivor (and each mutant of --list), print its diff: the statement before and "
                         "after the mutation")
    ap.add_argument("--trace-cache", type=Path, default=None, help="json file to reuse the trace")
    ap.add_argument("--json", type=Path, default=None, help="write every result here")
    ap.add_argument("--rerun", type=Path, default=None,
                    help="results json of an earlier run of the same sample: keep its kills and its survivors "
                         "judged in EQUIVALENT, re-run the other survivors (tests only grow: a kill stays a kill)")
    ap.add_argument("--report", type=Path, default=None,
                    help="only print the tables of a results json (with the current EQUIVALENT judgments)")
    args = ap.parse_args()
    if args.report:
        results = json.loads(args.report.read_text())
        _tables(list(dict.fromkeys(r["module"] for r in results)), results, "from " + str(args.report), args.diff)
        return
    modules: dict = {}
    for m in args.modules:
        if m == "theory":
            modules.update(THEORY)
        elif m == "core":
            modules.update(CORE)
        elif m in THEORY or m in CORE:
            modules[m] = {**THEORY, **CORE}[m]
        else:
            sys.exit(f"--modules: unknown module {m!r}")
    universe, sources = [], {}
    for m in modules:
        src = (ROOT / m).read_text()
        sources[m] = src
        for idx, kind, desc in mutation_points(ast.parse(src)):
            universe.append((m, idx, kind, desc))
    chosen = _select(universe, args.sample, args.per_module, args.seed)
    print(f"{len(universe)} mutants in {len(modules)} modules; running {len(chosen)}", flush=True)
    if args.list:
        for m, idx, kind, desc in chosen:
            _, line = apply_mutation(sources[m], idx, kind)
            print(f"  {m}:{line} {desc} | {sources[m].splitlines()[line - 1].strip()[:90] if line else ''}")
            if args.diff:
                for ln in mutant_diff(sources[m], idx, kind):
                    print("      " + ln)
        return
    plugin_dir = tempfile.mkdtemp(prefix="mutation_")
    Path(plugin_dir, "mut_trace.py").write_text(_TRACE_PLUGIN)
    Path(plugin_dir, "mut_plugin.py").write_text(_MUTANT_PLUGIN)
    print("tracing which tests run which functions ...", flush=True)
    traced = modules
    if args.rerun:  # only the modules with survivors need a (fresh) trace
        alive = {r["module"] for r in json.loads(args.rerun.read_text())
                 if not r["status"].startswith("killed") and not _judged(r)}
        traced = {m: ts for m, ts in modules.items() if m in alive}
    tr = trace(traced, plugin_dir, args.trace_cache)
    tr.update({m: {"*": [], "@dur": {}} for m in modules if m not in tr})
    runner = None if args.no_fork else ForkRunner(plugin_dir)
    earlier: dict = {}
    if args.rerun:
        for r in json.loads(args.rerun.read_text()):
            earlier.setdefault((r["module"], r["line"], r["mutation"], r["source"]), []).append(r)
    if runner is not None:  # the unmutated module through the same runner: every one of its tests must pass
        for m in modules:
            if tr[m]["*"]:
                status = runner.run(m, sources[m], tr[m]["*"], args.timeout * 4)
                if status != "survived":
                    sys.exit(f"baseline: the tests of the unmutated {m} do not pass in the fork runner ({status}):\n"
                             + Path(plugin_dir, "mutant.log").read_text(errors="replace")[-3000:])
        print("baseline: every module's tests pass on the unmutated code in the fork runner", flush=True)
    results = []
    t_all, c0 = time.perf_counter(), os.times()
    for n, (m, idx, kind, desc) in enumerate(chosen, 1):
        tree = ast.parse(sources[m])
        mutated, line = apply_mutation(sources[m], idx, kind)
        fn = enclosing_function(tree, line)
        if fn is None:
            tests = tr[m]["*"]
        else:
            tests = sorted(set(tr[m].get(str(fn[1]), []) + tr[m].get(str(fn[2]), [])))
        src_line = sources[m].splitlines()[line - 1].strip() if line else ""
        timeout = min(args.timeout, 30.0 + 10.0 * sum(tr[m]["@dur"].get(t, 1.0) for t in tests))
        t0 = time.perf_counter()
        key = (m, line, desc, src_line)
        if args.rerun:
            if not earlier.get(key):
                sys.exit(f"--rerun: {m}:{line} {desc} is not in {args.rerun} (another sample or another source?)")
            prev = earlier[key].pop(0)
        if args.rerun and (prev["status"].startswith("killed") or _judged(prev)):  # judged: not re-run
            status = prev["status"]
        elif not tests:
            status = "survived (uncovered)"
        elif runner is None:
            status = run_mutant(m, mutated, tests, plugin_dir, timeout)
        else:
            status = runner.run(m, mutated, tests, timeout)
        results.append({"module": m, "line": line, "mutation": desc, "source": src_line, "status": status,
                        "tests": len(tests), "seconds": round(time.perf_counter() - t0, 2), "index": idx,
                        "kind": kind})
        print(f"[{n}/{len(chosen)}] {status:18s} {m}:{line} {desc}  ({len(tests)} tests, "
              f"{time.perf_counter() - t0:.1f}s)  | {src_line[:80]}", flush=True)
    c1 = os.times()
    cpu = (c1.user + c1.system + c1.children_user + c1.children_system) - (
        c0.user + c0.system + c0.children_user + c0.children_system)
    _tables(list(modules), results, f"{time.perf_counter() - t_all:.0f} s wall, {cpu:.0f} s CPU", args.diff)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
