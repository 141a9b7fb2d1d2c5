"""ModelConfig: every setting of the OmniMotion representation (docs/method.md#representation, docs/method.md#training).

Field names are the official configargparse keys where one exists (``num_samples_ray``, ``min_depth``,
``use_affine``, ...); the widths, which the official code hard-codes, get their own names. Defaults reproduce
the official ``configs/default.txt`` model, including the accidental 8-layer affine MLP (docs/method.md#bijection).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ModelConfig"]


@dataclass
class ModelConfig:
    """Architecture and sampling settings of :class:`~omnimotion.model.OmniMotionModel`."""

    num_samples_ray: int = 32
    """K: samples per ray in each frame's local volume."""
    min_depth: float = 0.0
    """Near end of every frame's local depth range."""
    max_depth: float = 2.0
    """Far end of every frame's local depth range."""
    use_affine: bool = True
    """Apply the time/depth-conditioned 2D affine pre-layer before the coupling layers (official default config)."""
    affine_num_layers: int = 8
    """Linear layers in the affine MLP: 8 is the official code's accidental depth, 2 the intended one."""
    num_coupling_layers: int = 6
    """Affine coupling layers in the bijection; each coordinate is transformed num_coupling_layers / 3 times."""
    nvp_hidden: int = 256
    """Width of the coupling MLPs, of the positional-encoding projection and of the affine MLP."""
    nvp_hidden_layers: int = 3
    """Hidden layers in each coupling layer's scale/shift MLP."""
    code_dim: int = 128
    """Width of the per-frame latent code and of each layer's code projector."""
    time_hidden: int = 256
    """Hidden width of the GaborNet that maps time to latent codes."""
    time_layers: int = 2
    """Hidden (multiplicative) layers of the time GaborNet."""
    time_alpha: float = 4.5
    """Gamma-shape numerator of the time GaborNet's filter initialisation."""
    canonical_hidden: int = 512
    """Hidden width of the canonical GaborNet (density and colour)."""
    canonical_layers: int = 3
    """Hidden (multiplicative) layers of the canonical GaborNet."""
    canonical_alpha: float = 3.0
    """Gamma-shape numerator of the canonical GaborNet's filter initialisation."""
    input_scale: float = 256.0
    """GaborNet filter frequency scale (both GaborNets); divided by sqrt(n_layers + 1) per filter."""
    pe_freq: int = 4
    """Positional-encoding frequencies (pi * 2^k, k < pe_freq) in coupling and affine inputs."""
    mask_near: bool = False
    """Zero the alphas of the nearest 20 % of samples early in training (the trainer decides when)."""
    use_max_loc: bool = True
    """Inference takes the max-weight sample instead of compositing; used by tracking
    (docs/method.md#correspondence-between-frames)."""
    occlusion_th: float = 0.99
    """A point is occluded iff its occlusion score (light absorbed in front of it) exceeds this."""

    def __post_init__(self) -> None:
        problems = []
        if self.num_samples_ray < 2:
            problems.append(f"num_samples_ray={self.num_samples_ray} must be >= 2")
        if not self.max_depth > self.min_depth:
            problems.append(f"max_depth={self.max_depth} must exceed min_depth={self.min_depth}")
        if self.use_affine and self.affine_num_layers < 1:
            problems.append(f"affine_num_layers={self.affine_num_layers} must be >= 1")
        for name in ("num_coupling_layers", "nvp_hidden", "nvp_hidden_layers", "code_dim", "time_hidden",
                     "time_layers", "canonical_hidden", "canonical_layers", "pe_freq"):
            if getattr(self, name) < 1:
                problems.append(f"{name}={getattr(self, name)} must be >= 1")
        if problems:
            raise ValueError("invalid ModelConfig: " + "; ".join(problems))
