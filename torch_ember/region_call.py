"""What every ``ember::region`` call carries: the region's spec and the options it was lowered with.

A custom op takes strings, so the call travels as JSON inside the graph; it is written in one place
(``to_json``) and read back, once per distinct text, into the same typed objects (``from_json``). A
cached graph therefore needs no process-local registry: the program cache rebuilds what it names. The
text includes a digest of ember's sources (``options.build_id``): Inductor's graph cache keys on a graph's
text, not on the code behind a custom op.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from .options import EmberOptions, build_id
from .region_spec import RegionSpec


@dataclass(frozen=True)
class RegionCall:
    spec: RegionSpec
    options: EmberOptions

    def to_json(self) -> str:
        return json.dumps({"spec": self.spec.to_dict(), "options": self.options.to_dict(), "build": build_id()},
                          sort_keys=True)

    @staticmethod
    def from_json(text: str) -> "RegionCall":
        return _parsed(text)


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> RegionCall:
    """A compiled graph passes the same text at every launch: parse it once."""
    value = json.loads(text)
    return RegionCall(RegionSpec.from_dict(value["spec"]), EmberOptions.from_json_dict(value["options"]))
