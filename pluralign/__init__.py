"""pluralign: learning from people who genuinely disagree.

Submodules (import what you need; heavy optional dependencies load lazily):

* :mod:`pluralign.data`    — ratings, choices, rankings; splits; trl-style records.
* :mod:`pluralign.choice`  — log-likelihoods of ratings, choices (MNL / BTL) and rankings (Plackett-Luce).
* :mod:`pluralign.em`      — the mixture-EM engine shared by PREC, EM-DPO and latent-class logit.
"""

__version__ = "0.1.0"
