"""The README's Python API examples run as written, on a tiny 64x48 clip with a tiny training budget."""

import re
from pathlib import Path

import numpy as np

from omnimotion.config import PRESETS
from omnimotion.synthetic import make_clip, write_video

README = Path(__file__).resolve().parents[1] / "README.md"
TINY_BUDGET = {"num_iters": 4, "i_weight": 2, "num_pts": 16, "num_pairs": 2}


def python_blocks(section: str) -> list[str]:
    text = README.read_text()
    body = text[text.index(f"## {section}"):]
    body = body[:body.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", body, re.S)


def test_readme_python_api_runs(tmp_path, monkeypatch, capsys):
    clip = make_clip(num_frames=5, height=48, width=64, num_sprites=1, seed=5)
    write_video(clip, tmp_path / "clip.mp4", fps=10)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(PRESETS, "surface", {**PRESETS["surface"], **TINY_BUDGET})
    blocks = python_blocks("Python API")
    assert len(blocks) == 2
    names: dict = {"__name__": "__main__"}
    for block in blocks:
        exec(compile(block, str(README), "exec"), names)
    assert capsys.readouterr().out.strip().endswith("(12, 5, 2) (12, 5)")  # 4x3 grid every 16 px, 5 frames
    assert names["tracks"].tracks.shape == (12, 5, 2) and names["tracks"].image_hw == (48, 64)
    # the Tracker with the data directory gives what track_video gave for the same grid
    from omnimotion import track_video

    again, visible = track_video("clip.mp4", grid=16, work_dir="work/clip")
    np.testing.assert_array_equal(again, names["tracks"].tracks)
    np.testing.assert_array_equal(visible, ~names["tracks"].occluded)
