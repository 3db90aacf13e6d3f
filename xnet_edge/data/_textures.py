"""Procedural surface textures for the scene generator (numpy only).

A texture is a callable ``(u, v, footprint=None) -> (3, n)`` float32 albedo in
linear RGB [0, 1] (channel-first: numpy broadcasts over contiguous rows much
faster than over a trailing axis of 3), where ``u`` and ``v`` are surface
coordinates in metres (1-D float32 arrays of the same length) and ``footprint``
the size in metres of the pixel that sees each point (photo textures use it to
pick a mip level; procedural ones ignore it). Every texture is built from a random generator, so a
scene's look is fixed by its seed. Patterns are kept metric (tiles, planks and
bricks have real-world sizes), which gives the network the same size-vs-distance
cues that real rooms give.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._photos import PhotoTexture, material_photos

Texture = Callable[[np.ndarray, np.ndarray], np.ndarray]

_LATTICE = 64  # side of the periodic value-noise lattice


@dataclass(frozen=True)
class Material:
    """How a surface looks: an albedo texture plus Blinn-Phong specular terms."""

    texture: Texture
    specular: float = 0.0
    shininess: float = 16.0


class ValueNoise:
    """Smooth periodic value noise on a random lattice, evaluated with bilinear smoothstep."""

    def __init__(self, rng: np.random.Generator):
        self.lattice = rng.random((_LATTICE, _LATTICE), dtype=np.float32)

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Noise in [0, 1] at lattice coordinates (x, y)."""
        fx, fy = np.floor(x), np.floor(y)
        tx, ty = x - fx, y - fy
        tx = tx * tx * (3.0 - 2.0 * tx)
        ty = ty * ty * (3.0 - 2.0 * ty)
        mask = _LATTICE - 1  # the lattice side is a power of two: wrap with a bit mask
        ix, iy = fx.astype(np.int32) & mask, fy.astype(np.int32) & mask
        row0, row1 = iy * _LATTICE, ((iy + 1) & mask) * _LATTICE
        ix1 = (ix + 1) & mask
        lat = self.lattice.ravel()
        a, b = np.take(lat, row0 + ix), np.take(lat, row0 + ix1)
        c, d = np.take(lat, row1 + ix), np.take(lat, row1 + ix1)
        top = a + (b - a) * tx
        bottom = c + (d - c) * tx
        return top + (bottom - top) * ty

    def fbm(self, x: np.ndarray, y: np.ndarray, octaves: int = 3) -> np.ndarray:
        """Fractal sum of ``octaves`` noise layers, normalised to [0, 1]."""
        total = np.zeros_like(x)
        amp, norm = 1.0, 0.0
        for k in range(octaves):
            scale = float(2 ** k)
            total += amp * self(x * scale + 17.0 * k, y * scale + 31.0 * k)
            norm += amp
            amp *= 0.5
        return total / norm


def random_color(rng: np.random.Generator, sat=(0.1, 0.8), val=(0.3, 0.95)) -> np.ndarray:
    """A random colour in linear RGB (sampled in HSV, then expanded with the renderer's gamma 2)."""
    rgb = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*sat), rng.uniform(*val))
    return np.asarray(rgb, dtype=np.float32) ** 2


def _mix(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per-point blend of colours a and b with weights w (n,) -> (3, n)."""
    return a[:, None] + (b - a)[:, None] * w[None, :]


def _shade(color: np.ndarray, factor: np.ndarray) -> np.ndarray:
    return color[:, None] * factor[None, :]


def plain(rng: np.random.Generator, noise: ValueNoise, color=None) -> Texture:
    """A flat colour with faint low-frequency blotches (paint, plastic)."""
    color = random_color(rng) if color is None else color
    freq, amount = rng.uniform(1.0, 4.0), rng.uniform(0.04, 0.18)

    def texture(u, v, footprint=None):
        return _shade(color, 1.0 - amount + 2.0 * amount * noise(u * freq, v * freq))
    return texture


def tiles(rng: np.random.Generator, noise: ValueNoise) -> Texture:
    """Square tiles (checker or uniform) separated by grout lines."""
    size = rng.uniform(0.2, 0.6)
    grout = rng.uniform(0.006, 0.02) / size
    a, b = random_color(rng), random_color(rng)
    if rng.random() < 0.5:
        b = a * rng.uniform(0.6, 0.9)
    grout_color = random_color(rng, sat=(0.0, 0.2), val=(0.2, 0.8))

    def texture(u, v, footprint=None):
        x, y = u / size, v / size
        fx, fy = x - np.floor(x), y - np.floor(y)
        checker = ((np.floor(x) + np.floor(y)) % 2.0).astype(np.float32)
        out = _mix(a, b, checker) * (0.92 + 0.16 * noise(x * 3.0, y * 3.0))[None, :]
        line = (np.minimum(fx, 1.0 - fx) < grout) | (np.minimum(fy, 1.0 - fy) < grout)
        out[:, line] = grout_color[:, None]
        return out
    return texture


def stripes(rng: np.random.Generator, noise: ValueNoise) -> Texture:
    """Wallpaper stripes of two colours at a random period and angle."""
    period = rng.uniform(0.05, 0.4)
    angle = rng.choice([0.0, np.pi / 2, rng.uniform(0, np.pi)])
    ca, sa = float(np.cos(angle)), float(np.sin(angle))
    a, b = random_color(rng), random_color(rng)
    duty = rng.uniform(0.3, 0.7)

    def texture(u, v, footprint=None):
        phase = (u * ca + v * sa) / period
        band = ((phase - np.floor(phase)) < duty).astype(np.float32)
        return _mix(a, b, band) * (0.94 + 0.12 * noise(u * 5.0, v * 5.0))[None, :]
    return texture


def planks(rng: np.random.Generator, noise: ValueNoise) -> Texture:
    """Wooden planks: per-plank tone, staggered joints and noisy grain."""
    width, length = rng.uniform(0.1, 0.25), rng.uniform(0.8, 2.0)
    if rng.random() < 0.8:  # mostly wood hues, sometimes painted
        hsv = (rng.uniform(0.05, 0.11), rng.uniform(0.35, 0.75), rng.uniform(0.35, 0.85))
        base = np.asarray(colorsys.hsv_to_rgb(*hsv), np.float32) ** 2
    else:
        base = random_color(rng)
    grain_freq = rng.uniform(30.0, 80.0)

    def texture(u, v, footprint=None):
        row = np.floor(v / width)
        shifted = u / length + 0.37 * row
        col = np.floor(shifted)
        tone = 0.75 + 0.5 * noise(row * 7.3, col * 3.1)
        grain = 0.85 + 0.15 * np.sin(v * grain_freq + 6.0 * noise.fbm(u * 2.0, v * 8.0, 2))
        out = _shade(base, tone * grain)
        fv, fu = v / width - row, shifted - col
        joint = (np.minimum(fv, 1.0 - fv) < 0.04) | (np.minimum(fu, 1.0 - fu) < 0.01)
        out[:, joint] *= 0.45
        return out
    return texture


def bricks(rng: np.random.Generator, noise: ValueNoise) -> Texture:
    """Running-bond bricks with mortar; bricks vary in tone."""
    bw, bh = rng.uniform(0.18, 0.3), rng.uniform(0.05, 0.09)
    mortar_w = rng.uniform(0.008, 0.015)
    brick = random_color(rng, sat=(0.3, 0.8), val=(0.3, 0.75))
    mortar = random_color(rng, sat=(0.0, 0.15), val=(0.5, 0.9))

    def texture(u, v, footprint=None):
        row = np.floor(v / bh)
        x = u / bw + 0.5 * (row % 2.0)
        col = np.floor(x)
        tone = 0.7 + 0.6 * noise(col * 5.7, row * 9.1)
        out = _shade(brick, tone * (0.9 + 0.2 * noise(u * 20.0, v * 20.0)))
        fx, fy = (x - col) * bw, (v / bh - row) * bh
        line = (np.minimum(fx, bw - fx) < mortar_w) | (np.minimum(fy, bh - fy) < mortar_w)
        out[:, line] = mortar[:, None]
        return out
    return texture


def marble(rng: np.random.Generator, noise: ValueNoise) -> Texture:
    """Veined stone: a sine of turbulent noise between two colours."""
    a = random_color(rng, sat=(0.0, 0.3), val=(0.6, 0.95))
    b = random_color(rng, sat=(0.0, 0.6), val=(0.1, 0.6))
    freq, turb = rng.uniform(2.0, 8.0), rng.uniform(3.0, 8.0)

    def texture(u, v, footprint=None):
        vein = 0.5 + 0.5 * np.sin(u * freq + turb * noise.fbm(u * 1.5, v * 1.5, 3))
        return _mix(a, b, vein ** 3)
    return texture


def dots(rng: np.random.Generator, noise: ValueNoise) -> Texture:
    """Polka dots on a background colour."""
    spacing = rng.uniform(0.04, 0.2)
    radius = spacing * rng.uniform(0.15, 0.4)
    a, b = random_color(rng), random_color(rng)

    def texture(u, v, footprint=None):
        x, y = u / spacing, v / spacing
        dx, dy = (x - np.floor(x) - 0.5) * spacing, (y - np.floor(y) - 0.5) * spacing
        inside = (dx * dx + dy * dy < radius * radius).astype(np.float32)
        return _mix(a, b, inside) * (0.95 + 0.1 * noise(u * 4.0, v * 4.0))[None, :]
    return texture


def fabric(rng: np.random.Generator, noise: ValueNoise) -> Texture:
    """A woven look: fine crossing threads plus blotchy dye."""
    color = random_color(rng, sat=(0.2, 0.9))
    pitch = rng.uniform(0.004, 0.012)

    def texture(u, v, footprint=None):
        weave = 0.85 + 0.075 * (np.sin(u / pitch) + np.sin(v / pitch))
        return _shade(color, weave * (0.8 + 0.4 * noise.fbm(u * 3.0, v * 3.0, 2)))
    return texture


def photo(rng: np.random.Generator, noise: ValueNoise) -> Texture:
    """A tiling photograph (brick, gravel, grass, ...) at a random metric size, angle and tint."""
    names = material_photos()
    name = names[rng.integers(len(names))]
    side = float(rng.uniform(0.4, 2.5))
    tint = random_color(rng, sat=(0.0, 0.5), val=(0.7, 1.0)) * np.float32(rng.uniform(1.0, 1.6))
    angle = float(rng.choice([0.0, np.pi / 2, rng.uniform(0, np.pi)]))
    return PhotoTexture(name, (side, side * rng.uniform(0.8, 1.25)), (rng.random(), rng.random()), tint, angle)


FLOOR_TEXTURES = (planks, tiles, marble, plain, fabric, photo, photo)
WALL_TEXTURES = (plain, plain, stripes, bricks, tiles, dots, photo)
OBJECT_TEXTURES = (plain, tiles, stripes, planks, bricks, marble, dots, fabric, photo, photo)
GROUND_TEXTURES = (photo, photo, photo, tiles, marble, plain)


def random_material(rng: np.random.Generator, noise: ValueNoise, choices, glossy_p: float = 0.3) -> Material:
    """Pick a texture family from ``choices`` and a specular finish."""
    make = choices[rng.integers(len(choices))]
    glossy = rng.random() < glossy_p
    return Material(texture=make(rng, noise),
                    specular=float(rng.uniform(0.2, 0.6)) if glossy else 0.0,
                    shininess=float(rng.uniform(8.0, 64.0)))


def ceiling_material(rng: np.random.Generator, noise: ValueNoise) -> Material:
    """Ceilings are light and plain, as in most rooms."""
    color = random_color(rng, sat=(0.0, 0.15), val=(0.75, 0.98))
    return Material(texture=plain(rng, noise, color=color))
