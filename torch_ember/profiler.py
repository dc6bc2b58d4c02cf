"""DAE launches where PyTorch users look: ``torch.profiler`` events and Chrome / Perfetto traces.

Every launch runs inside ``torch.profiler.record_function("ember::<region>")``, so under
``torch.profiler.profile()`` it is an event of that name with its host time (``prof.key_averages()``,
traces). Its modeled device time and bound are known only when the emulator returns, after that event has
begun, and ``record_function`` fixes an event's name and args when it begins; numbers in the name would
also split a region into one ``key_averages`` row per value. So the runtime keeps a log of launches
(the current session's ``launches``) stamped with the profiler's own clock, and this module joins it to the
profile: ``export_chrome_trace`` adds the modeled time and bound to each host ``ember::`` event's args and
draws the launches on a process of their own, "DAE device (<preset>)", with a row for whole launches and
one per core, and ``launches(prof)`` returns the log entries of a profile's events.

The clock: torch.profiler stamps events with CLOCK_REALTIME (``time.time_ns()``); a Chrome trace's ``ts``
is microseconds after the trace's ``baseTimeNanoseconds``.
"""
from __future__ import annotations

import bisect
import collections
import gzip
import json
import os
import tempfile

from .runtime.stats import Launch
from .session import current_session

PREFIX = "ember::"    # the custom op's own event, "ember::region", names no region ("<name>:<table>")
_SLACK_NS = 50_000    # the profiler converts its cycle counter to wall time approximately


def launches(prof) -> list[Launch]:
    """The launches of a finished ``torch.profiler.profile``, in the order its ``ember::`` events began."""
    trace = _load(prof)
    return [launch for _, launch in _matched(trace["traceEvents"], trace.get("baseTimeNanoseconds", 0))]


def export_chrome_trace(prof, path: str) -> None:
    """Write ``prof``'s Chrome trace to ``path`` (gzipped if it ends in ``.gz``) with the DAE device added.

    Each host ``ember::<region>`` event gains ``dae modeled us``, ``dae bound``, ``dae device`` and ``dae
    timing`` args. Each device gets a process "DAE device (<preset>)": thread "launches" holds one ``X``
    event per launch, starting at its host start and lasting its modeled time; thread "core k" holds the
    busy span of core k. Under ``timing="sampled"`` a launch not timed in detail is drawn with the time
    estimated for it, named "... (estimated)", category "dae estimated", and with no cores, bound, DRAM or
    energy. The device runs one launch at a time, so a launch whose host start falls while the device is still
    busy with the previous one starts when that one ends.
    """
    trace = _load(prof)
    events = trace["traceEvents"]
    matched = _matched(events, trace.get("baseTimeNanoseconds", 0))
    for host, launch in matched:
        host.setdefault("args", {}).update({"dae modeled us": launch.modeled_seconds * 1e6,
                                            "dae bound": launch.bound, "dae device": launch.device,
                                            "dae timing": _timing(launch)})
    pids = [e["pid"] for e in events if isinstance(e.get("pid"), int)]
    by_device = collections.defaultdict(list)
    for host, launch in matched:
        by_device[launch.device].append((host, launch))
    for k, (device, pairs) in enumerate(sorted(by_device.items())):
        events += _device_track(device, pairs, max(pids, default=0) + 1 + k)
    with (gzip.open if path.endswith(".gz") else open)(path, "wt") as f:
        json.dump(trace, f)


def _load(prof) -> dict:
    """``prof``'s own Chrome trace, through its Python exporter: kineto's saves a trace only once, and this
    one can be asked again (by ``launches`` and ``export_chrome_trace``, or after the user's own export)."""
    handle, name = tempfile.mkstemp(suffix=".json")
    os.close(handle)
    try:
        prof.export_chrome_trace(name, use_python_export=True)
        with open(name) as f:
            return json.load(f)
    finally:
        os.remove(name)


def _matched(events: list[dict], base_ns: int) -> list[tuple[dict, Launch]]:
    """Pairs (host ``ember::`` event, its launch): the launch of that region whose start, taken inside the
    event, lies in the event's span; the earliest such when threads launched one region together."""
    by_region: dict[str, list[Launch]] = collections.defaultdict(list)
    for launch in sorted(current_session().launches.snapshot(), key=lambda l: l.start_ns):
        by_region[launch.region].append(launch)
    starts = {region: [l.start_ns for l in ls] for region, ls in by_region.items()}
    used: set[tuple[str, int]] = set()
    pairs = []
    hosts = [e for e in events if e.get("ph") == "X" and str(e.get("name", "")).startswith(PREFIX)]
    for host in sorted(hosts, key=lambda e: e["ts"]):
        region = host["name"][len(PREFIX):]
        begin = base_ns + host["ts"] * 1e3
        last = begin + host.get("dur", 0) * 1e3 + _SLACK_NS
        candidates = starts.get(region, [])
        i = bisect.bisect_left(candidates, begin - _SLACK_NS)
        while i < len(candidates) and candidates[i] <= last:
            if (region, i) not in used:
                used.add((region, i))
                pairs.append((host, by_region[region][i]))
                break
            i += 1
    return pairs


def _timing(launch: Launch) -> str:
    if not launch.detailed:
        return "estimated from the region's sampled launches"
    if launch.margin_seconds:
        return f"timed in detail on sampled intervals of its stream (±{launch.margin_seconds * 1e6:.3f} us)"
    return "timed in detail"


def _device_track(device: str, pairs: list[tuple[dict, Launch]], pid: int) -> list[dict]:
    cores = max(len(launch.core_seconds) for _, launch in pairs)
    track = [{"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": f"DAE device ({device})"}},
             {"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0, "args": {"sort_index": pid}},
             {"ph": "M", "name": "thread_name", "pid": pid, "tid": 0, "args": {"name": "launches"}}]
    track += [{"ph": "M", "name": "thread_name", "pid": pid, "tid": core + 1, "args": {"name": f"core {core}"}}
              for core in range(cores)]
    free = float("-inf")
    for host, launch in pairs:
        start = max(host["ts"], free)
        modeled_us = launch.modeled_seconds * 1e6
        free = start + modeled_us
        args = {"modeled us": modeled_us, "timing": _timing(launch), "host us": launch.host_ns / 1e3}
        if launch.detailed:
            args.update({"bound": launch.bound, "DRAM bytes": launch.dram_bytes,
                         "energy uJ": launch.energy_joules * 1e6})
        name = host["name"] if launch.detailed else f"{host['name']} (estimated)"
        track.append({"ph": "X", "cat": "dae" if launch.detailed else "dae estimated", "name": name, "pid": pid,
                      "tid": 0, "ts": start, "dur": modeled_us, "args": args})
        track += [{"ph": "X", "cat": "dae", "name": host["name"], "pid": pid, "tid": core + 1, "ts": start,
                   "dur": seconds * 1e6, "args": {"core": core}}
                  for core, seconds in enumerate(launch.core_seconds) if seconds > 0]
    return track
