"""`align.speech_mask`: voice | subject | none, with the older bool values still accepted."""
import pytest

from affect.config import load_config


@pytest.mark.parametrize("given, meant", [("voice", "voice"), ("subject", "subject"), ("none", "none"),
                                          ("true", "voice"), ("false", "none"), ("True", "voice")])
def test_speech_mask_values(given, meant):
    assert load_config(overrides=[f"align.speech_mask={given}"]).align.speech_mask == meant


def test_speech_mask_from_a_yaml_bool(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text("align:\n  speech_mask: false\n")
    assert load_config([path]).align.speech_mask == "none"


def test_unknown_speech_mask_is_refused():
    with pytest.raises(ValueError, match="align.speech_mask must be one of voice, subject, none"):
        load_config(overrides=["align.speech_mask=lips"])
