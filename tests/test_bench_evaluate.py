"""bench/evaluate.py's reference (wsolevaluation's CAMComputer loop, bench/evaluate_refs.py)
on three hand-made scoremaps: MaxBoxAccV2 as worked out by hand (its metadata reading and
box rescaling included)."""
import sys

import numpy as np
import pytest

from tests.conftest import ROOT

torch = pytest.importorskip("torch")


def test_reference_loop_max_box_acc_v2_hand_worked(tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    import evaluate_refs as refs

    ids = ["a.jpg", "b.jpg", "c.jpg"]
    (tmp_path / "image_ids.txt").write_text("".join(f"{i}\n" for i in ids))
    (tmp_path / "image_sizes.txt").write_text("".join(f"{i},448,448\n" for i in ids))
    # in the 448 frame; rescaled to 224 by int(x * 224 / 448): (10, 20, 110, 120)
    (tmp_path / "localization.txt").write_text("".join(f"{i},21,41,221,241\n" for i in ids))
    maps = np.zeros((3, 224, 224))
    maps[0, 20:120, 10:110] = 1     # its box (10, 20, 110, 120): IoU 1
    maps[1, 20:120, 10:60] = 1      # (10, 20, 60, 120): IoU (51 * 101) / (101 * 101) = 0.505
    maps[2, 150:200, 150:200] = 1   # disjoint: IoU 0
    cams = [torch.from_numpy(maps)]       # 224 x 224 already: the bicubic resize is a copy
    run = refs.pipeline(None, np.arange(0, 1, 0.01), (30, 50, 70))
    result = run(refs.Replay(cams), refs.replay_stream([(torch.zeros(3), ids)]), tmp_path,
                 None, tmp_path / "log")
    # IoU >= 0.3 and 0.5: images a and b; >= 0.7: a only
    assert result == pytest.approx([200 / 3, 200 / 3, 100 / 3])
    assert (tmp_path / "log" / "scoremaps" / "a.jpg.npy").is_file()   # saved as it does
