"""Parameters, spaces and known constraints: validation, safe parsing, sampling inside the constraints."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tune
from tune.constraints import Constraint
from tune_problems import constrained_space

_NUMERIC = (tune.ParamKind.REAL, tune.ParamKind.INTEGER, tune.ParamKind.ORDINAL)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: tune.Real("lr", 1.0, 0.1), "'lr'"),
        (lambda: tune.Real("lr", 0.0, 1.0, log=True), "'lr'.*log"),
        (lambda: tune.Integer("tile", 8, 2), "'tile'.*lo=8 > hi=2"),
        (lambda: tune.Ordinal("unroll", []), "'unroll'.*empty"),
        (lambda: tune.Categorical("layout", ["a", "a"]), "'layout'.*distinct"),
        (lambda: tune.Permutation("order", 0), "'order'"),
        (lambda: tune.Real("not a name", 0, 1), "identifier"),
        (lambda: tune.Space([tune.Integer("a", 0, 1), tune.Integer("a", 0, 2)]), "repeated.*'a'"),
        (lambda: tune.Space([tune.Integer("tile", 1, 8)], ["tile * unrol <= 512"]), "unknown parameter 'unrol'"),
        (lambda: tune.Space([tune.Integer("tile", 1, 8)], ["tile <"]), "not a valid expression"),
        (lambda: tune.Space([tune.Integer("tile", 1, 8)], ["tile > 9"]), "admit almost no"),
    ],
)
def test_bad_spaces_raise_errors_naming_the_culprit(make, message):
    with pytest.raises(ValueError, match=message):
        space = make()
        space.sample(np.random.default_rng(0))


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('true')",
        "tile.__class__",
        "(lambda: 1)()",
        "[t for t in (tile,)]",
        "open('x')",
        "tile ** 1000 > 0",
    ],
)
def test_constraints_reject_anything_outside_the_whitelist(text):
    with pytest.raises(ValueError):
        Constraint.parse(text, ["tile"]).holds({"tile": 2})


def test_constraint_expressions_cover_arithmetic_comparisons_and_permutation_indexing():
    names = ["tile", "unroll", "layout", "order"]
    config = {"tile": 8, "unroll": 4, "layout": "row", "order": (2, 0, 1)}
    holds = {
        "tile * unroll <= 32": True,
        "tile * unroll < 32": False,
        "1 <= tile // unroll < 3": True,
        "layout in ('row', 'col') and order[0] == 2": True,
        "not (tile % 3 == 2) or max(tile, unroll) == 8": True,
        "abs(order[1] - order[2]) > 1": False,
    }
    for text, expected in holds.items():
        assert Constraint.parse(text, names).holds(config) is expected, text


def test_design_and_samples_satisfy_known_constraints():
    space = constrained_space()
    configs = space.design(32, seed=3) + space.sample(np.random.default_rng(3), 64)
    assert all(space.is_feasible(c) for c in configs)
    for c in configs:
        assert sorted(c["order"]) == [0, 1, 2]
        assert 1e-3 <= c["rate"] <= 1.0 and 1 <= c["tile"] <= 64


def test_design_fills_the_space_better_than_its_size_suggests():
    """Scrambled Sobol: 16 points in 4 bins of each of two reals leave no bin pair empty."""
    space = tune.Space([tune.Real("a", 0, 1), tune.Real("b", 0, 1)])
    cells = {(int(c["a"] * 4), int(c["b"] * 4)) for c in space.design(16, seed=0)}
    assert len(cells) == 16


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_neighbours_stay_inside_the_constraints_and_change_one_parameter(seed):
    space, rng = constrained_space(), np.random.default_rng(seed)
    config = space.sample(rng)[0]
    for neighbour in space.neighbours(config, rng):
        assert space.is_feasible(neighbour)
        assert sum(neighbour[n] != config[n] for n in space.names) == 1


def test_encoding_puts_numeric_parameters_in_the_unit_interval():
    space = constrained_space()
    configs = space.sample(np.random.default_rng(1), 50)
    x = space.encode(configs)
    assert x.shape == (50, space.width)
    numeric = [cols[0] for kind, cols in space.columns().values() if kind in _NUMERIC]
    assert (x[:, numeric] >= 0).all() and (x[:, numeric] <= 1).all()


def test_an_ordinal_may_end_in_none_for_unbounded_and_is_ordered_by_position():
    """Ember's ``tile`` knob: powers of two, then None (one block per core, the largest tile of all)."""
    tile = tune.Ordinal("tile", (1, 2, 4, None))
    space = tune.Space([tile])
    configs = space.sample(np.random.default_rng(0), 40)
    assert {c["tile"] for c in configs} == {1, 2, 4, None}
    assert [tile.encode(v) for v in (1, 4, None)] == [[0.0], [2 / 3], [1.0]]
    assert tile.neighbours(None, np.random.default_rng(0)) == [4]
    result = tune.minimize(lambda c: 8.0 if c["tile"] is None else float(c["tile"]), space, 4, seed=0)
    assert result.best_config == {"tile": 1}



def _moves(order: tuple[int, ...]) -> dict[str, set[tuple[int, ...]]]:
    """Every swap, insertion and segment reversal of ``order``, built independently of the library."""
    n, out = len(order), {"swap": set(), "insert": set(), "reverse": set()}
    for i in range(n):
        for j in range(n):
            p = list(order)
            p[i], p[j] = p[j], p[i]
            out["swap"].add(tuple(p))
            q = list(order)
            q.insert(j, q.pop(i))
            out["insert"].add(tuple(q))
            if i < j:
                out["reverse"].add(order[:i] + order[i:j + 1][::-1] + order[j + 1:])
    return {k: v - {order} for k, v in out.items()}


@pytest.mark.parametrize("n", [1, 2, 3, 6, 10])
def test_permutation_neighbours_are_every_swap_insertion_and_reversal(n):
    order = tuple(np.random.default_rng(n).permutation(n).tolist())
    got = tune.Permutation("p", n).neighbours(order, np.random.default_rng(0))
    assert len(got) == len(set(got)) and order not in got
    assert set(got) == set.union(*_moves(order).values())


def test_permutation_neighbours_reach_beyond_swaps():
    """A 2-opt move keeps all but two neighbouring pairs (what a tour's length depends on); moving one
    element keeps the others' relative order (what a schedule's lateness depends on). Neither is one swap."""
    order = (0, 1, 2, 3, 4, 5)
    got = set(tune.Permutation("p", 6).neighbours(order, np.random.default_rng(0)))
    two_opt, moved = (0, 4, 3, 2, 1, 5), (1, 2, 3, 0, 4, 5)
    assert {two_opt, moved} <= got and not {two_opt, moved} & _moves(order)["swap"]


def test_permutation_neighbours_of_a_long_ordering_are_a_seeded_subset():
    p, order = tune.Permutation("p", 16), tuple(range(16))
    first = p.neighbours(order, np.random.default_rng(5))
    assert first == p.neighbours(order, np.random.default_rng(5)) and len(first) == 160
    assert set(first) <= set.union(*_moves(order).values())


def test_a_constraint_names_the_parameters_it_reads_not_the_functions_it_calls():
    space = tune.Space([tune.Integer("tile", 1, 64), tune.Integer("unroll", 1, 8)],
                       ["min(tile, 4 * unroll) <= 32", "abs(tile - 8) > 0"])
    assert [c.names for c in space.constraints] == [frozenset({"tile", "unroll"}), frozenset({"tile"})]
