"""Full pipelines (MuJoCo PREC, LLM EM-DPO / MMRA, PAL on real embeddings), quick and paper profiles."""
