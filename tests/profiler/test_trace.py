"""DAE launches under torch.profiler: host events named ember::<region>, and an exported trace with the
device's process, its launch and core threads, and the modeled time and bound on every launch."""
import json

import pytest
import torch
from torch.profiler import profile

import torch_ember

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    torch.manual_seed(0)
    bag = torch.nn.EmbeddingBag(500, 16, mode="sum")
    compiled = torch.compile(bag, backend="ember", options={"rest": "eager"})
    indices, offsets = torch.randint(0, 500, (300,)), torch.arange(0, 300, 10)
    compiled(indices, offsets).sum().backward()          # compile outside the profile
    with profile() as prof:
        for _ in range(2):
            compiled(indices, offsets).sum().backward()
    path = tmp_path_factory.mktemp("trace") / "trace.json"
    torch_ember.profiler.export_chrome_trace(prof, str(path))
    with open(path) as f:
        return prof, json.load(f)


def _host_events(trace):
    return [e for e in trace["traceEvents"] if e.get("ph") == "X" and "dae bound" in e.get("args", {})]


def test_each_launch_is_a_profiler_event_named_after_its_region(profiled):
    prof, _ = profiled
    names = [e.key for e in prof.key_averages() if e.key.startswith("ember::embedding_bag")]
    assert any(n.startswith("ember::embedding_bag_sum:") for n in names), names
    assert any(n.startswith("ember::embedding_bag_backward_sum:") for n in names), names
    launches = torch_ember.profiler.launches(prof)
    assert len(launches) == 4 and all(l.modeled_seconds > 0 and l.bound for l in launches)


def test_host_events_carry_modeled_time_and_bound(profiled):
    _, trace = profiled
    hosts = _host_events(trace)
    assert len(hosts) == 4
    for e in hosts:
        assert e["name"].startswith("ember::")
        assert e["args"]["dae modeled us"] > 0 and e["args"]["dae device"] == "server"
        assert e["args"]["dae bound"] in {"memory bandwidth", "memory latency", "access issue", "compute"}


def test_device_process_has_one_launch_event_per_host_event_and_core_spans_inside_it(profiled):
    _, trace = profiled
    events = trace["traceEvents"]
    (pid,) = [e["pid"] for e in events if e.get("name") == "process_name" and "DAE" in e["args"]["name"]]
    threads = {e["tid"]: e["args"]["name"] for e in events
               if e.get("pid") == pid and e.get("name") == "thread_name"}
    assert threads[0] == "launches" and threads[1] == "core 0" and len(threads) == 1 + 32   # server: 32 cores
    device = [e for e in events if e.get("pid") == pid and e.get("ph") == "X"]
    launches = sorted((e for e in device if e["tid"] == 0), key=lambda e: e["ts"])
    hosts = sorted(_host_events(trace), key=lambda e: e["ts"])
    assert [e["name"] for e in launches] == [e["name"] for e in hosts]
    for launch, host in zip(launches, hosts):
        assert launch["ts"] >= host["ts"]
        assert launch["dur"] == pytest.approx(host["args"]["dae modeled us"])
        cores = [e for e in device if e["tid"] > 0 and e["ts"] == launch["ts"] and e["name"] == launch["name"]]
        assert cores and all(0 < e["dur"] <= launch["dur"] + 1e-9 for e in cores)
    for before, after in zip(launches, launches[1:]):      # one launch at a time on the device
        assert after["ts"] >= before["ts"] + before["dur"]


def test_launches_not_timed_in_detail_are_drawn_as_estimated(tmp_path):
    torch.manual_seed(1)
    bag = torch.nn.EmbeddingBag(500, 16, mode="sum")
    compiled = torch.compile(bag, backend="ember", options={"rest": "eager", "timing": "sampled"})
    indices, offsets = torch.randint(0, 500, (300,)), torch.arange(0, 300, 10)
    with torch_ember.Session():
        with profile() as prof:
            for _ in range(8):
                compiled(indices, offsets)
        path = tmp_path / "trace.json"
        torch_ember.profiler.export_chrome_trace(prof, str(path))
    trace = json.loads(path.read_text())
    timing = [e["args"]["dae timing"] for e in _host_events(trace)]
    assert len(timing) == 8 and timing[:3] == ["timed in detail"] * 3
    assert "estimated from the region's sampled launches" in timing
    device = [e for e in trace["traceEvents"] if str(e.get("cat", "")).startswith("dae") and e.get("tid") == 0]
    estimated = [e for e in device if e["cat"] == "dae estimated"]
    assert len(estimated) == timing.count("estimated from the region's sampled launches")
    assert all(e["name"].endswith("(estimated)") and e["dur"] > 0 and "bound" not in e["args"] for e in estimated)
    cores = [e for e in trace["traceEvents"] if e.get("cat") == "dae estimated" and e.get("tid", 0) > 0]
    assert not cores, "an estimated launch has no core spans: they were not modeled"
