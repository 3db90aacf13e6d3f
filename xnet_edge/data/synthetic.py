"""Procedural RGB-D scenes with exact metric depth (numpy, plus OpenCV to read photo textures).

Each scene is a furnished room, a close view of a cluttered table, or an
outdoor street-like scene (see ``_layouts``), textured with procedural patterns
and real photographs (``_photos``), lit by a lamp or the sun that casts
shadows plus fill and ambient light, and seen by a pinhole camera with random
intrinsics and pose; the sensor adds exposure and white-balance errors,
vignetting, blur and noise. Pixels are ray cast with vectorised numpy, so depth
is exact: it is the z-depth along the optical axis (what NYU, KITTI and
Middlebury store), within ``[MIN_DEPTH, MAX_DEPTH]`` metres; sky and anything
farther than ``MAX_DEPTH`` has depth 0 (no measurement), as in real RGB-D data.

Scene ``i`` of seed ``s`` depends only on ``(s, i)``: ``generate(10, seed=3)``
and ``render_scene(7, seed=3)`` agree, and output size does not change the
scene's content (only its sampling).

Example::

    from xnet_edge.data.synthetic import generate
    for rgb, depth in generate(100, size=(256, 320), seed=0):
        ...  # rgb: uint8 HxWx3, depth: float32 HxW metres
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from ._layouts import Layout, sample_layout
from ._raycast import CLASS_NAMES, SKY
from .base import DepthDataset

__all__ = ["Scene", "SyntheticDataset", "generate", "generate_scenes", "generate_with_intrinsics",
           "render_scene", "sample_layout", "CLASS_NAMES", "SKY", "MIN_DEPTH", "MAX_DEPTH", "DEFAULT_SIZE",
           "HELD_OUT_SEED", "GENERATOR_FILES"]

#: Depth range every generated pixel lies in (metres).
MIN_DEPTH, MAX_DEPTH = 0.3, 10.0
DEFAULT_SIZE = (256, 320)
#: Seed of the held-out evaluation scenes (``synthetic:N``); train with other seeds.
HELD_OUT_SEED = 1_000_003
#: source files whose content defines the generated scenes (a training cache records their hash)
GENERATOR_FILES = ("synthetic.py", "_layouts.py", "_raycast.py", "_textures.py", "_photos.py")

@dataclass(frozen=True)
class Scene:
    """One rendered scene.

    Attributes:
        rgb: HxWx3 uint8 image.
        depth: HxW float32 z-depth in metres; 0 where there is none (sky, beyond ``MAX_DEPTH``).
        labels: HxW uint8 semantic class per pixel (see ``CLASS_NAMES``); ``SKY`` (255, no class) for
            the sky of outdoor scenes.
        intrinsics: 3x3 float64 pinhole matrix K (pixel centres at integer + 0.5 convention:
            pixel (row i, col j) looks along K^-1 [j + 0.5, i + 0.5, 1]).
        cam_to_world: 4x4 float64 rigid transform from the OpenCV camera frame
            (x right, y down, z forward) to the world frame (y up, floor at y = 0).
        index, seed: what identifies the scene.
        kind: "room", "tabletop", "bin" or "outdoor".
    """

    rgb: np.ndarray
    depth: np.ndarray
    labels: np.ndarray
    intrinsics: np.ndarray
    cam_to_world: np.ndarray
    index: int
    seed: int
    kind: str = "room"


# ----------------------------------------------------------------------------- rendering


def intrinsics_for(layout: Layout, size: tuple[int, int]) -> np.ndarray:
    """The 3x3 pinhole matrix of ``layout``'s camera at output ``size`` (H, W)."""
    h, w = size
    f = (w / 2.0) / math.tan(layout.hfov / 2.0)
    jx, jy = layout.principal_jitter
    return np.array([[f, 0.0, w / 2.0 + jx * w], [0.0, f, h / 2.0 + jy * h], [0.0, 0.0, 1.0]])


def _camera_rays(k: np.ndarray, rotation: np.ndarray, size):
    """World ray directions (dx, dy, dz), float32 HxW each, with camera-frame z = 1."""
    h, w = size
    fx, fy, cx, cy = (float(v) for v in (k[0, 0], k[1, 1], k[0, 2], k[1, 2]))
    a = ((np.arange(w, dtype=np.float32) + 0.5 - cx) / fx)[None, :]
    b = ((np.arange(h, dtype=np.float32) + 0.5 - cy) / fy)[:, None]
    r = rotation.tolist()  # Python floats keep the float32 arrays float32
    return tuple(r[i][0] * a + r[i][1] * b + r[i][2] for i in range(3))


def _screen_rect(obj, k, rotation, position, size):
    """Pixel rectangle (row slice, col slice) that holds the object's projection, or None."""
    h, w = size
    center, radius = obj.bounding_sphere()
    x, y, z = rotation.T @ (np.asarray(center) - position)
    if z - radius < 0.05:
        return (slice(0, h), slice(0, w)) if z + radius > 0.05 else None
    us = [k[0, 0] * (x + sx * radius) / (z + sz * radius) + k[0, 2] for sx in (-1, 1) for sz in (-1, 1)]
    vs = [k[1, 1] * (y + sy * radius) / (z + sz * radius) + k[1, 2] for sy in (-1, 1) for sz in (-1, 1)]
    c0, c1 = max(0, int(math.floor(min(us) - 1.5))), min(w, int(math.ceil(max(us) + 0.5)))
    r0, r1 = max(0, int(math.floor(min(vs) - 1.5))), min(h, int(math.ceil(max(vs) + 0.5)))
    if c0 >= c1 or r0 >= r1:
        return None
    return slice(r0, r1), slice(c0, c1)


def _cast(layout: Layout, k: np.ndarray, size):
    """Primary visibility: z-depth (inf for the sky), surface id (0..5 environment, 6+ objects), rays."""
    o = [float(c) for c in layout.position]
    d = _camera_rays(k, layout.rotation, size)
    depth, surface = layout.room.intersect(*o, *d)
    depth = depth.astype(np.float32)
    surface = surface.astype(np.int16)
    for i, obj in enumerate(layout.surfaces):
        rect = _screen_rect(obj, k, layout.rotation, layout.position, size)
        if rect is None:
            continue
        t = obj.intersect(*o, *(c[rect] for c in d))
        closer = t < depth[rect]
        depth[rect][closer] = t[closer]
        surface[rect][closer] = 6 + i
    return depth, surface, d


def _shade_surfaces(layout: Layout, surface_ids, starts, points, dirs, footprint):
    """Normals (3, n), albedo (3, n), specular and shininess (n,) and labels (n,).

    Pixels arrive sorted by surface id, so each surface is one contiguous slice
    ``[starts[j], starts[j + 1])``: no gathers or scatters per surface.
    ``footprint`` is each pixel's size in metres at its depth, facing the camera.
    """
    n = points[0].size
    normals = np.empty((3, n), np.float32)
    albedo = np.zeros((3, n), np.float32)
    spec = np.zeros(n, np.float32)
    shin = np.ones(n, np.float32)
    labels = np.empty(n, np.uint8)
    env = layout.room
    for sid, lo, hi in zip(surface_ids, starts[:-1], starts[1:]):
        px, py, pz = (p[lo:hi] for p in points)
        if sid < 6:
            normal, u, v = env.face_surface(int(sid), px, py, pz)
            normals[:, lo:hi] = np.asarray(normal, np.float32)[:, None]
            labels[lo:hi] = env.FACE_LABELS[sid]
            if labels[lo] == SKY:
                continue
        else:
            obj = layout.surfaces[sid - 6]
            *nrm, u, v = obj.surface(px, py, pz)
            normals[:, lo:hi] = nrm
            labels[lo:hi] = obj.label
        material = layout.materials[sid]
        dx, dy, dz = (c[lo:hi] for c in dirs)
        cos = np.abs(normals[0, lo:hi] * dx + normals[1, lo:hi] * dy + normals[2, lo:hi] * dz)
        cos /= np.sqrt(dx * dx + dy * dy + dz * dz)
        fp = footprint[lo:hi] / np.maximum(cos, 0.25)
        albedo[:, lo:hi] = material.texture(u.astype(np.float32, copy=False), v.astype(np.float32, copy=False), fp)
        spec[lo:hi], shin[lo:hi] = material.specular, material.shininess
    return normals, albedo, spec, shin, labels


def _shadow(layout: Layout, points, normals, lamp_dir, lamp_dist):
    """1 where the lamp is visible from a point, 0 where an object blocks it.

    Points are culled with the cone from the lamp around each group's bounding
    sphere first, then around each member's, so a table with its clutter costs
    one full pass over the image, not one per object.

    Args:
        lamp_dir: unit vectors point -> lamp (3 arrays); lamp_dist: distances to the lamp.
    """
    lit = np.ones(points[0].shape, np.float32)
    everything = np.arange(points[0].size)
    for group in layout.groups:
        members = [layout.surfaces[i] for i in group.members]
        cand = _in_shadow_cone(layout, group.center, group.radius, lamp_dir, lamp_dist, everything)
        if cand is None or cand.size == 0:
            continue
        for obj in members:
            center, radius = obj.bounding_sphere()
            sub = cand if len(members) == 1 else _in_shadow_cone(layout, center, radius, lamp_dir, lamp_dist, cand)
            if sub is None or sub.size == 0:
                continue
            origin = [points[c][sub] + 2e-3 * normals[c][sub] for c in range(3)]  # off the surface
            seg = [c[sub] * lamp_dist[sub] for c in lamp_dir]  # point -> lamp, t = 1 at the lamp
            t = obj.intersect(*origin, *seg, t_min=1e-4)
            lit[sub[t < 1.0]] = 0.0
    return lit


def _in_shadow_cone(layout: Layout, center, radius, lamp_dir, lamp_dist, idx):
    """Indices (a subset of ``idx``) of points behind a sphere as seen from the lamp; None if it holds the lamp."""
    lamp = layout.light.position
    w = [c - lc for c, lc in zip(center, lamp)]
    w_len = math.sqrt(sum(c * c for c in w))
    radius += 0.01
    if w_len <= radius:
        return None
    cos_cone = math.sqrt(1.0 - (radius / w_len) ** 2)
    ux, uy, uz = (-c / w_len for c in w)  # unit vector object -> lamp
    if idx.size == lamp_dist.size:
        cos_angle = lamp_dir[0] * ux + lamp_dir[1] * uy + lamp_dir[2] * uz
        return np.flatnonzero((cos_angle >= cos_cone) & (lamp_dist > w_len - radius))
    cos_angle = lamp_dir[0][idx] * ux + lamp_dir[1][idx] * uy + lamp_dir[2][idx] * uz
    return idx[(cos_angle >= cos_cone) & (lamp_dist[idx] > w_len - radius)]


def _light(layout: Layout, points, normals, albedo, spec, shin, dirs):
    """Linear radiance (3, n): ambient + shadowed lamp (or sun) + fill light + highlight."""
    light = layout.light
    offset = [lc - p for p, lc in zip(points, light.position)]  # point -> lamp
    dist2 = offset[0] * offset[0] + offset[1] * offset[1] + offset[2] * offset[2]
    dist = np.sqrt(dist2)
    lamp_dir = [c / dist for c in offset]
    ndotl = np.maximum(normals[0] * lamp_dir[0] + normals[1] * lamp_dir[1] + normals[2] * lamp_dir[2], 0.0)
    visible = _shadow(layout, points, normals, lamp_dir, dist) * 0.85 + 0.15
    falloff = visible / (1.0 + dist2) if light.falloff else visible
    fdir = light.fill_dir
    fill = np.maximum(normals[0] * fdir[0] + normals[1] * fdir[1] + normals[2] * fdir[2], 0.0)
    # Blinn-Phong highlight, only where the material is glossy
    glossy = np.flatnonzero(spec > 0)
    highlight = np.zeros_like(dist)
    if glossy.size:
        vinv = 1.0 / np.sqrt(dirs[0][glossy] ** 2 + dirs[1][glossy] ** 2 + dirs[2][glossy] ** 2)
        half = [lamp_dir[c][glossy] - dirs[c][glossy] * vinv for c in range(3)]
        hinv = 1.0 / np.maximum(np.sqrt(half[0] ** 2 + half[1] ** 2 + half[2] ** 2), 1e-6)
        ndoth = (normals[0][glossy] * half[0] + normals[1][glossy] * half[1] + normals[2][glossy] * half[2]) * hinv
        power = np.exp(shin[glossy] * np.log(np.maximum(ndoth, 1e-6)))
        highlight[glossy] = spec[glossy] * power * (ndotl[glossy] > 0) * falloff[glossy]
    lamp = (ndotl * falloff)[None, :] * light.color[:, None]
    radiance = albedo * (light.ambient[:, None] + lamp + fill[None, :] * light.fill_color[:, None])
    return radiance + highlight[None, :] * light.color[:, None]


def _sky(layout: Layout, dirs, radiance: np.ndarray, labels: np.ndarray) -> None:
    """Paint sky pixels with a zenith-to-horizon gradient (in place)."""
    sky = np.flatnonzero(labels == SKY)
    if layout.sky is None or sky.size == 0:
        return
    dx, dy, dz = (c[sky] for c in dirs)
    up = np.clip(dy / np.sqrt(dx * dx + dy * dy + dz * dz), 0.0, 1.0) ** 0.5
    zenith, horizon = layout.sky
    radiance[:, sky] = horizon[:, None] + (zenith - horizon)[:, None] * up[None, :]


def _blur(img: np.ndarray, sigma_px: float) -> np.ndarray:
    """Separable Gaussian blur of a (3, H, W) image (edges replicated)."""
    radius = int(math.ceil(2.5 * sigma_px))
    if radius < 1:
        return img
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_px) ** 2).astype(np.float32)
    taps /= taps.sum()
    pad = np.pad(img, ((0, 0), (radius, radius), (0, 0)), mode="edge")
    img = sum(t * pad[:, i:i + img.shape[1]] for i, t in enumerate(taps))
    pad = np.pad(img, ((0, 0), (0, 0), (radius, radius)), mode="edge")
    return sum(t * pad[:, :, i:i + img.shape[2]] for i, t in enumerate(taps))


def _to_uint8(layout: Layout, radiance: np.ndarray, size, rng) -> np.ndarray:
    """Auto-expose, white balance error, vignette, lens blur, gamma 2, sensor noise -> HxWx3 uint8."""
    h, w = size
    img = radiance.reshape(3, h, w)
    img *= layout.gains[:, None, None] * (layout.exposure / max(float(img.mean()), 1e-6))
    yy = (np.arange(h, dtype=np.float32) - h / 2) / max(h, w)
    xx = (np.arange(w, dtype=np.float32) - w / 2) / max(h, w)
    img *= 1.0 - np.float32(layout.vignette) * (yy[:, None] ** 2 + xx[None, :] ** 2)
    if layout.blur > 0:
        img = _blur(img, layout.blur * w)
    img = np.sqrt(np.clip(img, 0.0, 1.0))
    img += rng.standard_normal((h, w), dtype=np.float32) * np.float32(layout.noise_sigma)
    out = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(out.transpose(1, 2, 0))


def _group_by_surface(surface: np.ndarray):
    """A pixel order that makes every surface one contiguous run: (order, surface ids, run starts + end)."""
    order = np.argsort(surface.reshape(-1), kind="stable")
    sorted_ids = surface.reshape(-1)[order]
    starts = np.flatnonzero(np.diff(sorted_ids)) + 1
    surface_ids = sorted_ids[np.concatenate([[0], starts])]
    return order, surface_ids, np.concatenate([[0], starts, [sorted_ids.size]])


def render_scene(index: int, size: Sequence[int] = DEFAULT_SIZE, seed: int = 0) -> Scene:
    """Render scene ``index`` of the sequence fixed by ``seed``.

    Args:
        index: position in the sequence (any non-negative integer; random access).
        size: output (H, W) in pixels.
        seed: sequence seed.

    Returns:
        The :class:`Scene`.

    Raises:
        ValueError: a non-positive size or a negative index/seed.
    """
    h, w = (int(s) for s in size)
    if h <= 0 or w <= 0 or index < 0 or seed < 0:
        raise ValueError(f"need positive size and non-negative index/seed, got size={size}, "
                         f"index={index}, seed={seed}")
    rng = np.random.default_rng([int(seed), int(index)])
    layout = sample_layout(rng)
    k = intrinsics_for(layout, (h, w))
    depth, surface, dirs = _cast(layout, k, (h, w))
    order, surface_ids, starts = _group_by_surface(surface)
    flat_dirs = [c.reshape(-1)[order] for c in dirs]
    flat_depth = depth.reshape(-1)[order]
    flat_depth = np.where(np.isfinite(flat_depth), flat_depth, np.float32(MAX_DEPTH))  # the sky: any finite point
    points = [float(origin) + direction * flat_depth
              for origin, direction in zip(layout.position, flat_dirs)]
    footprint = flat_depth * np.float32(1.0 / k[0, 0])
    normals, albedo, spec, shin, labels = _shade_surfaces(layout, surface_ids, starts, points, flat_dirs, footprint)
    flat_radiance = _light(layout, points, normals, albedo, spec, shin, flat_dirs)
    _sky(layout, flat_dirs, flat_radiance, labels)
    radiance = np.empty_like(albedo)
    radiance[:, order] = flat_radiance
    image_labels = np.empty_like(labels)
    image_labels[order] = labels
    rgb = _to_uint8(layout, radiance, (h, w), rng)
    cam_to_world = np.eye(4)
    cam_to_world[:3, :3], cam_to_world[:3, 3] = layout.rotation, layout.position
    depth = np.where(depth <= MAX_DEPTH, np.maximum(depth, MIN_DEPTH), np.float32(0.0)).astype(np.float32)
    return Scene(rgb=rgb, depth=depth, labels=image_labels.reshape(h, w), intrinsics=k,
                 cam_to_world=cam_to_world, index=int(index), seed=int(seed), kind=layout.kind)


def generate_scenes(count: int, size: Sequence[int] = DEFAULT_SIZE, seed: int = 0,
                    start: int = 0) -> Iterator[Scene]:
    """Yield ``count`` :class:`Scene` records: indices ``start .. start+count-1`` of ``seed``."""
    for i in range(start, start + int(count)):
        yield render_scene(i, size, seed)


def generate(count: int, size: Sequence[int] = DEFAULT_SIZE, seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``count`` (rgb, depth) pairs: uint8 HxWx3 and float32 HxW metres.

    Args:
        count: number of scenes.
        size: (H, W) of every output.
        seed: fixes the whole sequence; the same seed always gives the same scenes.

    Returns:
        An iterator of (rgb, depth) tuples.
    """
    for scene in generate_scenes(count, size, seed):
        yield scene.rgb, scene.depth


def generate_with_intrinsics(count: int, size: Sequence[int] = DEFAULT_SIZE,
                             seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Like :func:`generate` but yields (rgb, depth, K) with K the 3x3 intrinsics matrix."""
    for scene in generate_scenes(count, size, seed):
        yield scene.rgb, scene.depth, scene.intrinsics


class SyntheticDataset(DepthDataset):
    """``count`` generated scenes as a dataset (random access, deterministic).

    The default seed is :data:`HELD_OUT_SEED`, so evaluating on
    ``synthetic:200`` never reuses scenes that training drew with small seeds.

    Args:
        count: number of scenes.
        size: (H, W) of every sample.
        seed: sequence seed.
    """

    name = "synthetic"
    min_depth = 1e-3
    max_depth = MAX_DEPTH

    def __init__(self, count: int, size: Sequence[int] = DEFAULT_SIZE, seed: int = None):
        if int(count) <= 0:
            raise ValueError(f"count must be positive, got {count}")
        self.count = int(count)
        self.size = (int(size[0]), int(size[1]))
        self.seed = HELD_OUT_SEED if seed is None else int(seed)

    def __len__(self) -> int:
        return self.count

    def load(self, index: int):
        scene = render_scene(index, self.size, self.seed)
        return scene.rgb, scene.depth
