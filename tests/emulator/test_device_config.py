"""A DeviceConfig holds what its fields say: numpy's numbers (what tuners such as SMAC and Optuna hand out) are
taken as Python ones, and a value of the wrong kind is refused where it is given, naming the field."""
import dataclasses
import json

import numpy as np
import pytest

from dae_emulator import preset


def test_numpy_numbers_become_python_numbers():
    config = dataclasses.replace(preset("server"), cores=np.int64(4), queues=np.int32(8),
                                 clock_ghz=np.float32(1.5), cache_latency_cycles=np.uint8(30),
                                 dram_latency_ns=np.int64(90), out_of_order_execute=np.bool_(True))
    assert (type(config.cores), type(config.queues), type(config.cache_latency_cycles)) == (int, int, int)
    assert (config.clock_ghz, type(config.clock_ghz)) == (1.5, float)
    assert (config.dram_latency_ns, type(config.dram_latency_ns)) == (90.0, float)   # an int where a float goes
    assert config.out_of_order_execute is True
    json.dumps(dataclasses.asdict(config))     # the backend carries a device as JSON


@pytest.mark.parametrize("field, value", [("cores", 2.5), ("cores", "4"), ("cores", True), ("queues", None),
                                          ("clock_ghz", "2.0"), ("clock_ghz", True), ("name", 3),
                                          ("out_of_order_execute", 1)])
def test_a_value_of_the_wrong_kind_is_refused(field, value):
    with pytest.raises(ValueError, match=f"DeviceConfig.{field} must be"):
        dataclasses.replace(preset("server"), **{field: value})

