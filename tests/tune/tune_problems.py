"""Small synthetic problems shared by the tune tests (a plain module, so hypothesis tests can use them)."""
from __future__ import annotations

import tune


def inversions(order: tuple[int, ...]) -> int:
    return sum(1 for i in range(len(order)) for j in range(i + 1, len(order)) if order[i] > order[j])


def mixed_objective(config: dict) -> float:
    """Smooth in the real, quadratic in the integer, and the number of inversions of the permutation."""
    return 4 * (config["x"] - 0.3) ** 2 + (config["n"] - 7) ** 2 / 16 + inversions(config["order"]) / 3 + 0.1


def mixed_space() -> tune.Space:
    return tune.Space([tune.Real("x", 0, 1), tune.Integer("n", 0, 20), tune.Permutation("order", 5)])


def constrained_space() -> tune.Space:
    """Every parameter type, with known constraints that cut the space substantially."""
    return tune.Space(
        [
            tune.Real("rate", 1e-3, 1.0, log=True),
            tune.Integer("tile", 1, 64),
            tune.Ordinal("unroll", [1, 2, 4, 8, 16]),
            tune.Categorical("layout", ["row", "col", "blocked"]),
            tune.Permutation("order", 3),
        ],
        constraints=["tile * unroll <= 64", "layout != 'blocked' or tile % 4 == 0", "order[0] != 2"],
    )
