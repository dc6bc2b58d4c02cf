"""The benchmark validates itself: every expert program verifies, and the task set has the promised spread."""
from collections import Counter

import pytest
import torch

from dae_agent.prompt import LANGUAGE_REFERENCE, build_messages
from dae_agent.tasks import TASKS, Group, select
from dae_agent.tasks.inputs import make_inputs
from dae_agent.verifier import Stage, verify


@pytest.mark.parametrize("name", list(TASKS))
def test_expert_program_verifies(name):
    task = TASKS[name]
    verdict = verify(task, task.expert)
    assert verdict.stage is Stage.PASSED, verdict.feedback()
    assert verdict.cycles > 0


def test_benchmark_covers_at_least_24_tasks_in_8_groups():
    groups = Counter(t.group for t in TASKS.values())
    assert len(TASKS) >= 24 and len(groups) >= 8
    assert set(groups) == set(Group)
    assert {t.level for t in TASKS.values()} == {1, 2, 3}


def test_inputs_force_the_hard_corners():
    bag = TASKS["bag_sum_padding_idx"]
    x = make_inputs(bag, bag.cases[0], seed=0)
    lengths = x["offsets"][1:] - x["offsets"][:-1]
    assert (lengths == 0).any()                                  # an empty bag
    assert len(set(x["indices"].tolist())) < len(x["indices"])   # duplicate indices
    assert (x["indices"] == 2).any()                             # the padding index
    assert make_inputs(bag, bag.cases[1], seed=0)["indices"].numel() == 0
    assert torch.equal(make_inputs(bag, bag.cases[0], 3)["table"], make_inputs(bag, bag.cases[0], 3)["table"])


def test_no_expert_program_reaches_a_prompt():
    for task in TASKS.values():
        text = build_messages(task, [])[1]["content"]
        body = task.expert.split("access:")[1]
        assert body not in text and body not in LANGUAGE_REFERENCE


def test_select_by_task_and_group():
    assert [t.name for t in select("gather_rows,bag_sum")] == ["gather_rows", "bag_sum"]
    assert {t.group for t in select("embedding_bag_max")} == {Group.BAG_MAX}
    with pytest.raises(ValueError, match="unknown task"):
        select("nope")
