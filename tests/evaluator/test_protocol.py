"""The WSOL protocol in the evaluation job: the threshold chosen on a train-fullsup split,
applied once to the test split, both operating points reported; the centre-Gaussian
baseline. Hand-worked maps and a fake predict function: no network involved."""
import numpy as np
import pytest

from camjax import evaluator
from camjax.evaluator.baselines import centre_gaussian_map
from tests.boxes.oracle import wsol_boxes_per_threshold

SIZE = 16
GT = np.array([4, 4, 11, 11])           # an 8 x 8 object


def _map(core: float = 1.0, ring: float = 0.5) -> np.ndarray:
    """``core`` on the object, ``ring`` on a 2-pixel band around it, 0 elsewhere.

    Paper rule at t: foreground m > t * max. t < ring: the 12 x 12 box [2, 13], IoU with
    the object 64 / 144 = 0.44 (a miss); ring <= t < 1: the object itself (IoU 1).
    """
    m = np.zeros((SIZE, SIZE), np.float32)
    m[2:14, 2:14] = ring
    m[4:12, 4:12] = core
    return m


def _batches(n: int, maps: np.ndarray, labels, top):
    """One local batch as pipeline.eval_batches yields it, and a predict function that
    returns ``maps`` for [label, top-1, ..., top-k]."""
    boxes = np.full((n, 2, 4), -1, np.int64)
    boxes[:, 0] = GT
    batch = {"image": np.zeros((n, SIZE, SIZE, 3), np.float32), "label": np.asarray(labels),
             "valid": np.ones(n, bool), "boxes": boxes}

    def predict(images, labels_):
        k = top.shape[1]
        return np.zeros((n, 3)), top, np.broadcast_to(maps, (n, 1 + k, SIZE, SIZE)).copy()
    return [(0, batch)], predict


def test_val_threshold_by_hand_then_applied_to_test():
    # val: the best MaxBoxAcc (V1, IoU 0.5) threshold. floor(255 * s): 255 on the object,
    # 127 on the ring; tau = 0.49 keeps u8 > 124 (ring in, IoU 0.44), tau = 0.50 keeps
    # u8 > 127 (the object): 0.50 is the first threshold of the maximum.
    top = np.array([[1, 0], [1, 0]])
    val, predict = _batches(2, _map(), [1, 1], top)
    metrics, _ = evaluator.localization(predict, val, num_classes=3, map_size=SIZE,
                                        gallery_size=0)
    assert metrics["wsol_v1"]["best_threshold"][50] == pytest.approx(0.50)
    assert metrics["wsol_v1"]["max_box_acc"][50] == 100.0

    # test: label 1 right for image 0, wrong for image 1 (top-1 is class 0)
    top = np.array([[1, 0], [0, 1]])
    test, predict = _batches(2, _map(), [1, 1], top)
    metrics, pictures = evaluator.localization(
        predict, test, num_classes=3, map_size=SIZE,
        points={"paper_rule": 0.2, "val_threshold": 0.50}, gallery_size=2)
    paper, chosen = (metrics["operating_points"][k] for k in ("paper_rule", "val_threshold"))
    assert (paper["threshold"], chosen["threshold"]) == (0.2, 0.5)
    assert paper["cam"]["gt_known_acc"] == 0.0 and chosen["cam"]["gt_known_acc"] == 100.0
    # loc top-1: image 0 has the right class and, at 0.5, a hit; image 1 the wrong class
    assert paper["cam"]["loc_top1_err"] == 100.0 and chosen["cam"]["loc_top1_err"] == 50.0
    # loc top-5 (here top-2): image 1's second guess is class 1 with the same hit box
    assert chosen["cam"]["loc_top5_err"] == 0.0
    assert metrics["cam"]["gt_known_acc"] == 0.0            # today's key: the paper rule
    # the centred box of mean GT size (8 x 8) in a 16 map: [4, 4, 11, 11], a perfect hit
    assert paper["baseline"] == chosen["baseline"]
    assert chosen["baseline"]["gt_known_acc"] == 100.0 and metrics["baseline"]["box"] == list(GT)
    np.testing.assert_array_equal(pictures["gallery"][0]["boxes"][0], GT)   # at the last point


def test_centre_gaussian_map_by_hand():
    # 3 x 3, sigma = 0.75: r^2 = 0, 1, 2 -> exp(0), exp(-1/1.125), exp(-2/1.125)
    g = centre_gaussian_map(3, 3)
    edge, corner = np.exp(-1 / 1.125), np.exp(-2 / 1.125)
    want_edge = (edge - corner) / (1 - corner)
    np.testing.assert_allclose(g, [[0, want_edge, 0], [want_edge, 1, want_edge],
                                   [0, want_edge, 0]], atol=1e-12)


def test_centre_gaussian_baseline_against_a_hand_count():
    """MaxBoxAcc of the fixed Gaussian: its boxes at each threshold by the wsolevaluation
    loop (the test oracle), the IoU with each image's box counted here."""
    gts = [np.array([[4, 4, 11, 11]]), np.array([[0, 0, 15, 15]]), np.array([[0, 0, 3, 3]])]
    n = len(gts)
    boxes = np.stack([np.pad(g, ((0, 1), (0, 0)), constant_values=-1) for g in gts])
    batch = {"image": np.zeros((n, SIZE, SIZE, 3), np.float32), "label": np.zeros(n, int),
             "valid": np.ones(n, bool), "boxes": boxes}
    cam_map = _map()

    def predict(images, labels):
        return np.zeros((n, 1)), np.zeros((n, 1), int), np.broadcast_to(
            cam_map, (n, 2, SIZE, SIZE)).copy()

    metrics, _ = evaluator.localization(predict, [(0, batch)], num_classes=1, map_size=SIZE,
                                        gallery_size=0)
    gauss = centre_gaussian_map(SIZE, SIZE)
    thresholds = np.arange(0, 1, 0.01)
    for multi, block, keys in ((True, "wsol_v2", (30, 50, 70)), (False, "wsol_v1", (50,))):
        per_t = wsol_boxes_per_threshold(gauss, thresholds, multi)   # T lists of (m, 4) boxes
        for key in keys:
            correct = []
            for boxes_t in per_t:
                hits = 0
                for g in gts:
                    x0, y0, x1, y1 = g[0]
                    best = 0.0
                    for b in boxes_t:
                        iw = min(b[2], x1) - max(b[0], x0) + 1
                        ih = min(b[3], y1) - max(b[1], y0) + 1
                        inter = max(iw, 0) * max(ih, 0)
                        union = ((b[2] - b[0] + 1) * (b[3] - b[1] + 1)
                                 + (x1 - x0 + 1) * (y1 - y0 + 1) - inter)
                        best = max(best, inter / union)
                    hits += best >= key / 100
                correct.append(100.0 * hits / n)
            got = metrics["centre_gaussian"][block]["max_box_acc"][key]
            assert got == pytest.approx(max(correct)), (block, key)


def test_a_mask_split_without_boxes_gets_classification_and_pxap():
    """OpenImages-style: masks {0, 1, 255 = ignore}, no boxes; PxAP of the GT class's map
    and of the centre Gaussian, no box metric."""
    from camjax.evaluation import pxap
    n = 2
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[4:12, 4:12] = 1
    mask[0, :] = 255
    batch = {"image": np.zeros((n, SIZE, SIZE, 3), np.float32), "label": np.array([1, 2]),
             "valid": np.ones(n, bool), "mask": np.stack([mask] * n)}
    top = np.array([[1, 0], [1, 2]])
    cam_map = _map()

    def predict(images, labels):
        return np.zeros((n, 3)), top, np.broadcast_to(cam_map, (n, 3, SIZE, SIZE)).copy()

    metrics, _ = evaluator.localization(predict, [(0, batch)], num_classes=3, map_size=SIZE,
                                        gallery_size=1)
    assert metrics["cam"] == {"cls_top1_err": 50.0, "cls_top5_err": 0.0, "num_images": 2}
    assert "operating_points" not in metrics and "wsol_v2" not in metrics
    assert metrics["pxap"] == pytest.approx(pxap(np.stack([cam_map] * n), batch["mask"]))
    gauss = np.stack([centre_gaussian_map(SIZE, SIZE)] * n)
    assert metrics["centre_gaussian"]["pxap"] == pytest.approx(pxap(gauss, batch["mask"]))
