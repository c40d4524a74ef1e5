"""The backbone registry: `keep_backbones` builds each backbone once for every video of `affect infer`."""
from affect.backbones import registry
from affect.backbones.registry import create_backbone, keep_backbones


def test_keep_backbones_returns_the_instance_built_first_and_only_inside_the_block():
    kept = {}
    with keep_backbones(kept):
        first = create_backbone("landmarks68")
        assert create_backbone("landmarks68") is first  # built once
        assert create_backbone("egemaps") is not first
    assert len(kept) == 2 and registry._kept is None
    with keep_backbones(kept):  # the caller's dict carries them over to the next block (the next video)
        assert create_backbone("landmarks68") is first
    assert create_backbone("landmarks68") is not first  # outside: a new one each time, as the stages expect
