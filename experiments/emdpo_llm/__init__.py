"""EM-DPO on a causal language model (seed 001 sec. 5, Tables 1-2, Fig. 2), the twin of :mod:`pluralign.sims.mpi`.

* :mod:`~pluralign.experiments.emdpo_llm.data` — the MPI records as text, drawn exactly as the twin draws them;
* :mod:`~pluralign.experiments.emdpo_llm.goqa` — GlobalOpinionQA's country annotators (Table 2; ``--dataset goqa``);
* :mod:`~pluralign.experiments.emdpo_llm.study` — settings :class:`EMDPOLLMSettings`, :data:`PROFILES`,
  :data:`DEVIATIONS` and ``run(settings, seed, out)`` (resumable cells, writes ``results.json``).

The command is ``pluralign emdpo run``.
"""

from pluralign.experiments.emdpo_llm.study import (DEVIATIONS, FEEDBACK_OPTIONS, METHODS, METRICS, PROFILES,
                                                   EMDPOLLMSettings, cell_key, run, summarize)

__all__ = ["DEVIATIONS", "FEEDBACK_OPTIONS", "METHODS", "METRICS", "PROFILES", "EMDPOLLMSettings", "cell_key", "run",
           "summarize"]
