"""Progress reporting for long tuning runs: a tqdm bar when tqdm is installed, a printed counter if not."""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TextIO

from tune.results import Evaluation


class _Tally:
    """Evaluations so far and the best feasible value, as text for the display."""

    def __init__(self) -> None:
        self.count = 0
        self.best: float | None = None

    def add(self, evaluation: Evaluation) -> str:
        self.count += 1
        if evaluation.value is not None and (self.best is None or evaluation.value < self.best):
            self.best = evaluation.value
        return "best: none feasible yet" if self.best is None else f"best {self.best:.6g}"


@contextlib.contextmanager
def progress(total: int, stream: TextIO | None = None) -> Iterator[Callable[[Evaluation], None]]:
    """Yields a callback for ``minimize`` that advances the display (on stderr unless told) by one evaluation."""
    stream = stream if stream is not None else sys.stderr
    tally = _Tally()
    try:
        from tqdm import tqdm
    except ImportError:

        def show(evaluation: Evaluation) -> None:
            text = tally.add(evaluation)
            print(f"evaluation {tally.count}/{total}, {text}", file=stream, flush=True)

        yield show
        return
    with tqdm(total=total, file=stream, unit="eval") as bar:

        def update(evaluation: Evaluation) -> None:
            bar.set_postfix_str(tally.add(evaluation), refresh=False)
            bar.update(1)

        yield update
