"""What the fx passes hand each other: the graph, what is known about it, and what they found so far."""
from __future__ import annotations

import dataclasses
import enum
import functools
from dataclasses import dataclass, field
from typing import Callable

import torch.fx

from ..options import EmberOptions
from .match import HostDecision, RegionMatch


class GraphKind(enum.Enum):
    """Which graph AOTAutograd handed the backend (for messages and ``explain``)."""
    FORWARD = "forward"
    BACKWARD = "backward"
    INFERENCE = "inference"


@dataclass(frozen=True)
class LoweringState:
    gm: torch.fx.GraphModule
    options: EmberOptions
    graph_kind: GraphKind = GraphKind.FORWARD
    table_names: dict[str, str] = field(default_factory=dict)   # placeholder name -> the user's name for it
    gradient_names: tuple[str, ...] = ()      # a backward graph's outputs: the user's name of what each is the
                                              # gradient of (the forward's inputs, in order)
    matches: tuple[RegionMatch, ...] = ()     # the regions to be made, in the order they are made
    host: tuple[HostDecision, ...] = ()       # the lookup-like ops that stay on the host, and why


FxPass = Callable[[LoweringState], LoweringState]


def on_matches(rewrite: Callable[[list[RegionMatch]], list[RegionMatch]]) -> FxPass:
    """A pass that only rewrites the matches (fusing, batching, annotating them)."""
    @functools.wraps(rewrite)
    def fx_pass(state: LoweringState) -> LoweringState:
        return dataclasses.replace(state, matches=tuple(rewrite(list(state.matches))))
    return fx_pass
