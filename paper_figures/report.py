"""Make the registry's figures and the report (``index.html`` + ``report.md``) from results files.

:func:`make` runs the studies whose results are missing (each study's resumable ``run``), draws every
requested entry of :data:`~pluralign.paper_figures.registry.ENTRIES` into ``out`` and writes the report:
first the theory check table, then one section per seed with each figure, the command that made it, its
profile and seeds, for every table the printed numbers beside ours, and the deviations one line each. The
page is static (relative image paths, no script, no network).
"""

from __future__ import annotations

import html
import time
import traceback
from pathlib import Path

from pluralign.paper_figures import registry as reg
from pluralign.paper_figures import style
from pluralign.runs import write_json

__all__ = ["SEED_TITLES", "make", "write_report"]

SEED_TITLES = {
    "000": "Seed 000 — PREC: similarity-grouped rewards from diverse human preferences (Kim et al.)",
    "001": "Seed 001 — EM-DPO, MMRA and the necessity of ternary preferences (Chidambaram et al.)",
    "002": "Seed 002 — PAL: sample-efficient personalized reward modeling",
    "003": "Seed 003 — Park et al.: personalization and preference aggregation (summary)",
    "004": "Seed 004 — the centroid that serves nobody",
}


def _command(study: reg.Study, profile: str) -> str:
    return study.command_at(profile)


def make(names: list[str] | None, profile: str, out: Path, root: Path = Path("results"), seed: int = 0,
         progress: bool = True, log=print, run: bool = True) -> dict:
    """Draw ``names`` (None: every entry) at ``profile`` into ``out`` (running missing studies first; with
    ``run=False`` an entry whose results are missing is skipped, naming the command that makes them) and
    write the report. Returns the manifest (also ``out/manifest.json``): per entry its files or the reason
    it was skipped, per study its wall time."""
    profile = reg.figure_profile(profile)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    entries = list(reg.ENTRIES) if names is None else [reg.by_name(n) for n in names]
    timings: dict[str, float] = {}
    results: dict[str, dict] = {}
    failed: dict[str, str] = {}
    for key in dict.fromkeys(k for e in entries for k in e.study_keys(profile)):
        study = reg.STUDIES[key]
        t0 = time.perf_counter()
        had = reg.load_results(study, profile, root) is not None
        if not had and study.missing_profile(profile):
            failed[key] = study.missing_profile(profile)
            continue
        if not had and not run:
            failed[key] = f"results missing (not run: --no-run); made by {_command(study, profile)}"
            continue
        try:
            if not had and study.runs_here:
                log(f"running {key} ({_command(study, profile)}) ...")
            results[key] = reg.ensure_results(study, profile, root, seed, progress)
        except RuntimeError as exc:  # a missing optional extra, or results only read here and not there
            failed[key] = str(exc)
            log(f"skipped {key}: {exc}")
        timings[key] = time.perf_counter() - t0
        if not had and key in results:
            log(f"  {key}: {timings[key]:.1f} s")
    t0 = time.perf_counter()
    theory = reg.run_theory_check(profile, root, seed, progress)
    timings["theory-check"] = time.perf_counter() - t0

    for key in dict.fromkeys(k for e in entries for k in e.optional_keys(profile)):  # drawn when present, never run
        res = reg.load_results(reg.STUDIES[key], profile, root)
        if res is not None:
            results[key] = res

    manifest = {"profile": profile, "seed": seed, "entries": {}, "study_seconds": timings}
    for e in entries:
        keys = e.study_keys(profile)
        keys = keys + tuple(k for k in e.optional_keys(profile) if k in results and k not in keys)
        missing = [k for k in keys if k in failed]
        rec = {"seed_paper": e.seed_paper, "kind": e.kind, "studies": list(keys),
               "commands": [_command(reg.STUDIES[k], profile) for k in keys],
               "runs": [reg.run_info(reg.STUDIES[k], profile, root) for k in keys if k in results]}
        if missing:
            rec["skipped"] = "; ".join(dict.fromkeys(failed[k] for k in missing))
        elif not keys and e.optional_keys(profile):  # drawn from optional runs only, and none exists
            cmds = [_command(reg.STUDIES[k], profile) for k in e.optional_keys(profile)]
            rec["skipped"] = (f"no results at profile {profile}; made by e.g. {cmds[0]}"
                              + (f" (or {len(cmds) - 1} more runs like it)" if len(cmds) > 1 else ""))
        else:
            ctx = reg.Ctx(e.name, {k: results[k] for k in keys}, out, profile,
                          {k: reg.read_config(reg.STUDIES[k], profile, root) for k in keys})
            try:
                drawn = e.draw(ctx)
                if e.kind == "table":
                    (out / f"{e.name}.md").write_text(drawn.markdown() + "\n")
                    rec["files"] = [f"{e.name}.md"]
                    rec["table_md"], rec["table_html"] = drawn.markdown(), drawn.html()
                else:
                    rec["files"] = [Path(p).relative_to(out).as_posix() for p in drawn]
            except reg.NothingToDraw as exc:
                rec["skipped"] = str(exc)
            except Exception as exc:  # noqa: BLE001 - a broken figure is reported, the others still drawn
                rec["error"] = f"{type(exc).__name__}: {exc}"
                log(f"error drawing {e.name}: {rec['error']}\n{traceback.format_exc()}")
        manifest["entries"][e.name] = rec
    write_report(manifest, theory, out)
    write_json(out / "manifest.json", {k: v for k, v in manifest.items()})
    return manifest


def _runs_line(rec: dict) -> str:
    runs = rec.get("runs") or []
    if not runs:
        return f"profile {rec.get('profile', '')}".strip()
    seeds = sorted({str(r["seed"]) for r in runs})
    n = sorted({str(r["n_seeds"]) for r in runs if r["n_seeds"] is not None})
    return (f"profile {runs[0]['profile']}, base seed {', '.join(seeds)}"
            + (f", {'/'.join(n)} replicate seeds" if n else ""))


def write_report(manifest: dict, theory: dict | None, out: Path) -> tuple[Path, Path]:
    """``out/index.html`` and ``out/report.md`` from a :func:`make` manifest and the theory check."""
    profile = manifest["profile"]
    md = [f"# pluralign: the seed papers' figures and tables (profile {profile})", "",
          f"Error bars everywhere: {style.ERRORBARS}. Profile **{profile}**"
          + (" — smoke scale: a test of the pipeline, not a result." if profile == "smoke" else "."), ""]
    h = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
         f"<title>pluralign figures ({html.escape(profile)})</title><style>",
         "body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}img{max-width:100%;border:1px solid #ddd}",
         "table{border-collapse:collapse;font-size:13px;margin:.5em 0}td,th{border:1px solid #bbb;padding:2px 6px}",
         ".cmd{font-family:monospace;background:#f4f4f4;padding:2px 4px}.skip{color:#a40}.bad{color:#c00;font-weight:bold}",
         "</style></head><body>",
         f"<h1>pluralign: the seed papers' figures and tables (profile {html.escape(profile)})</h1>",
         f"<p>Error bars everywhere: {html.escape(style.ERRORBARS)}. Profile <b>{html.escape(profile)}</b>"
         + (" — smoke scale: a test of the pipeline, not a result." if profile == "smoke" else ".") + "</p>"]

    # theory check
    if theory is None:  # a profile the check does not have (medium)
        md += ["## Theory check", "", f"`pluralign theory check` has no {profile} profile: see its quick or paper report.", ""]
        h += ["<section id='theory' class='theory'><h2>Theory check</h2>",
              f"<p><span class='cmd'>pluralign theory check</span> has no {html.escape(profile)} profile: see its "
              "quick or paper report.</p></section>"]
    else:
        md += ["## Theory check", "", f"`pluralign theory check --profile {profile}` (seed {manifest['seed']}, "
               f"{theory['n_instances']} instances per statement; all as expected: {theory['all_as_expected']})", "",
               "| statement | source | verdict | worst margin |", "|---|---|---|---|"]
        h += ["<section id='theory' class='theory'><h2>Theory check</h2>",
              f"<p><span class='cmd'>pluralign theory check --profile {profile}</span> (seed {manifest['seed']}, "
              f"{theory['n_instances']} instances per statement; all as expected: {theory['all_as_expected']})</p>",
              "<table><thead><tr><th>statement</th><th>source</th><th>verdict</th><th>worst margin</th></tr></thead><tbody>"]
        for r in theory["rows"]:
            if r["holds"] == r["expected_to_hold"]:
                verdict = "holds" if r["holds"] else "fails (expected)"
            else:
                verdict = "FAILS" if not r["holds"] else "holds (unexpected)"
            md.append(f"| {r['statement']} | {r['source']} | {verdict} | {r['worst_margin']:.3g} |".replace("\n", " "))
            cls = "" if r["holds"] == r["expected_to_hold"] else " class='bad'"
            h.append(f"<tr><td>{html.escape(r['statement'])}</td><td>{html.escape(r['source'])}</td>"
                     f"<td{cls}>{verdict}</td><td>{r['worst_margin']:.3g}</td></tr>")
        h.append("</tbody></table></section>")
        md.append("")

    entries = {e.name: e for e in reg.ENTRIES}
    for sp, title in SEED_TITLES.items():
        md += [f"## {title}", ""]
        h.append(f"<section id='seed-{sp}' class='seed'><h2>{html.escape(title)}</h2>")
        for name, rec in manifest["entries"].items():
            if rec["seed_paper"] != sp:
                continue
            e = entries[name]
            cmds = "; ".join(dict.fromkeys(rec["commands"])) or "(no study: read from the package)"
            md += [f"### {name} — {e.source}", "", f"> {e.caption}", "",
                   f"Made by `pluralign figures make {name} --profile {profile}` from: {cmds}. ({_runs_line(rec) if rec.get('runs') else 'profile ' + profile})", ""]
            h += [f"<article id='{name}'><h3>{html.escape(name)} — {html.escape(e.source)}</h3>",
                  f"<blockquote>{html.escape(e.caption)}</blockquote>",
                  f"<p>Made by <span class='cmd'>pluralign figures make {name} --profile {profile}</span> from: "
                  f"<span class='cmd'>{html.escape(cmds)}</span> ({html.escape(_runs_line(rec) if rec.get('runs') else 'profile ' + profile)})</p>"]
            if "skipped" in rec or "error" in rec:
                why = rec.get("skipped") or rec.get("error")
                md += [f"**Not drawn:** {why}", ""]
                h.append(f"<p class='skip'>Not drawn: {html.escape(why)}</p>")
            elif rec["kind"] == "table":
                md += [rec["table_md"], ""]
                h.append(rec["table_html"])
            else:
                for f in rec["files"]:
                    md += [f"![{name}]({f})", ""]
                    h.append(f"<p><img src='{html.escape(f)}' alt='{html.escape(name)}'></p>")
            if e.deviations:
                md += ["Deviations from the printed setup:", ""] + [f"- {d}" for d in e.deviations] + [""]
                h.append("<p>Deviations from the printed setup:</p><ul>"
                         + "".join(f"<li>{html.escape(d)}</li>" for d in e.deviations) + "</ul>")
            h.append("</article>")
        nr = [n for n in reg.NOT_REPRODUCED if n.seed_paper == sp]
        if nr:
            md += ["### Not reproduced here", ""] + [f"- {n.source} ({n.what}): {n.reason}" for n in nr] + [""]
            h.append("<h3>Not reproduced here</h3><ul>" + "".join(
                f"<li>{html.escape(n.source)} ({html.escape(n.what)}): {html.escape(n.reason)}</li>" for n in nr) + "</ul>")
        h.append("</section>")
    h.append("</body></html>")
    (out / "report.md").write_text("\n".join(md) + "\n")
    (out / "index.html").write_text("\n".join(h) + "\n")
    return out / "index.html", out / "report.md"
