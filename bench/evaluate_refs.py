"""The reference of bench/evaluate.py: wsolevaluation's evaluation pipeline in plain PyTorch.

wsolevaluation's ``inference.py`` ``CAMComputer.compute_and_evaluate_cams``: its test
loader (``data_loaders.py``: PIL ``convert("RGB")``, ``Resize((224, 224))`` (PIL
bilinear, antialiased), ``ToTensor``, ``Normalize``; a torch ``DataLoader``), per batch
the network's forward with ``return_cam=True`` (``wsol/resnet.py``: the logits, and the
label's CAM ``(fc.weight[label] * layer4).mean(channels)``), then per image
``cv2.resize(cam, (224, 224), INTER_CUBIC)``, ``normalize_scoremap`` (min-max; constant
or NaN maps -> zeros), ``np.save`` of the scoremap (what it does on val / test) and
``evaluator.accumulate``; ``evaluator.compute()`` at the end.

With a checkout of clovaai/wsolevaluation: its own ``CAMComputer`` (``Tensor.cuda`` made
the identity, as it runs on CPU here), evaluators and ``get_mask`` (the mask PNGs read
per image). Without: the loop above as written here, with the evaluators of
tests/boxes/oracle.py and wsolevaluation's ``resize_bbox`` / ``get_mask`` reproduced.

The network is tests/models/torch_reference.py's ResNet-50 (torchvision's names) with
random weights from a seed; :func:`network` gives it and its state dict (camjax loads the
same one).
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from maxboxacc_refs import load_wsolevaluation  # noqa: E402  (bench/)
from tests.models.torch_reference import ResNet50, randomize_batchnorm

MEAN, STD = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225],
                                                                   np.float32)
SIZE = 224


class CamResNet50(ResNet50):
    """torchvision's ResNet-50 with wsolevaluation's ``forward(x, labels, return_cam)``."""

    def forward(self, x, labels=None, return_cam=False):
        features = self.backbone(x)
        logits = self.fc(features.mean((2, 3)))
        if return_cam:
            weights = self.fc.weight[labels]
            return (weights.view(*features.shape[:2], 1, 1) * features).mean(1)
        return logits


def network(num_classes: int, seed: int = 0) -> tuple[CamResNet50, dict]:
    """The random ResNet-50 (torch's init from ``seed``, random BatchNorm statistics) in eval
    mode, and its state dict as numpy arrays."""
    torch.manual_seed(seed)
    net = randomize_batchnorm(CamResNet50(num_classes=num_classes), seed)
    return net, {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}


class WsolImages(Dataset):
    """wsolevaluation's test-split ``WSOLImageLabelDataset`` + test transform."""

    def __init__(self, image_root: Path, metadata: Path):
        self.root = image_root
        self.ids = (metadata / "image_ids.txt").read_text().split()
        self.labels = dict(line.rsplit(",", 1) for line in
                           (metadata / "class_labels.txt").read_text().split())

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        image = Image.open(self.root / self.ids[i]).convert("RGB")
        image = image.resize((SIZE, SIZE), Image.BILINEAR)     # transforms.Resize((224, 224))
        x = (np.asarray(image, np.float32) / 255.0 - MEAN) / STD
        return (torch.from_numpy(x.transpose(2, 0, 1).copy()), int(self.labels[self.ids[i]]),
                self.ids[i])


def loader(image_root: Path, metadata: Path, batch: int, workers: int) -> DataLoader:
    return DataLoader(WsolImages(image_root, metadata), batch_size=batch, shuffle=False,
                      num_workers=workers)


def normalize_scoremap(cam):
    """inference.py's: min-max to [0, 1]; NaN or constant -> zeros."""
    if np.isnan(cam).any() or cam.min() == cam.max():
        return np.zeros_like(cam)
    cam -= cam.min()
    cam /= cam.max()
    return cam


class _Evaluators:
    """The oracle evaluators behind wsolevaluation's ``accumulate(scoremap, image_id)``."""

    def __init__(self, metadata: Path, mask_root: Path | None, thresholds, ious):
        from tests.boxes.oracle import BoxEvaluatorLoop, MaskEvaluatorLoop
        sizes = dict((i, (int(w), int(h))) for i, w, h in
                     (line.split(",") for line in (metadata / "image_sizes.txt").read_text()
                      .split()))
        rows = [line.split(",") for line in (metadata / "localization.txt").read_text()
                .splitlines()]
        self.mask_root = mask_root
        if mask_root is None:
            self.boxes = {}
            for i, *box in rows:          # resize_bbox: int(x * 224 / w)
                w, h = sizes[i]
                x0, y0, x1, y1 = map(float, box)
                self.boxes.setdefault(i, []).append(
                    (int(x0 * SIZE / w), int(y0 * SIZE / h), int(x1 * SIZE / w),
                     int(y1 * SIZE / h)))
            self.loop = BoxEvaluatorLoop(thresholds, ious, multi_contour=True)
        else:
            self.masks, self.ignore = {}, {}
            for i, mask, ignore in rows:
                self.masks.setdefault(i, []).append(mask)
                self.ignore.setdefault(i, ignore)
            self.loop = MaskEvaluatorLoop(thresholds)

    def _read(self, name):            # load_mask_image
        mask = np.float32(cv2.imread(str(self.mask_root / name), cv2.IMREAD_GRAYSCALE))
        return cv2.resize(mask, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST) > 0.5

    def accumulate(self, scoremap, image_id):
        if self.mask_root is None:
            self.loop.accumulate(scoremap, np.array(self.boxes[image_id]))
            return
        fg = np.any([self._read(m) for m in self.masks[image_id]], axis=0)   # get_mask
        mask = fg.astype(np.uint8)
        mask[self._read(self.ignore[image_id]) & ~fg] = 255
        self.loop.accumulate(scoremap, mask)

    def compute(self):
        return self.loop.compute()


def _loop(model, stream, evaluator, log_folder: Path):
    """CAMComputer.compute_and_evaluate_cams, on CPU."""
    for images, targets, image_ids in stream:
        image_size = images.shape[2:]
        with torch.no_grad():
            cams = model(images, targets, return_cam=True).detach().cpu().numpy().astype(float)
        for cam, image_id in zip(cams, image_ids):
            cam_resized = cv2.resize(cam, tuple(image_size), interpolation=cv2.INTER_CUBIC)
            cam_normalized = normalize_scoremap(cam_resized)
            cam_path = log_folder / "scoremaps" / image_id
            cam_path.parent.mkdir(parents=True, exist_ok=True)
            np.save(cam_path, cam_normalized)
            evaluator.accumulate(cam_normalized, image_id)
    return evaluator.compute()


def pipeline(wsolevaluation: Path | None, thresholds, ious=(30, 50, 70)):
    """``run(model, stream, metadata, mask_root, log_folder) -> MaxBoxAccV2 (per IoU) or
    PxAP``: the CAMComputer loop over ``stream`` (batches ``(images, labels, ids)``);
    ``mask_root`` None: boxes (CUB), else masks (OpenImages)."""
    if wsolevaluation is None:
        def run(model, stream, metadata, mask_root, log_folder):
            e = _Evaluators(metadata, mask_root, thresholds, list(ious))
            return _loop(model, stream, e, log_folder)
        return run
    ev = load_wsolevaluation(wsolevaluation)
    import inference

    def run(model, stream, metadata, mask_root, log_folder):
        computer = inference.CAMComputer.__new__(inference.CAMComputer)
        computer.model, computer.loader, computer.split = model.eval(), stream, "test"
        computer.log_folder = str(log_folder)
        kind = ev.MaskEvaluator if mask_root else ev.BoxEvaluator
        computer.evaluator = kind(
            metadata=ev.configure_metadata(str(metadata)),
            dataset_name="OpenImages" if mask_root else "CUB", split="test",
            cam_threshold_list=list(thresholds), iou_threshold_list=list(ious),
            mask_root=str(mask_root or ""), multi_contour_eval=True)
        cuda = torch.Tensor.cuda
        torch.Tensor.cuda = lambda self, *a, **k: self
        try:
            with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
                return computer.compute_and_evaluate_cams()
        finally:
            torch.Tensor.cuda = cuda
    return run


class Replay(torch.nn.Module):
    """A "network" returning recorded CAMs batch by batch (maps -> metrics alone)."""

    def __init__(self, cams: list):
        super().__init__()
        self.cams, self.i = cams, 0

    def forward(self, x, labels=None, return_cam=False):
        self.i += 1
        return self.cams[self.i - 1]


def replay_stream(batches: list):
    """``(images placeholder, labels, ids)`` per recorded batch: the shape only is read."""
    for labels, ids in batches:
        yield torch.zeros(1, 1, 1, 1).expand(len(ids), 3, SIZE, SIZE), labels, ids


def recording(model, cams: list):
    """``model`` whose every CAM batch is also appended to ``cams``."""
    class Recording(torch.nn.Module):
        def forward(self, x, labels=None, return_cam=False):
            out = model(x, labels, return_cam=return_cam)
            cams.append(out.detach().clone())
            return out
    return Recording().eval()
