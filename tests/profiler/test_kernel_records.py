"""Triton launches on a GPU are timed by CUDA events that are read without waiting for the GPU: a finished
launch when the next one is recorded, the rest when ``report()`` is asked for."""
from torch_ember.runtime.stats import Stats


class FakeEvent:
    """Stands in for ``torch.cuda.Event``: a time in ms, and whether anyone waited for it."""

    def __init__(self, ms: float, done: bool = False) -> None:
        self.ms, self.waited, self.done = ms, False, done

    def query(self) -> bool:
        return self.done

    def synchronize(self) -> None:
        self.waited = True

    def elapsed_time(self, end: "FakeEvent") -> float:
        return end.ms - self.ms


def test_cuda_events_are_read_when_the_report_is_asked_for():
    stats = Stats()
    pairs = [(FakeEvent(1.0), FakeEvent(3.5)), (FakeEvent(10.0), FakeEvent(10.5))]
    for pair in pairs:
        stats.record_kernel("r:t", "gather_rows", "cuda:0 (GPU)", cuda_events=pair)
    assert not any(end.waited for _, end in pairs)
    [kernel] = stats.report().kernels
    assert all(end.waited for _, end in pairs)
    assert kernel.launches == 2 and abs(kernel.seconds - 3.0e-3) < 1e-12
    stats.record_kernel("r:t", "gather_rows", "cuda:0 (GPU)", seconds=1e-3)
    assert stats.report().kernels[0].launches == 3
    stats.reset()
    assert not stats.report().kernels


def test_finished_launches_are_folded_in_as_later_ones_are_recorded():
    stats = Stats()
    for k in range(1000):      # a long run that never asks for a report keeps only launches in flight
        stats.record_kernel("r:t", "gather_rows", "cuda:0 (GPU)", cuda_events=(FakeEvent(k), FakeEvent(k + 0.5, True)))
    assert len(stats._pending) <= 1
    running = (FakeEvent(0.0), FakeEvent(2.0))
    stats.record_kernel("r:t", "gather_rows", "cuda:0 (GPU)", cuda_events=running)
    assert not running[1].waited
    [kernel] = stats.report().kernels
    assert kernel.launches == 1001 and abs(kernel.seconds - (1000 * 0.5 + 2.0) / 1e3) < 1e-9
