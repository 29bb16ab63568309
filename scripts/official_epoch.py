#!/usr/bin/env python3
"""Times whole epochs of the official Seg U-KAN training loop, for comparison with `ukan train --profile` on one GPU.

The official code is not part of this project: pass the folder of its Seg_UKAN sources (archs.py, kan.py, utils.py,
losses.py, dataset.py, metrics.py of github.com/CUHK-AIM-Group/U-KAN at b20bf63) with --official. What runs is the
loop of Seg_UKAN/train.py: its Dataset (cv2 reads, the /255 target rule), DataLoader (batch 8, shuffle, drop_last,
num_workers 4, validation unshuffled), model UKAN with the paper's embed dims, BCEDiceLoss, Adam with one parameter
group per parameter (lr 1e-2 for names with 'layer' and 'fc', else 1e-4; weight decay 1e-4), CosineAnnealingLR,
cudnn.benchmark on, and per training step iou_score and indicators (medpy metrics on the host), per validation batch
iou_score, log.csv each epoch and torch.save of the best model. Two stand-ins, for packages the GPU machine lacks:
albumentations' RandomRotate90 / Flip / Resize / Normalize are written with the same numpy and cv2 calls they make,
and medpy.metric.binary with the same scipy calls (binary_erosion, distance_transform_edt, the 95th percentile).

Usage: python3 scripts/official_epoch.py --official DIR --data DATASET_DIR [--epochs 10] [--json out.json]
DATASET_DIR holds images/<id>.<ext> and masks/0/<id>.png (the layout ukan uses; also the official one).
"""
import argparse
import glob
import json
import os
import random
import sys
import time
import types

import cv2
import numpy as np
import torch
from scipy import ndimage

from official_bench import write_json  # the sibling script (scripts/ is on sys.path when this one runs)


def medpy_stand_in():
    """medpy.metric.binary's jc, dc, hd, hd95, recall, specificity, precision as medpy 0.4 computes them."""
    def surface(result, reference):
        result, reference = np.atleast_1d(result.astype(bool)), np.atleast_1d(reference.astype(bool))
        if not result.any() or not reference.any():
            raise RuntimeError("empty mask")
        footprint = ndimage.generate_binary_structure(result.ndim, 1)
        rb = result ^ ndimage.binary_erosion(result, structure=footprint, iterations=1)
        fb = reference ^ ndimage.binary_erosion(reference, structure=footprint, iterations=1)
        return ndimage.distance_transform_edt(~fb)[rb]

    def counts(r, t):
        r, t = r.astype(bool), t.astype(bool)
        return np.count_nonzero(r & t), np.count_nonzero(r & ~t), np.count_nonzero(~r & t), np.count_nonzero(~r & ~t)

    def ratio(a, b):
        try:
            return a / float(b)
        except ZeroDivisionError:
            return 0.0

    m = types.ModuleType("medpy.metric.binary")
    m.jc = lambda r, t: ratio(counts(r, t)[0], np.count_nonzero(r.astype(bool) | t.astype(bool)))
    m.dc = lambda r, t: ratio(2 * counts(r, t)[0], np.count_nonzero(r) + np.count_nonzero(t))
    m.hd = lambda r, t: max(surface(r, t).max(), surface(t, r).max())
    m.hd95 = lambda r, t: np.percentile(np.hstack((surface(r, t), surface(t, r))), 95)
    m.recall = lambda r, t: ratio(counts(r, t)[0], counts(r, t)[0] + counts(r, t)[2])
    m.specificity = lambda r, t: ratio(counts(r, t)[3], counts(r, t)[3] + counts(r, t)[1])
    m.precision = lambda r, t: ratio(counts(r, t)[0], counts(r, t)[0] + counts(r, t)[1])
    for name in ("medpy", "medpy.metric"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["medpy.metric.binary"] = m


class Compose:
    """albumentations 1.x Compose of RandomRotate90 (p .5), Flip (p .5), Resize and Normalize, with their numpy/cv2 calls."""

    def __init__(self, h, w, augment):
        self.h, self.w, self.augment = h, w, augment
        self.mean = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255
        self.std = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255

    def __call__(self, image, mask):
        if self.augment:
            if random.random() < 0.5:
                k = random.randint(0, 3)
                image, mask = np.ascontiguousarray(np.rot90(image, k)), np.ascontiguousarray(np.rot90(mask, k))
            if random.random() < 0.5:
                d = random.randint(-1, 1)
                image, mask = cv2.flip(image, d), cv2.flip(mask, d)
                if mask.ndim == 2:
                    mask = mask[..., None]
        image = cv2.resize(image, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        mask = cv2.resize(mask, (self.w, self.h), interpolation=cv2.INTER_NEAREST)
        if mask.ndim == 2:
            mask = mask[..., None]
        image = (image.astype(np.float32) - self.mean) / self.std
        return {"image": image, "mask": mask}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--official", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--out", default="/tmp/official-run")
    ap.add_argument("--no-medpy", action="store_true",
                    help="skip the medpy metrics whose values train.py discards (per-step indicators() and the HD95 inside "
                         "iou_score); the loop is otherwise the same. They cost tens of seconds per epoch on the host.")
    ap.add_argument("--json")
    a = ap.parse_args()
    start = time.time()
    medpy_stand_in()
    if a.no_medpy:
        sys.modules["medpy.metric.binary"].hd95 = lambda r, t: 0.0
    sys.path.insert(0, a.official)
    from archs import UKAN  # noqa: E402  (the official code)
    from dataset import Dataset  # noqa: E402
    from losses import BCEDiceLoss  # noqa: E402
    from metrics import iou_score, indicators  # noqa: E402
    from sklearn.model_selection import train_test_split  # noqa: E402

    torch.backends.cudnn.benchmark = True
    images = sorted(glob.glob(os.path.join(a.data, "images", "*")))
    ext = os.path.splitext(images[0])[1]
    ids = [os.path.splitext(os.path.basename(p))[0] for p in images]
    train_ids, val_ids = train_test_split(ids, test_size=0.2, random_state=2981)
    make = lambda subset, augment: Dataset(subset, os.path.join(a.data, "images"), os.path.join(a.data, "masks"), ext, ".png", 1,
                                           Compose(a.size, a.size, augment))
    train_loader = torch.utils.data.DataLoader(make(train_ids, True), batch_size=8, shuffle=True, num_workers=a.workers, drop_last=True)
    val_loader = torch.utils.data.DataLoader(make(val_ids, False), batch_size=8, shuffle=False, num_workers=a.workers, drop_last=False)
    model = UKAN(num_classes=1, input_channels=3, deep_supervision=False, embed_dims=[128, 160, 256], no_kan=False).cuda()
    groups = [{"params": p, "lr": 1e-2 if ("layer" in n.lower() and "fc" in n.lower()) else 1e-4, "weight_decay": 1e-4}
              for n, p in model.named_parameters()]
    optimizer = torch.optim.Adam(groups)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=a.epochs, eta_min=1e-5)
    criterion = BCEDiceLoss().cuda()
    os.makedirs(a.out, exist_ok=True)
    epochs, best, log = [], 0.0, []
    startup = time.time() - start
    for epoch in range(a.epochs):
        t0 = time.time()
        model.train()
        for x, y, _ in train_loader:
            x, y = x.cuda(), y.cuda()
            out = model(x)
            loss = criterion(out, y)
            iou, _, _ = iou_score(out, y)
            if not a.no_medpy:
                indicators(out, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()
        model.eval()
        ious, n = 0.0, 0
        with torch.no_grad():
            for x, y, _ in val_loader:
                x, y = x.cuda(), y.cuda()
                out = model(x)
                criterion(out, y).item()
                iou, _, _ = iou_score(out, y)
                ious, n = ious + iou * x.size(0), n + x.size(0)
        scheduler.step()
        log.append({"epoch": epoch, "val_iou": ious / n})
        with open(os.path.join(a.out, "log.csv"), "w") as f:
            f.write("\n".join(f"{r['epoch']},{r['val_iou']}" for r in log))
        if ious / n > best:
            best = ious / n
            torch.save(model.state_dict(), os.path.join(a.out, "model.pth"))
        torch.cuda.empty_cache()
        epochs.append(time.time() - t0)
        print(f"official epoch {epoch}: {epochs[-1]:.3f} s, val IoU {ious / n:.4f}", flush=True)
    steady = sorted(epochs[1:]) or epochs
    result = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "medpy_metrics": not a.no_medpy, "startup_seconds": startup,
              "epoch_seconds": epochs, "first_epoch_seconds": epochs[0], "steady_epoch_median_seconds": steady[len(steady) // 2],
              "process_start_to_first_epoch_end_seconds": startup + epochs[0], "total_seconds": time.time() - start}
    print(json.dumps({k: v for k, v in result.items() if k != "epoch_seconds"}))
    if a.json:
        write_json(a.json, result)


if __name__ == "__main__":
    main()
