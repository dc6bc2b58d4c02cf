"""The collectives of a sharded step: all-to-all of ids and of pooled embeddings (with its backward), and
an agreement on bad input so that one rank's error stops every rank instead of leaving them waiting.

Every exchange records the bytes this rank sent to each rank, in call order; since all ranks make the
same calls in the same order, the records of all ranks line up into one byte matrix per exchange, which
``dae_emulator.interconnect`` turns into modeled time.
"""
from __future__ import annotations

import torch
import torch.distributed as dist

from ..runtime.stats import Exchange
from ..session import current_session


class RemoteRankError(RuntimeError):
    """Another rank of the group failed; this rank stops too rather than wait for it."""


def _wire(tensor: torch.Tensor, group) -> torch.Tensor:
    """The tensor where the group's backend moves data: the current GPU for NCCL, else where it is."""
    if dist.get_backend(group) == "nccl":
        return tensor.to(torch.device("cuda", torch.cuda.current_device()))
    return tensor


def exchange(tensor: torch.Tensor, send: list[int], receive: list[int], kind: Exchange, group=None) -> torch.Tensor:
    """One ``all_to_all_single`` of a flat tensor: ``send[r]`` elements to rank ``r``, ``receive[r]`` from it."""
    wire = _wire(tensor.contiguous(), group)
    out = wire.new_empty(sum(receive))
    dist.all_to_all_single(out, wire, receive, send, group=group)
    current_session().exchanges.record(kind, send, tensor.element_size())
    return out.to(tensor.device)


class _PooledAllToAll(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tensor, send, receive, group):
        ctx.send, ctx.receive, ctx.group = send, receive, group
        return exchange(tensor, send, receive, Exchange.POOLED, group)

    @staticmethod
    def backward(ctx, grad):
        return exchange(grad, ctx.receive, ctx.send, Exchange.GRADIENTS, ctx.group), None, None, None


def exchange_pooled(tensor: torch.Tensor, send: list[int], receive: list[int], group=None) -> torch.Tensor:
    """All-to-all of pooled embeddings whose backward sends the gradients back the same way."""
    return _PooledAllToAll.apply(tensor, send, receive, group)


def agree(problem: str | None, group=None) -> None:
    """Collective: raise on every rank if any rank has a ``problem``; the rank that has it raises
    ``ValueError(problem)``, the others ``RemoteRankError`` naming it."""
    flag = _wire(torch.tensor([0 if problem is None else 1]), group)
    dist.all_reduce(flag, group=group)
    if not int(flag):
        return
    problems = [None] * dist.get_world_size(group)
    dist.all_gather_object(problems, problem, group=group)
    if problem is not None:
        raise ValueError(problem)
    rank, message = next((r, p) for r, p in enumerate(problems) if p is not None)
    raise RemoteRankError(f"rank {rank} failed, so this rank stops too: {message}")


def all_reduce_gradients(parameters, group=None) -> None:
    """Sum the gradients of replicated (data-parallel) parameters over the group, in one all-reduce."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = _wire(torch.cat([g.reshape(-1) for g in grads]), group)
    dist.all_reduce(flat, group=group)
    for g, summed in zip(grads, torch.split(flat, [g.numel() for g in grads])):
        g.copy_(summed.view_as(g))
