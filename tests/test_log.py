"""Console logging: each warning once per run, third-party chatter kept out, deprecated names said once."""
import logging

from affect.log import new_run, setup_logging


def test_a_warning_is_said_once_per_run(capsys):
    setup_logging("INFO")
    new_run()
    log = logging.getLogger("affect.test")
    for _ in range(3):
        log.warning("clip x: something odd")
    log.warning("clip y: something odd")
    logging.getLogger().info("third-party chatter through the root logger")
    err = capsys.readouterr().err
    assert err.count("clip x: something odd") == 1 and err.count("clip y: something odd") == 1
    assert "third-party chatter" not in err
    new_run()  # the next command says it again
    log.warning("clip x: something odd")
    assert capsys.readouterr().err.count("clip x: something odd") == 1


def test_old_backbone_names_work_and_say_their_new_name(caplog):
    from affect.backbones.registry import create_backbone, get_spec, list_backbones

    assert "resnet50-tiny" in list_backbones() and "resnet50-tiny" not in list_backbones(aliases=False)
    old = create_backbone("resnet50-tiny", weights="random")
    new = create_backbone("resnet10t", weights="random")
    assert old.name == "resnet50-tiny" and old.dim == new.dim
    assert get_spec("wavlm-tiny").alias_of == "wavlm-d32-random"
    assert get_spec("whisper-tiny-random").alias_of == "whisper-d32-random"
    assert "deprecated name of 'resnet10t'" in caplog.text


def test_clip_line_counts_every_backbone_and_describe_is_short():
    from affect.stages.clip_stage import brief, short_describe

    summary = {"frames": 63, "rows": 9, "with_face": 8, "undecodable": 0,
               **{f"valid:{n}": 8 for n in ("resnet10t", "senet-tiny", "clip-tiny", "landmarks68")}}
    assert brief(summary) == "frames=63 rows=9 with_face=8 undecodable=0 valid=8 (each of 4 backbones)"
    summary["valid:clip-tiny"] = 7
    assert brief(summary).endswith("valid: resnet10t=8 senet-tiny=8 clip-tiny=7 landmarks68=8")
    info = short_describe({"name": "landmarks68", "dim": 148, "columns": [f"c{i}" for i in range(148)]})
    assert info == {"name": "landmarks68", "dim": 148, "columns": "<148 items, see backbones.json>"}


def test_help_lists_each_stage_once():
    from affect.cli import build_parser
    from affect.stages import DESCRIPTIONS

    text = " ".join(build_parser().format_help().split())
    for description in DESCRIPTIONS.values():
        assert text.count(" ".join(description.split())[:40]) == 1, description
