"""One line per `ukan train --profile` file: first and steady epoch, process start to the end of epoch 1, and the
start-up phases. Usage: python3 scripts/experiments/startup_summary.py RUN/profile.json [...]"""
import json
import sys

for path in sys.argv[1:]:
    d = json.load(open(path))
    print(path.split("/")[-2], "first %.2f s" % d["first_epoch_seconds"], "steady %.3f s" % d["steady_epoch_seconds"],
          "start->end of epoch 1 %.2f s" % d["process_start_to_first_epoch_end_seconds"],
          " ".join("%s=%.2f" % (p["name"], p["seconds"]) for p in d["phases"]
                   if p["name"].startswith(("startup", "first", "second", "valid"))))
