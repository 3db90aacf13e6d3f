"""Procedural RGB-D indoor scenes with exact metric depth (numpy only).

Each scene is a room (textured floor, walls and ceiling) furnished with boxes,
spheres and cylinders, lit by a ceiling lamp that casts shadows plus a fill
light, and seen by a pinhole camera with random intrinsics and pose. Pixels are
ray cast with vectorised numpy, so depth is exact: it is the z-depth along the
optical axis (what NYU, KITTI and Middlebury store), always within
``[MIN_DEPTH, MAX_DEPTH]`` metres.

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

from . import _textures as tex
from ._raycast import CLASS_NAMES, Box, Cylinder, Room, Sphere
from .base import DepthDataset

__all__ = ["Scene", "SyntheticDataset", "generate", "generate_scenes", "generate_with_intrinsics",
           "render_scene", "CLASS_NAMES", "MIN_DEPTH", "MAX_DEPTH", "DEFAULT_SIZE", "HELD_OUT_SEED"]

#: Depth range every generated pixel lies in (metres).
MIN_DEPTH, MAX_DEPTH = 0.3, 10.0
DEFAULT_SIZE = (256, 320)
#: Seed of the held-out evaluation scenes (``synthetic:N``); train with other seeds.
HELD_OUT_SEED = 1_000_003

_CAMERA_CLEARANCE = 0.7  # metres between the camera and any object's bounding sphere
_WALL_MARGIN = 0.6  # metres between the camera and the walls
_ROOM_XZ, _ROOM_Y = (3.0, 6.5), (2.4, 3.0)  # a 6.5 x 6.5 x 3 room has a 9.7 m diagonal < MAX_DEPTH


@dataclass(frozen=True)
class Scene:
    """One rendered scene.

    Attributes:
        rgb: HxWx3 uint8 image.
        depth: HxW float32 z-depth in metres.
        labels: HxW uint8 semantic class per pixel (see ``CLASS_NAMES``).
        intrinsics: 3x3 float64 pinhole matrix K (pixel centres at integer + 0.5 convention:
            pixel (row i, col j) looks along K^-1 [j + 0.5, i + 0.5, 1]).
        cam_to_world: 4x4 float64 rigid transform from the OpenCV camera frame
            (x right, y down, z forward) to the world frame (y up, floor at y = 0).
        index, seed: what identifies the scene.
    """

    rgb: np.ndarray
    depth: np.ndarray
    labels: np.ndarray
    intrinsics: np.ndarray
    cam_to_world: np.ndarray
    index: int
    seed: int


@dataclass(frozen=True)
class _Light:
    position: tuple[float, float, float]
    color: np.ndarray  # linear RGB intensity of the lamp
    fill_dir: np.ndarray  # unit vector towards the fill light
    fill_color: np.ndarray
    ambient: np.ndarray


@dataclass(frozen=True)
class _Layout:
    room: Room
    surfaces: list  # room faces 0..5 are implicit; objects follow
    materials: list  # one per room face (6), then one per object
    position: np.ndarray  # camera centre, world
    rotation: np.ndarray  # camera-to-world 3x3
    hfov: float
    principal_jitter: tuple[float, float]
    light: _Light
    exposure: float
    noise_sigma: float


# ----------------------------------------------------------------------------- sampling


def _sample_camera(rng: np.random.Generator, size_xyz):
    """A camera near a wall looking across the room (sometimes anywhere, looking anywhere)."""
    sx, sy, sz = size_xyz
    height = rng.uniform(0.9, min(1.8, sy - _WALL_MARGIN))
    if rng.random() < 0.1:
        pos = np.array([rng.uniform(_WALL_MARGIN, sx - _WALL_MARGIN), height,
                        rng.uniform(_WALL_MARGIN, sz - _WALL_MARGIN)])
        yaw = rng.uniform(0.0, 2.0 * math.pi)
    else:
        # stand within 0.6-1.8 m of a wall and look at a point in the far half of the room
        u, v = rng.random(), rng.uniform(_WALL_MARGIN, 1.8)
        x, z = {0: (u * sx, v), 1: (u * sx, sz - v), 2: (v, u * sz), 3: (sx - v, u * sz)}[int(rng.integers(4))]
        x = min(max(x, _WALL_MARGIN), sx - _WALL_MARGIN)
        z = min(max(z, _WALL_MARGIN), sz - _WALL_MARGIN)
        pos = np.array([x, height, z])
        tx = (sx - x) + rng.uniform(-0.25, 0.25) * sx
        tz = (sz - z) + rng.uniform(-0.25, 0.25) * sz
        yaw = math.atan2(tx - x, tz - z) if math.hypot(tx - x, tz - z) > 0.5 else rng.uniform(0, 2 * math.pi)
    pitch = math.radians(rng.uniform(-25.0, 5.0))
    roll = math.radians(rng.uniform(-5.0, 5.0))
    return pos, _camera_rotation(yaw, pitch, roll)


def _camera_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Camera-to-world rotation; columns are the camera x (right), y (down), z (forward) axes."""
    forward = np.array([math.cos(pitch) * math.sin(yaw), math.sin(pitch), math.cos(pitch) * math.cos(yaw)])
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    c, s = math.cos(roll), math.sin(roll)
    right, down = c * right + s * down, -s * right + c * down
    return np.stack([right, down, forward], axis=1)


def _footprint(obj) -> tuple[float, float, float]:
    """(x, z, radius) of the circle an object covers on the surface it stands on."""
    if isinstance(obj, Cylinder):
        return obj.center_xz[0], obj.center_xz[1], obj.radius
    if isinstance(obj, Sphere):
        return obj.center[0], obj.center[2], obj.radius
    return obj.center[0], obj.center[2], math.hypot(obj.half[0], obj.half[2])


def _make_object(kind: str, rng, x: float, z: float, base: float):
    if kind == "box":
        half = (rng.uniform(0.1, 0.6), rng.uniform(0.08, 0.6), rng.uniform(0.1, 0.6))
        return Box((x, base + half[1], z), half, float(rng.uniform(0, math.pi)))
    if kind == "sphere":
        r = rng.uniform(0.08, 0.45)
        lift = r if rng.random() < 0.75 else r + rng.uniform(0.3, 1.2)  # some hang in the air
        return Sphere((x, base + lift, z), r)
    return Cylinder((x, z), base, rng.uniform(0.15, 1.6), rng.uniform(0.06, 0.4))


def _clear_of_camera(obj, cam_pos) -> bool:
    center, radius = obj.bounding_sphere()
    return float(np.linalg.norm(np.asarray(center) - cam_pos)) - radius > _CAMERA_CLEARANCE


def _inside_room(obj, size_xyz) -> bool:
    (cx, cy, cz), r = obj.bounding_sphere()
    x, z, fr = _footprint(obj)
    top = cy + r
    return (fr < x < size_xyz[0] - fr and fr < z < size_xyz[2] - fr and top < size_xyz[1] - 0.05)


def _sample_cabinet(rng, size_xyz):
    """A tall box against a wall (shelf, cabinet, fridge)."""
    sx, sy, sz = size_xyz
    w, d, h = rng.uniform(0.3, 0.9), rng.uniform(0.2, 0.35), rng.uniform(0.5, min(2.1, sy - 0.2))
    wall = rng.integers(4)
    along = rng.uniform(w + 0.05, (sx if wall < 2 else sz) - w - 0.05)
    gap = 0.02 + d
    x, z = {0: (along, gap), 1: (along, sz - gap), 2: (gap, along), 3: (sx - gap, along)}[int(wall)]
    yaw = 0.0 if wall < 2 else math.pi / 2
    return Box((x, h / 2, z), (w, h / 2, d), yaw)


def _floor_position(rng, size_xyz, cam_pos, cam_yaw, hfov):
    """A floor point: half the time inside the camera's horizontal field of view."""
    if rng.random() < 0.5:
        angle = cam_yaw + rng.uniform(-0.5, 0.5) * hfov
        dist = rng.uniform(1.0, 5.0)
        return cam_pos[0] + dist * math.sin(angle), cam_pos[2] + dist * math.cos(angle)
    return rng.uniform(0, size_xyz[0]), rng.uniform(0, size_xyz[2])


def _sample_objects(rng, size_xyz, cam_pos, cam_yaw, hfov) -> list:
    objects: list = []
    for _ in range(rng.integers(0, 3)):
        cab = _sample_cabinet(rng, size_xyz)
        if _clear_of_camera(cab, cam_pos):
            objects.append(cab)
    for _ in range(rng.integers(4, 13)):
        kind = ("box", "sphere", "cylinder")[rng.choice(3, p=[0.45, 0.25, 0.30])]
        boxes = [o for o in objects if isinstance(o, Box)]
        for _attempt in range(15):
            if boxes and rng.random() < 0.25:  # stack on a box top
                support = boxes[rng.integers(len(boxes))]
                x, z = support.center[0], support.center[2]
                base = support.center[1] + support.half[1]
            else:
                (x, z), base = _floor_position(rng, size_xyz, cam_pos, cam_yaw, hfov), 0.0
            obj = _make_object(kind, rng, x, z, base)
            if base == 0.0 and any(_overlaps(obj, o) for o in objects):
                continue
            if _inside_room(obj, size_xyz) and _clear_of_camera(obj, cam_pos):
                objects.append(obj)
                break
    return objects


def _overlaps(a, b) -> bool:
    ax, az, ar = _footprint(a)
    bx, bz, br = _footprint(b)
    return math.hypot(ax - bx, az - bz) < 0.8 * (ar + br)


def _sample_light(rng, size_xyz) -> _Light:
    sx, sy, sz = size_xyz
    warmth = rng.uniform(-0.15, 0.15)
    tint = np.array([1.0 + warmth, 1.0, 1.0 - warmth], np.float32)
    fill_dir = np.array([rng.normal(), rng.uniform(0.2, 1.0), rng.normal()])
    fill_dir /= np.linalg.norm(fill_dir)
    return _Light(position=(rng.uniform(0.3, sx - 0.3), sy - rng.uniform(0.1, 0.5), rng.uniform(0.3, sz - 0.3)),
                  color=tint * np.float32(rng.uniform(8.0, 20.0)),
                  fill_dir=fill_dir.astype(np.float32),
                  fill_color=np.float32(rng.uniform(0.1, 0.45)) * tex.random_color(rng, sat=(0.0, 0.3), val=(0.8, 1.0)),
                  ambient=np.float32(rng.uniform(0.04, 0.15)) * np.ones(3, np.float32))


def sample_layout(rng: np.random.Generator) -> _Layout:
    """Draw a room, its furniture, materials, lights and a camera from ``rng``."""
    size_xyz = (rng.uniform(*_ROOM_XZ), rng.uniform(*_ROOM_Y), rng.uniform(*_ROOM_XZ))
    position, rotation = _sample_camera(rng, size_xyz)
    hfov = math.radians(rng.uniform(55.0, 75.0))
    cam_yaw = math.atan2(rotation[0, 2], rotation[2, 2])
    objects = _sample_objects(rng, size_xyz, position, cam_yaw, hfov)
    noise = tex.ValueNoise(rng)
    floor = tex.random_material(rng, noise, tex.FLOOR_TEXTURES, glossy_p=0.3)
    wall = tex.random_material(rng, noise, tex.WALL_TEXTURES, glossy_p=0.1)
    accent = tex.random_material(rng, noise, tex.WALL_TEXTURES, glossy_p=0.1) if rng.random() < 0.3 else wall
    walls = [wall, wall, wall, wall]
    walls[rng.integers(4)] = accent
    materials = [floor, tex.ceiling_material(rng, noise), *walls]
    materials += [tex.random_material(rng, noise, tex.OBJECT_TEXTURES, glossy_p=0.4) for _ in objects]
    return _Layout(room=Room(size_xyz), surfaces=objects, materials=materials, position=position,
                   rotation=rotation, hfov=hfov,
                   principal_jitter=(rng.uniform(-0.02, 0.02), rng.uniform(-0.02, 0.02)),
                   light=_sample_light(rng, size_xyz), exposure=rng.uniform(0.16, 0.3),
                   noise_sigma=rng.uniform(0.002, 0.012))


# ----------------------------------------------------------------------------- rendering


def intrinsics_for(layout: _Layout, size: tuple[int, int]) -> np.ndarray:
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
        return slice(0, h), slice(0, w)
    us = [k[0, 0] * (x + sx * radius) / (z + sz * radius) + k[0, 2] for sx in (-1, 1) for sz in (-1, 1)]
    vs = [k[1, 1] * (y + sy * radius) / (z + sz * radius) + k[1, 2] for sy in (-1, 1) for sz in (-1, 1)]
    c0, c1 = max(0, int(math.floor(min(us) - 1.5))), min(w, int(math.ceil(max(us) + 0.5)))
    r0, r1 = max(0, int(math.floor(min(vs) - 1.5))), min(h, int(math.ceil(max(vs) + 0.5)))
    if c0 >= c1 or r0 >= r1:
        return None
    return slice(r0, r1), slice(c0, c1)


def _cast(layout: _Layout, k: np.ndarray, size):
    """Primary visibility: z-depth, surface id (0..5 room faces, 6+ objects) and ray directions."""
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


def _shade_surfaces(layout: _Layout, surface_ids, starts, points):
    """Normals (3, n), albedo (3, n), specular and shininess (n,) and labels (n,).

    Pixels arrive sorted by surface id, so each surface is one contiguous slice
    ``[starts[j], starts[j + 1])``: no gathers or scatters per surface.
    """
    n = points[0].size
    normals = np.empty((3, n), np.float32)
    albedo = np.empty((3, n), np.float32)
    spec = np.empty(n, np.float32)
    shin = np.empty(n, np.float32)
    labels = np.empty(n, np.uint8)
    for sid, lo, hi in zip(surface_ids, starts[:-1], starts[1:]):
        px, py, pz = (p[lo:hi] for p in points)
        if sid < 6:
            normal, u, v = Room.face_surface(int(sid), px, py, pz)
            normals[:, lo:hi] = np.asarray(normal, np.float32)[:, None]
            labels[lo:hi] = Room.FACE_LABELS[sid]
        else:
            obj = layout.surfaces[sid - 6]
            *nrm, u, v = obj.surface(px, py, pz)
            normals[:, lo:hi] = nrm
            labels[lo:hi] = obj.label
        material = layout.materials[sid]
        albedo[:, lo:hi] = material.texture(u.astype(np.float32, copy=False), v.astype(np.float32, copy=False))
        spec[lo:hi], shin[lo:hi] = material.specular, material.shininess
    return normals, albedo, spec, shin, labels


def _shadow(layout: _Layout, points, normals, lamp_dir, lamp_dist):
    """1 where the lamp is visible from a point, 0 where an object blocks it.

    Args:
        lamp_dir: unit vectors point -> lamp (3 arrays); lamp_dist: distances to the lamp.
    """
    lit = np.ones(points[0].shape, np.float32)
    lamp = layout.light.position
    for obj in layout.surfaces:
        center, radius = obj.bounding_sphere()
        w = [c - lc for c, lc in zip(center, lamp)]
        w_len = math.sqrt(sum(c * c for c in w))
        radius += 0.01
        if w_len <= radius:
            continue
        # cull with the cone from the lamp around the bounding sphere: only points behind it
        cos_cone = math.sqrt(1.0 - (radius / w_len) ** 2)
        ux, uy, uz = (-c / w_len for c in w)  # unit vector lamp -> object, negated
        cos_angle = lamp_dir[0] * ux + lamp_dir[1] * uy + lamp_dir[2] * uz
        cand = np.flatnonzero((cos_angle >= cos_cone) & (lamp_dist > w_len - radius))
        if cand.size == 0:
            continue
        origin = [points[c][cand] + 2e-3 * normals[c][cand] for c in range(3)]  # off the surface
        seg = [c[cand] * lamp_dist[cand] for c in lamp_dir]  # point -> lamp, t = 1 at the lamp
        t = obj.intersect(*origin, *seg, t_min=1e-4)
        lit[cand[t < 1.0]] = 0.0
    return lit


def _light(layout: _Layout, points, normals, albedo, spec, shin, dirs):
    """Linear radiance (3, n): ambient + shadowed lamp with falloff + fill light + highlight."""
    light = layout.light
    offset = [lc - p for p, lc in zip(points, light.position)]  # point -> lamp
    dist2 = offset[0] * offset[0] + offset[1] * offset[1] + offset[2] * offset[2]
    dist = np.sqrt(dist2)
    lamp_dir = [c / dist for c in offset]
    ndotl = np.maximum(normals[0] * lamp_dir[0] + normals[1] * lamp_dir[1] + normals[2] * lamp_dir[2], 0.0)
    visible = _shadow(layout, points, normals, lamp_dir, dist) * 0.85 + 0.15
    falloff = visible / (1.0 + dist2)
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


def _to_uint8(layout: _Layout, radiance: np.ndarray, size, rng) -> np.ndarray:
    """Auto-expose, vignette, gamma-encode (gamma 2), add luma noise and quantise to HxWx3 uint8."""
    h, w = size
    img = radiance.reshape(3, h, w)
    img *= layout.exposure / max(float(img.mean()), 1e-6)
    yy = (np.arange(h, dtype=np.float32) - h / 2) / max(h, w)
    xx = (np.arange(w, dtype=np.float32) - w / 2) / max(h, w)
    img *= 1.0 - 0.35 * (yy[:, None] ** 2 + xx[None, :] ** 2)
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
    points = [float(origin) + direction * flat_depth
              for origin, direction in zip(layout.position, flat_dirs)]
    normals, albedo, spec, shin, labels = _shade_surfaces(layout, surface_ids, starts, points)
    radiance = np.empty_like(albedo)
    radiance[:, order] = _light(layout, points, normals, albedo, spec, shin, flat_dirs)
    image_labels = np.empty_like(labels)
    image_labels[order] = labels
    rgb = _to_uint8(layout, radiance, (h, w), rng)
    cam_to_world = np.eye(4)
    cam_to_world[:3, :3], cam_to_world[:3, 3] = layout.rotation, layout.position
    return Scene(rgb=rgb, depth=np.clip(depth, MIN_DEPTH, MAX_DEPTH), labels=image_labels.reshape(h, w),
                 intrinsics=k, cam_to_world=cam_to_world, index=int(index), seed=int(seed))


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
