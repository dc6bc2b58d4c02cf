"""Batching (Ember, SLC level): several independent regions (one per embedding table, say) become one
program with one loop nest each, so one launch does them all and the device's cores share their work.

Every name of region ``k`` (parameters, size symbols, streams, loop variables, accumulators, values) gets
the prefix ``t{k}_``; the launch binds each region's tensors under those prefixed names.
"""
from __future__ import annotations

from dataclasses import replace

from dae_emulator.program import Dim

from ...ir.slc import SlcLoop, SlcProgram, verify_slc


def prefix_of(k: int) -> str:
    return f"t{k}_"


def _renamer(prefix: str):
    def name(x):
        if not isinstance(x, str):
            return x
        return "$" + prefix + x[1:] if x.startswith("$") else prefix + x

    def dim(d: Dim | None) -> Dim | None:
        return d if d is None or d.symbol is None else replace(d, symbol=prefix + d.symbol)

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


def rename(p: SlcProgram, prefix: str) -> SlcProgram:
    name, dim = _renamer(prefix)
    params = tuple(replace(x, name=name(x.name), shape=tuple(dim(d) for d in x.shape)) for x in p.params)
    accs = tuple(replace(a, name=name(a.name), width=dim(a.width)) for a in p.accumulators)
    return replace(p, params=params, accumulators=accs, loop=_rename_loop(p.loop, name, dim),
                   more_nests=tuple(_rename_loop(n, name, dim) for n in p.more_nests))


def batch(programs: list[SlcProgram], name: str) -> SlcProgram:
    parts = [rename(p, prefix_of(k)) for k, p in enumerate(programs)]
    nests = [nest for part in parts for nest in part.nests]
    return verify_slc(SlcProgram(name, tuple(x for part in parts for x in part.params),
                                 tuple(a for part in parts for a in part.accumulators), nests[0], tuple(nests[1:])))
