import collections
import json
import sys
from pathlib import Path

import numpy as np

rows = collections.defaultdict(dict)
for path in sys.argv[1:]:
    for k, v in json.loads(Path(path).read_text()).items():
        parts = k.split("/")
        if parts[0] == "nofaces":
            rows[parts[2]][f"free-{parts[1]}"] = f"{v['fp']:.2f}/{v['marked']*100:.2f}%"
        else:
            rows[parts[3]].setdefault(parts[0], []).append(v["recall"])
            rows[parts[3]].setdefault("fp_face", []).append(v["fp"])
sizes = ["0.02", "0.03", "0.04", "0.05", "0.06", "0.08", "0.12"]
print("| candidate | " + " | ".join(f"recall {float(s)*100:.0f}%" for s in sizes) + " | mean 2-8% | false tracks/frame in face scenes | face-free screen / natural / board (tracks/frame / marked) |")
print("|---" * (len(sizes) + 5) + "|")
for name, r in rows.items():
    if "0.03" not in r:
        continue
    rec = [np.mean(r[s]) if s in r else float("nan") for s in sizes]
    print(f"| {name} | " + " | ".join(f"{x:.2f}" for x in rec) + f" | {np.mean(rec[:6]):.2f} | {np.mean(r['fp_face']):.3f} | "
          + " / ".join(r.get(f"free-{k}", "?") for k in ("screen", "natural", "board")) + " |")
