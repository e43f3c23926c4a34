"""GlobalOpinionQA data of the language-model EM-DPO study (seed 001 sec. 5 "GlobalOpinionQA", App. D.1,
Table 2): country annotators answering survey questions.

As printed (sec. 5, App. D.1): annotators come from Britain (15%), Indonesia (20%), Mexico (30%) and
Pakistan (35%); a user is shown 32 unique questions; "annotators respond according to their
country-specific distribution, after which a second option is randomly rejected".  Here:

* **binary**: chosen option ~ the country's answer distribution on the question, then one of the other
  options rejected uniformly at random (as printed);
* **ternary**: chosen ~ the country's distribution, then two of the other options rejected uniformly at
  random; a question with only two options gives a two-option record (``mask``).

Both equal the MPI construction of :meth:`pluralign.emdpo.TabularTestbed.sample` (a uniform set of n
options, the pick ~ softmax(r_c) over them, eq. 17) with reward r_c(x, y) = log p_c(y | x): P(set S,
pick a) = p_a / C(m - 1, n - 1) for a question of m options, so P(a | S) = p_a / sum_{b in S} p_b — the
k-wise logit EM-DPO's E-step uses.

The design (the subset holds no question answered by all four countries: :data:`DESIGN_DEVIATIONS`,
with the counts measured by :func:`shared_question_counts`) is the paper's four countries over the
questions at least two of them answered; a user of country c draws its questions among those c answered.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from pluralign.choice import sample_choice
from pluralign.data import Choices
from pluralign.datasets import OpinionRecord, load_globalopinionqa
from pluralign.emdpo.tabular import SampledChoices
from pluralign.llm.scoring import TextChoices

__all__ = ["COUNTRIES", "COUNTRY_PROBS", "COUNTRY_CODES", "DESIGN_DEVIATIONS", "GOQADesign", "goqa_design",
           "load_goqa_design", "shared_question_counts"]

COUNTRIES = ("Britain", "Indonesia", "Mexico", "Pakistan")
"""The paper's four countries (sec. 5, App. D.1)."""
COUNTRY_PROBS = (0.15, 0.20, 0.30, 0.35)
"""Their shares of the annotators (sec. 5, App. D.1)."""
COUNTRY_CODES = ("BR", "IN", "MX", "PK")
"""Table 2's column names."""

DESIGN_DEVIATIONS = {
    "questions": "the GlobalOpinionQA subset here (1,270 questions, 130 countries; see its SOURCE.txt) has no "
                 "question answered by all of Britain, Indonesia, Mexico and Pakistan (pairs share 11-22 "
                 "questions, BR/IN/MX 6, IN/MX/PK 3, BR/IN/PK 1, BR/MX/PK 0), and no four countries of it share "
                 "more than 6 questions, too few for 32 questions per user; so: the paper's four countries over "
                 "the 75 questions at least two of them answered (Britain 37 of them, Indonesia 45, Mexico 42, "
                 "Pakistan 36), a user drawing its questions among those its country answered. Every question "
                 "is answered by >= 2 countries (the groups disagree on shared prompts), but which questions a "
                 "user saw partly reveals its country.",
    "rephrasings": "no GPT-4 rephrasings exist here: one variant per question (the original text), so held-out "
                   "users answer the same question texts as training users (printed: 8 of 11 variants for "
                   "training, 3 for validation / test).",
    "evaluation": "held-out users (their own draw, `n_heldout` of them, countries in exact 15/20/30/35% proportion "
                  "so that every country has some; the same question texts) give binary pairs "
                  "(chosen ~ the country, one other option rejected at random); Table 2's accuracy is read as the "
                  "fraction of those pairs on which the max-mean-margin policy's implicit reward prefers the chosen "
                  "option (ties 1/2). Extra, not printed: the matched policy's accuracy / margin on every option "
                  "pair the country's shares strictly rank.",
    "scale": "quick: 150 training users x 8 questions (1,200 pairs; printed 1,500 x 32 = 48,000) and 100 held-out "
             "users, on the 2 x 128 GPT-2 with a 160-token context and a 2,000-token vocabulary; smoke: 24 x 3. Paper profile: as printed.",
    "ternary": "the paper runs only binary feedback on GlobalOpinionQA; ternary here = the chosen option and two "
               "others rejected at random (a two-option question gives a two-option record).",
}
"""How the GlobalOpinionQA data here departs from seed 001's (written into results.json)."""


def shared_question_counts(records: list[OpinionRecord], countries=COUNTRIES) -> dict:
    """{"A+B": number of questions answered by every country of the group} for every group of two or more
    of ``countries`` (the counts the design's deviation quotes)."""
    by_c: dict[str, set] = {c: set() for c in countries}
    for r in records:
        if r.country in by_c:
            by_c[r.country].add(r.question)
    out = {}
    for n in range(2, len(countries) + 1):
        for grp in itertools.combinations(countries, n):
            out["+".join(grp)] = len(set.intersection(*(by_c[c] for c in grp)))
    return out


@dataclass
class GOQADesign:
    """The questions of the study and each country's answer distributions on them."""

    countries: tuple[str, ...]
    """The annotator groups (types), in order."""
    probs: np.ndarray
    """(C,) their shares of the users."""
    prompts: list[str]
    """(Q,) the question texts (prompts)."""
    responses: list[str]
    """The distinct option strings of all questions (responses)."""
    options: np.ndarray
    """(Q, L) response ids of each question's options (L = the most options; -1 pads)."""
    dist: np.ndarray
    """(C, Q, L) country c's answer shares; 0 where the option or the country's answer is missing."""
    answered: np.ndarray
    """(C, Q) whether country c answered question q."""

    @property
    def n_types(self) -> int:
        return len(self.countries)

    @property
    def n_options(self) -> np.ndarray:
        return (self.options >= 0).sum(axis=1)

    def sft_texts(self) -> list[str]:
        """pi_SFT's texts: every question followed by each of its options (one space between)."""
        return [f"{self.prompts[q].rstrip()} {self.responses[j]}" for q in range(len(self.prompts))
                for j in self.options[q] if j >= 0]

    def stratified_types(self, n_users: int) -> np.ndarray:
        """(n_users,) countries in proportion to :attr:`probs` (largest remainders, at least one user each
        when n_users >= the number of countries), sorted: the held-out users' countries."""
        N = int(n_users)
        raw = self.probs * N
        cnt = np.floor(raw).astype(int)
        cnt[np.argsort(-(raw - cnt), kind="stable")[: N - cnt.sum()]] += 1
        while N >= self.n_types and (cnt == 0).any():
            cnt[np.argmax(cnt)] -= 1
            cnt[np.argmin(cnt)] += 1
        return np.repeat(np.arange(self.n_types), cnt)

    def sample(self, n_users: int, per_user: int, n_options: int, rng: np.random.Generator,
               types=None) -> SampledChoices:
        """``n_users`` users, country ~ :attr:`probs` (or the given ``types``); each answers ``per_user`` distinct questions drawn
        uniformly among those its country answered; per question the chosen option ~ the country's
        distribution and ``n_options - 1`` other options (fewer when the question has fewer) rejected
        uniformly at random; the options of a record in random order."""
        N, m, n = int(n_users), int(per_user), int(n_options)
        if N < 1:
            raise ValueError(f"n_users: must be >= 1, got {n_users}")
        if n < 2:
            raise ValueError(f"n_options: must be >= 2, got {n_options}")
        have = self.answered.sum(axis=1)
        if m < 1 or m > have.min():
            raise ValueError(f"per_user: must lie in 1..{int(have.min())} (the fewest questions a country "
                             f"answered: {dict(zip(self.countries, have.tolist()))}), got {per_user}")
        if types is None:
            types = rng.choice(self.n_types, size=N, p=self.probs)
        else:
            types = np.asarray(types, dtype=np.int64)
            if types.shape != (N,) or types.min() < 0 or types.max() >= self.n_types:
                raise ValueError(f"types: expected {N} country indices in 0..{self.n_types - 1}")
        user = np.repeat(np.arange(N), m)
        ctx = np.empty(N * m, dtype=np.int64)
        for i, c in enumerate(types):
            ctx[i * m:(i + 1) * m] = rng.choice(np.flatnonzero(self.answered[c]), size=m, replace=False)
        p = self.dist[types[user], ctx]  # (M, L)
        real = self.options[ctx] >= 0
        pick = sample_choice(np.log(np.where(p > 0, p, 1.0)), rng, mask=real & (p > 0))  # ~ p_c, a column
        # the rejected options: uniform among the question's other options (random keys, smallest first)
        keys = np.where(real, rng.random(p.shape), np.inf)
        keys[np.arange(len(ctx)), pick] = -np.inf  # the chosen first
        cols = np.argsort(keys, axis=1)[:, :n]  # (M, n): chosen, then n - 1 rejected
        k = np.minimum(self.n_options[ctx], n)
        mask = np.arange(n)[None, :] < k[:, None]
        perm = np.argsort(np.where(mask, rng.random((len(ctx), n)), np.inf), axis=1)  # shuffle the real ones
        cols = np.take_along_axis(cols, perm, axis=1)
        mask = np.take_along_axis(mask, perm, axis=1)
        chosen = np.argmax(perm == 0, axis=1)
        opts = np.where(mask, self.options[ctx[:, None], cols], self.options[ctx, 0][:, None])  # pads: masked
        return SampledChoices(Choices(user=user, context=ctx, options=opts, chosen=chosen,
                                      mask=None if mask.all() else mask), types)

    def records(self, sample: SampledChoices) -> TextChoices:
        return TextChoices(sample.choices, self.prompts, self.responses)

    def ranked_pairs(self, c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every option pair of the questions country c answered that c's distribution strictly ranks:
        (question ids, better response ids, worse response ids)."""
        qs, w, l = [], [], []
        for q in np.flatnonzero(self.answered[c]):
            for a, b in itertools.combinations(range(int(self.n_options[q])), 2):
                pa, pb = self.dist[c, q, a], self.dist[c, q, b]
                if pa != pb:
                    hi, lo = (a, b) if pa > pb else (b, a)
                    qs.append(q)
                    w.append(self.options[q, hi])
                    l.append(self.options[q, lo])
        return np.asarray(qs, dtype=np.int64), np.asarray(w, dtype=np.int64), np.asarray(l, dtype=np.int64)


def goqa_design(records: list[OpinionRecord], countries=COUNTRIES, probs=COUNTRY_PROBS,
                min_countries: int = 2) -> GOQADesign:
    """The questions answered by at least ``min_countries`` of ``countries`` (in file order of first
    appearance) with each country's distributions; ``ValueError`` naming a country absent from the file
    or a design with no question."""
    countries = tuple(countries)
    probs = np.asarray(probs, dtype=float)
    if len(countries) < 1 or probs.shape != (len(countries),) or (probs < 0).any() or abs(probs.sum() - 1) > 1e-9:
        raise ValueError(f"probs: expected {len(countries)} non-negative shares summing to 1, got {probs.tolist()}")
    present = {r.country for r in records}
    missing = [c for c in countries if c not in present]
    if missing:
        raise ValueError(f"countries: {missing} not in the GlobalOpinionQA file")
    if not 1 <= int(min_countries) <= len(countries):
        raise ValueError(f"min_countries: must lie in 1..{len(countries)}, got {min_countries}")
    by_q: dict[str, dict[str, OpinionRecord]] = {}
    for r in records:
        if r.country in countries:
            by_q.setdefault(r.question, {})[r.country] = r
    qs = [q for q, d in by_q.items() if len(d) >= int(min_countries)]
    if not qs:
        raise ValueError(f"min_countries: no question is answered by {min_countries} of {list(countries)}")
    responses: list[str] = []
    rid: dict[str, int] = {}
    L = max(len(next(iter(by_q[q].values())).options) for q in qs)
    options = np.full((len(qs), L), -1, dtype=np.int64)
    dist = np.zeros((len(countries), len(qs), L))
    answered = np.zeros((len(countries), len(qs)), dtype=bool)
    for i, q in enumerate(qs):
        opts = next(iter(by_q[q].values())).options
        for c, r in by_q[q].items():
            if r.options != opts:
                raise ValueError(f"records: question {r.id} lists different options for {c}")
            ci = countries.index(c)
            dist[ci, i, :len(opts)] = r.distribution
            answered[ci, i] = True
        for j, o in enumerate(opts):
            key = o.lower()
            if key not in rid:
                rid[key] = len(responses)
                responses.append(o)
            options[i, j] = rid[key]
    return GOQADesign(countries, probs, qs, responses, options, dist, answered)


def load_goqa_design(data_dir=None) -> GOQADesign:
    """The study's design from the GlobalOpinionQA file (``data_dir``: its folder or the file; None: the
    ``globalopinionqa`` data folder of :mod:`pluralign.datasets`)."""
    return goqa_design(load_globalopinionqa(data_dir))
