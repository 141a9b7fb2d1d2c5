"""Appearance features for the filter's and the chain's appearance checks (docs/method.md#appearance-features).

A feature map is float32 ``[h, w, C]`` spanning the whole image with corners aligned: map pixel (0, 0)
sits on image pixel (0, 0) and map pixel (w-1, h-1) on image pixel (W-1, H-1) (the official
``grid_sample(align_corners=True)`` reading of DINO token maps). Two points correspond in appearance when
the cosine similarity of their bilinearly sampled features exceeds the appearance's ``threshold``.

Kinds
-----
``dino``
    DINO ViT-S (patch 8 or 16) from a local weights file, through ``timm`` (optional extra
    ``omnimotion[dino]``); official preprocessing: RGB in [0, 1], ImageNet normalisation (std 0.228 as in
    the official code), resize to short side 480 and long side a multiple of 64, last-block tokens after
    the final LayerNorm without the CLS token, ``[H/p, W/p, 384]``. Threshold 0.5 (official).
``embedded`` (default when no DINO weights or features are given; no weights needed)
    A dense hand-made local descriptor on a grid of stride 4 px, 38 channels:

    * colour, 6 channels: intensity - 0.5 and two opponent channels (R-G, (R+G)/2-B), each blurred at
      sigma 2 px and 6 px. Signed, so flat areas of different colour disagree.
    * texture, 32 channels: a HOG-like block - gradient orientation (signed, 8 soft bins) weighted by
      magnitude, pooled with sigma 3 px, read at the four corners of an 8 px square around the point;
      the 32 values are centred over bins and divided by ``max(norm, 0.1)`` so that weak texture
      (noise) shrinks to zero and colour then decides.

    The threshold (``EMBEDDED_THRESHOLD``) was chosen by measurement (benchmarks/bench_supervision_quality.py
    and tests/preprocess/test_appearance.py): true correspondences pass, points shifted by more than
    8 px on textured content mostly fail. It is a weaker check than DINO: it rejects gross errors, not
    semantic ones.
``none``
    No appearance check (only cycle consistency and, in chaining, the colour check).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from omnimotion.io.atomic import save_npy
from omnimotion.io.datadir import CorruptFileError, DataDir
from omnimotion.preprocess.warp import sample_bilinear, scale_points_to_grid

__all__ = ["Appearance", "EmbeddedAppearance", "DinoAppearance", "get_appearance", "FeatureStore",
           "cosine_similarity", "resolve_appearance", "EMBEDDED_THRESHOLD", "DINO_THRESHOLD"]

logger = logging.getLogger(__name__)

DINO_THRESHOLD = 0.5
EMBEDDED_THRESHOLD = 0.3
_STRIDE = 4


class Appearance:
    """Base: ``features(image uint8 [H, W, 3]) -> float32 [h, w, C]``; ``threshold`` on cosine."""

    name = "none"
    threshold = -1.0

    def features(self, image: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class EmbeddedAppearance(Appearance):
    """Colour + gradient-orientation descriptor (module docstring); needs no weights."""

    threshold: float = EMBEDDED_THRESHOLD
    name: str = "embedded"

    def features(self, image: np.ndarray) -> np.ndarray:
        rgb = _check_image(image).astype(np.float32) / 255.0
        dense = np.concatenate([_colour_channels(rgb), _texture_channels(rgb)], axis=-1)
        height, width = rgb.shape[:2]
        ys = np.round(np.linspace(0, height - 1, (height - 1) // _STRIDE + 1)).astype(int)
        xs = np.round(np.linspace(0, width - 1, (width - 1) // _STRIDE + 1)).astype(int)
        return np.ascontiguousarray(dense[ys][:, xs], dtype=np.float32)


def _colour_channels(rgb: np.ndarray) -> np.ndarray:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    base = np.stack([(r + g + b) / 3 - 0.5, r - g, (r + g) / 2 - b], axis=-1)
    return np.concatenate([cv2.GaussianBlur(base, (0, 0), sigma) for sigma in (2.0, 6.0)], axis=-1)


def _texture_channels(rgb: np.ndarray, bins: int = 8, half_cell: int = 4) -> np.ndarray:
    gray = cv2.GaussianBlur(rgb.mean(axis=-1), (0, 0), 1.0)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3) / 8
    magnitude = np.sqrt(gx * gx + gy * gy)
    position = (np.arctan2(gy, gx) % (2 * np.pi)) / (2 * np.pi) * bins
    low = np.floor(position).astype(int) % bins
    frac = position - np.floor(position)
    hist = np.zeros(gray.shape + (bins,), np.float32)
    rows, cols = np.indices(gray.shape)
    hist[rows, cols, low] = magnitude * (1 - frac)  # soft binning between the two nearest bins
    hist[rows, cols, (low + 1) % bins] += magnitude * frac
    hist = cv2.GaussianBlur(hist, (0, 0), 3.0)
    padded = cv2.copyMakeBorder(hist, half_cell, half_cell, half_cell, half_cell, cv2.BORDER_REFLECT)
    height, width = gray.shape
    cells = [padded[dy:dy + height, dx:dx + width] for dy in (0, 2 * half_cell) for dx in (0, 2 * half_cell)]
    block = np.concatenate(cells, axis=-1)
    block -= block.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(block, axis=-1, keepdims=True)
    return block / np.maximum(norm, 0.1)


class DinoAppearance(Appearance):
    """DINO ViT-S/8 or /16 through timm, weights from a local file (official ``extract_dino_features``)."""

    name = "dino"
    threshold = DINO_THRESHOLD

    def __init__(self, weights: str | Path, patch_size: int | None = None):
        try:
            import timm
        except ImportError as err:
            raise ImportError("the 'dino' appearance needs timm: pip install 'omnimotion[dino]' "
                              "(or use appearance 'embedded', which needs no weights)") from err
        import torch

        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"DINO weights file {path} not found; download "
                                    "dino_deitsmall16_pretrain.pth (or ..8..) from "
                                    "https://github.com/facebookresearch/dino and pass its path")
        state = torch.load(path, map_location="cpu", weights_only=True)
        for key in ("teacher", "state_dict", "model"):  # DINO checkpoints nest the backbone
            if isinstance(state, dict) and key in state and isinstance(state[key], dict):
                state = state[key]
        state = {k.removeprefix("module.").removeprefix("backbone."): v for k, v in state.items()}
        if "patch_embed.proj.weight" not in state:
            raise CorruptFileError(f"{path} holds no ViT weights (no 'patch_embed.proj.weight'); "
                                   "pass a DINO ViT-S checkpoint")
        self.patch_size = patch_size or int(state["patch_embed.proj.weight"].shape[-1])
        model = timm.create_model(f"vit_small_patch{self.patch_size}_224", pretrained=False,
                                  num_classes=0, dynamic_img_size=True)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing:
            raise CorruptFileError(f"{path} lacks ViT-S weights {missing[:3]}...; pass a DINO ViT-S "
                                   f"checkpoint (unexpected keys: {unexpected[:3]})")
        self.model = model.eval()

    def features(self, image: np.ndarray) -> np.ndarray:
        import torch

        rgb = _check_image(image).astype(np.float32) / 255.0
        rgb = (rgb - np.float32([0.485, 0.456, 0.406])) / np.float32([0.228, 0.224, 0.225])
        height, width = rgb.shape[:2]
        th, tw = _dino_input_size(height, width)
        rgb = cv2.resize(rgb, (tw, th), interpolation=cv2.INTER_LINEAR)
        x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
        with torch.no_grad():
            tokens = self.model.forward_features(x)[0, self.model.num_prefix_tokens:]
        grid = (th // self.patch_size, tw // self.patch_size)
        return tokens.reshape(grid + (-1,)).numpy().astype(np.float32)


def _dino_input_size(height: int, width: int) -> tuple[int, int]:
    """Short side 480, long side ``floor(long * 480 / short / 64) * 64`` (official resize)."""
    if height <= width:
        return 480, int(width * 480 / height // 64 * 64)
    return int(height * 480 / width // 64 * 64), 480


def get_appearance(kind: str = "auto", weights: str | Path | None = None) -> Appearance:
    """An appearance model: "dino" (needs ``weights``), "embedded", "none", or "auto" (dino if weights)."""
    if kind == "auto":
        kind = "dino" if weights is not None else "embedded"
    if kind == "dino":
        if weights is None:
            raise ValueError("appearance 'dino' needs a weights file (weights=PATH, e.g. "
                             "dino_deitsmall16_pretrain.pth); or use 'embedded', which needs none")
        return DinoAppearance(weights)
    if kind == "embedded":
        return EmbeddedAppearance()
    if kind == "none":
        return Appearance()
    raise ValueError(f"unknown appearance kind {kind!r}; choose auto, dino, embedded or none")


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine over the last axis of ``[..., C]`` arrays (0 where a vector is zero, as torch's eps)."""
    dot = np.einsum("...c,...c->...", a, b)
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return dot / np.maximum(norms, 1e-8)


class FeatureStore:
    """Per-frame feature maps cached as ``features/<name>/{frame}.npy``; picklable for worker processes.

    Official layout for DINO (``features/dino/00000.jpg.npy``, ``[h, w, 384]``), so maps made by the
    official ``extract_dino_features.py`` are used as they are. Caveat: a cache made with other weights
    is trusted as long as its shape is sane; delete ``features/`` after changing weights.
    """

    def __init__(self, data: DataDir, name: str, threshold: float, max_cached: int = 48):
        self.data = data
        self.folder = data.root / "features" / name
        self.threshold = threshold
        self.max_cached = max_cached
        self._cache: dict[int, np.ndarray] = {}

    def path(self, i: int) -> Path:
        return self.folder / f"{self.data.frame_names[i]}.npy"

    def compute_missing(self, appearance: Appearance, progress: bool = True) -> None:
        missing = [i for i in range(self.data.num_frames) if self._load(i) is None]
        for i in tqdm(missing, desc=f"features ({appearance.name})", disable=not progress or not missing):
            save_npy(self.path(i), appearance.features(self.data.load_frame(i)).astype(np.float32))

    def map(self, i: int) -> np.ndarray:
        """float32 ``[h, w, C]`` of frame i."""
        if i not in self._cache:
            features = self._load(i)
            if features is None:
                raise CorruptFileError(f"feature map {self.path(i)} is missing or corrupt; delete it "
                                       "and re-run filtering to recompute it")
            if len(self._cache) >= self.max_cached:
                self._cache.pop(next(iter(self._cache)))
            self._cache[i] = features
        return self._cache[i]

    def at_pixels(self, i: int, points: np.ndarray) -> np.ndarray:
        """Features of frame i at image pixel ``points [..., 2]`` -> ``[..., C]`` (bilinear, zero pad)."""
        features = self.map(i)
        return sample_bilinear(features, scale_points_to_grid(points, self.data.image_hw, features.shape[:2]))

    def agree(self, i: int, points_i: np.ndarray, j: int, points_j: np.ndarray,
              chunk: int = 32768) -> np.ndarray:
        """Bool ``[n]``: cosine of frame i's features at ``points_i [n, 2]`` and frame j's at ``points_j``
        exceeds ``threshold``. Chunked so that wide features (DINO: 384) stay small in memory."""
        out = np.zeros(len(points_i), bool)
        for start in range(0, len(points_i), chunk):
            part = slice(start, start + chunk)
            similarity = cosine_similarity(self.at_pixels(i, points_i[part]), self.at_pixels(j, points_j[part]))
            out[part] = similarity > self.threshold
        return out

    def _load(self, i: int) -> np.ndarray | None:
        try:
            features = np.load(self.path(i), allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        if features.ndim != 3 or min(features.shape[:2]) < 2 or not np.isfinite(features).all():
            return None
        return features.astype(np.float32, copy=False)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_cache": {}}  # workers load their own maps


def resolve_appearance(data: DataDir, appearance: Appearance | str | None,
                       progress: bool = True) -> FeatureStore | None:
    """FeatureStore with every frame's features computed, or None for no appearance check.

    None or "auto": DINO maps already in ``features/dino`` (official layout) if complete, else embedded.
    """
    if appearance is None or appearance == "auto":
        dino = FeatureStore(data, "dino", DINO_THRESHOLD)
        if all(dino.path(i).exists() for i in range(data.num_frames)):
            logger.info("using DINO features found in %s", dino.folder)
            return dino
        appearance = "embedded"
    if isinstance(appearance, str):
        appearance = get_appearance(appearance)
    if appearance.name == "none":
        return None
    store = FeatureStore(data, appearance.name, appearance.threshold)
    store.compute_missing(appearance, progress)
    return store


def _check_image(image: np.ndarray) -> np.ndarray:
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise ValueError(f"appearance features need a uint8 RGB image [H, W, 3], got "
                         f"{image.dtype} {image.shape}")
    return image
