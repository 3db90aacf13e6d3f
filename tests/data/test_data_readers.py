"""Dataset readers, each on small files written here in the benchmark's own layout."""

import numpy as np
import pytest

from xnet_edge.data import (KITTI_GARG_CROP, NYU_EIGEN_CROP, DepthFolder, KITTIEigen, MiddleburyDataset,
                            NYUDepthV2Folder, NYUDepthV2Mat, middlebury_motorcycle, open_dataset, write_depth_png,
                            write_pfm)
from xnet_edge.data.formats import write_rgb
from xnet_edge.data.middlebury import MOTORCYCLE_BASELINE_MM, MOTORCYCLE_DOFFS, MOTORCYCLE_FOCAL_PX
from xnet_edge.errors import UsageError

H, W = 48, 64


def _sample(seed, h=H, w=W, max_m=9.0):
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    depth = rng.uniform(0.5, max_m, (h, w)).astype(np.float32)
    return rgb, depth


def test_standard_crop_bounds():
    assert NYU_EIGEN_CROP.bounds(480, 640) == (45, 471, 41, 601)
    assert KITTI_GARG_CROP.bounds(375, 1242) == (153, 371, 44, 1197)
    mask = NYU_EIGEN_CROP.mask(480, 640)
    assert mask.sum() == (471 - 45) * (601 - 41) and mask[45, 41] and not mask[44, 41] and not mask[45, 601]


def _write_nyu_mat(path, samples):
    """The labeled .mat as h5py sees MATLAB v7.3: images (N, 3, W, H), depths (N, W, H)."""
    import h5py

    with h5py.File(path, "w") as f:
        f["images"] = np.stack([rgb.transpose(2, 1, 0) for rgb, _ in samples])
        f["depths"] = np.stack([depth.T for _, depth in samples])


def test_nyu_mat_layout_and_official_split(tmp_path):
    from scipy.io import savemat

    samples = [_sample(i) for i in range(4)]
    _write_nyu_mat(tmp_path / "nyu_depth_v2_labeled.mat", samples)
    path = tmp_path / "nyu_depth_v2_labeled.mat"
    with pytest.raises(UsageError, match="splits.mat"):
        NYUDepthV2Mat(path)
    everything = NYUDepthV2Mat(path, split="all")
    assert len(everything) == 4
    for (rgb, depth), (ref_rgb, ref_depth) in zip(everything, samples):
        np.testing.assert_array_equal(rgb, ref_rgb)
        np.testing.assert_array_equal(depth, ref_depth)
    # official splits are 1-based column vectors
    savemat(tmp_path / "splits.mat", {"testNdxs": np.array([[2], [4]]), "trainNdxs": np.array([[1], [3]])})
    test = open_dataset(f"nyu:{path}")
    assert len(test) == 2 and test.max_depth == 10.0 and test.crop is NYU_EIGEN_CROP
    np.testing.assert_array_equal(test[0][0], samples[1][0])
    np.testing.assert_array_equal(test[1][1], samples[3][1])
    train = open_dataset(f"nyu:{path}?split=train")
    np.testing.assert_array_equal(train[1][1], samples[2][1])
    everything.close()


def test_nyu_png_layout(tmp_path):
    scene = tmp_path / "official_splits" / "test" / "bathroom"
    scene.mkdir(parents=True)
    rgb, depth = _sample(5)
    write_rgb(scene / "rgb_00045.png", rgb)
    write_depth_png(scene / "sync_depth_00045.png", depth, scale=1000)
    (scene / "sync_depth_00046.png").write_bytes(b"")  # no rgb partner: ignored
    ds = open_dataset(f"nyu:{tmp_path}")
    assert isinstance(ds, NYUDepthV2Folder) and len(ds) == 1
    got_rgb, got_depth = ds[0]
    np.testing.assert_array_equal(got_rgb, rgb)
    np.testing.assert_allclose(got_depth, depth, atol=5e-4 + 1e-6)  # millimetre quantisation


def _write_kitti(tmp_path, frames):
    drive = "2011_09_26_drive_0002_sync"
    raw = tmp_path / "raw" / drive[:10] / drive / "image_02" / "data"
    gt = tmp_path / "gt" / drive / "proj_depth" / "groundtruth" / "image_02"
    raw.mkdir(parents=True)
    gt.mkdir(parents=True)
    lines = []
    for i, (rgb, depth) in enumerate(frames):
        name = f"{i:010d}.png"
        write_rgb(raw / name, rgb)
        write_depth_png(gt / name, depth, scale=256)
        lines.append(f"{drive[:10]}/{drive}/image_02/data/{name} {drive}/proj_depth/groundtruth/image_02/{name} 721.5")
    lines.insert(1, f"{drive[:10]}/{drive}/image_02/data/0000000099.png None 721.5")
    (tmp_path / "eigen_test.txt").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_kitti_list_and_folder(tmp_path):
    frames = [_sample(10 + i, max_m=79.0) for i in range(2)]
    for rgb, depth in frames:
        depth[::3] = 0  # sparse lidar: 0 = no measurement
    root = _write_kitti(tmp_path, frames)
    ds = open_dataset(f"kitti:{root / 'eigen_test.txt'}?root={root / 'raw'}&gt_root={root / 'gt'}")
    assert len(ds) == 2 and ds.max_depth == 80.0 and ds.crop is KITTI_GARG_CROP
    rgb, depth = ds[1]
    np.testing.assert_array_equal(rgb, frames[1][0])
    np.testing.assert_allclose(depth, frames[1][1], atol=0.5 / 256 + 1e-6)
    assert (depth[::3] == 0).all()
    scanned = KITTIEigen(root / "gt", root=root / "raw")
    assert len(scanned) == 2 and scanned.pairs == ds.pairs
    with pytest.raises(UsageError, match="not found"):
        open_dataset(f"kitti:{root / 'eigen_test.txt'}")  # rgb paths relative to the list's folder


def test_generic_folder_layouts(tmp_path):
    _, depth = _sample(20)
    ramp = np.linspace(0, 255, W, dtype=np.float32)
    rgb = np.stack([np.broadcast_to(ramp, (H, W)), np.broadcast_to(ramp[::-1], (H, W)),
                    np.full((H, W), 90.0)], axis=-1).astype(np.uint8)  # smooth, so JPEG keeps it
    (tmp_path / "a" / "rgb").mkdir(parents=True)
    (tmp_path / "a" / "depth").mkdir()
    write_rgb(tmp_path / "a" / "rgb" / "f001.jpg", rgb)
    write_depth_png(tmp_path / "a" / "depth" / "f001.png", depth)
    ds = open_dataset(f"folder:{tmp_path / 'a'}")
    assert len(ds) == 1 and ds.max_depth is None and ds.crop is None
    np.testing.assert_allclose(ds[0][1], depth, atol=5e-4 + 1e-6)
    assert np.abs(ds[0][0].astype(int) - rgb).mean() < 3  # JPEG: lossy, but the same image
    flat = tmp_path / "b"
    flat.mkdir()
    write_rgb(flat / "x_rgb.png", rgb)
    np.save(flat / "x_depth.npy", depth)
    write_rgb(flat / "y.png", rgb)
    write_depth_png(flat / "y_depth.png", depth * 10, scale=100)  # centimetres via ?scale=100
    ds = DepthFolder(flat, scale=100)
    assert len(ds) == 2
    np.testing.assert_array_equal(ds[0][1], depth)
    np.testing.assert_allclose(ds[1][1], depth * 10, atol=5e-3 + 1e-5)
    with pytest.raises(UsageError, match="no RGB/depth pairs"):
        open_dataset(f"folder:{tmp_path / 'a' / 'rgb'}")


def test_middlebury_scene_folders(tmp_path):
    calib = "cam0=[1000.0 0 32; 0 1000.0 24; 0 0 1]\ncam1=[1000.0 0 40; 0 1000.0 24; 0 0 1]\n" \
            "doffs=8.0\nbaseline=200.0\nwidth=64\nheight=48\nndisp=64\n"
    rgb, _ = _sample(30)
    disparity = np.full((H, W), 32.0, np.float32)
    disparity[0, 0] = np.inf
    for name in ("scene_a", "scene_b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "calib.txt").write_text(calib)
        write_rgb(tmp_path / name / "im0.png", rgb)
        write_pfm(tmp_path / name / ("disp0.pfm" if name == "scene_a" else "disp0GT.pfm"), disparity)
    ds = open_dataset(f"middlebury:{tmp_path}")
    assert isinstance(ds, MiddleburyDataset) and len(ds) == 2
    got_rgb, depth = ds[1]
    np.testing.assert_array_equal(got_rgb, rgb)
    assert depth[0, 0] == 0  # unknown disparity
    assert depth[5, 5] == pytest.approx(200.0 * 1000.0 / (32.0 + 8.0) / 1000.0)  # 5 m by hand
    assert len(open_dataset(f"middlebury:{tmp_path / 'scene_a'}")) == 1


def test_motorcycle_from_skimage():
    from skimage.data import stereo_motorcycle

    rgb, depth = middlebury_motorcycle()
    _, _, disp = stereo_motorcycle()
    assert rgb.shape == (500, 741, 3) and rgb.dtype == np.uint8 and depth.dtype == np.float32
    np.testing.assert_array_equal(depth == 0, ~np.isfinite(disp))
    r, c = np.argwhere(np.isfinite(disp))[1000]
    expected_m = 193.001 * 994.978 / (float(disp[r, c]) + 31.086) / 1000.0
    assert depth[r, c] == pytest.approx(expected_m, rel=1e-5)
    assert (MOTORCYCLE_BASELINE_MM, MOTORCYCLE_FOCAL_PX, MOTORCYCLE_DOFFS) == (193.001, 994.978, 31.086)
    assert 1.5 < depth[depth > 0].min() and depth.max() < 6.0
    ds = open_dataset("motorcycle")
    assert len(ds) == 1 and ds.max_depth is None
    np.testing.assert_array_equal(ds[0][1], depth)


def test_open_dataset_options_and_errors(tmp_path):
    ds = open_dataset("synthetic:2?size=32x48&max_depth=5&crop=eigen&min_depth=0.5")
    assert ds.max_depth == 5.0 and ds.min_depth == 0.5 and ds.crop is NYU_EIGEN_CROP
    assert open_dataset("motorcycle:?max_depth=none").max_depth is None
    for spec, message in [("lidar:/x", "unknown dataset kind"), ("synthetic:2?colour=red", "unknown option"),
                          ("synthetic:0", "positive scene count"), ("synthetic:many", "must be a number"),
                          ("nyu:", "needs a path"), (f"nyu:{tmp_path / 'missing.mat'}", "not found"),
                          ("synthetic:2?crop=square", "unknown crop"), ("synthetic:2?a", "bad dataset options")]:
        with pytest.raises(UsageError, match=message):
            open_dataset(spec)
