"""``python -m pluralign.testing [--list] [--kind KIND] [--name TEXT] [--seed N]``.

``--list`` prints every covered implementation (kind, name, checks, exemptions) and the count covered;
without it every selected check is run and reported (exit status 1 if one fails that is not exempt, or
an exempted one passes)."""

from __future__ import annotations

import argparse
import sys
import time

from pluralign.testing import IMPLEMENTATIONS, KINDS, NOT_COVERED, counts, run_check


def _selected(args) -> list:
    return [i for i in IMPLEMENTATIONS if (args.kind is None or i.kind == args.kind) and args.name in i.name]


def _list(impls) -> None:
    w = max(len(i.name) for i in impls)
    for i in impls:
        checks = ", ".join(c + (" (exempt)" if c in i.exempt else " (weakened)" if c in i.weakened else "")
                           for c in i.checks)
        print(f"{i.kind:<10}  {i.name:<{w}}  {checks}")
        pad = " " * (w + 14)
        for c, why in i.exempt.items():
            print(f"{pad}exempt {c}: {why}")
        for c, why in i.weakened.items():
            print(f"{pad}weakened {c}: {why}")
        if i.note:
            print(f"{pad}setup: {i.note}")
    if len(impls) == len(IMPLEMENTATIONS):
        print("\nnot registered (public entry points of the covered modules, and why):")
        for target, why in NOT_COVERED.items():
            print(f"  {target}: {why}")
    n = counts()
    targets = len({i.target for i in IMPLEMENTATIONS})
    print(f"\n{len(IMPLEMENTATIONS)} implementations covered ("
          + ", ".join(f"{k}: {n[k]}" for k in KINDS)
          + f"; {targets} distinct targets), {sum(len(i.checks) for i in IMPLEMENTATIONS)} checks")


def _run(impls, seed: int) -> int:
    bad = 0
    for impl in impls:
        for check in impl.checks:
            t = time.perf_counter()
            try:
                run_check(impl, check, seed)
                status = "UNEXPECTED PASS (exempt)" if check in impl.exempt else "ok"
            except AssertionError as exc:
                status = "xfail (exempt)" if check in impl.exempt else f"FAIL: {exc}"
            bad += status.startswith(("FAIL", "UNEXPECTED"))
            print(f"{impl.kind:<10}  {impl.name}  {check}: {status}  [{time.perf_counter() - t:.2f} s]", flush=True)
    return 1 if bad else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m pluralign.testing", description=__doc__.splitlines()[0])
    p.add_argument("--list", action="store_true", help="print the registry and the count of implementations")
    p.add_argument("--kind", choices=KINDS, help="only this kind")
    p.add_argument("--name", default="", help="only implementations whose name contains this text")
    p.add_argument("--seed", type=int, default=0, help="base seed of every check")
    args = p.parse_args(argv)
    impls = _selected(args)
    if not impls:
        print("no implementation matches", file=sys.stderr)
        return 2
    if args.list:
        _list(impls)
        return 0
    return _run(impls, args.seed)


if __name__ == "__main__":
    sys.exit(main())
