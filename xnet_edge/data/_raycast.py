"""Vectorised ray casting against the scene generator's primitives (numpy only).

Rays are ``o + t * d`` with origin components ``ox, oy, oz`` (Python floats for
camera rays, arrays for shadow rays) and direction components ``dx, dy, dz``
(float32 arrays, not normalised). Every ``intersect`` returns ``t`` of the
first hit with ``t > t_min`` and ``np.inf`` where the ray misses. Camera
directions are scaled so that their camera-frame z component is 1, which makes
``t`` the z-depth that depth datasets store.

World frame: x right, y up (floor at y = 0), z forward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# semantic labels written by the generator
FLOOR, WALL, CEILING, BOX, SPHERE, CYLINDER = range(6)
CLASS_NAMES = ("floor", "wall", "ceiling", "box", "sphere", "cylinder")
#: label of sky pixels: no class (segmentation ignores it, like the VOC "void" value)
SKY = 255

_INF = np.float32(np.inf)


def _nearest_valid(t: np.ndarray, hit: np.ndarray) -> np.ndarray:
    return np.where(hit, t, _INF)


@dataclass(frozen=True)
class Sphere:
    """A sphere of ``radius`` around ``center`` (x, y, z)."""

    center: tuple[float, float, float]
    radius: float
    label: int = SPHERE

    def bounding_sphere(self) -> tuple[tuple[float, float, float], float]:
        return self.center, self.radius

    def intersect(self, ox, oy, oz, dx, dy, dz, t_min: float = 1e-4) -> np.ndarray:
        px, py, pz = ox - self.center[0], oy - self.center[1], oz - self.center[2]
        a = dx * dx + dy * dy + dz * dz
        b = px * dx + py * dy + pz * dz
        c = px * px + py * py + pz * pz - self.radius * self.radius
        disc = b * b - a * c
        t = (-b - np.sqrt(np.maximum(disc, 0.0))) / a
        return _nearest_valid(t, (disc >= 0.0) & (t > t_min))

    def surface(self, px, py, pz):
        """Outward normal and (u, v) texture coordinates in metres at surface points."""
        r = self.radius
        nx, ny, nz = (px - self.center[0]) / r, (py - self.center[1]) / r, (pz - self.center[2]) / r
        u = r * np.arctan2(nz, nx)
        v = r * np.arccos(np.clip(ny, -1.0, 1.0))
        return nx, ny, nz, u, v


@dataclass(frozen=True)
class Box:
    """A box with half extents ``half`` (x, y, z), rotated by ``yaw`` radians about the vertical."""

    center: tuple[float, float, float]
    half: tuple[float, float, float]
    yaw: float = 0.0
    label: int = BOX

    def bounding_sphere(self):
        return self.center, math.sqrt(sum(h * h for h in self.half))

    def _to_local(self, x, z):
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return c * x - s * z, s * x + c * z

    def _to_world(self, x, z):
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return c * x + s * z, -s * x + c * z

    def intersect(self, ox, oy, oz, dx, dy, dz, t_min: float = 1e-4) -> np.ndarray:
        lox, loz = self._to_local(ox - self.center[0], oz - self.center[2])
        ldx, ldz = self._to_local(dx, dz)
        loy = oy - self.center[1]
        t_near = t_far = None
        with np.errstate(divide="ignore", invalid="ignore"):
            for o, d, h in ((lox, ldx, self.half[0]), (loy, dy, self.half[1]), (loz, ldz, self.half[2])):
                inv = 1.0 / d
                t1, t2 = (-h - o) * inv, (h - o) * inv
                lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
                t_near = lo if t_near is None else np.maximum(t_near, lo)
                t_far = hi if t_far is None else np.minimum(t_far, hi)
        return _nearest_valid(t_near, (t_near <= t_far) & (t_near > t_min))

    def surface(self, px, py, pz):
        lx, lz = self._to_local(px - self.center[0], pz - self.center[2])
        ly = py - self.center[1]
        hx, hy, hz = self.half
        ax, ay, az = np.abs(lx) / hx, np.abs(ly) / hy, np.abs(lz) / hz
        on_x = (ax >= ay) & (ax >= az)
        on_y = ~on_x & (ay >= az)
        on_z = ~on_x & ~on_y
        nlx = np.where(on_x, np.sign(lx), 0.0).astype(np.float32)
        nlz = np.where(on_z, np.sign(lz), 0.0).astype(np.float32)
        ny = np.where(on_y, np.sign(ly), 0.0).astype(np.float32)
        nx, nz = self._to_world(nlx, nlz)
        u = np.where(on_x, lz, lx)
        v = np.where(on_y, lz, ly)
        return nx, ny, nz, u, v


@dataclass(frozen=True)
class Cylinder:
    """A vertical cylinder standing on a horizontal surface at height ``base``.

    Only the side and the top cap are tested: the bottom cap rests on the floor
    or on a box top, so no ray from above that surface can reach it first.
    """

    center_xz: tuple[float, float]
    base: float
    height: float
    radius: float
    label: int = CYLINDER

    def bounding_sphere(self):
        cx, cz = self.center_xz
        return (cx, self.base + self.height / 2, cz), math.hypot(self.radius, self.height / 2)

    def intersect(self, ox, oy, oz, dx, dy, dz, t_min: float = 1e-4) -> np.ndarray:
        px, pz = ox - self.center_xz[0], oz - self.center_xz[1]
        r2 = self.radius * self.radius
        top = self.base + self.height
        with np.errstate(divide="ignore", invalid="ignore"):
            a = dx * dx + dz * dz
            b = px * dx + pz * dz
            disc = b * b - a * (px * px + pz * pz - r2)
            t_side = (-b - np.sqrt(np.maximum(disc, 0.0))) / a
            y = oy + t_side * dy
            side = (disc >= 0.0) & (t_side > t_min) & (y >= self.base) & (y <= top)
            t_cap = (top - oy) / dy
            cx, cz = px + t_cap * dx, pz + t_cap * dz
            cap = (t_cap > t_min) & (cx * cx + cz * cz <= r2)
        return np.minimum(_nearest_valid(t_side, side), _nearest_valid(t_cap, cap))

    def surface(self, px, py, pz):
        x, z = px - self.center_xz[0], pz - self.center_xz[1]
        radial = np.sqrt(x * x + z * z)
        on_cap = (py >= self.base + self.height - 1e-3) & (radial < self.radius - 1e-3)
        inv_r = 1.0 / np.maximum(radial, 1e-6)
        nx = np.where(on_cap, 0.0, x * inv_r).astype(np.float32)
        nz = np.where(on_cap, 0.0, z * inv_r).astype(np.float32)
        ny = on_cap.astype(np.float32)
        u = np.where(on_cap, x, self.radius * np.arctan2(z, x))
        v = np.where(on_cap, z, py)
        return nx, ny, nz, u, v


@dataclass(frozen=True)
class Room:
    """The inside of an axis-aligned room spanning [0, size] on each axis.

    Faces: 0 floor (y=0), 1 ceiling (y=Y), 2 wall x=0, 3 wall x=X, 4 wall z=0, 5 wall z=Z.
    """

    size: tuple[float, float, float]

    FACE_LABELS = (FLOOR, CEILING, WALL, WALL, WALL, WALL)

    def intersect(self, ox, oy, oz, dx, dy, dz):
        """Exit distance ``t`` and face index of rays starting inside the room."""
        sx, sy, sz = self.size
        with np.errstate(divide="ignore", invalid="ignore"):
            tx = np.where(dx > 0, (sx - ox) / dx, -ox / dx)
            ty = np.where(dy > 0, (sy - oy) / dy, -oy / dy)
            tz = np.where(dz > 0, (sz - oz) / dz, -oz / dz)
        tx = np.where(dx == 0, _INF, tx)
        ty = np.where(dy == 0, _INF, ty)
        tz = np.where(dz == 0, _INF, tz)
        t = np.minimum(np.minimum(tx, ty), tz)
        face = np.where(t == ty, np.where(dy > 0, 1, 0),
                        np.where(t == tx, np.where(dx > 0, 3, 2), np.where(dz > 0, 5, 4)))
        return t, face.astype(np.int8)

    @staticmethod
    def face_surface(face: int, px, py, pz):
        """Inward normal (constant per face) and (u, v) texture coordinates."""
        normals = ((0, 1, 0), (0, -1, 0), (1, 0, 0), (-1, 0, 0), (0, 0, 1), (0, 0, -1))
        u, v = {0: (px, pz), 1: (px, pz), 2: (pz, py), 3: (pz, py), 4: (px, py), 5: (px, py)}[face]
        return normals[face], u, v


@dataclass(frozen=True)
class Ground:
    """An endless ground plane (y = 0) under the sky: face 0 is the ground, face 1 the sky (no hit)."""

    FACE_LABELS = (FLOOR, SKY)

    def intersect(self, ox, oy, oz, dx, dy, dz):
        """Distance ``t`` to the ground (inf for rays that go to the sky) and face index (0 ground, 1 sky)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(dy < 0, -oy / dy, _INF).astype(np.float32)
        return t, (dy >= 0).astype(np.int8)

    @staticmethod
    def face_surface(face: int, px, py, pz):
        """Upward normal and (u, v) = (x, z) for the ground (the sky is never shaded)."""
        return (0, 1, 0), px, pz
