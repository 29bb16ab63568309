#!/usr/bin/env python3
"""Writes Fixtures/metric_references.json: deterministic mask cases with metric values computed here, independently
of the C# code, with scipy.ndimage and numpy (an implementation written from the definitions in docs/metrics.md;
medpy itself is not used or copied).

Run with the Debian packages (apt-get install python3-numpy python3-scipy):
    /usr/bin/python3 tests/UKan.Tests/Evaluation/make_metric_references.py

Masks are stored as base64 of numpy.packbits (big bit order) of the flat C-order (B, H, W) bool array.
"""
import base64
import json
import math
import os
import sys

import numpy as np
import scipy
from scipy import ndimage

OFFICIAL_SMOOTH = 1e-5


# --------------------------------------------------------------------------------------------- definitions

def surface(mask):
    """mask XOR erosion(mask) with the cross (connectivity 1) structure of mask.ndim dimensions, border value 0."""
    cross = ndimage.generate_binary_structure(mask.ndim, 1)
    eroded = ndimage.binary_erosion(mask, structure=cross, iterations=1, border_value=0)
    return mask & ~eroded


def hd95(a, b, sampling=None):
    """95th percentile of the union of both directed surface-distance sets; None when a mask is empty."""
    if not a.any() or not b.any():
        return None
    sa, sb = surface(a), surface(b)
    to_b = ndimage.distance_transform_edt(~sb, sampling=sampling)  # distance to the nearest surface point of b
    to_a = ndimage.distance_transform_edt(~sa, sampling=sampling)
    distances = np.concatenate([to_b[sa], to_a[sb]])
    return float(np.percentile(distances, 95))


def counts(p, t):
    return dict(tp=int(np.count_nonzero(p & t)), fp=int(np.count_nonzero(p & ~t)),
                fn=int(np.count_nonzero(~p & t)), tn=int(np.count_nonzero(~p & ~t)))


def official_batch(p, t):
    """p, t: (B, H, W) bool. Pooled over the batch; HD95 on the (B, 1, H, W) volume, 0 if a set is empty."""
    c = counts(p, t)
    union = c["tp"] + c["fp"] + c["fn"]
    iou = (c["tp"] + OFFICIAL_SMOOTH) / (union + OFFICIAL_SMOOTH)
    dice = 2 * iou / (iou + 1)
    h = hd95(p[:, None], t[:, None])

    def medpy_ratio(num, den):
        return num / den if den != 0 else 0.0

    return dict(size=int(p.shape[0]), **c, iou=iou, dice=dice, hd95=0.0 if h is None else h,
                precision=medpy_ratio(c["tp"], c["tp"] + c["fp"]),
                recall=medpy_ratio(c["tp"], c["tp"] + c["fn"]),
                specificity=medpy_ratio(c["tn"], c["tn"] + c["fp"]))


def per_image(p, t, spacing):
    """p, t: (H, W) bool. Exact ratios; the empty-mask rule of docs/metrics.md."""
    c = counts(p, t)
    exact = c["fp"] == 0 and c["fn"] == 0

    def ratio(num, den):
        return num / den if den != 0 else (1.0 if exact else 0.0)

    p_empty, t_empty = not p.any(), not t.any()
    h, w = p.shape
    if p_empty and t_empty:
        case, hd = "both-empty", 0.0
    elif p_empty or t_empty:
        case = "prediction-empty" if p_empty else "target-empty"
        hd = math.sqrt((h * spacing[0]) ** 2 + (w * spacing[1]) ** 2)
    else:
        case, hd = "", hd95(p, t, sampling=spacing)
    return dict(**c, empty_case=case,
                iou=ratio(c["tp"], c["tp"] + c["fp"] + c["fn"]),
                dice=ratio(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"]),
                hd95=hd,
                precision=ratio(c["tp"], c["tp"] + c["fp"]),
                recall=ratio(c["tp"], c["tp"] + c["fn"]),
                specificity=ratio(c["tn"], c["tn"] + c["fp"]))


def stats(values):
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return None
    return dict(mean=float(np.mean(v)), std=float(np.std(v)), median=float(np.median(v)))


def weighted(batches, key):
    """Upstream AverageMeter: sum += value * n; count += n; avg = sum / count."""
    total, count = 0.0, 0
    for b in batches:
        total += b[key] * b["size"]
        count += b["size"]
    return total / count


# --------------------------------------------------------------------------------------------- masks

def ellipse(h, w, cy, cx, ry, rx, angle=0.0):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    ca, sa = math.cos(angle), math.sin(angle)
    u = ((x - cx) * ca + (y - cy) * sa) / rx
    v = (-(x - cx) * sa + (y - cy) * ca) / ry
    return u * u + v * v <= 1.0


def blob(rng, h, w, sigma, level):
    return ndimage.gaussian_filter(rng.standard_normal((h, w)), sigma) > level


def perturb(rng, mask, flips):
    """Moves the mask a little, grows or shrinks it, and flips a few random pixels."""
    m = np.roll(mask, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
    op = rng.integers(0, 3)
    if op == 1:
        m = ndimage.binary_dilation(m)
    elif op == 2:
        m = ndimage.binary_erosion(m)
    idx = rng.integers(0, m.size, flips)
    m = m.copy().ravel()
    m[idx] = ~m[idx]
    return m.reshape(mask.shape)


def cases():
    out = []
    rng = np.random.default_rng(20240607)

    # 1. ellipses, 3 images of 37x53
    h, w = 37, 53
    t = np.stack([ellipse(h, w, 18, 26, 10, 17, 0.3), ellipse(h, w, 10, 12, 6, 8), ellipse(h, w, 25, 40, 9, 5, -0.7)])
    p = np.stack([ellipse(h, w, 19, 24, 11, 15, 0.25), ellipse(h, w, 11, 14, 5, 9) | ellipse(h, w, 30, 45, 3, 3),
                  ellipse(h, w, 24, 41, 8, 6, -0.5)])
    out.append(("ellipses_3x37x53", p, t, [3], (1.0, 1.0)))

    # 2. random blobs, 8 images of 64x64 (one batch of 8)
    t = np.stack([blob(rng, 64, 64, 3.0 + i % 3, 0.15) for i in range(8)])
    p = np.stack([perturb(rng, t[i], 12) for i in range(8)])
    out.append(("blobs_8x64x64", p, t, [8], (1.0, 1.0)))

    # 3. empty masks of every kind and a single pixel pair
    h, w = 32, 32
    t = np.zeros((5, h, w), bool)
    p = np.zeros((5, h, w), bool)
    t[1] = ellipse(h, w, 16, 16, 6, 9)                      # missed object
    p[2] = ellipse(h, w, 8, 20, 4, 4)                       # false detection
    p[3, 5, 7] = True                                       # single pixels, different places
    t[3, 20, 27] = True
    p[4] = ellipse(h, w, 16, 16, 10, 10)                    # overlapping blob with a far outlier
    t[4] = ellipse(h, w, 15, 17, 9, 11)
    p[4, 31, 0] = True
    out.append(("empty_and_single_5x32x32", p, t, [5], (1.0, 1.0)))

    # 4. a batch whose prediction is entirely empty: official HD95 = 0 (upstream catches medpy's error)
    t = np.stack([ellipse(24, 24, 12, 12, 5, 6), np.zeros((24, 24), bool)])
    p = np.zeros_like(t)
    out.append(("empty_prediction_batch_2x24x24", p, t, [2], (1.0, 1.0)))

    # 5. the batch axis counts as a spatial axis: image 0's prediction is nearest to image 1's target
    h, w = 9, 11
    t = np.zeros((3, h, w), bool)
    p = np.zeros((3, h, w), bool)
    p[0, 4, 5] = True            # nothing in image 0's target: its nearest target point is (1, 4, 5), 1 away
    t[1, 4, 5] = True
    t[1, 4, 9] = True
    p[1, 1, 1] = True            # in 2-D 5 away from (4, 5), but (2, 1, 2) is sqrt(2) away in 4-D
    t[2, 1, 2] = True
    p[2, 7, 8] = True
    out.append(("batch_axis_3x9x11", p, t, [3], (1.0, 1.0)))

    # 5b. thick masks stacked over the batch: in 4-D (B,1,H,W) the whole foreground is the "surface"; read as a
    #     3-D (B,H,W) volume the middle image would have interior points and the HD95 would differ
    t = np.stack([ellipse(40, 40, 20, 20, 14, 14)] * 3)
    p = np.stack([ellipse(40, 40, 22, 18, 13, 15)] * 3)
    out.append(("stacked_discs_3x40x40", p, t, [3], (1.0, 1.0)))

    # 6. anisotropic pixel spacing for the per-image HD95 (official stays in pixels)
    t = np.stack([ellipse(40, 30, 20, 15, 12, 8, 0.4), blob(rng, 40, 30, 2.5, 0.2)])
    p = np.stack([ellipse(40, 30, 21, 13, 10, 9, 0.2), perturb(rng, t[1], 6)])
    out.append(("anisotropic_2x40x30", p, t, [2], (0.7, 1.3)))

    # 7. all-foreground target (specificity 0/0) and an exact prediction
    full = np.ones((12, 14), bool)
    almost = full.copy()
    almost[3:6, 4:9] = False
    exact = ellipse(12, 14, 6, 7, 4, 5)
    out.append(("full_and_exact_3x12x14", np.stack([almost, full, exact]), np.stack([full, full, exact]), [3], (1.0, 1.0)))

    # 8. a small data set of 11 images fed as the loader does: batches of 8 and 3
    t = np.stack([blob(rng, 32, 32, 2.0, 0.35) if i % 5 else np.zeros((32, 32), bool) for i in range(11)])
    p = np.stack([perturb(rng, t[i], 5) if i % 4 else t[i] & ~blob(rng, 32, 32, 1.5, 0.5) for i in range(11)])
    p[9] = False
    out.append(("dataset_11x32x32", p, t, [8, 3], (1.0, 1.0)))
    return out


def pack(mask):
    return base64.b64encode(np.packbits(mask.astype(bool).ravel(), bitorder="big").tobytes()).decode("ascii")


def main():
    records = []
    for name, p, t, batch_sizes, spacing in cases():
        assert p.shape == t.shape and p.dtype == bool and t.dtype == bool and sum(batch_sizes) == p.shape[0]
        batches, start = [], 0
        for n in batch_sizes:
            batches.append(official_batch(p[start:start + n], t[start:start + n]))
            start += n
        images = [per_image(p[i], t[i], spacing) for i in range(p.shape[0])]
        measured = [r["hd95"] for r in images if r["empty_case"] == ""]
        records.append(dict(
            name=name, count=int(p.shape[0]), height=int(p.shape[1]), width=int(p.shape[2]),
            spacing=list(spacing), batch_sizes=batch_sizes,
            prediction=pack(p), target=pack(t),
            official_batches=batches,
            official_summary={k: weighted(batches, k)
                              for k in ("iou", "dice", "hd95", "precision", "recall", "specificity")},
            per_image=images,
            per_image_summary=dict(
                both_empty=sum(r["empty_case"] == "both-empty" for r in images),
                prediction_empty=sum(r["empty_case"] == "prediction-empty" for r in images),
                target_empty=sum(r["empty_case"] == "target-empty" for r in images),
                hd95_both_non_empty=stats(measured),
                **{k: stats([r[k] for r in images])
                   for k in ("iou", "dice", "hd95", "precision", "recall", "specificity")}),
        ))
    doc = dict(generator="tests/UKan.Tests/Evaluation/make_metric_references.py",
               numpy=np.__version__, scipy=scipy.__version__, python=sys.version.split()[0],
               mask_encoding="base64(numpy.packbits(flat C-order (B,H,W) bool, bitorder='big'))",
               cases=records)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Fixtures", "metric_references.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {path}: {len(records)} cases")


if __name__ == "__main__":
    main()
