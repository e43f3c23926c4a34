"""Torch modules initialised from an explicit ``torch.Generator``, never from torch's global RNG.

``torch.nn.Linear`` draws its initial weights from torch's global generator when it is built. To keep a
module's numbers a function of its seed alone (:mod:`pluralign.seeding`), the package builds modules on the
``meta`` device (no numbers drawn at all: :func:`build`) and then draws every parameter from a generator
(:func:`init_parameters_`) with torch's own default scheme. Drawn in registration order, the numbers
equal those of building the module after ``torch.manual_seed(s)`` when the generator is
``torch.Generator().manual_seed(s)`` (``tests/pluralign/test_torch_init.py``), without touching the
global generator.
"""

from __future__ import annotations

import math
from typing import Callable, TypeVar

import torch
from torch import nn

__all__ = ["build", "init_parameters_"]

M = TypeVar("M", bound=nn.Module)


def build(factory: Callable[[], M]) -> M:
    """``factory()`` with every tensor created on the ``meta`` device (no random numbers drawn), then
    moved to uninitialised CPU memory: follow with :func:`init_parameters_` or fill every parameter."""
    with torch.device("meta"):
        module = factory()
    return module.to_empty(device="cpu")


def init_parameters_(module: M, generator: torch.Generator) -> M:
    """Draw every parameter of ``module`` in place from ``generator`` as torch's constructors do, in
    registration order: ``nn.Linear`` weight kaiming-uniform with a = sqrt(5) (U(+-1/sqrt(fan_in))) and bias
    U(+-1/sqrt(fan_in)); ``nn.LayerNorm`` weight 1 and bias 0. Returns ``module``. A submodule with
    parameters of another kind raises ``ValueError`` (initialise those yourself)."""
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
    for name, m in module.named_modules():
        if not any(True for _ in m.parameters(recurse=False)):
            continue
        if isinstance(m, nn.Linear):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
            if m.bias is not None:
                bound = 1.0 / math.sqrt(m.in_features) if m.in_features > 0 else 0.0
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        else:
            raise ValueError(f"module: no default initialisation for {name or 'the module'} ({type(m).__name__})")
    return module
