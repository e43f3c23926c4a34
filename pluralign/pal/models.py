"""PAL-A and PAL-B personalized reward models (seed 002: "PAL: Sample-Efficient Personalized Reward Modeling
for Pluralistic Alignment", sec. 2, eq. 4-7).

Both share a map f across users and K prototypes; a user i is a weight vector w_i on the simplex
Delta^{K-1}, parameterized as softmax(logits_i) so that unconstrained optimizers keep it on the simplex.

* :class:`PALA` — ideal-point model (eq. 4-5). Prototypes p_1..p_K live in the item space; user i's
  ideal point is a_i = sum_k w_ik p_k and its score of an item x is ``-||f(x) - f(a_i)||^2``.
* :class:`PALB` — preference model (eq. 6-7). f maps the item onto the unit sphere (eq. 6's f(x); with
  ``f_reads_context`` it reads [x_c, x] instead); K prototype mappings g_k(x_c) (also on the sphere) are
  stacked as G(x_c) (D x K); user i's preference direction is z_i = G(x_c) w_i and its score is
  ``s * <f(x), z_i>`` with a learnable scale s = exp(log_scale) (not in eq. 6: the usual temperature of
  cosine scores, read as part of the unknown link h of eq. 3). Without a context the g_k are free unit
  vectors.

Every model exposes the same three ways of scoring a batch of choice sets ``features`` (M, n, d):

* ``forward(features, users, context)`` — the seen users' own learned weights;
* ``utilities_w(features, w, context)`` — explicit weights (M, K), one row per record (few-shot users);
* ``utilities_grid(features, W, context)`` — every record under every row of W (P, K): (M, n, P)
  (Bayesian query selection over particles of w).

:func:`make_map` builds f and g: ``linear`` or the "Tiny" strategy's 2-layer MLP on frozen embeddings,
optionally with a residual connection f(x) = x + MLP(x) (App. D.4: PAL-A-Tiny "utilizes a residual
connection. Therefore, the latent dimension is fixed to [...] the dimension of the input embedding").
"""

from __future__ import annotations

import math

import torch
from torch import nn

from pluralign.torch_init import build, init_parameters_

__all__ = ["make_map", "Residual", "PALA", "PALB"]


def _generator(generator: torch.Generator | None) -> torch.Generator:
    """The generator to draw from: the caller's, or a fresh one seeded 0 (never torch's global RNG)."""
    return generator if generator is not None else torch.Generator().manual_seed(0)


class Residual(nn.Module):
    """``x + body(x)``: a map with a skip connection (its output width is its input width)."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def make_map(d_in: int, d_out: int, kind: str = "mlp", hidden: int = 128,
             generator: torch.Generator | None = None, residual: bool = False) -> nn.Module:
    """The shared map: ``linear`` (d_in -> d_out, no bias) or ``mlp`` (Linear-GELU-Linear, the Tiny
    strategy's 2-layer head on frozen embeddings). Torch's default initialisation, drawn from
    ``generator`` (default: a generator seeded 0). ``residual``: x + map(x) (:class:`Residual`), which
    needs ``d_out == d_in`` (App. D.4: the latent dimension is the embedding dimension)."""
    if d_in < 1 or d_out < 1:
        raise ValueError(f"d_in/d_out: must be >= 1, got {d_in}, {d_out}")
    if residual and d_out != d_in:
        raise ValueError(f"d_latent: a residual map x + f(x) needs the latent dimension to equal the input "
                         f"dimension, got {d_out} vs {d_in}")
    if kind == "linear":
        factory = lambda: nn.Linear(d_in, d_out, bias=False)  # noqa: E731
    elif kind == "mlp":
        if hidden < 1:
            raise ValueError(f"hidden: must be >= 1, got {hidden}")
        factory = lambda: nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, d_out))  # noqa: E731
    else:
        raise ValueError(f"map: expected 'linear' or 'mlp', got {kind!r}")
    net = init_parameters_(build(factory), _generator(generator))
    return Residual(net) if residual else net


class _PALBase(nn.Module):
    """User weights on the simplex via softmax logits; parameter groups for separate learning rates."""

    def __init__(self, n_users: int, n_prototypes: int):
        super().__init__()
        if n_prototypes < 1:
            raise ValueError(f"n_prototypes: must be >= 1, got {n_prototypes}")
        if n_users < 0:
            raise ValueError(f"n_users: must be >= 0, got {n_users}")
        self.n_prototypes = int(n_prototypes)
        self.user_logits = nn.Parameter(torch.zeros(n_users, n_prototypes))

    def weights(self) -> torch.Tensor:
        """(n_users, K) user weights, rows on the simplex."""
        return torch.softmax(self.user_logits, dim=-1)

    def forward(self, features, users, context=None):
        return self.utilities_w(features, self.weights()[users], context)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:  # overridden
        raise NotImplementedError


class PALA(_PALBase):
    """PAL-A (eq. 4-5): score_i(x) = -||f(x) - f(a_i)||^2 with a_i = sum_k w_ik p_k in the item space.

    The prototypes start at N(0, prototype_scale^2 I / d_in), drawn from ``generator`` (default: seeded 0).
    """

    def __init__(self, f: nn.Module, d_in: int, n_users: int, n_prototypes: int, prototype_scale: float = 1.0,
                 generator: torch.Generator | None = None):
        super().__init__(n_users, n_prototypes)
        self.f = f
        self.d_in = int(d_in)
        p0 = torch.randn(n_prototypes, d_in, generator=_generator(generator))
        self.prototypes = nn.Parameter(p0 * prototype_scale / math.sqrt(d_in))

    def param_groups(self):
        return {"map": list(self.f.parameters()), "prototypes": [self.prototypes], "weights": [self.user_logits]}

    def ideal_points(self, w: torch.Tensor) -> torch.Tensor:
        """a = w P: (..., K) -> (..., d_in)."""
        return w @ self.prototypes

    def utilities_w(self, features, w, context=None):
        fx = self.f(features)  # (M, n, D)
        fa = self.f(self.ideal_points(w))  # (M, D)
        return -((fx - fa[:, None, :]) ** 2).sum(-1)

    def utilities_grid(self, features, W, context=None):
        fx = self.f(features)  # (M, n, D)
        fa = self.f(self.ideal_points(W))  # (P, D)
        return -((fx**2).sum(-1)[..., None] - 2.0 * fx @ fa.T + (fa**2).sum(-1))


class PALB(_PALBase):
    """PAL-B (eq. 6-7): score_i(x_c, x) = s <f(x), G(x_c) w_i>, f and the g_k on the unit sphere.

    ``f`` takes the item x (eq. 6), or the concatenation [x_c, x] when ``f_reads_context``, and outputs D numbers;
    ``g`` takes x_c and outputs K * D numbers (ignored, and free prototypes used, when ``d_context`` is 0).
    Free prototypes start at N(0, I), drawn from ``generator`` (default: seeded 0).
    """

    def __init__(
        self,
        f: nn.Module,
        n_users: int,
        n_prototypes: int,
        d_latent: int,
        g: nn.Module | None = None,
        d_context: int = 0,
        init_scale: float = 10.0,
        generator: torch.Generator | None = None,
        f_reads_context: bool = False,
    ):
        super().__init__(n_users, n_prototypes)
        if init_scale <= 0:
            raise ValueError(f"init_scale: must be > 0, got {init_scale}")
        self.f = f
        self.d_latent = int(d_latent)
        self.d_context = int(d_context)
        self.f_reads_context = bool(f_reads_context) and self.d_context > 0
        if self.d_context > 0:
            if g is None:
                raise ValueError("g: PAL-B with a context needs prototype mappings g")
            self.g = g
            self.free_prototypes = None
        else:
            self.g = None
            self.free_prototypes = nn.Parameter(torch.randn(n_prototypes, d_latent, generator=_generator(generator)))
        self.log_scale = nn.Parameter(torch.tensor(math.log(init_scale)))

    def param_groups(self):
        protos = list(self.g.parameters()) if self.g is not None else [self.free_prototypes]
        return {"map": list(self.f.parameters()) + [self.log_scale], "prototypes": protos, "weights": [self.user_logits]}

    def _embed(self, features, context):
        if self.d_context > 0 and context is None:
            raise ValueError("context: PAL-B was built with context features; pass them")
        if self.f_reads_context:
            ctx = context[:, None, :].expand(-1, features.shape[1], -1)
            features = torch.cat([ctx, features], dim=-1)
        return nn.functional.normalize(self.f(features), dim=-1)  # (M, n, D)

    def prototype_matrix(self, context=None, M: int = 1) -> torch.Tensor:
        """(M, K, D) unit prototype vectors g_k(x_c) per record."""
        if self.d_context > 0:
            G = self.g(context).view(context.shape[0], self.n_prototypes, self.d_latent)
        else:
            G = self.free_prototypes[None].expand(M, -1, -1)
        return nn.functional.normalize(G, dim=-1)

    def utilities_w(self, features, w, context=None):
        fx = self._embed(features, context)
        z = torch.einsum("mk,mkd->md", w, self.prototype_matrix(context, features.shape[0]))
        return self.log_scale.exp() * (fx * z[:, None, :]).sum(-1)

    def utilities_grid(self, features, W, context=None):
        fx = self._embed(features, context)
        s = torch.einsum("mnd,mkd->mnk", fx, self.prototype_matrix(context, features.shape[0]))
        return self.log_scale.exp() * s @ W.T
