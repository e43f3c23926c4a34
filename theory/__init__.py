"""Verifiable routines behind pluralign: pure numpy / scipy / cvxpy, no torch, no gym.

One module per topic; every public function names the statement (seed paper, equation, lemma) it
computes or checks. ``theory/README.md`` maps each statement to its routine, its test and its verdict.
"""
