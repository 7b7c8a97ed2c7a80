#!/usr/bin/env python3
"""Draw the replica timelines `tandem simulate --timeline-csv` wrote as one PNG.

usage: plot-timeline.py OUT.png TITLE NAME=FILE.csv [NAME=FILE.csv ...]

Each CSV has the columns time_s,tier,desired,ready,pending (one row per tier per round). The
chart has one panel per tier (prefill above, decode below) with each policy's ready replicas
over time, and the `tandem` policy's desired replicas dashed, so a person can see who scaled
when. Needs matplotlib (hack/install-deps.sh installs it into $TANDEM_CACHE/venv).
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    series = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            tier = series.setdefault(row["tier"], {"t": [], "desired": [], "ready": []})
            tier["t"].append(float(row["time_s"]) / 60)
            tier["desired"].append(int(row["desired"]))
            tier["ready"].append(int(row["ready"]))
    return series


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__.strip().splitlines()[2])
    out, title, pairs = argv[1], argv[2], argv[3:]
    runs = []
    for pair in pairs:
        name, _, path = pair.partition("=")
        if not path:
            sys.exit(f"plot-timeline.py: {pair!r} is not NAME=FILE.csv")
        runs.append((name, read(path)))
    figure, axes = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    for axis, tier in zip(axes, ["prefill", "decode"]):
        for name, series in runs:
            data = series.get(tier)
            if not data:
                continue
            line, = axis.step(data["t"], data["ready"], where="post", label=f"{name} ready", linewidth=1.4)
            if name == "tandem":
                axis.step(data["t"], data["desired"], where="post", linestyle="--", color=line.get_color(),
                          label="tandem desired", linewidth=1)
        axis.set_ylabel(f"{tier} replicas")
        axis.grid(alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=8, ncol=3)
    axes[1].set_xlabel("minutes")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv)
