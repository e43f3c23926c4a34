"""The full pipelines, in the study shape of :mod:`pluralign.runs` (settings, ``PROFILES``, ``run``):
``prec`` (MuJoCo PREC, seed 000) and ``pal_persona`` (PAL on real persona statements, seed 002)."""
