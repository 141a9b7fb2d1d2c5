import json

import cv2
import numpy as np
import pytest

from omnimotion.track.queries import (QueryError, dense_queries, grid_queries, load_mask, mask_queries,
                                      parse_point, points_from_file, points_from_strings, validate_queries)

HW = (48, 64)  # H, W


def test_parse_point_x_y_at_frame():
    assert parse_point("120,80@0") == (0, 120.0, 80.0)
    assert parse_point(" 12.5 , 3 @ 7") == (7, 12.5, 3.0)
    assert parse_point("4,5", default_frame=3) == (3, 4.0, 5.0)


@pytest.mark.parametrize("text", ["120;80@0", "120,80@", "a,b@1", "120,80@1.5", "", "1,2,3"])
def test_malformed_point_names_the_text_and_the_format(text):
    with pytest.raises(QueryError, match=r"cannot read the point .*X,Y@FRAME"):
        parse_point(text)


def test_points_from_strings_is_t_x_y():
    queries = points_from_strings(["10,20@0", "30,40@5"], HW, num_frames=6)
    assert queries.dtype == np.float32
    np.testing.assert_array_equal(queries, [[0, 10, 20], [5, 30, 40]])


def test_out_of_range_points_and_frames_are_rejected():
    with pytest.raises(QueryError, match=r"query 1 \(64,0@0\) is outside the 64x48 frame; x must be in \[-0\.5, 63\.5\]"):
        points_from_strings(["0,0@0", "64,0@0"], HW, num_frames=6)
    with pytest.raises(QueryError, match=r"asks for frame 6; the video has frames 0\.\.5"):
        points_from_strings(["1,1@6"], HW, num_frames=6)
    with pytest.raises(QueryError, match="frame -1"):
        points_from_strings(["1,1@-1"], HW, num_frames=6)
    with pytest.raises(QueryError, match="no query points"):
        validate_queries(np.zeros((0, 3)), HW, 6)
    with pytest.raises(QueryError, match=r"\[N, 3\]"):
        validate_queries(np.zeros((4, 2)), HW, 6)
    # the extent reaches the pixel edges, half a pixel beyond the centres 0 and W-1; a hair further is outside
    assert len(validate_queries(np.array([[5, 63.0, 47.0], [0, 0.0, 0.0]]), HW, 6)) == 2
    for outside in ([0, -0.51, 3.0], [0, 63.51, 3.0], [0, 3.0, -0.51], [0, 3.0, 47.51]):
        with pytest.raises(QueryError, match="outside the 64x48 frame"):
            validate_queries(np.array([outside]), HW, 6)


def test_queries_on_the_frame_border_are_valid():
    # TAP-Vid raster x = 0 and x = 64 on a 64 px wide frame are our -0.5 and 63.5: the left and right edges
    corners = np.array([[0, -0.5, -0.5], [1, 63.5, -0.5], [2, -0.5, 47.5], [3, 63.5, 47.5], [4, -0.5, 20.25]])
    np.testing.assert_array_equal(validate_queries(corners, HW, 6), corners)
    queries = points_from_strings(["-0.5,-0.5@0", "63.5,47.5@5"], HW, num_frames=6)
    np.testing.assert_array_equal(queries, [[0, -0.5, -0.5], [5, 63.5, 47.5]])


def test_points_from_csv_and_json_files(tmp_path):
    csv_path = tmp_path / "q.csv"
    csv_path.write_text("x,y,frame\n10,20,0\n30.5,40,3\n")
    np.testing.assert_array_equal(points_from_file(csv_path, HW, 4), [[0, 10, 20], [3, 30.5, 40]])
    no_frame = tmp_path / "noframe.csv"
    no_frame.write_text("x,y\n1,2\n")
    np.testing.assert_array_equal(points_from_file(no_frame, HW, 4, default_frame=2), [[2, 1, 2]])
    json_path = tmp_path / "q.json"
    json_path.write_text(json.dumps(["10,20@1", {"x": 3, "y": 4, "t": 2}, [3, 5, 6]]))
    np.testing.assert_array_equal(points_from_file(json_path, HW, 4), [[1, 10, 20], [2, 3, 4], [3, 5, 6]])


@pytest.mark.parametrize("name, text, message", [
    ("a.csv", "10,20,0\n", "must name the columns"),
    ("b.csv", "x,y,t\n10,abc,0\n", "line 2"),
    ("c.csv", "x,y,t\n", "holds no query points"),
    ("d.json", "{not json", "not valid JSON"),
    ("e.json", json.dumps([{"x": 1}]), r"query 0 .* is not"),
    ("f.txt", "1,2@0", "must be .csv or .json"),
])
def test_malformed_query_files(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(QueryError, match=message):
        points_from_file(path, HW, 4)


def test_grid_is_regular_and_starts_at_half_step():
    queries = grid_queries(HW, 16, frame=2, num_frames=3)
    # x in 8, 24, 40, 56 and y in 8, 24, 40: 12 points, raster order
    assert queries.shape == (12, 3)
    assert set(queries[:, 1]) == {8, 24, 40, 56} and set(queries[:, 2]) == {8, 24, 40}
    assert (queries[:, 0] == 2).all()
    np.testing.assert_array_equal(queries[:2, 1:], [[8, 8], [24, 8]])
    with pytest.raises(QueryError, match="step"):
        grid_queries(HW, 0)


def test_grid_inside_a_mask_and_mask_queries():
    mask = np.zeros(HW, bool)
    mask[10:20, 30:34] = True  # 10 rows x 4 columns
    inside = grid_queries(HW, 2, mask=mask)
    assert len(inside) == 5 * 2 and mask[inside[:, 2].astype(int), inside[:, 1].astype(int)].all()
    region = mask_queries(mask, frame=1, num_frames=2)
    assert len(region) == 40 and (region[:, 0] == 1).all()
    with pytest.raises(QueryError, match="empty"):
        mask_queries(np.zeros(HW, bool))
    with pytest.raises(QueryError, match="no grid point"):
        grid_queries(HW, 16, mask=np.pad(np.ones((1, 1), bool), ((0, 47), (0, 63))))
    with pytest.raises(QueryError, match="frame 3"):
        mask_queries(mask, frame=3, num_frames=2)


def test_dense_queries_cover_every_pixel_once():
    queries = dense_queries(HW, frame=0)
    assert len(queries) == 48 * 64
    assert len({(x, y) for _, x, y in queries}) == 48 * 64


def test_load_mask_grey_rgba_resized_and_errors(tmp_path):
    grey = np.zeros(HW, np.uint8)
    grey[5:10, 5:15] = 255
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    assert load_mask(tmp_path / "grey.png", HW).sum() == 50
    rgba = np.zeros((*HW, 4), np.uint8)
    rgba[..., :3] = 200          # colour everywhere; only the alpha decides
    rgba[0:4, 0:4, 3] = 255
    rgba[4:8, 0:4, 3] = 128      # half-transparent edge: not part of the region
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    assert load_mask(tmp_path / "rgba.png", HW).sum() == 16
    # a mask drawn on the 2x video is resized to the tracked frames (nearest neighbour)
    big = cv2.resize(grey, (128, 96), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(tmp_path / "big.png"), big)
    np.testing.assert_array_equal(load_mask(tmp_path / "big.png", HW), grey > 0)
    cv2.imwrite(str(tmp_path / "empty.png"), np.zeros(HW, np.uint8))
    with pytest.raises(QueryError, match="empty"):
        load_mask(tmp_path / "empty.png", HW)
    cv2.imwrite(str(tmp_path / "square.png"), np.ones((48, 48), np.uint8))
    with pytest.raises(QueryError, match="48x48 but the video is 64x48"):
        load_mask(tmp_path / "square.png", HW)
    with pytest.raises(QueryError, match="cannot read"):
        load_mask(tmp_path / "missing.png", HW)
