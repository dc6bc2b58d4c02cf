"""The torch_ember logger: TORCH_EMBER_LOG sets it at import, and at DEBUG every IR of a compiled region
is logged after every stage."""
import logging
import os
import subprocess
import sys

import dae_emulator
import pytest
from dae_emulator.program import DType

from torch_ember import logs
from torch_ember.options import Knobs
from torch_ember.pipeline import compile_region, dlc_passes, slc_passes
from torch_ember.region_spec import BagMode, RegionKind, RegionSpec


def test_env_variable_sets_the_level_at_import():
    code = "import logging, torch_ember; print(logging.getLogger('torch_ember').getEffectiveLevel())"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "TORCH_EMBER_LOG": "debug"},
                         capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == str(logging.DEBUG)


def test_unknown_level_names_the_known_ones():
    with pytest.raises(ValueError, match="debug, info, warning"):
        logs.configure("loud")


def test_debug_logs_each_ir_after_each_stage_and_pass(caplog):
    spec = RegionSpec(RegionKind.EMBEDDING_BAG, "emb.weight", BagMode.SUM)
    dtypes = dict(table=DType.F32, indices=DType.I64, offsets=DType.I64)
    device = dae_emulator.preset("server")
    with caplog.at_level(logging.DEBUG, logger="torch_ember"):
        compile_region(spec, dtypes, device, opt_level=3)
    stages = [r.getMessage().split("\n", 1) for r in caplog.records if r.levelno == logging.DEBUG]
    heads = [head.removeprefix(f"region {spec.name}:emb.weight, ").removesuffix(":") for head, _ in stages]
    assert heads[0] == "SLC" and "SLC after vectorize" in heads and "DLC" in heads and heads[-1] == "DAE program"
    assert len(heads) == 3 + len(slc_passes(3, Knobs(), device)) + len(dlc_passes(3, Knobs()))
    bodies = dict(zip(heads, (body for _, body in stages)))
    assert "for b in dense" in bodies["SLC"] and "as vector" in bodies["SLC after vectorize"]
    assert "access configuration:" in bodies["DLC"] and "tu0" in bodies["DAE program"]


def test_without_debug_no_ir_is_printed(caplog):
    spec = RegionSpec(RegionKind.EMBEDDING_BAG, "emb.weight", BagMode.MEAN)
    dtypes = dict(table=DType.F32, indices=DType.I64, offsets=DType.I64)
    with caplog.at_level(logging.INFO, logger="torch_ember"):
        compile_region(spec, dtypes, dae_emulator.preset("server"), 0)
    assert not [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("compiling region" in r.getMessage() for r in caplog.records)
