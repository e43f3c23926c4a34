"""Causal language models for EM-DPO: trl interop (``pluralign.llm.trl``)."""
