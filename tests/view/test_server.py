"""The viewer's server on a small prepared run: its answers equal ``omnimotion track``'s, it serves nothing
but its own assets and the run's frames, and bad requests get a 4xx answer without stopping it."""

from __future__ import annotations

import http.client
import json
import logging
import re
import socket

import cv2
import numpy as np
import pytest
from view_fixtures import checkpoint_of, make_run, running_server

from omnimotion.cli.main import main
from omnimotion.cli.track import newest_checkpoint
from omnimotion.synthetic import make_clip, write_video
from omnimotion.track import Tracker, load_csv, load_tracks
from omnimotion.view.server import WIRE_DECIMALS, static_files

T, H, W = 6, 32, 40
QUERIES = [[0, 10, 12], [3, 30, 20], [5, 2, 30]]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("view"), frames=T, height=H, width=W)


@pytest.fixture(scope="module")
def server(run_dir):
    with running_server(run_dir) as server:
        yield server


def request(server, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """(status, headers, body) of one request sent exactly as given (no path normalisation)."""
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def post(server, path: str, payload) -> tuple[int, dict, bytes]:
    return request(server, "POST", path, json.dumps(payload).encode(), {"Content-Type": "application/json"})


def tracked_by_cli(run_dir, tmp_path, queries, suffix=".npz", extra=()):
    out = tmp_path / f"cli{suffix}"
    points = [arg for t, x, y in queries for arg in ("--points", f"{x},{y}@{t}")]
    assert main(["track", str(run_dir), *points, "--out", str(out), "--device", "cpu", *extra]) == 0
    return out


def test_info_describes_the_run(server, run_dir):
    status, _, body = request(server, "GET", "/api/info")
    info = json.loads(body)
    assert status == 200
    assert (info["num_frames"], info["image_hw"], info["has_depth"]) == (T, [H, W], True)
    # omnimotion track's default: the mode saved with the checkpoint
    assert info["flow_evidence"] == Tracker.from_checkpoint(checkpoint_of(run_dir), device="cpu").flow_evidence
    assert info["checkpoint"] == "model_000010.pth"


def test_page_and_assets_are_served_and_need_no_network(server):
    status, headers, page = request(server, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    for name, content in static_files().items():
        status, _, body = request(server, "GET", f"/static/{name}")
        assert status == 200 and body == content
        # offline: no script, style or font from elsewhere
        assert not re.search(rb"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", content), name
    assert {"index.html", "viewer.js", "viewer.css"} <= set(static_files())
    assert b"/static/viewer.js" in page


def test_frames_are_the_runs_color_files(server, run_dir):
    status, headers, body = request(server, "GET", "/frames/3")
    assert status == 200 and headers["Content-Type"] == "image/jpeg"  # prepare writes jpg frames
    assert body == sorted((run_dir / "color").iterdir())[3].read_bytes()


def test_depth_frame_is_a_png_of_the_frame_size(server):
    status, headers, body = request(server, "GET", "/depth/2")
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR).shape == (H, W, 3)


def test_warming_a_frame_reads_its_flow_files_in_the_background(run_dir):
    with running_server(run_dir) as server:
        data = server.session.data
        status, _, body = post(server, "/api/warm", {"frame": 2})
        assert status == 202 and json.loads(body)["frame"] == 2
        server.session.warm(4).join(timeout=30)  # another frame, waited for
        # frame 4's masks to the 5 other frames, flows there and back: 5 * (2 masks + 2 flows) arrays
        one_pair = H * W * (2 + 2 * 2 * 4)
        assert data.cached_bytes >= 5 * one_pair
        assert post(server, "/api/warm", {"frame": T})[0] == 400


def test_clicked_points_get_the_tracks_of_omnimotion_track(server, run_dir, tmp_path):
    status, _, body = post(server, "/api/track", {"queries": QUERIES})
    answer = json.loads(body)
    assert status == 200
    expected = load_tracks(tracked_by_cli(run_dir, tmp_path, QUERIES))
    np.testing.assert_allclose(answer["tracks"], expected.tracks, atol=0.5 * 10 ** -WIRE_DECIMALS + 1e-5)
    np.testing.assert_array_equal(np.asarray(answer["occluded"], bool), expected.occluded)
    np.testing.assert_array_equal(answer["queries"], QUERIES)


def test_region_streams_progress_then_the_tracks_of_a_grid_in_the_box(server):
    status, headers, body = post(server, "/api/region", {"frame": 2, "box": [30, 4, 6, 20], "side": 5})
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert status == 200 and headers["Content-Type"] == "application/x-ndjson"
    progress, result = lines[:-1], lines[-1]
    queries = np.asarray(result["queries"])
    # a 25 x 17 px box, at most 5 points across -> every 5th pixel of grid_queries' layout (2, 7, 12, ...):
    # x 7..27 and y 7..17, 5 columns x 3 rows
    assert len(queries) == 15 and (queries[:, 0] == 2).all()
    assert queries[:, 1].min() >= 6 and queries[:, 1].max() <= 30 and queries[:, 2].min() >= 4 and queries[:, 2].max() <= 20
    assert progress[0] == {"done": 0, "total": 15} and progress[-1] == {"done": 15, "total": 15}
    assert [p["done"] for p in progress] == sorted(p["done"] for p in progress)
    _, _, again = post(server, "/api/track", {"queries": result["queries"]})
    assert json.loads(again)["tracks"] == result["tracks"]


@pytest.mark.parametrize("fmt", ["csv", "json", "npz"])
def test_exports_are_the_files_omnimotion_track_writes(server, run_dir, tmp_path, fmt):
    status, headers, body = post(server, "/api/export", {"format": fmt, "queries": QUERIES})
    assert status == 200 and f'filename="run_tracks.{fmt}"' in headers["Content-Disposition"]
    exported = tmp_path / f"page.{fmt}"
    exported.write_bytes(body)
    cli = tracked_by_cli(run_dir, tmp_path, QUERIES, suffix=f".{fmt}")
    if fmt == "csv":
        assert body.splitlines()[0] == cli.read_bytes().splitlines()[0]
        for page, expected in zip(load_csv(exported), load_csv(cli)):
            np.testing.assert_allclose(page, expected, atol=1e-5)
    else:
        page, expected = load_tracks(exported), load_tracks(cli)
        np.testing.assert_allclose(page.tracks, expected.tracks, atol=1e-5)
        np.testing.assert_array_equal(page.occluded, expected.occluded)
        np.testing.assert_array_equal(page.queries, expected.queries)
        assert (page.image_hw, page.fps) == (expected.image_hw, expected.fps)


def test_exports_are_in_the_source_videos_pixels_when_recorded(run_dir, tmp_path):
    source = run_dir / "source.json"
    recorded = source.read_text()
    info = json.loads(recorded)
    source.write_text(json.dumps({**info, "native_hw": [2 * H, 2 * W]}))
    try:
        with running_server(run_dir) as server:
            _, _, body = post(server, "/api/export", {"format": "npz", "queries": QUERIES})
        cli_queries = [[t, 2 * x + 0.5, 2 * y + 0.5] for t, x, y in QUERIES]  # pixel centres at 2x
        cli = tracked_by_cli(run_dir, tmp_path, cli_queries, extra=("--video_size", "source"))
    finally:
        source.write_text(recorded)
    exported = tmp_path / "page.npz"
    exported.write_bytes(body)
    page, expected = load_tracks(exported), load_tracks(cli)
    assert page.image_hw == expected.image_hw == (2 * H, 2 * W)
    np.testing.assert_allclose(page.tracks, expected.tracks, atol=1e-4)


def test_video_export_has_every_frame(server, tmp_path):
    payload = {"queries": QUERIES, "colors": ["#ff0000", "#00ff00", "#0000ff"], "trail_length": 3,
               "show_occluded": False, "background": "depth"}
    status, headers, body = post(server, "/api/video", payload)
    assert status == 200 and headers["Content-Type"] == "video/mp4"
    path = tmp_path / "shown.mp4"
    path.write_bytes(body)
    capture = cv2.VideoCapture(str(path))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == T
    assert (capture.get(cv2.CAP_PROP_FRAME_HEIGHT), capture.get(cv2.CAP_PROP_FRAME_WIDTH)) == (H, W)
    capture.release()


@pytest.mark.parametrize("path", [
    "/../pyproject.toml", "/static/../../pyproject.toml", "/static/..%2f..%2fpyproject.toml",
    "/static/%2e%2e/%2e%2e/pyproject.toml", "/%2e%2e/%2e%2e/etc/passwd", "//etc/passwd", "/etc/passwd",
    "/static//etc/passwd", "/static/%2Fetc%2Fpasswd", "/frames/../source.json", "/frames/..%2fsource.json",
    "/frames/-1", "/frames/6", "/frames/00000.png", "/color/00000.png", "/source.json",
    "/static/..\\..\\pyproject.toml", "/static/viewer.js/../../source.json",
])
def test_nothing_outside_the_assets_and_frames_is_served(server, path):
    status, _, body = request(server, "GET", path)
    assert status == 404
    assert b"native_hw" not in body and b"root:" not in body and b"[project]" not in body


BAD_BODIES = [
    (b"{not json", "not valid JSON"),
    (b"[1, 2, 3]", "must be a JSON object"),
    (b"{}", "lacks 'queries'"),
    (b'{"queries": []}', "non-empty list"),
    (b'{"queries": [[0, 1]]}', "[t, x, y]"),
    (b'{"queries": [[0, "a", 2]]}', "[t, x, y]"),
    (b'{"queries": [[0, NaN, 2]]}', "[t, x, y]"),
    (b'{"queries": [[0, 100, 2]]}', "outside the 40x32 frame"),
    (b'{"queries": [[9, 1, 2]]}', "frames 0..5"),
    (b'{"queries": [[0.5, 1, 2]]}', "frame 0.5"),
    (b"\xff\xfe", "not valid JSON"),
]


@pytest.mark.parametrize("body,message", BAD_BODIES)
def test_malformed_track_bodies_get_a_clear_400(server, body, message):
    status, _, answer = request(server, "POST", "/api/track", body, {"Content-Type": "application/json"})
    assert status == 400 and message in json.loads(answer)["error"]


@pytest.mark.parametrize("path,payload,message", [
    ("/api/region", {"frame": 0, "box": [1, 2, 3]}, "[x0, y0, x1, y1]"),
    ("/api/region", {"frame": 7, "box": [1, 2, 3, 4]}, "'frame' must be from 0 to 5"),
    ("/api/region", {"frame": 0, "box": [1, 2, 3, 4], "side": 0}, "'side' must be from 1"),
    ("/api/export", {"format": "xlsx", "queries": QUERIES}, "'format' must be one of csv, json, npz"),
    ("/api/video", {"queries": QUERIES, "colors": ["red"] * 3}, "#rrggbb"),
    ("/api/video", {"queries": QUERIES, "colors": ["#ff0000"]}, "one colour per query"),
    ("/api/video", {"queries": QUERIES, "colors": ["#ff0000"] * 3, "trail_length": -1}, "'trail_length'"),
    ("/api/video", {"queries": QUERIES, "colors": ["#ff0000"] * 3, "background": "x"}, "'background'"),
])
def test_malformed_api_bodies_get_a_clear_400(server, path, payload, message):
    status, _, answer = post(server, path, payload)
    assert status == 400 and message in json.loads(answer)["error"]


def test_bodies_must_be_declared_json_of_bounded_size(server):
    plain = request(server, "POST", "/api/track", b'{"queries": [[0, 1, 2]]}', {"Content-Type": "text/plain"})
    assert plain[0] == 400 and b"Content-Type: application/json" in plain[2]
    huge = request(server, "POST", "/api/track", b"{}", {"Content-Type": "application/json",
                                                          "Content-Length": str(10**9)})
    assert huge[0] == 400 and b"at most" in huge[2]
    assert request(server, "POST", "/api/nothing", b"{}", {"Content-Type": "application/json"})[0] == 404
    assert request(server, "PUT", "/api/track", b"{}")[0] == 501


def test_foreign_host_header_is_refused_on_loopback(server):
    status, _, _ = request(server, "GET", "/api/info", headers={"Host": "attacker.example:80"})
    assert status == 403
    status, _, body = request(server, "GET", "http://attacker.example/../source.json")  # absolute URI
    assert status == 403 and b"native_hw" not in body


def test_a_failing_request_does_not_stop_the_server(server, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("model exploded")

    with monkeypatch.context() as patch:
        patch.setattr(server.session, "track", broken)
        with caplog.at_level(logging.ERROR, logger="omnimotion.view.server"):
            status, _, body = post(server, "/api/track", {"queries": [[0, 1, 2]]})
        assert status == 500 and "model exploded" in json.loads(body)["error"]
        lines = post(server, "/api/region", {"frame": 0, "box": [0, 0, 10, 10], "side": 2})[2].splitlines()
        assert "model exploded" in json.loads(lines[-1])["error"]
    # a request line that is not HTTP, and a client that hangs up mid-request; then normal service
    with socket.create_connection(server.server_address[:2], timeout=10) as raw:
        raw.sendall(b"\x00\x01 not http at all\r\n\r\n")
        assert b"400" in raw.recv(4096)
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.putrequest("POST", "/api/track")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", "100")
    connection.endheaders(b'{"queries"')
    connection.close()
    status, _, body = post(server, "/api/track", {"queries": [[0, 1, 2]]})
    assert status == 200 and len(json.loads(body)["tracks"][0]) == T


def test_works_on_the_output_of_omnimotion_run(tmp_path):
    video = tmp_path / "clip.mp4"
    write_video(make_clip(num_frames=5, height=32, width=48, num_sprites=1, seed=1), video, fps=7)
    out = tmp_path / "run"
    tiny = ["--set", "num_iters=4", "--set", "i_weight=2", "--set", "num_pts=16", "--set", "num_pairs=2"]
    assert main(["run", str(video), "--out", str(out), "--grid_step", "16", *tiny]) == 0
    with running_server(out, newest_checkpoint(out)) as server:
        info = json.loads(request(server, "GET", "/api/info")[2])
        answer = json.loads(post(server, "/api/track", {"queries": [[2, 20, 10]]})[2])
    assert (info["num_frames"], info["image_hw"], info["fps"], info["has_depth"]) == (5, [32, 48], 7.0, True)
    assert info["checkpoint"] == "model_000004.pth"  # the surface preset's model
    expected = load_tracks(tracked_by_cli(out, tmp_path, [[2, 20, 10]]))
    np.testing.assert_allclose(answer["tracks"], expected.tracks, atol=0.5 * 10 ** -WIRE_DECIMALS + 1e-5)
    np.testing.assert_array_equal(np.asarray(answer["occluded"], bool), expected.occluded)


def test_cli_serves_on_loopback_prints_the_address_and_stops_on_ctrl_c(run_dir, monkeypatch, capsys, caplog):
    from omnimotion.view.server import ViewerServer

    def interrupt(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ViewerServer, "serve_forever", interrupt)
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    assert main(["view", str(run_dir), "--no_browser", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"http://127\.0\.0\.1:\d+/", printed) and not opened
    with caplog.at_level(logging.WARNING, logger="omnimotion.cli.view"):
        assert main(["view", str(run_dir), "--host", "0.0.0.0", "--device", "cpu"]) == 0
    assert "anyone who can reach this machine" in caplog.text and opened


def test_cli_says_when_the_port_is_taken(run_dir, server, capsys):
    taken = str(server.server_address[1])
    assert main(["view", str(run_dir), "--port", taken, "--no_browser", "--device", "cpu"]) == 1
    assert f"cannot serve on 127.0.0.1:{taken}" in capsys.readouterr().err


def test_cli_refuses_a_checkpoint_of_another_run(run_dir, tmp_path, capsys):
    other = make_run(tmp_path, frames=4, height=H, width=W)
    assert main(["view", str(run_dir), "--checkpoint", str(checkpoint_of(other)), "--no_browser"]) == 1
    assert "was trained on 4 frames" in capsys.readouterr().err
