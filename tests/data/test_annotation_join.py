"""Boxes joined by file name into the eval pipeline (config.eval_annotations), as for
imagenet2012, whose TFDS records carry no boxes: they replace the records' own."""
import numpy as np
import pytest

from camjax import config as config_lib
from camjax.data import AnnotationError, pipeline


def _write_metadata(folder, src, skip=()):
    folder.mkdir()
    names = [src[i]["file_name"] for i in range(len(src))]
    names = [n for n in names if n not in skip]
    (folder / "image_ids.txt").write_text("".join(f"{n}\n" for n in names))
    (folder / "class_labels.txt").write_text("".join(f"{n},0\n" for n in names))
    (folder / "image_sizes.txt").write_text("".join(f"{n},112,112\n" for n in names))
    (folder / "localization.txt").write_text("".join(f"{n},5,6,50,60\n" for n in names))
    return names


def _config(tiny_config, meta):
    cfg = tiny_config.copy_and_resolve_references()
    cfg.unlock()
    cfg.eval_annotations = str(meta)
    return cfg


def test_eval_batches_take_boxes_from_annotations(tiny_config, tmp_path):
    src = pipeline.source("camjax_shapes/tiny", "test", tiny_config.data_dir)
    _write_metadata(tmp_path / "meta", src)
    cfg = _config(tiny_config, tmp_path / "meta")
    joined = pipeline.open_source(cfg, "test", tmp_path)
    own = pipeline.open_source(cfg, "test", tmp_path, join_annotations=False)
    assert own[0]["boxes"].tolist() != [[5, 6, 50, 60]]          # the record's own box...
    assert joined.has_boxes and joined[0]["boxes"].tolist() == [[5, 6, 50, 60]]   # replaced
    _, batch = next(pipeline.eval_batches(joined, cfg))
    boxes = batch["boxes"][batch["valid"]]
    # 112 px -> 32 px with int(x * 32 / 112): 5 -> 1, 6 -> 1, 50 -> 14, 60 -> 17
    np.testing.assert_array_equal(boxes[:, 0], np.tile([1, 1, 14, 17], (len(boxes), 1)))
    assert np.all(boxes[:, 1:] == -1)           # one box per image, the rest padding


def test_an_image_without_annotation_is_named(tiny_config, tmp_path):
    src = pipeline.source("camjax_shapes/tiny", "test", tiny_config.data_dir)
    missing = src[0]["file_name"]
    _write_metadata(tmp_path / "meta", src, skip=(missing,))
    cfg = _config(tiny_config, tmp_path / "meta")
    joined = pipeline.open_source(cfg, "test", tmp_path)
    with pytest.raises(AnnotationError, match=f"meta.*{missing.rsplit('.', 1)[0]}"):
        next(pipeline.eval_batches(joined, cfg))


def test_xml_annotations_need_the_synset_list(tiny_config, tmp_path):
    cfg = tiny_config.copy_and_resolve_references()
    cfg.unlock()
    cfg.eval_annotations = str(tmp_path)
    with pytest.raises(config_lib.ConfigError, match="synsets"):
        pipeline.box_lookup(cfg)
