"""pluralign: learning from people who genuinely disagree.

Submodules (import what you need; the optional extras ``rl``, ``llm`` and ``bayes`` load lazily):

* :mod:`pluralign.data`            — ratings, choices, rankings; splits; trl-style records.
* :mod:`pluralign.choice`          — log-likelihoods of ratings (threshold-logistic), choices (MNL / BTL)
  and rankings (Plackett-Luce), numpy and torch.
* :mod:`pluralign.em`              — the mixture-EM engine (soft / hard / leaky) shared by PREC, EM-DPO and
  the latent-class logit.
* :mod:`pluralign.prec`            — PREC's cluster reward decoders and synthetic labelers (seed 000).
* :mod:`pluralign.bpref`           — B-Pref noisy teachers (good/bad and pairwise).
* :mod:`pluralign.welfare`         — utilitarian, egalitarian (10th percentile) and Nash welfare.
* :mod:`pluralign.rl`              — gymnasium / stable-baselines3 glue: learned-reward VecEnv, SPR encoder.
* :mod:`pluralign.dpo`             — weighted k-wise DPO loss (seed 001 eq. 17).
* :mod:`pluralign.emdpo`           — EM-DPO, its baselines and the exact tabular testbed (seed 001).
* :mod:`pluralign.mmra`            — min-max-regret aggregation: LW, original, AE (seed 001).
* :mod:`pluralign.pal`             — PAL-A / PAL-B personalized reward models, few-shot users (seed 002).
* :mod:`pluralign.personalization` — shared-representation, clustered, individual and pooled rewards (seeds
  003, 004).
* :mod:`pluralign.aggregation`     — social choice, opinion pooling, truthful mechanisms (seed 003).
* :mod:`pluralign.datasets`        — where the real data is read from at run time.
"""

__version__ = "0.1.0"
