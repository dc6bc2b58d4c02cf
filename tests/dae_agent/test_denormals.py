"""The local model flushes denormals while it generates (de-quantized GGUF weights hold them), and gives the
process its floating-point mode back afterwards: the mode is process state that every later computation
(and hypothesis's float strategies) sees."""
from dae_agent.models import denormals_flushed, flushing_denormals


def test_denormals_are_flushed_inside_and_the_mode_is_restored_after():
    assert not flushing_denormals()
    with denormals_flushed():
        assert flushing_denormals()
    assert not flushing_denormals()


def test_an_error_inside_still_restores_the_mode():
    try:
        with denormals_flushed():
            raise RuntimeError("generation failed")
    except RuntimeError:
        pass
    assert not flushing_denormals()
