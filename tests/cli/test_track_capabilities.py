"""``omnimotion track`` refuses, before tracking, pictures the checkpoint's model variant cannot render."""

import dataclasses

import numpy as np
import pytest
import torch

from omnimotion.cli.main import main
from omnimotion.model import SurfaceModel, SurfaceModelConfig
from omnimotion.synthetic import make_clip, write_frames
from omnimotion.viz import render_color_frames

T, H, W = 4, 16, 20


@pytest.fixture(scope="module")
def surface_dir(tmp_path_factory):
    """A data directory with an untrained surface-model checkpoint, as ``omnimotion train`` writes it."""
    root = tmp_path_factory.mktemp("surface")
    write_frames(make_clip(num_frames=T, height=H, width=W, seed=1), root / "color")
    cfg = SurfaceModelConfig(plane_resolutions=(4, 8))
    state = {"surface_model": SurfaceModel(cfg, T, (H, W)).state_dict(), "method": "surface", "num_imgs": T,
             "image_hw": [H, W], "step": 1, "config": {"surface": dataclasses.asdict(cfg)}}
    (root / "out" / "surface").mkdir(parents=True)
    torch.save(state, root / "out" / "surface" / "model_000001.pth")
    return root


def test_color_video_of_a_surface_model_is_one_error_line_before_tracking(surface_dir, tmp_path, capsys,
                                                                          monkeypatch):
    tracked = []
    monkeypatch.setattr("omnimotion.track.Tracker.__call__", lambda *args: tracked.append(args))
    out = tmp_path / "tracks.npz"
    code = main(["track", str(surface_dir), "--points", "5,5@0", "--out", str(out), "--device", "cpu",
                 "--color_video", str(tmp_path / "colour.mp4")])
    assert code != 0 and not tracked and not out.exists()
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]
    assert errors == ["omnimotion: error: the surface model has no colour rendering; train with --method omnimotion "
                      "or drop --color_video"]


def test_rendering_colour_without_render_rgb_names_the_methods_that_have_it():
    model = SurfaceModel(SurfaceModelConfig(plane_resolutions=(4, 8)), T, (H, W))
    with pytest.raises(ValueError, match="SurfaceModel has no colour rendering; use a model of method omnimotion"):
        render_color_frames(model, progress=False)


def test_depth_video_of_a_surface_model_is_written(surface_dir, tmp_path):
    depth = tmp_path / "depth.mp4"
    assert main(["track", str(surface_dir), "--points", "5,5@0", "--out", str(tmp_path / "t.npz"),
                 "--device", "cpu", "--depth_video", str(depth)]) == 0
    assert depth.stat().st_size > 0 and np.load(tmp_path / "t.npz")["tracks"].shape == (1, T, 2)
