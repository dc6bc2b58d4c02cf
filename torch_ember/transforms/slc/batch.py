"""Batching (Ember, SLC level): several independent regions (one per embedding table, say) become one
program with one loop nest each, so one launch does them all and the device's cores share their work.

Every name of region ``k`` (parameters, size symbols, streams, loop variables, accumulators, values) gets
the prefix ``t{k}_``; the launch binds each region's tensors under those prefixed names. What the graph
knows about the parts' inputs is kept: an input that is the same tensor as an earlier part's (``shared``,
the entity table of a knowledge graph's head and tail lookups) is passed once, so the parts read one copy
through one cache; inputs of equal length (``same_length``) get one size symbol, so their loops have one
iteration space that later passes may fuse (``fuse_loops``).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from dae_emulator.program import Dim

from ...ir.slc import SlcLoop, SlcProgram, verify_slc
from ...region_spec import RegionSpec


def _renamer(names: Callable[[str], str], symbols: Callable[[str], str]):
    def name(x):
        if not isinstance(x, str):
            return x
        return "$" + symbols(x[1:]) if x.startswith("$") else names(x)

    def dim(d: Dim | None) -> Dim | None:
        return d if d is None or d.symbol is None else replace(d, symbol=symbols(d.symbol))

    return name, dim


def _rename_loop(loop: SlcLoop, name, dim) -> SlcLoop:
    streams = tuple(replace(s, name=name(s.name), tensor=name(s.tensor) if s.tensor else None,
                            index=name(s.index) if s.index else None, operands=tuple(name(o) for o in s.operands))
                    for s in loop.streams)
    callbacks = tuple(replace(cb, when=name(cb.when) if cb.when else None, body=tuple(
        replace(i, result=name(i.result) if i.result else None, args=tuple(name(a) for a in i.args),
                target=name(i.target) if i.target else None) for i in cb.body)) for cb in loop.callbacks)
    return replace(loop, var=name(loop.var), extent=dim(loop.extent), lo=name(loop.lo) if loop.lo else None,
                   hi=name(loop.hi) if loop.hi else None, streams=streams, callbacks=callbacks,
                   inner=_rename_loop(loop.inner, name, dim) if loop.inner else None)


def substitute(p: SlcProgram, names: Callable[[str], str], symbols: Callable[[str], str]) -> SlcProgram:
    """``p`` with every name mapped by ``names`` and every size symbol by ``symbols``; parameters that end up
    with the name of an earlier one are dropped (they were the same tensor)."""
    name, dim = _renamer(names, symbols)
    params, seen = [], set()
    for x in p.params:
        renamed = replace(x, name=name(x.name), shape=tuple(dim(d) for d in x.shape))
        if renamed.name not in seen:
            seen.add(renamed.name)
            params.append(renamed)
    accs = tuple(replace(a, name=name(a.name), width=dim(a.width)) for a in p.accumulators)
    known = tuple(dict.fromkeys(replace(f, tensor=name(f.tensor)) for f in p.known))
    return replace(p, params=tuple(params), accumulators=accs, loop=_rename_loop(p.loop, name, dim),
                   more_nests=tuple(_rename_loop(n, name, dim) for n in p.more_nests), known=known)


def rename_in_loop(loop: SlcLoop, names: dict[str, str]) -> SlcLoop:
    """``loop`` (and its inner loops) with the names in ``names`` replaced."""
    name, dim = _renamer(lambda x: names.get(x, x), lambda symbol: symbol)
    return _rename_loop(loop, name, dim)


def rename(p: SlcProgram, prefix: str) -> SlcProgram:
    return substitute(p, lambda x: prefix + x, lambda s: prefix + s)


def _share(p: SlcProgram, shared, same_length) -> SlcProgram:
    """One parameter for each ``shared`` pair, one size symbol for each ``same_length`` pair."""
    params = {x.name: x for x in p.params}
    tensors: dict[str, str] = {}
    symbols: dict[str, str] = {}

    def canonical(table: dict[str, str], x: str) -> str:
        while x in table:
            x = table[x]
        return x

    def unify(a: Dim, b: Dim) -> None:
        if a.symbol is not None and b.symbol is not None and a.offset == b.offset:
            a_root, b_root = canonical(symbols, a.symbol), canonical(symbols, b.symbol)
            if a_root != b_root:
                symbols[a_root] = b_root

    for alias, of in shared:
        if alias not in params or of not in params or len(params[alias].shape) != len(params[of].shape):
            raise ValueError(f"batched inputs {alias} and {of} cannot be one tensor")
        tensors[alias] = of
        for a, b in zip(params[alias].shape, params[of].shape):
            unify(a, b)
    for a, b in same_length:
        if a not in params or b not in params:
            raise ValueError(f"batched inputs {a} and {b}: no such inputs")
        unify(params[a].shape[0], params[b].shape[0])
    if not tensors and not symbols:
        return p
    return substitute(p, lambda x: canonical(tensors, x), lambda s: canonical(symbols, s))


def batch(programs: list[SlcProgram], name: str, *, shared=(), same_length=()) -> SlcProgram:
    parts = [rename(p, RegionSpec.prefix(k)) for k, p in enumerate(programs)]
    nests = [nest for part in parts for nest in part.nests]
    program = SlcProgram(name, tuple(x for part in parts for x in part.params),
                         tuple(a for part in parts for a in part.accumulators), nests[0], tuple(nests[1:]),
                         tuple(f for part in parts for f in part.known))
    return verify_slc(_share(program, shared, same_length))
