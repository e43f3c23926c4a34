"""Figures drawn from results files (never training anything), one module per study, in the one style of
:mod:`pluralign.paper_figures.style` (sizes, colours, mean +- s.e.m. error bars, PNG + vector PDF)."""
