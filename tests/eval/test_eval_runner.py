"""The evaluation loop and ``omnimotion eval``: end to end, failures skipped and reported, cache reuse, PCK."""

import csv
import json
import pickle

import numpy as np
import pytest

import omnimotion

from omnimotion.preprocess.options import PrepareConfig
from omnimotion.cli import eval as cli_eval
from omnimotion.cli.main import main
from omnimotion.eval.datasets import EvalVideo, load_npz_video
from omnimotion.eval.methods import baseline_methods
from omnimotion.eval.runner import EvalConfig, run_evaluation
from omnimotion.eval.scoring import pck, score_predictions
from omnimotion.eval.tapvid import sample_queries
from omnimotion.synthetic import make_clip, save_tapvid_npz
from omnimotion.track.queries import validate_queries

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


def _with_methods(monkeypatch, **extra):
    """The eval command's methods plus ``extra``: the table for ``run_evaluation``, and ``omnimotion eval``'s."""
    methods = {**cli_eval.evaluation_methods(), **extra}
    monkeypatch.setattr(cli_eval, "evaluation_methods", lambda: dict(methods))
    return methods


def _oracle_calls(monkeypatch, calls, fail_on=None):
    """(clips, methods): methods with 'oracle', which returns the ground truth of ``clips`` (filled by the
    caller: video bytes -> clip), counting its calls."""
    clips = {}

    def oracle(video, queries, workdir, options):
        calls.append(workdir.parent.name)
        if fail_on is not None and workdir.parent.name.endswith(fail_on):
            raise RuntimeError("tracker exploded")
        return clips[video.tobytes()].track(queries)

    return clips, _with_methods(monkeypatch, oracle=oracle)


def _npz_folder(tmp_path, clips):
    folder = tmp_path / "data"
    folder.mkdir()
    for seed in (0, 1):
        clip = make_clip(num_frames=6, height=32, width=32, num_sprites=1, seed=seed)
        clips[clip.video.tobytes()] = clip
        save_tapvid_npz(clip, folder / f"clip{seed}.npz", num_points=10, seed=seed)
    return folder


def test_oracle_scores_perfectly_and_saved_predictions_are_reused(tmp_path, monkeypatch):
    calls = []
    clips, methods = _oracle_calls(monkeypatch, calls)
    folder = _npz_folder(tmp_path, clips)
    config = EvalConfig(dataset=str(folder), methods=["oracle"], out_dir=tmp_path / "out", plots=False)
    first = run_evaluation(config, methods)
    assert len(calls) == 2 and not first.failures
    for row in first.rows:  # npz raster points -> our pixels -> 256 raster: no half-pixel slip
        assert row["AJ"] == 1.0 and row["delta_avg"] == 1.0 and row["OA"] == 1.0
        assert row["TC"] == pytest.approx(0.0, abs=1e-4)  # float32 file points
    second = run_evaluation(config, methods)
    assert len(calls) == 2  # nothing recomputed
    assert json.dumps(second.rows, sort_keys=True) == json.dumps(first.rows, sort_keys=True)  # NaN-safe
    config.query_mode = "first"  # different settings: recomputed
    run_evaluation(config, methods)
    assert len(calls) == 4
    monkeypatch.setattr(omnimotion, "__version__", "999.0")  # predictions of another release: recomputed
    run_evaluation(config, methods)
    assert len(calls) == 6


def test_predictions_are_saved_and_rescored_without_running(tmp_path, monkeypatch, capsys):
    calls = []
    clips, _ = _oracle_calls(monkeypatch, calls)
    folder = _npz_folder(tmp_path, clips)
    out = tmp_path / "out"
    monkeypatch.chdir(folder)
    assert main(["eval", "--dataset", ".", "--method", "oracle,chain", "--out", str(out), "--no_plots"]) == 0
    assert len(calls) == 2
    saved = np.load(out / "predictions" / "data__clip0__oracle.npz")
    clip = clips[load_npz_video(folder / "clip0.npz").video.tobytes()]
    gt, occluded = clip.track(saved["queries"])
    np.testing.assert_allclose(saved["tracks"], gt, atol=1e-5)  # exactly what the method returned
    np.testing.assert_array_equal(saved["occluded"], occluded)
    settings = json.loads(str(saved["settings"]))
    assert settings["method"] == "oracle" and settings["query_mode"] == "strided" and float(saved["seconds"]) > 0
    before = {(r["video"], r["method"]): r for r in _rows(out / "results.csv")}
    (out / "results.csv").unlink()
    monkeypatch.setattr(omnimotion, "__version__", "999.0")  # --rescore reads predictions of any release
    assert main(["eval", "--rescore", str(out)]) == 0
    assert len(calls) == 2  # nothing ran
    after = {(r["video"], r["method"]): r for r in _rows(out / "results.csv")}
    assert after == before  # the same rows (methods now in name order: the saved files do not record the order)
    monkeypatch.chdir(tmp_path)  # the dataset was saved as an absolute path: rescoring works from anywhere
    assert main(["eval", "--rescore", "out"]) == 0
    assert main(["eval", "--rescore", str(tmp_path / "nowhere")]) == 1
    assert "holds no saved predictions" in capsys.readouterr().err


def test_rescore_reports_a_method_whose_predictions_are_missing(tmp_path, monkeypatch):
    calls = []
    clips, methods = _oracle_calls(monkeypatch, calls)
    folder = _npz_folder(tmp_path, clips)
    config = EvalConfig(dataset=str(folder), methods=["oracle", "chain"], out_dir=tmp_path / "out", plots=False)
    run_evaluation(config, methods)
    (tmp_path / "out" / "predictions" / "data__clip1__chain.npz").unlink()
    config.rescore = True
    results = run_evaluation(config, methods)
    assert len(results.rows) == 3 and [(f["video"], f["method"]) for f in results.failures] == [("data/clip1", "chain")]
    assert "no saved predictions" in results.failures[0]["error"]


def test_nothing_scored_writes_no_result_files(tmp_path, monkeypatch, caplog):
    folder = _npz_folder(tmp_path, {})

    def broken(video, queries, workdir, options):
        raise RuntimeError("tracker exploded")

    _with_methods(monkeypatch, broken=broken)
    out = tmp_path / "out"
    assert main(["eval", "--dataset", str(folder), "--method", "broken", "--out", str(out)]) == 1
    assert not (out / "results.csv").exists() and not (out / "results.md").exists()
    assert "no (video, method) was scored" in caplog.text


def test_a_pickle_that_is_not_tapvid_fails_before_any_method_runs(tmp_path, monkeypatch, capsys):
    calls = []
    _oracle_calls(monkeypatch, calls)
    path = tmp_path / "settings.pkl"
    path.write_bytes(pickle.dumps({"lr": 0.1, "steps": [1, 2]}))
    out = tmp_path / "out"
    assert main(["eval", "--dataset", str(path), "--method", "oracle", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "settings.pkl is not a TAP-Vid dataset: video 'lr' is of type float" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not calls and not out.exists()


def test_border_queries_reach_the_methods(tmp_path, monkeypatch):
    # ground truth at TAP-Vid raster x = 0 and x = 256 (the edges of a 256 px frame), and the four corners
    clip = make_clip(num_frames=3, height=256, width=256, num_sprites=1, seed=0)
    edges = [[0.0, 123.352], [256.0, 20.0], [0.0, 0.0], [256.0, 0.0], [0.0, 256.0], [256.0, 256.0]]
    points = np.tile(np.array(edges, np.float32)[:, None], (1, 3, 1))
    np.savez(tmp_path / "edge.npz", video=clip.video, points=points, occluded=np.zeros((6, 3), bool))
    seen = []

    def strict(video, queries, workdir, options):  # accepts what track and the Python API accept
        seen.append(validate_queries(queries, video.shape[1:3], len(video)))
        return np.repeat(queries[:, None, 1:], len(video), axis=1), np.zeros((len(queries), len(video)), bool)

    config = EvalConfig(dataset=str(tmp_path / "edge.npz"), methods=["strict", "chain"], out_dir=tmp_path / "out",
                        query_mode="first", plots=False)
    results = run_evaluation(config, {**baseline_methods(), "strict": strict})
    assert not results.failures and len(results.rows) == 2
    np.testing.assert_allclose(seen[0][:, 1:], np.array(edges) - 0.5, atol=1e-4)
    assert results.rows[0]["AJ"] == 1.0  # the static truth, tracked exactly


def test_breakdown_borrows_the_clip_data_directory_of_another_method(tmp_path, monkeypatch):
    from omnimotion.preprocess import prepare
    from omnimotion.synthetic import write_frames

    calls = []
    clips, methods = _oracle_calls(monkeypatch, calls)
    folder = _npz_folder(tmp_path, clips)
    oracle = methods["oracle"]

    def prepared_oracle(video, queries, workdir, options):  # a method that prepares a data directory
        clip = clips[video.tobytes()]
        write_frames(clip, workdir / "frames")
        prepare(workdir / "frames", workdir / "data", PrepareConfig(max_side=None, chain_direct_max_gap=None),
                progress=False, workers=1)
        return oracle(video, queries, workdir, options)

    config = EvalConfig(dataset=str(folder / "clip0.npz"), methods=["chain", "prepared"], out_dir=tmp_path / "out",
                        plots=False)
    results = run_evaluation(config, {**methods, "prepared": prepared_oracle})
    assert not results.failures
    for row in results.rows:
        assert row["evidence"] == "prepared"  # chain has no data directory: it borrows the clip's
        assert row["vouched_frames"] + row["unvouched_frames"] == row["visible_frames"] > 0
        assert row["vouched_frames"] > 0
    assert results.rows[1]["delta_vouched"] == 1.0  # the oracle is exact everywhere
    assert "| data dir of |" in results.markdown and "| prepared |" in results.markdown


def test_failing_video_is_skipped_and_reported(tmp_path, monkeypatch, capsys):
    calls = []
    clips, _ = _oracle_calls(monkeypatch, calls, fail_on="clip1")
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
        run_evaluation(EvalConfig(dataset=TINY, methods=["chain", "nope"], out_dir=tmp_path / "out"),
                       baseline_methods())
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


def test_the_eval_command_offers_the_baselines_and_the_model():
    assert sorted(baseline_methods()) == ["chain", "direct"]
    assert sorted(cli_eval.evaluation_methods()) == ["chain", "direct", "omnimotion"]
