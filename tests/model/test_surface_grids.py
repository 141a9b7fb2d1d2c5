"""Feature grids: bilinear lookup conventions (align_corners=True, border) and time interpolation."""

import torch
import torch.nn.functional as F

from omnimotion.model.surface.grids import MultiResPlanes, MultiResTimeEmbedding, bilinear_corners


def test_bilinear_corners_match_grid_sample_with_border_padding():
    gen = torch.Generator().manual_seed(0)
    table = torch.randn(1, 1, 5, 7, generator=gen)
    coords = torch.rand(300, 2, generator=gen) * 3 - 1.5  # a third of them outside [-1, 1]
    index, weight = bilinear_corners(coords, 5, 7)
    fast = (table.reshape(-1)[index] * weight).sum(1)
    reference = F.grid_sample(table, coords.view(1, -1, 1, 2), align_corners=True,
                              padding_mode="border").reshape(-1)
    torch.testing.assert_close(fast, reference, atol=1e-5, rtol=0)


def test_planes_hit_cell_values_at_corners_and_average_at_the_centre():
    planes = MultiResPlanes([2], channels=1)
    with torch.no_grad():
        planes.planes[0].copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2))
    # (gx, gy): (-1,-1) is the top-left cell centre (1), (1,-1) top-right (2), (-1,1) bottom-left (3);
    # the centre averages all four (2.5); beyond the border the edge value repeats.
    coords = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [0.0, 0.0], [5.0, 5.0]])
    torch.testing.assert_close(planes(coords)[:, 0], torch.tensor([1.0, 2.0, 3.0, 2.5, 4.0]))


def test_planes_sum_their_levels():
    planes = MultiResPlanes([2, 4], channels=3)
    coords = torch.rand(10, 2) * 2 - 1
    single = [F.grid_sample(p, coords.view(1, -1, 1, 2), align_corners=True, padding_mode="border")
              .reshape(3, -1).t() for p in planes.planes]
    torch.testing.assert_close(planes(coords), single[0] + single[1])


def test_time_embedding_interpolates_linearly_between_cells():
    emb = MultiResTimeEmbedding(num_frames=5, resolutions=[2, 5], channels=1)
    with torch.no_grad():
        emb.tracks[0].copy_(torch.tensor([[0.0], [4.0]]))       # cells at frames 0 and 4
        emb.tracks[1].copy_(torch.tensor([[0.0], [10.0], [20.0], [30.0], [40.0]]))  # one per frame
    # frame t: coarse level 4 * t / 4 = t, fine level 10 t  ->  11 t
    got = emb(torch.tensor([0, 1, 2, 3, 4]))[:, 0]
    torch.testing.assert_close(got, torch.tensor([0.0, 11.0, 22.0, 33.0, 44.0]))


def test_time_embedding_handles_a_single_frame_and_clamps_resolution():
    emb = MultiResTimeEmbedding(num_frames=1, resolutions=[4], channels=2)
    assert emb.resolutions == (1,)
    torch.testing.assert_close(emb(torch.tensor([0, 0])), emb.tracks[0].expand(2, -1))
