"""Scene layouts for the generator: what stands where, its materials, the lights and the camera.

Four kinds, drawn with fixed probabilities (:data:`KIND_WEIGHTS`):

* ``room`` — a furnished room: cabinets and shelves against the walls, tables
  with clutter on them, free-standing boxes, cylinders and spheres, framed
  photographs on the walls; a ceiling lamp.
* ``tabletop`` — the same kind of room seen from close to a table covered with
  clutter (cups, boxes, fruit), the camera looking down at it.
* ``bin`` — an open tote on the floor or on a table with items in it, seen
  from 0.55–1.1 m almost straight down (a robot arm's or a picking cell's
  camera).
* ``outdoor`` — a ground plane under the sky with buildings, vehicle-sized
  blocks, poles, trees, crates and fences; the sun casts the shadows. Pixels
  farther than the depth range (and the sky) have no depth (0).

Every size is metric. A layout is drawn from one ``numpy`` generator, so a
scene depends only on its seed and index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import _textures as tex
from ._photos import PhotoTexture, picture_photos, pyramid
from ._raycast import Box, Cylinder, Ground, Room, Sphere

#: probability of each scene kind
KIND_WEIGHTS = {"room": 0.4, "tabletop": 0.2, "bin": 0.15, "outdoor": 0.25}
#: horizontal field of view (degrees) of each kind's lenses: telephoto-ish DSLR / stereo rigs (30°)
#: to wide robot cameras (90°); wrist and picking cameras are RealSense-like (40–75°)
HFOV_DEGREES = {"room": (30.0, 90.0), "tabletop": (35.0, 80.0), "bin": (40.0, 75.0), "outdoor": (30.0, 90.0)}

_CAMERA_CLEARANCE = 0.5  # metres between the camera and any object's bounding sphere
_WALL_MARGIN = 0.5  # metres between the camera and the walls
_ROOM_XZ, _ROOM_Y = (3.0, 6.5), (2.4, 3.0)  # a 6.5 x 6.5 x 3 room has a 9.7 m diagonal < 10 m


@dataclass(frozen=True)
class Light:
    """A lamp (point light with 1/(1 + d^2) falloff) or the sun (far away, no falloff), plus fill and ambient."""

    position: tuple[float, float, float]
    color: np.ndarray  # linear RGB intensity
    fill_dir: np.ndarray  # unit vector towards the fill light
    fill_color: np.ndarray
    ambient: np.ndarray
    falloff: bool = True


@dataclass(frozen=True)
class Group:
    """Objects that stand together (a table and its clutter): shadows are culled per group first."""

    center: tuple[float, float, float]
    radius: float
    members: tuple[int, ...]


@dataclass(frozen=True)
class Layout:
    kind: str
    room: object  # Room or Ground: environment faces 0..5
    surfaces: list  # objects (surface ids 6, 7, ...)
    groups: list  # Group records covering every object once
    materials: list  # one per environment face (6), then one per object
    position: np.ndarray  # camera centre, world
    rotation: np.ndarray  # camera-to-world 3x3
    hfov: float
    principal_jitter: tuple[float, float]
    light: Light
    sky: Optional[tuple[np.ndarray, np.ndarray]]  # zenith and horizon colour (outdoor)
    exposure: float
    noise_sigma: float
    blur: float  # Gaussian blur sigma as a fraction of the image width
    gains: np.ndarray  # white-balance error per channel
    vignette: float


def camera_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Camera-to-world rotation; columns are the camera x (right), y (down), z (forward) axes."""
    forward = np.array([math.cos(pitch) * math.sin(yaw), math.sin(pitch), math.cos(pitch) * math.cos(yaw)])
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    c, s = math.cos(roll), math.sin(roll)
    right, down = c * right + s * down, -s * right + c * down
    return np.stack([right, down, forward], axis=1)


def footprint(obj) -> tuple[float, float, float]:
    """(x, z, radius) of the circle an object covers on the surface it stands on."""
    if isinstance(obj, Cylinder):
        return obj.center_xz[0], obj.center_xz[1], obj.radius
    if isinstance(obj, Sphere):
        return obj.center[0], obj.center[2], obj.radius
    return obj.center[0], obj.center[2], math.hypot(obj.half[0], obj.half[2])


def _overlaps(a, b, slack: float = 0.8) -> bool:
    ax, az, ar = footprint(a)
    bx, bz, br = footprint(b)
    return math.hypot(ax - bx, az - bz) < slack * (ar + br)


def _clear_of_camera(obj, cam_pos) -> bool:
    center, radius = obj.bounding_sphere()
    return float(np.linalg.norm(np.asarray(center) - cam_pos)) - radius > _CAMERA_CLEARANCE


def _inside_room(obj, size_xyz) -> bool:
    x, z, fr = footprint(obj)
    return fr < x < size_xyz[0] - fr and fr < z < size_xyz[2] - fr and _top(obj) < size_xyz[1] - 0.05


def _top(obj) -> float:
    if isinstance(obj, Box):
        return obj.center[1] + obj.half[1]
    if isinstance(obj, Cylinder):
        return obj.base + obj.height
    return obj.center[1] + obj.radius


def _small_object(rng, x: float, z: float, base: float, scale: float):
    """A box, sphere or cylinder of about ``scale`` metres standing at height ``base``."""
    kind = rng.choice(3, p=[0.45, 0.2, 0.35])
    if kind == 0:
        half = tuple(scale * rng.uniform(0.25, 1.0, 3))
        return Box((x, base + half[1], z), half, float(rng.uniform(0, math.pi)))
    if kind == 1:
        r = scale * rng.uniform(0.3, 0.8)
        lift = r if rng.random() < 0.85 else r + rng.uniform(0.3, 1.2) * scale * 3
        return Sphere((x, base + lift, z), r)
    return Cylinder((x, z), base, scale * rng.uniform(0.5, 3.0), scale * rng.uniform(0.2, 0.7))


def _clutter(rng, top: Box, count: int, scale: float) -> list:
    """Objects standing on the top face of box ``top`` (a table or shelf), not overlapping."""
    placed: list = []
    c, s = math.cos(top.yaw), math.sin(top.yaw)
    for _ in range(count):
        for _attempt in range(6):
            lx, lz = (rng.uniform(-0.85, 0.85) * top.half[0], rng.uniform(-0.85, 0.85) * top.half[2])
            x, z = top.center[0] + c * lx + s * lz, top.center[2] - s * lx + c * lz
            obj = _small_object(rng, x, z, top.center[1] + top.half[1], scale)
            fx, fz, fr = footprint(obj)
            dx, dz = fx - top.center[0], fz - top.center[2]
            inside = abs(c * dx - s * dz) + fr <= top.half[0] and abs(s * dx + c * dz) + fr <= top.half[2]
            if inside and not any(_overlaps(obj, o, 1.0) for o in placed):
                placed.append(obj)
                break
    return placed


def _table(rng, x: float, z: float, yaw: float, size=None) -> list:
    """A table: a top and four legs (boxes)."""
    w, d = size or (rng.uniform(0.35, 0.9), rng.uniform(0.3, 0.6))
    height, thick, leg = rng.uniform(0.45, 0.8), rng.uniform(0.015, 0.04), rng.uniform(0.02, 0.04)
    parts = [Box((x, height - thick, z), (w, thick, d), yaw)]
    c, s = math.cos(yaw), math.sin(yaw)
    for sx in (-1, 1):
        for sz in (-1, 1):
            lx, lz = sx * (w - 2 * leg), sz * (d - 2 * leg)
            parts.append(Box((x + c * lx + s * lz, (height - 2 * thick) / 2, z - s * lx + c * lz),
                             (leg, (height - 2 * thick) / 2, leg), yaw))
    return parts


def _against_wall(rng, size_xyz, width: float, depth: float):
    """(x, z, yaw) of something of half-width ``width`` and half-depth ``depth`` backed onto a wall."""
    sx, _, sz = size_xyz
    wall = int(rng.integers(4))
    span = sx if wall < 2 else sz
    along = rng.uniform(width + 0.05, max(width + 0.06, span - width - 0.05))
    gap = 0.01 + depth
    x, z = {0: (along, gap), 1: (along, sz - gap), 2: (gap, along), 3: (sx - gap, along)}[wall]
    return x, z, (0.0 if wall < 2 else math.pi / 2)


def _cabinet(rng, size_xyz) -> Box:
    """A tall box against a wall (shelf, cabinet, fridge)."""
    w, d, h = rng.uniform(0.3, 0.9), rng.uniform(0.2, 0.35), rng.uniform(0.5, min(2.1, size_xyz[1] - 0.2))
    x, z, yaw = _against_wall(rng, size_xyz, w, d)
    return Box((x, h / 2, z), (w, h / 2, d), yaw)


def _picture(rng, size_xyz) -> tuple[Box, tex.Material]:
    """A framed photograph hanging on a wall, with its photo mapped once onto its face."""
    names = picture_photos()
    name = names[rng.integers(len(names))]
    pyr = pyramid(name)
    width = rng.uniform(0.15, 0.6)
    height = width * float(pyr.heights[0]) / float(pyr.widths[0])
    depth = rng.uniform(0.005, 0.025)
    x, z, yaw = _against_wall(rng, size_xyz, width, depth)
    y = rng.uniform(max(height + 0.3, 1.0), max(height + 0.31, size_xyz[1] - height - 0.15))
    texture = PhotoTexture(name, (2 * width, 2 * height), (-width, -height),
                           tint=np.float32(rng.uniform(0.8, 1.1)) * np.ones(3, np.float32))
    return Box((x, y, z), (width, height, depth), yaw), tex.Material(texture, 0.15 if rng.random() < 0.3 else 0.0, 40.0)


def _hfov(rng, kind: str) -> float:
    """A horizontal field of view (radians) for ``kind``: focal length log-uniform over its lens range."""
    narrow, wide = (math.radians(a) / 2.0 for a in HFOV_DEGREES[kind])
    focal = math.exp(rng.uniform(math.log(1.0 / math.tan(wide)), math.log(1.0 / math.tan(narrow))))
    return 2.0 * math.atan(1.0 / focal)


def _tote(rng, x: float, z: float, base: float) -> tuple[list, Box]:
    """An open tote standing at height ``base``: its parts (bottom, four walls) and the bottom."""
    hx, hz = rng.uniform(0.18, 0.4), rng.uniform(0.14, 0.3)
    hy, t = rng.uniform(0.04, 0.15), rng.uniform(0.006, 0.02)
    yaw = float(rng.uniform(0, math.pi))
    c, s = math.cos(yaw), math.sin(yaw)
    bottom = Box((x, base + t, z), (hx, t, hz), yaw)
    walls = [((hx + t, 0.0), (t, hy, hz + 2 * t)), ((-hx - t, 0.0), (t, hy, hz + 2 * t)),
             ((0.0, hz + t), (hx, hy, t)), ((0.0, -hz - t), (hx, hy, t))]
    parts = [bottom] + [Box((x + c * lx + s * lz, base + hy, z - s * lx + c * lz), half, yaw)
                        for (lx, lz), half in walls]
    return parts, bottom


def _bin_view(b: _Builder, size_xyz):
    """A tote with items, on the floor or a table; the camera 0.55–1.1 m from it, looking almost straight down."""
    rng = b.rng
    sx, _, sz = size_xyz
    x, z = rng.uniform(1.0, sx - 1.0), rng.uniform(1.0, sz - 1.0)
    base = 0.0
    if rng.random() < 0.5:
        table = _table(rng, x, z, float(rng.uniform(0, math.pi)), (rng.uniform(0.5, 0.9), rng.uniform(0.4, 0.6)))
        base = table[0].center[1] + table[0].half[1]
        b.add(table)
    tote, bottom = _tote(rng, x, z, base)
    b.add(tote, [tex.random_material(rng, b.noise, tex.OBJECT_TEXTURES, glossy_p=0.35)] * len(tote))
    yaw, pitch = rng.uniform(0, 2 * math.pi), -math.radians(rng.uniform(55.0, 85.0))
    target = np.array([x + rng.uniform(-0.1, 0.1), base, z + rng.uniform(-0.1, 0.1)])
    pos = target - rng.uniform(0.55, 1.1) * camera_rotation(yaw, pitch, 0.0)[:, 2]  # back along the view axis
    pos[0], pos[2] = np.clip(pos[0], 0.3, sx - 0.3), np.clip(pos[2], 0.3, sz - 0.3)
    clutter = _clutter(rng, bottom, int(rng.integers(3, 15)), rng.uniform(0.03, 0.08))
    b.add([o for o in clutter if _clear_of_camera(o, pos)])
    return pos, yaw, pitch


def _room_camera(rng, size_xyz, kind: str):
    sx, sy, sz = size_xyz
    height = rng.uniform(0.35, min(1.9, sy - _WALL_MARGIN))
    if rng.random() < 0.15:
        pos = np.array([rng.uniform(_WALL_MARGIN, sx - _WALL_MARGIN), height,
                        rng.uniform(_WALL_MARGIN, sz - _WALL_MARGIN)])
        yaw = rng.uniform(0.0, 2.0 * math.pi)
    else:  # stand near a wall and look across the room
        u, v = rng.random(), rng.uniform(_WALL_MARGIN, 1.8)
        x, z = {0: (u * sx, v), 1: (u * sx, sz - v), 2: (v, u * sz), 3: (sx - v, u * sz)}[int(rng.integers(4))]
        x = min(max(x, _WALL_MARGIN), sx - _WALL_MARGIN)
        z = min(max(z, _WALL_MARGIN), sz - _WALL_MARGIN)
        pos = np.array([x, height, z])
        tx = (sx - x) + rng.uniform(-0.25, 0.25) * sx
        tz = (sz - z) + rng.uniform(-0.25, 0.25) * sz
        yaw = math.atan2(tx - x, tz - z) if math.hypot(tx - x, tz - z) > 0.5 else rng.uniform(0, 2 * math.pi)
    pitch = math.radians(rng.uniform(-30.0, 10.0))
    return pos, yaw, pitch


def _floor_point(rng, size_xyz, cam_pos, cam_yaw, hfov, near=1.0, far=5.0):
    """A floor point: half the time inside the camera's horizontal field of view."""
    if rng.random() < 0.5:
        angle = cam_yaw + rng.uniform(-0.5, 0.5) * hfov
        dist = rng.uniform(near, far)
        return cam_pos[0] + dist * math.sin(angle), cam_pos[2] + dist * math.cos(angle)
    return rng.uniform(0, size_xyz[0]), rng.uniform(0, size_xyz[2])


class _Builder:
    """Collects objects, their groups and materials while a layout is drawn."""

    def __init__(self, rng, noise):
        self.rng, self.noise = rng, noise
        self.objects: list = []
        self.groups: list = []
        self.materials: list = []

    def add(self, objs: list, materials: Optional[list] = None) -> None:
        if not objs:
            return
        start = len(self.objects)
        self.objects += objs
        for i, obj in enumerate(objs):
            self.materials.append(materials[i] if materials else
                                  tex.random_material(self.rng, self.noise, tex.OBJECT_TEXTURES, glossy_p=0.35))
        centers = np.array([o.bounding_sphere()[0] for o in objs])
        center = centers.mean(axis=0)
        radius = max(float(np.linalg.norm(np.asarray(o.bounding_sphere()[0]) - center)) + o.bounding_sphere()[1]
                     for o in objs)
        self.groups.append(Group(tuple(float(c) for c in center), radius, tuple(range(start, start + len(objs)))))

    def fits(self, objs: list, cam_pos, size_xyz=None, free: bool = True) -> bool:
        """No part near the camera or outside the room; standing parts clear of other floor objects."""
        for obj in objs:
            if not _clear_of_camera(obj, cam_pos) or (size_xyz is not None and not _inside_room(obj, size_xyz)):
                return False
        return not free or not any(_overlaps(objs[0], o) for o in self.objects)


def _furnish_room(b: _Builder, size_xyz, cam_pos, cam_yaw, hfov, tables: int, free: int) -> None:
    rng = b.rng
    for _ in range(rng.integers(0, 3)):
        cab = _cabinet(rng, size_xyz)
        if b.fits([cab], cam_pos, free=False):
            on_top = _clutter(rng, cab, int(rng.integers(0, 4)), 0.08) if cab.half[1] * 2 < size_xyz[1] - 0.6 else []
            b.add([cab, *[o for o in on_top if _inside_room(o, size_xyz) and _clear_of_camera(o, cam_pos)]])
    for _ in range(tables):
        x, z = _floor_point(rng, size_xyz, cam_pos, cam_yaw, hfov, 1.2, 4.5)
        parts = _table(rng, x, z, float(rng.uniform(0, math.pi)))
        if b.fits(parts, cam_pos, size_xyz):
            b.add(parts + [o for o in _clutter(rng, parts[0], int(rng.integers(0, 7)), 0.07)
                           if _clear_of_camera(o, cam_pos)])
    for _ in range(free):
        for _attempt in range(10):
            x, z = _floor_point(rng, size_xyz, cam_pos, cam_yaw, hfov)
            obj = _small_object(rng, x, z, 0.0, rng.uniform(0.15, 0.55))
            if b.fits([obj], cam_pos, size_xyz):
                b.add([obj])
                break
    for _ in range(rng.integers(0, 4)):
        box, material = _picture(rng, size_xyz)
        if b.fits([box], cam_pos, free=False):
            b.add([box], [material])


def _room_light(rng, size_xyz) -> Light:
    sx, sy, sz = size_xyz
    warmth = rng.uniform(-0.15, 0.15)
    tint = np.array([1.0 + warmth, 1.0, 1.0 - warmth], np.float32)
    fill_dir = np.array([rng.normal(), rng.uniform(0.2, 1.0), rng.normal()])
    fill_dir /= np.linalg.norm(fill_dir)
    return Light(position=(rng.uniform(0.3, sx - 0.3), sy - rng.uniform(0.1, 0.5), rng.uniform(0.3, sz - 0.3)),
                 color=tint * np.float32(rng.uniform(8.0, 20.0)), fill_dir=fill_dir.astype(np.float32),
                 fill_color=np.float32(rng.uniform(0.1, 0.45)) * tex.random_color(rng, sat=(0.0, 0.3), val=(0.8, 1.0)),
                 ambient=np.float32(rng.uniform(0.04, 0.15)) * np.ones(3, np.float32))


def _room_materials(rng, noise) -> list:
    floor = tex.random_material(rng, noise, tex.FLOOR_TEXTURES, glossy_p=0.3)
    wall = tex.random_material(rng, noise, tex.WALL_TEXTURES, glossy_p=0.1)
    accent = tex.random_material(rng, noise, tex.WALL_TEXTURES, glossy_p=0.1) if rng.random() < 0.3 else wall
    walls = [wall, wall, wall, wall]
    walls[rng.integers(4)] = accent
    return [floor, tex.ceiling_material(rng, noise), *walls]


def _indoor(rng, noise, kind: str):
    size_xyz = (rng.uniform(*_ROOM_XZ), rng.uniform(*_ROOM_Y), rng.uniform(*_ROOM_XZ))
    b = _Builder(rng, noise)
    if kind == "tabletop":
        sx, _, sz = size_xyz
        x, z = rng.uniform(1.2, sx - 1.2), rng.uniform(1.2, sz - 1.2)
        parts = _table(rng, x, z, float(rng.uniform(0, math.pi)), (rng.uniform(0.4, 0.8), rng.uniform(0.3, 0.5)))
        top = parts[0]
        yaw = rng.uniform(0, 2 * math.pi)
        dist = rng.uniform(0.6, 1.3) + top.half[2]
        pos = np.array([x - dist * math.sin(yaw), top.center[1] + rng.uniform(0.25, 0.9), z - dist * math.cos(yaw)])
        pos[0], pos[2] = np.clip(pos[0], 0.3, sx - 0.3), np.clip(pos[2], 0.3, sz - 0.3)
        look = np.array([x, top.center[1], z]) - pos
        yaw = math.atan2(look[0], look[2]) + rng.uniform(-0.15, 0.15)
        pitch = math.atan2(look[1], math.hypot(look[0], look[2])) + math.radians(rng.uniform(-8, 8))
        hfov = _hfov(rng, kind)
        clutter = _clutter(rng, top, int(rng.integers(4, 13)), rng.uniform(0.04, 0.09))
        b.add(parts + [o for o in clutter if _clear_of_camera(o, pos)])
        _furnish_room(b, size_xyz, pos, yaw, hfov, tables=0, free=int(rng.integers(0, 4)))
    elif kind == "bin":
        pos, yaw, pitch = _bin_view(b, size_xyz)
        hfov = _hfov(rng, kind)
        _furnish_room(b, size_xyz, pos, yaw, hfov, tables=0, free=int(rng.integers(0, 3)))
    else:
        pos, yaw, pitch = _room_camera(rng, size_xyz, kind)
        hfov = _hfov(rng, kind)
        _furnish_room(b, size_xyz, pos, yaw, hfov, tables=int(rng.integers(0, 3)), free=int(rng.integers(3, 10)))
    rotation = camera_rotation(yaw, pitch, math.radians(rng.uniform(-5.0, 5.0)))
    return Room(size_xyz), b, pos, rotation, hfov, _room_light(rng, size_xyz), _room_materials(rng, noise), None


def _outdoor_objects(b: _Builder, cam_pos, cam_yaw, hfov) -> None:
    rng = b.rng

    def spot(near, far, spread=0.6):
        angle = cam_yaw + rng.uniform(-spread, spread) * hfov
        dist = rng.uniform(near, far)
        return cam_pos[0] + dist * math.sin(angle), cam_pos[2] + dist * math.cos(angle)

    def place(make, near, far, tries=8, spread=0.6):
        for _attempt in range(tries):
            objs = make(*spot(near, far, spread))
            if b.fits(objs, cam_pos):
                b.add(objs)
                return

    def facade(x, z):
        h = rng.uniform(3.0, 12.0)
        return [Box((x, h / 2, z), (rng.uniform(2.0, 8.0), h / 2, rng.uniform(1.5, 3.5)),
                    float(cam_yaw + rng.uniform(-0.4, 0.4)))]

    def vehicle(x, z):
        yaw = float(rng.uniform(0, math.pi))
        w, l, h = rng.uniform(0.8, 1.0), rng.uniform(1.9, 2.5), rng.uniform(0.35, 0.5)
        cab = rng.uniform(0.35, 0.6)
        base = rng.uniform(0.15, 0.3)
        return [Box((x, base + h, z), (w, h, l), yaw), Box((x, base + 2 * h + cab, z), (w * 0.9, cab, l * 0.55), yaw)]

    def tree(x, z):
        trunk = rng.uniform(1.2, 3.0)
        crown = rng.uniform(0.8, 2.0)
        return [Cylinder((x, z), 0.0, trunk, rng.uniform(0.08, 0.25)), Sphere((x, trunk + 0.7 * crown, z), crown)]

    def fence(x, z):
        h = rng.uniform(0.6, 2.0)
        return [Box((x, h / 2, z), (rng.uniform(1.0, 4.0), h / 2, rng.uniform(0.03, 0.2)), float(rng.uniform(0, math.pi)))]

    for _ in range(rng.integers(1, 4)):
        place(facade, 9.0, 16.0, spread=0.8)
    for _ in range(rng.integers(0, 4)):
        place(vehicle, 3.0, 9.0)
    for _ in range(rng.integers(0, 3)):
        place(tree, 3.0, 9.5)
    for _ in range(rng.integers(0, 4)):
        place(lambda x, z: [Cylinder((x, z), 0.0, rng.uniform(2.0, 6.0), rng.uniform(0.04, 0.18))], 1.5, 9.0)
    for _ in range(rng.integers(0, 3)):
        place(fence, 2.0, 8.0)
    for _ in range(rng.integers(1, 7)):
        place(lambda x, z: [_small_object(rng, x, z, 0.0, rng.uniform(0.15, 0.6))], 1.0, 7.0)


def _outdoor(rng, noise):
    yaw = rng.uniform(0, 2 * math.pi)
    pos = np.array([0.0, rng.uniform(0.3, 2.2), 0.0])
    pitch = math.radians(rng.uniform(-25.0, 8.0))
    hfov = _hfov(rng, "outdoor")
    b = _Builder(rng, noise)
    _outdoor_objects(b, pos, yaw, hfov)
    elevation, azimuth = rng.uniform(0.25, 1.2), rng.uniform(0, 2 * math.pi)
    sun = 1000.0 * np.array([math.cos(elevation) * math.sin(azimuth), math.sin(elevation),
                             math.cos(elevation) * math.cos(azimuth)])
    warmth = rng.uniform(0.0, 0.25)
    zenith = tex.random_color(rng, sat=(0.2, 0.6), val=(0.6, 0.95)) if rng.random() < 0.2 else \
        np.array([0.25, 0.45, 0.9], np.float32) * np.float32(rng.uniform(0.6, 1.1))
    horizon = np.float32(rng.uniform(0.7, 1.0)) * np.array([0.85, 0.9, 1.0], np.float32)
    overcast = rng.random() < 0.3
    light = Light(position=tuple(pos + sun), color=np.array([1.0 + warmth, 1.0, 1.0 - warmth], np.float32)
                  * np.float32(rng.uniform(0.3, 0.8) if overcast else rng.uniform(2.0, 3.5)),
                  fill_dir=np.array([0.0, 1.0, 0.0], np.float32), fill_color=zenith * np.float32(rng.uniform(0.3, 0.7)),
                  ambient=np.float32(rng.uniform(0.1, 0.3) if overcast else rng.uniform(0.05, 0.15))
                  * np.ones(3, np.float32), falloff=False)
    ground = tex.random_material(rng, noise, tex.GROUND_TEXTURES, glossy_p=0.05)
    building = tex.random_material(rng, noise, tex.WALL_TEXTURES, glossy_p=0.1)
    for i, obj in enumerate(b.objects):
        if isinstance(obj, Box) and obj.half[1] > 1.4:  # facades share a wall material
            b.materials[i] = building
    materials = [ground] * 6
    if overcast:
        zenith = horizon = np.float32(rng.uniform(0.6, 0.9)) * np.ones(3, np.float32)
    rotation = camera_rotation(yaw, pitch, math.radians(rng.uniform(-4.0, 4.0)))
    return Ground(), b, pos, rotation, hfov, light, materials, (zenith, horizon)


def sample_layout(rng: np.random.Generator) -> Layout:
    """Draw a scene kind, its geometry, materials, lights, camera and sensor from ``rng``."""
    kinds = list(KIND_WEIGHTS)
    kind = kinds[rng.choice(len(kinds), p=list(KIND_WEIGHTS.values()))]
    noise = tex.ValueNoise(rng)
    if kind == "outdoor":
        env, b, pos, rotation, hfov, light, materials, sky = _outdoor(rng, noise)
    else:
        env, b, pos, rotation, hfov, light, materials, sky = _indoor(rng, noise, kind)
    return Layout(kind=kind, room=env, surfaces=b.objects, groups=b.groups, materials=materials + b.materials,
                  position=pos, rotation=rotation, hfov=hfov,
                  principal_jitter=(rng.uniform(-0.02, 0.02), rng.uniform(-0.02, 0.02)), light=light, sky=sky,
                  exposure=rng.uniform(0.12, 0.32), noise_sigma=rng.uniform(0.002, 0.015),
                  blur=float(rng.uniform(0.0, 0.004)) if rng.random() < 0.4 else 0.0,
                  gains=np.exp(rng.normal(0.0, 0.06, 3)).astype(np.float32), vignette=rng.uniform(0.1, 0.45))
