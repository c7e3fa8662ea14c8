//! The f32 matrix product behind every dense and convolutional layer.
//!
//! Training is matrix products; dfdx's kernel (the `gemm` crate on stable Rust) uses 256-bit
//! FMA tiles and reaches about three quarters of the f32 rate MKL reaches on the same core.
//! Where the CPU has AVX-512 this module runs its own packed product instead (Goto's scheme:
//! B in panels of 32 columns, A in panels of 12 rows, a 12 × 32 tile of C held in 24 of the 32
//! vector registers), blocks of C's rows on rayon's threads; elsewhere, and for products too
//! narrow for a 32-column tile, it hands over to the `gemm` crate.

/// Rows of C per micro-tile.
const MR: usize = 12;
/// Columns of C per micro-tile: two 16-lane vectors.
const NR: usize = 32;
/// Depth of one packed block (a 128 × 32 panel of B is 16 KiB: it stays in L1).
const KC: usize = 128;
/// Below this many multiply-adds a product runs on the calling thread: splitting it costs more.
const PARALLEL_WORK: usize = 1 << 18;

use rayon::prelude::*;

/// A matrix operand: its values and (row stride, column stride).
pub type Operand<'a> = (&'a [f32], usize, usize);

/// dst (m × n, row-major, contiguous) = [dst +] lhs (m × k) · rhs (k × n).
///
/// # Panics
/// If a slice is too short for its shape and strides.
pub fn gemm(m: usize, n: usize, k: usize, dst: &mut [f32], accumulate: bool, lhs: Operand, rhs: Operand) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(dst.len() >= m * n, "gemm: destination too short");
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    assert!(lhs.0.len() > (m - 1) * lhs.1 + (k - 1) * lhs.2, "gemm: left factor too short");
    assert!(rhs.0.len() > (k - 1) * rhs.1 + (n - 1) * rhs.2, "gemm: right factor too short");
    let threads = if m * n * k >= PARALLEL_WORK { rayon::current_num_threads() } else { 1 };
    #[cfg(target_arch = "x86_64")]
    // Narrow, shallow or short products waste most of a 12 × 32 tile: the crate does those better.
    if n >= NR && m >= 2 * MR && k >= 16 && avx512::available() {
        avx512::gemm(m, n, k, &mut dst[..m * n], accumulate, lhs, rhs, threads);
        return;
    }
    fallback(m, n, k, dst, accumulate, lhs, rhs, threads);
}

/// Whether this CPU has AVX-512F (checked once), for the other kernels of `nn`.
#[cfg(target_arch = "x86_64")]
pub(super) fn avx512_available() -> bool {
    avx512::available()
}

/// The `gemm` crate's product (dfdx's own kernel).
#[allow(clippy::too_many_arguments)]
fn fallback(m: usize, n: usize, k: usize, dst: &mut [f32], accumulate: bool, lhs: Operand, rhs: Operand, threads: usize) {
    let par = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: `gemm` checked that every index the kernel touches lies inside the slices.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.0.as_ptr(),
            lhs.2 as isize,
            lhs.1 as isize,
            rhs.0.as_ptr(),
            rhs.2 as isize,
            rhs.1 as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

/// B[pc..pc+kc, ..] packed into `out` as ⌈n/NR⌉ panels of kc × NR values, zero past column
/// n; panels on rayon's threads when `parallel`.
fn pack_rhs(rhs: Operand, pc: usize, kc: usize, n: usize, parallel: bool, out: &mut [f32]) {
    let (b, rs, cs) = rhs;
    let fill = |(jp, panel): (usize, &mut [f32])| {
        let cols = NR.min(n - jp * NR);
        if cols < NR {
            panel.fill(0.0);
        }
        if cs == 1 {
            for (p, row) in panel.chunks_exact_mut(NR).enumerate() {
                let base = (pc + p) * rs + jp * NR;
                row[..cols].copy_from_slice(&b[base..base + cols]);
            }
        } else {
            // Columns contiguous in k (a transposed operand): walk each column once.
            for j in 0..cols {
                let base = pc * rs + (jp * NR + j) * cs;
                for p in 0..kc {
                    panel[p * NR + j] = b[base + p * rs];
                }
            }
        }
    };
    if parallel {
        out.par_chunks_mut(kc * NR).enumerate().for_each(fill);
    } else {
        out.chunks_mut(kc * NR).enumerate().for_each(fill);
    }
}

/// A[ic..ic+mc, pc..pc+kc] packed as ⌈mc/MR⌉ panels of kc × MR values, zero past row mc,
/// into the front of `out` (grown if short; what lies beyond is left as it was). Returns the
/// packed length.
fn pack_lhs(lhs: Operand, ic: usize, mc: usize, pc: usize, kc: usize, out: &mut Vec<f32>) -> usize {
    let (a, rs, cs) = lhs;
    let len = mc.div_ceil(MR) * kc * MR;
    if out.len() < len {
        out.resize(len, 0.0);
    }
    for (ip, panel) in out[..len].chunks_exact_mut(kc * MR).enumerate() {
        let rows = MR.min(mc - ip * MR);
        let r0 = ic + ip * MR;
        if cs == 1 {
            // Rows contiguous in k: MR read streams, one contiguous write stream.
            let mut src: [&[f32]; MR] = [&[]; MR];
            for (i, s) in src.iter_mut().enumerate().take(rows) {
                *s = &a[(r0 + i) * rs + pc..][..kc];
            }
            if rows == MR {
                for (p, dst) in panel.chunks_exact_mut(MR).enumerate() {
                    for (d, s) in dst.iter_mut().zip(&src) {
                        *d = s[p];
                    }
                }
            } else {
                for (p, dst) in panel.chunks_exact_mut(MR).enumerate() {
                    for (d, s) in dst[..rows].iter_mut().zip(&src) {
                        *d = s[p];
                    }
                    dst[rows..].fill(0.0);
                }
            }
        } else {
            for (p, dst) in panel.chunks_exact_mut(MR).enumerate() {
                let base = (pc + p) * cs + r0 * rs;
                if rs == 1 {
                    dst[..rows].copy_from_slice(&a[base..base + rows]);
                } else {
                    for (i, d) in dst[..rows].iter_mut().enumerate() {
                        *d = a[base + i * rs];
                    }
                }
                dst[rows..].fill(0.0);
            }
        }
    }
    len
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{pack_lhs, pack_rhs, Operand, KC, MR, NR};
    use rayon::prelude::*;
    use std::arch::x86_64::*;
    use std::cell::RefCell;
    use std::sync::OnceLock;

    /// Whether this CPU has AVX-512F (checked once).
    pub fn available() -> bool {
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| std::is_x86_feature_detected!("avx512f"))
    }

    /// The packed product: B packed once, then blocks of C's rows on `threads` threads, each
    /// packing its own rows of A per depth block.
    #[allow(clippy::too_many_arguments)]
    pub fn gemm(m: usize, n: usize, k: usize, dst: &mut [f32], accumulate: bool, lhs: Operand, rhs: Operand, threads: usize) {
        let parallel = threads > 1;
        // Row blocks: two per thread when parallel, whole micro-panels, at most 192 rows.
        let mc = if parallel { m.div_ceil(2 * threads).div_ceil(MR) * MR } else { 192 }.clamp(MR, 192);
        let depth: Vec<(usize, usize)> = (0..k).step_by(KC).map(|pc| (pc, KC.min(k - pc))).collect();
        // Packing buffers live on with their thread: freeing and faulting in fresh pages for
        // every product costs more than the product.
        thread_local! {
            static PACKED_B: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
            static PACKED_A: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
        }
        let panel_values = n.div_ceil(NR) * NR;
        let mut packed = PACKED_B.with(|b| b.take());
        packed.resize(k * panel_values, 0.0);
        let mut b_parts = Vec::with_capacity(depth.len());
        let mut rest: &mut [f32] = &mut packed;
        for &(pc, kc) in &depth {
            let (part, tail) = rest.split_at_mut(kc * panel_values);
            pack_rhs(rhs, pc, kc, n, parallel, part);
            b_parts.push(&*part);
            rest = tail;
        }
        let block = |(blk, c): (usize, &mut [f32])| {
            let (ic, rows) = (blk * mc, c.len() / n);
            let mut a = PACKED_A.with(|a| a.take());
            for (&(pc, kc), b) in depth.iter().zip(&b_parts) {
                let packed_a = pack_lhs(lhs, ic, rows, pc, kc, &mut a);
                let load = accumulate || pc > 0;
                for (jp, bp) in b.chunks_exact(kc * NR).enumerate() {
                    let cols = NR.min(n - jp * NR);
                    for (ip, ap) in a[..packed_a].chunks_exact(kc * MR).enumerate() {
                        let r = MR.min(rows - ip * MR);
                        let at = ip * MR * n + jp * NR;
                        // SAFETY: AVX-512F is present (checked by the caller); the tile's r rows
                        // of `cols` values at stride n start at `at` and end inside `c`, and the
                        // packed panels hold kc × MR and kc × NR values.
                        unsafe { kernel(kc, ap.as_ptr(), bp.as_ptr(), c[at..].as_mut_ptr(), n, r, cols, load) };
                    }
                }
            }
            PACKED_A.with(|keep| keep.replace(a));
        };
        if parallel {
            dst.par_chunks_mut(mc * n).enumerate().for_each(block);
        } else {
            dst.chunks_mut(mc * n).enumerate().for_each(block);
        }
        drop(b_parts);
        PACKED_B.with(|b| b.replace(packed));
    }

    /// C[0..rows, 0..cols] (row stride ldc) = [C +] A-panel · B-panel over kc steps.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn kernel(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, rows: usize, cols: usize, load: bool) {
        let mut acc = [[_mm512_setzero_ps(); 2]; MR];
        for p in 0..kc {
            let b0 = _mm512_loadu_ps(b.add(p * NR));
            let b1 = _mm512_loadu_ps(b.add(p * NR + 16));
            let ap = a.add(p * MR);
            for (i, acc) in acc.iter_mut().enumerate() {
                let ai = _mm512_set1_ps(*ap.add(i));
                acc[0] = _mm512_fmadd_ps(ai, b0, acc[0]);
                acc[1] = _mm512_fmadd_ps(ai, b1, acc[1]);
            }
        }
        let lo: __mmask16 = if cols >= 16 { 0xffff } else { (1u16 << cols) - 1 };
        let hi: __mmask16 = if cols >= 32 {
            0xffff
        } else if cols > 16 {
            (1u16 << (cols - 16)) - 1
        } else {
            0
        };
        for (i, acc) in acc.iter().enumerate().take(rows) {
            let cp = c.add(i * ldc);
            let (mut c0, mut c1) = (acc[0], acc[1]);
            if load {
                c0 = _mm512_add_ps(c0, _mm512_maskz_loadu_ps(lo, cp));
                c1 = _mm512_add_ps(c1, _mm512_maskz_loadu_ps(hi, cp.add(16)));
            }
            _mm512_mask_storeu_ps(cp, lo, c0);
            _mm512_mask_storeu_ps(cp.add(16), hi, c1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, lhs: Operand, rhs: Operand) -> Vec<f64> {
        let mut c = vec![0.0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    c[i * n + j] += lhs.0[i * lhs.1 + p * lhs.2] as f64 * rhs.0[p * rhs.1 + j * rhs.2] as f64;
                }
            }
        }
        c
    }

    fn values(n: usize, phase: f32) -> Vec<f32> {
        (0..n).map(|i| ((i as f32) * 0.37 + phase).sin()).collect()
    }

    /// Every shape class (edges of both tiles, several depth blocks, transposed operands,
    /// accumulation, one and several threads) against a direct f64 sum.
    #[test]
    fn gemm_matches_a_direct_sum() {
        for &(m, n, k) in &[(1, 16, 1), (5, 17, 3), (12, 32, 128), (13, 33, 129), (40, 70, 300), (200, 48, 260), (512, 64, 40), (3, 5, 7)] {
            for &(ta, tb) in &[(false, false), (true, false), (false, true)] {
                let a = values(m * k, 0.1);
                let b = values(k * n, 0.7);
                let lhs = if ta { (&a[..], 1, m) } else { (&a[..], k, 1) };
                let rhs = if tb { (&b[..], 1, k) } else { (&b[..], n, 1) };
                let want = naive(m, n, k, lhs, rhs);
                for accumulate in [false, true] {
                    for threads in [1, 2] {
                        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
                        let mut c = vec![if accumulate { 0.5f32 } else { f32::NAN }; m * n];
                        pool.install(|| gemm(m, n, k, &mut c, accumulate, lhs, rhs));
                        for (i, (got, w)) in c.iter().zip(&want).enumerate() {
                            let w = w + if accumulate { 0.5 } else { 0.0 };
                            assert!(
                                (*got as f64 - w).abs() < 1e-4 * (1.0 + w.abs()) * (k as f64).sqrt(),
                                "{m}×{n}×{k} ta {ta} tb {tb} acc {accumulate} threads {threads}: c[{i}] = {got}, want {w}"
                            );
                        }
                    }
                }
            }
        }
    }
}
