"""Fast synthetic studies with a known ground truth (one module per study, each exposing ``cli``)."""
