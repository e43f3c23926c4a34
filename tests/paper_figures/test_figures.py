"""`pluralign figures`: every registered figure and table is made at the smoke profile, the report is
written, a re-run only draws, and (marker ``browser``) the page loads in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from pluralign.cli import app
from pluralign.paper_figures import registry as reg
from pluralign.paper_figures.report import SEED_TITLES

runner = CliRunner()


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """`figures make all --profile smoke` into a temporary folder (studies run once per module)."""
    root = tmp_path_factory.mktemp("figs")
    res = runner.invoke(app, ["figures", "make", "all", "--profile", "smoke", "--results", str(root / "results"),
                              "--out", str(root / "figures"), "--no-progress"])
    assert res.exit_code == 0, res.output
    return root, res.output


def test_registry_names_are_unique_and_cover_every_seed():
    names = [e.name for e in reg.ENTRIES]
    assert len(names) == len(set(names))
    assert {e.seed_paper for e in reg.ENTRIES} == set(SEED_TITLES)
    for e in reg.ENTRIES:
        assert e.name.startswith(f"seed{e.seed_paper}_") and e.caption and e.source
        for k in e.study_keys("smoke"):
            assert k in reg.STUDIES
    whys = " ".join(n.what + n.reason for n in reg.NOT_REPRODUCED)
    for dataset in ("Reddit TL;DR", "Pick-a-Pic", "Pick-a-Filter", "GlobalOpinionQA"):
        assert dataset in whys


def test_make_all_smoke_writes_every_figure_and_the_report(made):
    import matplotlib.image as mpimg

    root, _ = made
    out = root / "figures"
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["entries"]) == {e.name for e in reg.ENTRIES}
    for name, rec in manifest["entries"].items():
        assert "error" not in rec, (name, rec.get("error"))
        if "skipped" in rec:  # only for a missing optional extra, and then said so in the report
            assert "pip install" in rec["skipped"]
            continue
        assert rec["files"], name
        for f in rec["files"]:
            p = out / f
            assert p.exists() and p.stat().st_size > 0, p
            if rec["kind"] == "figure":
                img = mpimg.imread(p)
                assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50, p
                assert p.with_suffix(".pdf").stat().st_size > 0
    page = (out / "index.html").read_text()
    md = (out / "report.md").read_text()
    assert "http" not in page.replace("http-equiv", "")  # no network
    for text in (page, md):
        assert "Theory check" in text and "profile smoke" in text
        assert text.index("Theory check") < text.index(SEED_TITLES["000"])
        for title in SEED_TITLES.values():
            assert title in text
        for n in reg.NOT_REPRODUCED:
            assert n.reason in text
    # the printed numbers beside ours
    assert "0.977" in md and "3.44" in md and "1.5M" in md


def test_rerun_only_draws(made):
    root, _ = made
    before = {p: p.stat().st_mtime_ns for p in (root / "results").rglob("results.json")}
    res = runner.invoke(app, ["figures", "make", "all", "--profile", "smoke", "--results", str(root / "results"),
                              "--out", str(root / "figures"), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "running " not in res.output
    assert before == {p: p.stat().st_mtime_ns for p in (root / "results").rglob("results.json")}


def test_list_and_bad_name(made):
    root, _ = made
    res = runner.invoke(app, ["figures", "list", "--profile", "smoke", "--results", str(root / "results")])
    assert res.exit_code == 0, res.output
    for e in reg.ENTRIES:
        assert e.name in res.output
    assert "not reproduced here" in res.output and "Reddit TL;DR" in res.output
    res = runner.invoke(app, ["figures", "make", "nope", "--profile", "smoke", "--results", str(root / "results")])
    assert res.exit_code != 0 and "no figure named 'nope'" in res.output


CHROMIUM = os.environ.get("PLURALIGN_CHROMIUM", "/usr/bin/chromium")

_CHECK = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var bad = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).map(function (i) { return i.getAttribute('src'); });
  var out = document.createElement('pre'); out.id = 'check';
  out.textContent = JSON.stringify({images: imgs.length, broken: bad, seeds: document.querySelectorAll('section.seed').length});
  document.body.appendChild(out);
});
</script>"""


@pytest.mark.browser
def test_report_loads_in_headless_chromium(made, tmp_path):
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (.ci/run does)")
    root, _ = made
    out = root / "figures"
    # a copy of the page with a check script beside the real one (the report itself carries no script)
    probe = out / "_probe.html"
    probe.write_text((out / "index.html").read_text().replace("</body>", _CHECK + "</body>"))
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
           "--allow-file-access-from-files", "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()]
    try:
        dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    finally:
        probe.unlink()
    start = dom.index('<pre id="check">') + len('<pre id="check">')
    check = json.loads(dom[start:dom.index("</pre>", start)].replace("&quot;", '"'))
    n_figs = sum(len(r.get("files", [])) for r in json.loads((out / "manifest.json").read_text())["entries"].values()
                 if r["kind"] == "figure")
    assert check["images"] == n_figs > 0
    assert check["broken"] == []
    assert check["seeds"] == len(SEED_TITLES)
