"""Compare a training run under ember with the same run in eager PyTorch, step by step."""
from __future__ import annotations


def loss_table(eager: list[float], ember: list[float], title: str = "") -> float:
    """Print each step's losses and their relative difference; return the worst relative difference."""
    worst = 0.0
    print(f"{title}{'step':>4}  {'eager loss':>12}  {'ember loss':>12}  {'rel. diff':>9}")
    for step, (a, b) in enumerate(zip(eager, ember, strict=True)):
        rel = abs(a - b) / max(abs(a), 1e-12)
        worst = max(worst, rel)
        print(f"{'':>{len(title)}}{step:>4}  {a:>12.6f}  {b:>12.6f}  {rel:>9.2e}")
    return worst
