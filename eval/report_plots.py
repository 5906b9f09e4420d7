"""The report's training and timing plots (PNG, matplotlib Agg): loss curves and stage wall times."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_loss(manifest: dict[str, Any], out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key, label in (("train_loss_curve", "train"), ("eval_loss_curve", "dev")):
        curve = manifest.get(key) or []
        if curve:
            ax.plot([c[0] for c in curve], [c[1] for c in curve], marker="o", label=label)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (assistant tokens)")
    ax.set_title(f"Training loss: {manifest.get('run_name')}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def plot_timing(timing: dict[str, Any], out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    stages = [s for s in timing["stages"] if s["status"] == "ran"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.barh([s["stage"] for s in stages], [s["seconds"] for s in stages])
    ax.set_xlabel("seconds")
    ax.set_title("Pipeline stage wall time")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
