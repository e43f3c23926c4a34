"""``pluralign sims prec-bandit``: the bandit twin of PREC (seed 000) — welfare vs the number of clusters K.

What it tests. PREC (seed 000) learns K cluster reward decoders over a shared frozen encoder by leaky EM
over users and trains one policy per cluster. Its motivation is narrow, skewed per-user coverage: one
reward per user (K = N) sees too little of the behaviour space, one pooled reward (K = 1) averages away
genuine disagreement. This study puts the same reward side (decoders, leaky EM, labelers, teachers,
welfare: the code the MuJoCo pipeline uses) on a testbed whose optimum is computable, so the claim
"some intermediate K beats both K = 1 and K = N" can be checked cheaply and exactly.

The testbed (``sims/prec_bandit/world.py``):

* Behaviours. A behaviour is a trajectory of T = 30 steps of a latent style z_t in R^3: a per-behaviour
  mean c_b plus an AR(1) fluctuation. The true reward features are phi_t = sigmoid(z_t) in (0, 1)^3
  (C = 3, seed 000 sec. 4.1). The means trade the features off against each other — c_b lies near the
  plane sum_c z_c = const, plus a small common "quality" shift — as speed, effort and posture do in the
  MuJoCo tasks; without a trade-off one behaviour would be best for everybody and K would not matter.
* Observations and the frozen "encoder". A policy never sees phi: it sees observations s_t = tanh(A z_t)
  + noise (8 dims) plus 4 dims of unpredictable distractor noise. The stand-in for seed 000's frozen
  self-predictive (SPR) encoder is a linear encoder fitted WITHOUT labels on the pool's transitions: the
  top-d canonical directions between s_t and s_{t+1} (the most mutually predictable directions of
  consecutive observations — a closed-form linear analogue of SPR's objective), d = 6. It is frozen before
  any label is seen. The ablation replaces it with an untrained (random Gaussian) linear encoder of the
  same shape, standardised the same way ("random features"). Neither is tuned to the rewards.
* Users and labels. N = 30 users with weights on the simplex from a 3-mode Dirichlet mixture
  (:mod:`pluralign.prec.labelers`); 10-point step scores, good iff the segment score >= 7, passed through
  the B-Pref teachers of :mod:`pluralign.bpref` (oracle, noise1, noise2 = mixed teachers at Table 1's two
  levels). Each user labels M = 50 whole behaviours (segment = behaviour) drawn from a user-skewed slice
  of a shared pool (300 behaviours in the quick profile, 400 in the paper profile): behaviours near a user-specific coverage centre in style space, drawn
  independently of the user's preferences (narrow, skewed coverage).
* Learning. K cluster decoders (MLP, one hidden layer of 16 (32 in the paper profile), on the frozen features; segment score eq. 6,
  leaky BCE eq. 13) fitted by leaky EM (nu = 0.1, re-estimated priors, k-means++ init on per-user
  logistic-regression coefficients) through :class:`pluralign.em.MixtureEM`. K = 1 is the pooled decoder
  and K = N one decoder per user (fixed identity assignment: no EM), each trained with the same Adam
  budget as the full EM run.
* Policies and welfare. Cluster k's "policy" picks, from 200 fresh candidate behaviours, the one with
  the highest learned segment score; user i receives the behaviour of its cluster (EM's assignment) and
  its utility is its TRUE segment score of that behaviour (10-point scale). Welfare (seed 000 App. C.2):
  utilitarian mean, egalitarian 10th percentile, Nash geometric mean (utilities are in (0, 10), so Nash
  needs no shift). For reference the results also hold the welfare of the ideal per-user choice and of the
  best single behaviour for all.

Cells: one per (noise, K, features, seed), written atomically under ``OUT/cells`` (re-runs skip finished
cells). Results: ``results.json`` (per-cell metrics, mean and s.e.m. over seeds, the done-when table) and
``welfare_vs_K.png``.
"""

from __future__ import annotations

from dataclasses import asdict

from pluralign.runs import Profile, prepare_run
from pluralign.cli.common import OutOpt, ProfileOpt, SeedOpt, fail

# The study itself lives in sims/prec_bandit/study.py, imported inside ``cli``: this module is imported
# while pluralign.cli registers its commands, so it must not import anything that imports pluralign.cli.


def cli(profile: ProfileOpt = Profile.quick, seed: SeedOpt = 0, out: OutOpt = None) -> None:
    """Bandit-PREC: leaky EM over users, welfare vs K (seed 000)."""
    from pluralign.sims.prec_bandit.study import MEASURES, run, settings_for

    st = settings_for(profile)
    if st.world.n_users not in st.Ks or 1 not in st.Ks:
        fail("Ks: must contain 1 and n_users")
    out = prepare_run("sims prec-bandit", out, profile, seed, asdict(st))
    res = run(st, out, seed)
    dw = res["done_when"]
    s = res["summary"].get("encoder", {}).get("noise2", {})
    from rich.console import Console
    from rich.table import Table

    tab = Table(title="noise2, encoder features: welfare (mean ± s.e.m. over seeds)")
    tab.add_column("K")
    for m in MEASURES:
        tab.add_column(m)
    for k in sorted(s, key=int):
        tab.add_row(k, *[f"{s[k][m]['mean']:.3f} ± {s[k][m]['sem']:.3f}" for m in MEASURES])
    Console().print(tab)
    print(f"done-when (some K in 2,3,5,10 beats K=1 and K=N on all three): {dw}")
    print(f"wrote {out / 'results.json'} and {out / 'welfare_vs_K.png'}")
