"""The model backends' switches: where a local model comes from, and whether an HTTP request carries the
task's grammar."""
import pytest

from dae_agent.models import Decoding, HttpModel, load_model
from dae_agent.scoped_decoding import Constraint


class _Reply:
    def raise_for_status(self):
        pass

    def json(self):
        return {"choices": [{"message": {"content": "program p"}}], "usage": {}}


@pytest.mark.parametrize("field, decoding, sent", [("grammar", Decoding.SCOPED, "grammar"),
                                                   ("guided_grammar", Decoding.GRAMMAR, "guided_grammar"),
                                                   ("grammar", Decoding.FREE, None), (None, Decoding.SCOPED, None)])
def test_an_http_request_carries_the_grammar_only_where_the_server_is_told_to_take_it(monkeypatch, field, decoding,
                                                                                       sent):
    import requests
    bodies = []
    monkeypatch.setattr(requests, "post", lambda url, json, headers, timeout: bodies.append(json) or _Reply())
    model = load_model("http:some-model", decoding=decoding, grammar_field=field)
    assert isinstance(model, HttpModel)
    constraint = Constraint('root ::= "program p"', None, lambda text: True)     # a server takes the GBNF text
    model.complete([{"role": "user", "content": "hi"}], 0.0, 0, grammar=constraint)
    (body,) = bodies
    extra = set(body) - {"model", "messages", "temperature", "seed", "max_tokens"}
    assert extra == ({sent} if sent else set())
    if sent:
        assert body[sent] == 'root ::= "program p"'


def test_a_model_path_must_be_a_folder_or_a_gguf_file(tmp_path):
    (tmp_path / "weights.bin").write_text("")
    for missing in (tmp_path / "nowhere", tmp_path / "weights.bin"):
        with pytest.raises(ValueError, match="neither a folder nor a .gguf file"):
            load_model(f"path:{missing}")
    with pytest.raises(ValueError, match="path:DIR, path:FILE.gguf"):
        load_model("llama:x")
