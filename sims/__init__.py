"""Fast synthetic studies with a known ground truth, one folder per study (``pluralign.sims.<study>``).

Every study has the one shape of :mod:`pluralign.runs`: ``<study>/study.py`` holds a settings dataclass
(a docstring per field), ``PROFILES`` (smoke / quick / paper) and ``run(settings, seed, out)``, which
writes ``results.json`` and resumable per-cell files and draws nothing; the package ``__init__``
re-exports them. Figures are drawn by :mod:`pluralign.paper_figures`, commands live in
:mod:`pluralign.cli`. Studies: ``prec_bandit`` (seed 000), ``mpi``, ``mmra``, ``identifiability`` (001,
sharing :mod:`pluralign.sims.emdpo_common`), ``pal_sim``, ``pal_bounds`` (002), ``aggregation``
(003, 004)."""
