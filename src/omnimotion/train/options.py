"""TrainConfig: every training option, named by the official OmniMotion keys where one exists.

Field names are the official ``config.py`` keys so that official ``.txt`` config files map one-to-one
(``omnimotion.config`` does the parsing). Fields below the "ours" marker are additions of this package;
their defaults reproduce the official behaviour (``configs/fast.txt`` changes them for CPU runs).
Steps are optimisation steps; pixel quantities are in pixels of the prepared frames.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from omnimotion.model import variant_names

__all__ = ["TrainConfig", "DEPTH_INIT_CHOICES", "DEVICE_CHOICES"]

DEPTH_INIT_CHOICES = ("auto", "on", "off")
DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N")
_POSITIVE = ("num_iters", "num_pairs", "num_pts", "lrate_decay_steps", "i_print", "i_img", "i_weight", "i_cache",
             "interval_growth_steps", "error_map_stride", "flow_cache_size", "start_interval")
_NOT_NEGATIVE = ("num_imgs", "threads", "grad_clip", "max_padding", "motion_share", "schedule_scale")


@dataclass
class TrainConfig:
    # ----- general (official) -----
    expname: str = ""
    """Experiment name; outputs go to ``<save_dir>/<expname>`` (``default`` when empty)."""
    save_dir: str = "out/"
    """Output folder. Relative paths are taken inside the data directory (the official code used the
    working directory, which made hard-example mining silently miss its cache; docs/method.md#data-directory)."""
    ckpt_path: str = ""
    """Checkpoint to start from; empty = newest ``model_*.pth`` in the output folder."""
    no_reload: bool = False
    """Start from scratch even if checkpoints exist."""
    local_rank: int = 0
    """Accepted for compatibility; distributed training is not implemented."""
    distributed: int = 0
    """Accepted for compatibility; must be 0."""
    num_iters: int = 100000
    """Total optimisation steps."""
    num_workers: int = 4
    """Accepted for compatibility; data are held in memory, so no loader workers are used."""
    load_opt: int = 1
    """When resuming, also restore the optimiser state."""
    load_scheduler: int = 1
    """When resuming, also restore the learning-rate schedule."""
    loader_seed: int = 12
    """Seed of the correspondence sampler's random generator (official DataLoader seed)."""
    # ----- data (official) -----
    dataset_types: str = "flow"
    """Only ``flow`` exists."""
    dataset_weights: list[float] = field(default_factory=lambda: [1.0])
    """Accepted for compatibility (one dataset type only)."""
    num_imgs: int = 250
    """Train on at most the first ``num_imgs`` frames (0: all; the presets use 0)."""
    num_pairs: int = 8
    """Frame pairs per step."""
    num_pts: int = 256
    """Points per pair per step."""
    # ----- learning rates (official) -----
    lr_feature: float = 1e-3
    """Adam LR of the latent-code GaborNet (``feature_mlp``)."""
    lr_deform: float = 1e-4
    """Adam LR of the bijection (``deform_mlp``)."""
    lr_color: float = 3e-4
    """Adam LR of the canonical field (``color_mlp``)."""
    lrate_decay_steps: int = 20000
    """StepLR period (the scheduler steps every iteration)."""
    lrate_decay_factor: float = 0.5
    """StepLR factor."""
    grad_clip: float = 0.0
    """If > 0, clip each parameter's gradient norm to this value."""
    # ----- sampling (official) -----
    use_error_map: bool = False
    """Hard-example mining from cached predicted-flow errors (docs/method.md#hard-example-mining)."""
    use_count_map: bool = False
    """Sample pixels with probability proportional to 1/sqrt(count + 1)."""
    start_interval: int = 20
    """Initial maximum frame gap of the pair window."""
    max_padding: float = 0.0
    """Predictions further than this many pixels outside the frame get no flow loss."""
    # ----- logging (official) -----
    i_print: int = 100
    """Steps between loss logs."""
    i_img: int = 500
    """Steps between tensorboard images."""
    i_weight: int = 20000
    """Steps between checkpoints."""
    i_cache: int = 20000
    """Steps between refreshes of the hard-example cache."""
    # ----- ours -----
    method: str = "omnimotion"
    """Model to fit: ``omnimotion`` (the faithful method) or ``surface`` (the fast single-surface variant,
    docs/method.md#single-surface-variant, configured by the ``surface_*`` keys; ``--preset surface``)."""
    lr_heads: float = 3e-4
    """surface: Adam LR of the coupling layers' linear heads (they move every point: keep ~1/10 of grids)."""
    lr_grids: float = 3e-3
    """surface: Adam LR of the conditioning planes and time embeddings (1e-2 diverged in measurements)."""
    lr_depth: float = 1e-3
    """surface: Adam LR of the per-frame depth grids."""
    depth_consistency_weight: float = 1.0
    """surface: weight of |depth_j - surface depth of frame j| on covisible correspondences."""
    occlusion_hinge_weight: float = 1.0
    """surface: weight of relu(2 * tolerance - depth gap) on occluded-but-reliable correspondences."""
    depth_smooth_weight: float = 0.1
    """surface: weight of the mean absolute difference of neighbouring depth-grid cells."""
    temporal_smooth_weight: float = 0.0
    """surface: weight of the trajectories' mean acceleration |p(t-1) - 2p(t) + p(t+1)| in px."""
    depth_init: str = "auto"
    """surface: start the per-frame depth from user maps ``<data_dir>/depth/<frame>.npy`` (any monocular
    depth model; larger = farther unless ``depth_is_disparity``): ``auto`` when that folder exists, ``on``
    (missing maps are an error), ``off`` (flat start). Only a fresh run is initialised; a resumed one keeps
    its trained depth."""
    depth_is_disparity: bool = False
    """surface: the user depth maps hold disparity / inverse depth (larger = nearer, e.g. MiDaS)."""
    seed: int = 1234
    """Global torch seed (official: 1234)."""
    device: str = "auto"
    """``auto`` (CUDA if available), ``cpu``, ``cuda`` or ``cuda:N``."""
    threads: int = 0
    """CPU threads of training and tracking (torch, OpenCV, OpenMP). 0: ``OMP_NUM_THREADS`` if set, else the
    cores not busy with other work when the stage starts (``omnimotion.io.threads``)."""
    interval_growth_steps: int = 2000
    """The pair window grows by one frame every this many steps (official 2000)."""
    schedule_scale: float = 1.0
    """Multiplies every step constant of the loss-weight schedules (rgb/flow-gradient ramps,
    distortion start); 1.0 is official, e.g. 0.02 compresses 50k-step ramps into 1k steps."""
    motion_share: float = 0.0
    """Share of each pair's points drawn with probability proportional to flow magnitude from the
    start (0 = official). Counters count-map sampling ignoring small moving objects."""
    error_map_stride: int = 1
    """Hard-mining maps are predicted on every stride-th pixel and upsampled (official 1 = every pixel)."""
    flow_cache_size: int = 512
    """Flow/mask pairs held in memory (LRU; float32 flows and two bool masks, 10 bytes per pixel: about
    0.66 MB per pair at 256x256)."""
    tensorboard: bool = True
    """Write tensorboard event files under ``<out>/logs``."""
    progress: bool = True
    """Show a tqdm progress bar."""

    def __post_init__(self) -> None:
        for key, choices in (("method", variant_names()), ("depth_init", DEPTH_INIT_CHOICES)):
            if getattr(self, key) not in choices:
                raise ValueError(f"{key} {getattr(self, key)!r} is not one of {', '.join(choices)}")
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device):
            raise ValueError(f"device {self.device!r} is not one of {', '.join(DEVICE_CHOICES)}")
        for key in _POSITIVE:
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        for key in _NOT_NEGATIVE:
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must be >= 0, got {getattr(self, key)}")

    def steps(self, official_steps: float) -> float:
        """A step constant of the official loss schedules, rescaled by ``schedule_scale``."""
        return official_steps * self.schedule_scale
