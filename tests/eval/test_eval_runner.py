"""The evaluation loop and ``omnimotion eval``: end to end, failures skipped and reported, cache reuse, PCK."""

import csv
import json

import numpy as np
import pytest

import omnimotion

from omnimotion.cli.main import main
from omnimotion.eval import methods as methods_module
from omnimotion.eval.datasets import EvalVideo
from omnimotion.eval.runner import EvalConfig, run_evaluation
from omnimotion.eval.scoring import pck, score_predictions
from omnimotion.eval.tapvid import sample_queries
from omnimotion.synthetic import make_clip, save_tapvid_npz

TINY = "synthetic:2,frames=8,size=48,sprites=1,points=12"


def _rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_eval_command_end_to_end(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["eval", "--dataset", TINY, "--method", "chain,direct", "--out", str(out)])
    assert code == 0
    rows = _rows(out / "results.csv")
    per_video = [(r["video"], r["method"]) for r in rows if not r["video"].startswith("mean")]
    assert per_video == [("synthetic_000", "chain"), ("synthetic_000", "direct"),
                         ("synthetic_001", "chain"), ("synthetic_001", "direct")]
    means = [r for r in rows if r["video"].startswith("mean")]
    assert [r["method"] for r in means] == ["chain", "direct"]
    chain = [float(r["AJ"]) for r in rows if r["method"] == "chain"]
    assert chain[2] == pytest.approx((chain[0] + chain[1]) / 2, abs=1e-3)  # mean row = mean of videos
    assert all(0 <= float(r["AJ"]) <= 100 and float(r["seconds"]) > 0 for r in rows)
    markdown = (out / "results.md").read_text()
    assert "| synthetic | synthetic_001 | direct | strided |" in markdown
    assert "synthetic_000 | chain" in capsys.readouterr().out  # the table is printed
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "synthetic_000__chain.png", "synthetic_000__direct.png", "synthetic_001__chain.png",
        "synthetic_001__direct.png"]


def _oracle_calls(monkeypatch, calls, fail_on=None):
    """Register a method that returns the ground truth of the synthetic npz clips, counting its calls."""
    clips = {}

    def oracle(video, queries, workdir, options):
        calls.append(workdir.parent.name)
        if fail_on is not None and workdir.parent.name.endswith(fail_on):
            raise RuntimeError("tracker exploded")
        return clips[video.tobytes()].track(queries)

    monkeypatch.setitem(methods_module._METHODS, "oracle", oracle)
    return clips


def _npz_folder(tmp_path, clips):
    folder = tmp_path / "data"
    folder.mkdir()
    for seed in (0, 1):
        clip = make_clip(num_frames=6, height=32, width=32, num_sprites=1, seed=seed)
        clips[clip.video.tobytes()] = clip
        save_tapvid_npz(clip, folder / f"clip{seed}.npz", num_points=10, seed=seed)
    return folder


def test_oracle_scores_perfectly_and_cache_is_reused(tmp_path, monkeypatch):
    calls = []
    clips = _oracle_calls(monkeypatch, calls)
    folder = _npz_folder(tmp_path, clips)
    config = EvalConfig(dataset=str(folder), methods=["oracle"], out_dir=tmp_path / "out", plots=False)
    first = run_evaluation(config)
    assert len(calls) == 2 and not first.failures
    for row in first.rows:  # npz raster points -> our pixels -> 256 raster: no half-pixel slip
        assert row["AJ"] == 1.0 and row["delta_avg"] == 1.0 and row["OA"] == 1.0
        assert row["TC"] == pytest.approx(0.0, abs=1e-4)  # float32 file points
    second = run_evaluation(config)
    assert len(calls) == 2  # nothing recomputed
    assert json.dumps(second.rows, sort_keys=True) == json.dumps(first.rows, sort_keys=True)  # NaN-safe
    config.query_mode = "first"  # different settings: recomputed
    run_evaluation(config)
    assert len(calls) == 4
    monkeypatch.setattr(omnimotion, "__version__", "999.0")  # results of another release: recomputed
    run_evaluation(config)
    assert len(calls) == 6


def test_failing_video_is_skipped_and_reported(tmp_path, monkeypatch, capsys):
    calls = []
    clips = _oracle_calls(monkeypatch, calls, fail_on="clip1")
    folder = _npz_folder(tmp_path, clips)
    (folder / "clip2.npz").write_bytes(b"truncated")
    out = tmp_path / "out"
    code = main(["eval", "--dataset", str(folder), "--method", "oracle,chain", "--out", str(out), "--no_plots"])
    assert code == 1
    rows = [r for r in _rows(out / "results.csv") if not r["video"].startswith("mean")]
    done = {(r["video"], r["method"]) for r in rows}
    assert done == {("data/clip0", "oracle"), ("data/clip0", "chain"), ("data/clip1", "chain")}
    markdown = (out / "results.md").read_text()
    assert "- data/clip1 (oracle): RuntimeError: tracker exploded" in markdown
    assert "- data/clip2 (chain): ValueError: cannot read evaluation file" in markdown
    assert not (out / "plots").exists()


def test_unknown_method_fails_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="unknown evaluation method 'nope'; choose from: .*chain"):
        run_evaluation(EvalConfig(dataset=TINY, methods=["chain", "nope"], out_dir=tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    assert main(["eval", "--dataset", TINY, "--method", "nope", "--out", str(tmp_path / "o")]) == 1


def _badja_like():
    # One joint, T=4, annotated at frames 0, 2, 3; mask area 100 px -> PCK threshold 0.2 * 10 = 2 px.
    tracks = np.zeros((1, 4, 2), np.float32) + 10
    occluded = np.zeros((1, 4), bool)
    valid = np.array([[True, False, True, True]])
    masks = np.zeros((4, 32, 32), bool)
    masks[:, :10, :10] = True
    return EvalVideo("joint", np.zeros((4, 32, 32, 3), np.uint8), tracks, occluded, valid, masks)


def test_pck_hand_worked():
    video = _badja_like()
    queries = sample_queries(video.tracks, video.occluded, "first", valid=video.valid)
    assert queries.queries[0, 0] == 0
    pred = queries.tracks.astype(np.float64).copy()
    pred[0, 1] += 50  # unannotated frame: ignored
    pred[0, 2] += [1.9, 0]  # within 2 px
    pred[0, 3] += [0, 2.0]  # exactly 2 px: a miss (strict)
    assert pck(video, queries, pred, "first") == pytest.approx(0.5)
    scores = score_predictions(video, queries, pred, np.zeros((1, 4), bool), "first")
    assert scores["PCK"] == pytest.approx(0.5)
    # At 32 px frames a 1.9 px error is 15.2 raster px of 256: inside 16 only; frame 1 is not scored.
    assert scores["pts_within_16"] == pytest.approx(0.5) and scores["pts_within_8"] == 0.0


def test_method_output_is_validated():
    video = _badja_like()
    queries = sample_queries(video.tracks, video.occluded, "first", valid=video.valid)
    with pytest.raises(ValueError, match="expected"):
        score_predictions(video, queries, np.zeros((2, 4, 2)), np.zeros((2, 4), bool), "first")
    bad = np.zeros((1, 4, 2))
    bad[0, 2, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        score_predictions(video, queries, bad, np.zeros((1, 4), bool), "first")
