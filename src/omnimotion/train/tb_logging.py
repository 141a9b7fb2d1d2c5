"""Training progress: a tqdm bar (loss, ETA), periodic log lines and tensorboard scalars/images.

Scalars are every loss term (unweighted), the weighted total and the feature learning rate, every
``i_print`` steps; images (rendered pseudo-depth and colour of frame 0, ``[H, W]`` / ``[H, W, 3]``) every
``i_img`` steps. tensorboard is imported only when enabled.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from omnimotion.train.options import TrainConfig

__all__ = ["TrainLogger"]

log = logging.getLogger(__name__)


class TrainLogger:
    """Context manager owning the progress bar and the tensorboard writer of one run."""

    def __init__(self, log_dir: Path, cfg: TrainConfig, initial: int = 0):
        self.cfg = cfg
        self.log_dir = Path(log_dir)
        self.initial = initial
        self.bar = None
        self.writer = None
        self._sums: dict[str, float] = {}
        self._count = 0

    def __enter__(self) -> "TrainLogger":
        from tqdm import tqdm

        self.bar = tqdm(total=self.cfg.num_iters, initial=self.initial, desc="train", unit="step",
                        disable=not self.cfg.progress, dynamic_ncols=True)
        if self.cfg.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.log_dir))
        return self

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """Record one step's scalars; log and write their running means every ``i_print`` steps."""
        for key, value in values.items():
            self._sums[key] = self._sums.get(key, 0.0) + value
        self._count += 1
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{values['total']:.3f}", flow=f"{values['flow']:.2f}px", refresh=False)
        if step % self.cfg.i_print == 0:
            means = {key: total / self._count for key, total in self._sums.items()}
            if self.writer is not None:
                for key, value in means.items():
                    self.writer.add_scalar(f"train/{key}", value, step)
            log.info("step %d: %s", step, " ".join(f"{k}={v:.4g}" for k, v in means.items()))
            self._sums, self._count = {}, 0

    def images(self, step: int, model: torch.nn.Module) -> None:
        """Rendered depth and colour of frame 0 (skipped without tensorboard: they cost a dense pass)."""
        if self.writer is None:
            return
        depth = model.render_depth(0).cpu()
        span = (depth.max() - depth.min()).clamp(min=1e-6)
        self.writer.add_image("render/depth_frame0", ((depth - depth.min()) / span)[None], step)
        if hasattr(model, "render_rgb"):  # the single-surface model has no colour field
            self.writer.add_image("render/rgb_frame0", model.render_rgb(0).cpu().clamp(0, 1).permute(2, 0, 1),
                                  step)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()
