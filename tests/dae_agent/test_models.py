"""The model backends' switches: where a local model comes from, and whether an HTTP request carries the
task's grammar."""
import pytest

from dae_agent.models import HttpModel, load_model


class _Reply:
    def raise_for_status(self):
        pass

    def json(self):
        return {"choices": [{"message": {"content": "program p"}}], "usage": {}}


@pytest.mark.parametrize("field, grammar, sent", [("grammar", True, "grammar"), ("guided_grammar", True, "guided_grammar"),
                                                  ("grammar", False, None), (None, True, None)])
def test_an_http_request_carries_the_grammar_only_where_the_server_is_told_to_take_it(monkeypatch, field, grammar, sent):
    import requests
    bodies = []
    monkeypatch.setattr(requests, "post", lambda url, json, headers, timeout: bodies.append(json) or _Reply())
    model = load_model("http:some-model", grammar=grammar, grammar_field=field)
    assert isinstance(model, HttpModel)
    model.complete([{"role": "user", "content": "hi"}], 0.0, 0, grammar='root ::= "program p"')
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
