"""Writes the official U-KAN train/validation splits as ukan split.json files.

Seg_UKAN/train.py: img_ids = sorted basenames of images/*.png; train_test_split(img_ids, test_size=0.2,
random_state=dataseed). Run with Debian's python3-sklearn (1.2): /usr/bin/python3 scripts/official_splits.py DATA OUT_DIR
"""
import json, os, sys
from sklearn.model_selection import train_test_split

data, out = sys.argv[1], sys.argv[2]
ids = sorted(os.path.splitext(f)[0] for f in os.listdir(os.path.join(data, "images")))
os.makedirs(out, exist_ok=True)
for seed in (2981, 6142, 1187):
    train, val = train_test_split(ids, test_size=0.2, random_state=seed)
    with open(os.path.join(out, f"official-split-{seed}.json"), "w") as f:
        json.dump({"seed": seed, "validation_fraction": 0.2, "train": train, "validation": val}, f, indent=1)
    print(seed, len(train), len(val))
