"""Triton kernels for the fused bridge ops (imported by :mod:`.launchers` on first launch, not by the package).

Both ×Net bridge formulas (docs/design.md) are one computation::

    y[b, :, p] = act( norm( Σ_t Up_t(W_t · a_t)[b, :, p] + bias ) )

over *terms* ``(a_t, W_t)``: the encoder feature, the pooled image and the
previous decoder output of a Re-Shape bridge, or every decoder level of the
Post Feature Pyramid. A term reaches the output in one of three ways:

* **dense** — ``a_t`` already has the output size: a per-pixel matmul.
* **fine** — ``a_t`` is smaller: the kernel samples it bilinearly at each output
  pixel and projects the sample (``W·Up(a) == Up(W·a)``: bilinear weights sum to
  one), all in registers. Chosen when ``a_t`` is thin and at most 2× smaller.
* **coarse** — ``z_t = W_t·a_t`` is projected at ``a_t``'s own (coarse)
  resolution by :func:`project_levels_kernel` (one launch for every coarse term),
  then the fused kernel samples ``z_t`` bilinearly. A coarse value feeds output
  pixels owned by many programs and Triton has no grid-wide barrier, so this
  is a separate launch: the fewest a coarse projection allows.

Layout: a tensor is addressed as ``base + b·s_b + c·s_c + p·s_p`` with ``p`` the
flattened pixel index, which covers NCHW (``s_p = 1``) and channels-last
(``s_c = 1``) alike. Matmuls use ``tl.dot`` with fp32 accumulation; operands
are the activation dtype (fp16/bf16 on tensor cores, fp32 as ``PRECISION`` says).
"""

from __future__ import annotations

from .._deps import require
from ..errors import XnetEdgeError


class _UnavailableKernel:
    """A kernel defined without triton installed: launching it raises MissingDependencyError."""

    def __init__(self, fn):
        self.fn = fn

    def __getitem__(self, grid):
        require("triton")  # raises, naming the extra to install
        raise XnetEdgeError("triton became importable after xnet_edge.kernels loaded its kernels without it; "
                            "restart Python")


class _NoTriton:
    """Stands in for the triton module so that this module imports (tooling, import checks) without it."""

    jit = _UnavailableKernel


try:
    import triton
    import triton.language as tl
except ImportError:
    triton, tl = _NoTriton, None  # tl is only read inside kernel bodies and (string) annotations


@triton.jit
def _activation(y, ACT: tl.constexpr):
    """Apply the named activation to an fp32 tile (GELU in its exact erf form)."""
    if ACT == "gelu":
        y = 0.5 * y * (1.0 + tl.math.erf(y * 0.7071067811865476))
    elif ACT == "relu":
        y = tl.maximum(y, 0.0)
    elif ACT == "relu6":
        y = tl.minimum(tl.maximum(y, 0.0), 6.0)
    elif ACT == "silu":
        y = y / (1.0 + tl.exp(-y))
    return y


@triton.jit
def _bilinear_taps(oy, ox, h, w, scale_h, scale_w):
    """Flattened source offsets and weights of bilinear sampling (align_corners=False).

    Mirrors PyTorch: ``src = max((dst + 0.5)·scale - 0.5, 0)``, ``i0 = floor(src)``,
    ``i1 = min(i0 + 1, size - 1)``, ``λ = src - i0``.
    """
    sy = tl.maximum((oy.to(tl.float32) + 0.5) * scale_h - 0.5, 0.0)
    sx = tl.maximum((ox.to(tl.float32) + 0.5) * scale_w - 0.5, 0.0)
    y0 = sy.to(tl.int32)  # truncation is floor: sy >= 0
    x0 = sx.to(tl.int32)
    y1 = tl.minimum(y0 + 1, h - 1)
    x1 = tl.minimum(x0 + 1, w - 1)
    ly = sy - y0.to(tl.float32)
    lx = sx - x0.to(tl.float32)
    return y0 * w + x0, y0 * w + x1, y1 * w + x0, y1 * w + x1, 1.0 - ly, ly, 1.0 - lx, lx


@triton.jit
def _blend(v00, v01, v10, v11, wy0, wy1, wx0, wx1):
    """Bilinear blend of four [P, N] tiles with per-pixel [P] weights (PyTorch's order)."""
    top = wx0[:, None] * v00 + wx1[:, None] * v01
    bottom = wx0[:, None] * v10 + wx1[:, None] * v11
    return wy0[:, None] * top + wy1[:, None] * bottom


@triton.jit
def _load_weight_tile(w_ptr, offs_k, mask_k, offs_co, mask_co, w_sco, w_sci):
    """Load W[co, k] transposed to a [BLOCK_K, BLOCK_CO] tile (zeros outside the matrix)."""
    ptrs = w_ptr + offs_k[:, None] * w_sci + offs_co[None, :] * w_sco
    return tl.load(ptrs, mask=mask_k[:, None] & mask_co[None, :], other=0.0)


@triton.jit
def _project_dense(acc, src_ptr, w_ptr, b, offs_p, mask_p, offs_co, mask_co,
                   C, s_b, s_c, s_p, w_sco, w_sci,
                   BLOCK_K: tl.constexpr, PRECISION: tl.constexpr):
    """acc[p, co] += Σ_k a[b, k, p] · W[co, k] for a term at the output resolution."""
    offs_k0 = tl.arange(0, BLOCK_K)
    base = src_ptr + b.to(tl.int64) * s_b + offs_p[:, None] * s_p
    for k0 in range(0, C, BLOCK_K):
        offs_k = k0 + offs_k0
        mask_k = offs_k < C
        a = tl.load(base + offs_k[None, :] * s_c, mask=mask_p[:, None] & mask_k[None, :], other=0.0)
        w = _load_weight_tile(w_ptr, offs_k, mask_k, offs_co, mask_co, w_sco, w_sci)
        acc = tl.dot(a, w.to(a.dtype), acc, input_precision=PRECISION)
    return acc


@triton.jit
def _project_upsampled(acc, src_ptr, w_ptr, b, oy, ox, mask_p, offs_co, mask_co,
                       C, h, w, scale_h, scale_w, s_b, s_c, s_p, w_sco, w_sci,
                       BLOCK_K: tl.constexpr, PRECISION: tl.constexpr):
    """acc[p, co] += Σ_k Up(a)[b, k, p] · W[co, k]: sample the small input, then project."""
    o00, o01, o10, o11, wy0, wy1, wx0, wx1 = _bilinear_taps(oy, ox, h, w, scale_h, scale_w)
    offs_k0 = tl.arange(0, BLOCK_K)
    base = src_ptr + b.to(tl.int64) * s_b
    for k0 in range(0, C, BLOCK_K):
        offs_k = k0 + offs_k0
        mask_k = offs_k < C
        mask = mask_p[:, None] & mask_k[None, :]
        chan = base + offs_k[None, :] * s_c
        v00 = tl.load(chan + (o00 * s_p)[:, None], mask=mask, other=0.0)
        v01 = tl.load(chan + (o01 * s_p)[:, None], mask=mask, other=0.0)
        v10 = tl.load(chan + (o10 * s_p)[:, None], mask=mask, other=0.0)
        v11 = tl.load(chan + (o11 * s_p)[:, None], mask=mask, other=0.0)
        a = _blend(v00.to(tl.float32), v01.to(tl.float32), v10.to(tl.float32), v11.to(tl.float32),
                   wy0, wy1, wx0, wx1)
        w_tile = _load_weight_tile(w_ptr, offs_k, mask_k, offs_co, mask_co, w_sco, w_sci)
        acc = tl.dot(a.to(v00.dtype), w_tile.to(v00.dtype), acc, input_precision=PRECISION)
    return acc


@triton.jit
def _add_coarse(acc, z_ptr, b, oy, ox, mask_p, offs_co, mask_co, C_OUT, h, w, scale_h, scale_w):
    """acc[p, co] += Up(z)[b, co, p] for a term projected at its coarse resolution (fp32, contiguous)."""
    o00, o01, o10, o11, wy0, wy1, wx0, wx1 = _bilinear_taps(oy, ox, h, w, scale_h, scale_w)
    npix = h * w
    chan = z_ptr + b.to(tl.int64) * C_OUT * npix + offs_co[None, :] * npix
    mask = mask_p[:, None] & mask_co[None, :]
    v00 = tl.load(chan + o00[:, None], mask=mask, other=0.0)
    v01 = tl.load(chan + o01[:, None], mask=mask, other=0.0)
    v10 = tl.load(chan + o10[:, None], mask=mask, other=0.0)
    v11 = tl.load(chan + o11[:, None], mask=mask, other=0.0)
    return acc + _blend(v00, v01, v10, v11, wy0, wy1, wx0, wx1)


@triton.jit
def _sum_terms(b, offs_p, mask_p, oy, ox, offs_co, mask_co, bias_ptr,
               mm_srcs, mm_weights, mm_c, mm_h, mm_w, mm_scale_h, mm_scale_w,
               mm_sb, mm_sc, mm_sp, mm_wsco, mm_wsci,
               z_srcs, z_h, z_w, z_scale_h, z_scale_w, C_OUT,
               NUM_MM: tl.constexpr, MM_UP: tl.constexpr, NUM_Z: tl.constexpr,
               BLOCK_P: tl.constexpr, BLOCK_CO: tl.constexpr, BLOCK_K: tl.constexpr,
               PRECISION: tl.constexpr):
    """Pre-norm tile ``Σ_t Up_t(W_t·a_t) + bias`` for pixels offs_p and channels offs_co, in fp32."""
    acc = tl.zeros([BLOCK_P, BLOCK_CO], dtype=tl.float32)
    for t in tl.static_range(NUM_MM):
        if (MM_UP >> t) & 1:
            acc = _project_upsampled(acc, mm_srcs[t], mm_weights[t], b, oy, ox, mask_p, offs_co, mask_co,
                                     mm_c[t], mm_h[t], mm_w[t], mm_scale_h[t], mm_scale_w[t],
                                     mm_sb[t], mm_sc[t], mm_sp[t], mm_wsco[t], mm_wsci[t],
                                     BLOCK_K, PRECISION)
        else:
            acc = _project_dense(acc, mm_srcs[t], mm_weights[t], b, offs_p, mask_p, offs_co, mask_co,
                                 mm_c[t], mm_sb[t], mm_sc[t], mm_sp[t], mm_wsco[t], mm_wsci[t],
                                 BLOCK_K, PRECISION)
    for t in tl.static_range(NUM_Z):
        acc = _add_coarse(acc, z_srcs[t], b, oy, ox, mask_p, offs_co, mask_co, C_OUT,
                          z_h[t], z_w[t], z_scale_h[t], z_scale_w[t])
    bias = tl.load(bias_ptr + offs_co, mask=mask_co, other=0.0).to(tl.float32)
    return acc + bias[None, :]


@triton.jit
def fused_sum_kernel(
    out_ptr,     # y: output (B, C_OUT, H, W) in the activation dtype, strides (out_sb, out_sc, out_sp)
    tmp_ptr,     # pre-norm scratch for the two-pass LayerNorm, strides (tmp_sb, tmp_sc, tmp_sp); may alias out
    bias_ptr,    # b: (C_OUT,) shared bias, contiguous
    ln_w_ptr,    # LayerNorm weight (C_OUT,), contiguous; read only when HAS_NORM
    ln_b_ptr,    # LayerNorm bias (C_OUT,), contiguous; read only when HAS_NORM
    mm_srcs,     # tuple of NUM_MM pointers: inputs a_t (B, C_t, h_t, w_t) projected in this kernel
    mm_weights,  # tuple of NUM_MM pointers: their projections W_t (C_OUT, C_t)
    z_srcs,      # tuple of NUM_Z pointers: coarse projections z_t (B, C_OUT, h_t·w_t), fp32, contiguous
    mm_c, mm_h, mm_w, mm_scale_h, mm_scale_w,   # per mm term: channels, size, source/output scale
    mm_sb, mm_sc, mm_sp, mm_wsco, mm_wsci,      # per mm term: input strides, weight strides
    z_h, z_w, z_scale_h, z_scale_w,             # per coarse term: size, source/output scale
    out_sb, out_sc, out_sp, tmp_sb, tmp_sc, tmp_sp,
    H, W, C_OUT, eps,
    NUM_MM: tl.constexpr,        # number of terms projected here (≥ 1)
    MM_UP: tl.constexpr,         # bit t set: mm term t is sampled bilinearly ("fine"), else dense
    NUM_Z: tl.constexpr,         # number of coarse terms
    HAS_NORM: tl.constexpr,      # channel LayerNorm after the sum
    ONE_CO_BLOCK: tl.constexpr,  # all C_OUT channels fit one BLOCK_CO tile (single-pass norm)
    ACT: tl.constexpr,           # activation name
    BLOCK_P: tl.constexpr, BLOCK_CO: tl.constexpr, BLOCK_K: tl.constexpr,
    PRECISION: tl.constexpr,     # tl.dot input precision for fp32 operands ("ieee" or "tf32")
):
    """Grid: (cdiv(H·W, BLOCK_P), channel blocks (1 with a norm), B)."""
    pid_p = tl.program_id(0)
    pid_co = tl.program_id(1)
    b = tl.program_id(2)
    offs_p = pid_p * BLOCK_P + tl.arange(0, BLOCK_P)
    mask_p = offs_p < H * W
    oy = offs_p // W
    ox = offs_p % W
    out_base = out_ptr + b.to(tl.int64) * out_sb + offs_p[:, None] * out_sp
    terms = (mm_srcs, mm_weights, mm_c, mm_h, mm_w, mm_scale_h, mm_scale_w, mm_sb, mm_sc, mm_sp,
             mm_wsco, mm_wsci, z_srcs, z_h, z_w, z_scale_h, z_scale_w)

    if not HAS_NORM:
        offs_co = pid_co * BLOCK_CO + tl.arange(0, BLOCK_CO)
        mask_co = offs_co < C_OUT
        y = _sum_terms(b, offs_p, mask_p, oy, ox, offs_co, mask_co, bias_ptr, *terms, C_OUT,
                       NUM_MM, MM_UP, NUM_Z, BLOCK_P, BLOCK_CO, BLOCK_K, PRECISION)
        y = _activation(y, ACT)
        tl.store(out_base + offs_co[None, :] * out_sc, y.to(out_ptr.dtype.element_ty),
                 mask=mask_p[:, None] & mask_co[None, :])
    elif ONE_CO_BLOCK:
        offs_co = tl.arange(0, BLOCK_CO)
        mask_co = offs_co < C_OUT
        y = _sum_terms(b, offs_p, mask_p, oy, ox, offs_co, mask_co, bias_ptr, *terms, C_OUT,
                       NUM_MM, MM_UP, NUM_Z, BLOCK_P, BLOCK_CO, BLOCK_K, PRECISION)
        mean = tl.sum(y, axis=1) / C_OUT  # padded channels are exactly zero
        diff = tl.where(mask_co[None, :], y - mean[:, None], 0.0)
        rstd = 1.0 / tl.sqrt(tl.sum(diff * diff, axis=1) / C_OUT + eps)
        gamma = tl.load(ln_w_ptr + offs_co, mask=mask_co, other=0.0).to(tl.float32)
        beta = tl.load(ln_b_ptr + offs_co, mask=mask_co, other=0.0).to(tl.float32)
        y = _activation(diff * rstd[:, None] * gamma[None, :] + beta[None, :], ACT)
        tl.store(out_base + offs_co[None, :] * out_sc, y.to(out_ptr.dtype.element_ty),
                 mask=mask_p[:, None] & mask_co[None, :])
    else:
        # Two passes over channel chunks: (1) sum terms, keep pre-norm values in tmp and
        # merge per-chunk mean/M2 (Chan et al.), (2) normalize, affine, activate.
        tmp_base = tmp_ptr + b.to(tl.int64) * tmp_sb + offs_p[:, None] * tmp_sp
        mean = tl.zeros([BLOCK_P], dtype=tl.float32)
        m2 = tl.zeros([BLOCK_P], dtype=tl.float32)
        count = 0.0
        for co0 in range(0, C_OUT, BLOCK_CO):
            offs_co = co0 + tl.arange(0, BLOCK_CO)
            mask_co = offs_co < C_OUT
            y = _sum_terms(b, offs_p, mask_p, oy, ox, offs_co, mask_co, bias_ptr, *terms, C_OUT,
                           NUM_MM, MM_UP, NUM_Z, BLOCK_P, BLOCK_CO, BLOCK_K, PRECISION)
            n_chunk = tl.minimum(C_OUT - co0, BLOCK_CO).to(tl.float32)
            chunk_mean = tl.sum(y, axis=1) / n_chunk
            diff = tl.where(mask_co[None, :], y - chunk_mean[:, None], 0.0)
            total = count + n_chunk
            delta = chunk_mean - mean
            mean = mean + delta * (n_chunk / total)
            m2 = m2 + tl.sum(diff * diff, axis=1) + delta * delta * (count * n_chunk / total)
            count = total
            tl.store(tmp_base + offs_co[None, :] * tmp_sc, y.to(tmp_ptr.dtype.element_ty),
                     mask=mask_p[:, None] & mask_co[None, :])
        tl.debug_barrier()  # make pass-1 stores visible to every thread of this program
        rstd = 1.0 / tl.sqrt(m2 / C_OUT + eps)
        for co0 in range(0, C_OUT, BLOCK_CO):
            offs_co = co0 + tl.arange(0, BLOCK_CO)
            mask_co = offs_co < C_OUT
            mask = mask_p[:, None] & mask_co[None, :]
            y = tl.load(tmp_base + offs_co[None, :] * tmp_sc, mask=mask, other=0.0).to(tl.float32)
            gamma = tl.load(ln_w_ptr + offs_co, mask=mask_co, other=0.0).to(tl.float32)
            beta = tl.load(ln_b_ptr + offs_co, mask=mask_co, other=0.0).to(tl.float32)
            y = (y - mean[:, None]) * rstd[:, None] * gamma[None, :] + beta[None, :]
            tl.store(out_base + offs_co[None, :] * out_sc, _activation(y, ACT).to(out_ptr.dtype.element_ty),
                     mask=mask)


@triton.jit
def project_levels_kernel(
    srcs,         # tuple of NUM_LEVELS pointers: coarse inputs a_l (B, C_l, h_l, w_l)
    weights,      # tuple of NUM_LEVELS pointers: projections W_l (C_OUT, C_l)
    dsts,         # tuple of NUM_LEVELS pointers: outputs z_l (B, C_OUT, h_l·w_l), fp32, contiguous
    chans, npix,  # per level: C_l and h_l·w_l
    s_b, s_c, s_p, w_sco, w_sci,  # per level: input strides, weight strides
    first_block,  # NUM_LEVELS + 1 ints: first axis-0 program of each level, then the total
    C_OUT,
    NUM_LEVELS: tl.constexpr,
    BLOCK_P: tl.constexpr, BLOCK_CO: tl.constexpr, BLOCK_K: tl.constexpr,
    PRECISION: tl.constexpr,
):
    """z_l = W_l·a_l at each level's own resolution, every level in one launch.

    Grid: (Σ_l cdiv(h_l·w_l, BLOCK_P), cdiv(C_OUT, BLOCK_CO), B); axis-0 programs are
    split among levels by ``first_block``.
    """
    pid = tl.program_id(0)
    pid_co = tl.program_id(1)
    b = tl.program_id(2)
    offs_co = pid_co * BLOCK_CO + tl.arange(0, BLOCK_CO)
    mask_co = offs_co < C_OUT
    for lvl in tl.static_range(NUM_LEVELS):
        if (pid >= first_block[lvl]) & (pid < first_block[lvl + 1]):
            offs_p = (pid - first_block[lvl]) * BLOCK_P + tl.arange(0, BLOCK_P)
            mask_p = offs_p < npix[lvl]
            acc = tl.zeros([BLOCK_P, BLOCK_CO], dtype=tl.float32)
            acc = _project_dense(acc, srcs[lvl], weights[lvl], b, offs_p, mask_p, offs_co, mask_co,
                                 chans[lvl], s_b[lvl], s_c[lvl], s_p[lvl], w_sco[lvl], w_sci[lvl],
                                 BLOCK_K, PRECISION)
            dst = dsts[lvl] + b.to(tl.int64) * C_OUT * npix[lvl]
            tl.store(dst + offs_co[None, :] * npix[lvl] + offs_p[:, None], acc,
                     mask=mask_p[:, None] & mask_co[None, :])
