//! The f32 matrix product behind every dense and convolutional layer.
//!
//! Training is matrix products; dfdx's kernel (the `gemm` crate on stable Rust) uses 256-bit
//! FMA tiles and reaches about three quarters of the f32 rate MKL reaches on the same core.
//! Where the CPU has AVX-512 this module runs its own product instead (Goto's scheme: B in
//! packed panels, A in panels of rows, a tile of C held in vector registers), blocks of C's
//! rows on rayon's threads. The tile follows the shape, since the layers' products are not
//! all square: 12 × 32 for wide C, 24 × 16 for tall C of 9–16 columns (a convolution's
//! filters); C of at most 8 columns (a head's outputs) is a row of dot products along k, or,
//! when A's columns are contiguous, the transpose of a product of at most 8 rows. A is read
//! where it lies. Elsewhere, and for the shapes no tile suits, it hands over to the `gemm`
//! crate.

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
    if avx512::available() && avx512::gemm(m, n, k, &mut dst[..m * n], accumulate, lhs, rhs, threads) {
        return;
    }
    fallback(m, n, k, dst, accumulate, lhs, rhs, threads);
}

/// Whether this CPU has AVX-512F (checked once), for the other kernels of `nn`.
#[cfg(target_arch = "x86_64")]
pub(in crate::nn) fn avx512_available() -> bool {
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
fn pack_rhs<const NR: usize>(rhs: Operand, pc: usize, kc: usize, n: usize, parallel: bool, out: &mut [f32]) {
    let (b, rs, cs) = rhs;
    let fill = |(jp, panel): (usize, &mut [f32])| {
        let cols = NR.min(n - jp * NR);
        if cols < NR {
            panel.fill(0.0);
        }
        if cs == 1 {
            for (p, row) in panel.chunks_exact_mut(NR).enumerate() {
                let base = (pc + p) * rs + jp * NR;
                if cols == NR {
                    // A whole row of the panel: a copy of known length (moves, not a call).
                    copy_exact::<NR>(row, &b[base..base + NR]);
                } else {
                    row[..cols].copy_from_slice(&b[base..base + cols]);
                }
            }
        } else {
            // Columns contiguous in k (a transposed operand): 16 × 16 blocks transposed in
            // registers where the CPU has AVX-512, then each remaining column walked once.
            #[allow(unused_mut)]
            let (mut full_j, mut full_p) = (0, kc);
            #[cfg(target_arch = "x86_64")]
            if rs == 1 && avx512::available() {
                (full_j, full_p) = (cols / 16 * 16, kc / 16 * 16);
                for j0 in (0..full_j).step_by(16) {
                    for p0 in (0..full_p).step_by(16) {
                        let from = &b[(jp * NR + j0) * cs + pc + p0..][..15 * cs + 16];
                        let to = &mut panel[p0 * NR + j0..][..15 * NR + 16];
                        // SAFETY: AVX-512F is present; `from` holds 16 rows of 16 values at
                        // stride cs and `to` 16 rows of 16 at stride NR (sliced to that).
                        unsafe { avx512::transpose16(from.as_ptr(), cs, to.as_mut_ptr(), NR) };
                    }
                }
            }
            for j in 0..cols {
                let base = pc * rs + (jp * NR + j) * cs;
                let from = if j < full_j { full_p } else { 0 };
                for p in from..kc {
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

/// dst = src for slices of length N.
#[inline(always)]
fn copy_exact<const N: usize>(dst: &mut [f32], src: &[f32]) {
    if let (Ok(d), Ok(s)) = (<&mut [f32; N]>::try_from(dst), <&[f32; N]>::try_from(src)) {
        *d = *s;
    }
}

/// A[ic..ic+mc, pc..pc+kc] packed as ⌈mc/MR⌉ panels of kc × MR values, zero past row mc,
/// into the front of `out` (grown if short; what lies beyond is left as it was). Returns the
/// packed length.
fn pack_lhs<const MR: usize>(lhs: Operand, ic: usize, mc: usize, pc: usize, kc: usize, out: &mut Vec<f32>) -> usize {
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
                if rs == 1 && rows == MR {
                    copy_exact::<MR>(dst, &a[base..base + MR]);
                } else if rs == 1 {
                    dst[..rows].copy_from_slice(&a[base..base + rows]);
                    dst[rows..].fill(0.0);
                } else {
                    for (i, d) in dst[..rows].iter_mut().enumerate() {
                        *d = a[base + i * rs];
                    }
                    dst[rows..].fill(0.0);
                }
            }
        }
    }
    len
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{pack_lhs, pack_rhs, Operand, KC};
    use rayon::prelude::*;
    use std::arch::x86_64::*;
    use std::cell::RefCell;
    use std::sync::OnceLock;

    /// Whether this CPU has AVX-512F (checked once).
    pub fn available() -> bool {
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| std::is_x86_feature_detected!("avx512f"))
    }

    // Packing buffers live on with their thread: freeing and faulting in fresh pages for
    // every product costs more than the product.
    thread_local! {
        static PACKED_B: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
        static PACKED_A: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    }

    /// dst[p · ld_dst + j] = src[j · ld_src + p] for p, j < 16: a 16 × 16 block transposed in
    /// registers (unpack, then shuffles of pairs, of 128-bit lanes, and of 256-bit halves).
    ///
    /// # Safety
    /// AVX-512F must be present; src must hold 16 rows of 16 values at stride ld_src and dst
    /// 16 rows of 16 at stride ld_dst.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn transpose16(src: *const f32, ld_src: usize, dst: *mut f32, ld_dst: usize) {
        let mut r = [_mm512_setzero_ps(); 16];
        for (i, r) in r.iter_mut().enumerate() {
            *r = _mm512_loadu_ps(src.add(i * ld_src));
        }
        let mut t = [_mm512_setzero_ps(); 16];
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        for g in 0..4 {
            let q = 4 * g;
            r[q] = _mm512_shuffle_ps::<0x44>(t[q], t[q + 2]);
            r[q + 1] = _mm512_shuffle_ps::<0xEE>(t[q], t[q + 2]);
            r[q + 2] = _mm512_shuffle_ps::<0x44>(t[q + 1], t[q + 3]);
            r[q + 3] = _mm512_shuffle_ps::<0xEE>(t[q + 1], t[q + 3]);
        }
        for h in 0..2 {
            for i in 0..4 {
                let q = 8 * h + i;
                t[q] = _mm512_shuffle_f32x4::<0x88>(r[q], r[q + 4]);
                t[q + 4] = _mm512_shuffle_f32x4::<0xDD>(r[q], r[q + 4]);
            }
        }
        for i in 0..8 {
            r[i] = _mm512_shuffle_f32x4::<0x88>(t[i], t[i + 8]);
            r[i + 8] = _mm512_shuffle_f32x4::<0xDD>(t[i], t[i + 8]);
        }
        for (i, r) in r.iter().enumerate() {
            _mm512_storeu_ps(dst.add(i * ld_dst), *r);
        }
    }

    /// The product with the tile that suits its shape; false (nothing done) where the `gemm`
    /// crate does better: C of a few rows (its kernel reads B in place), or of at most 16
    /// columns and fewer than 240 rows (a partial 24-row panel is much of the work).
    #[allow(clippy::too_many_arguments)]
    pub fn gemm(m: usize, n: usize, k: usize, dst: &mut [f32], accumulate: bool, lhs: Operand, rhs: Operand, threads: usize) -> bool {
        if n <= 8 && m >= 24 {
            if lhs.2 == 1 {
                dot_rows(m, n, k, dst, accumulate, lhs, rhs, threads);
            } else {
                transposed(m, n, k, dst, accumulate, lhs, rhs, threads);
            }
        } else if n <= 16 && m >= 240 {
            tiled::<24, 1>(m, n, k, dst, accumulate, lhs, rhs, threads);
        } else if n > 16 && m >= 12 {
            tiled::<12, 2>(m, n, k, dst, accumulate, lhs, rhs, threads);
        } else {
            return false;
        }
        true
    }

    /// The product with an R × 16V tile: B packed once, then blocks of C's rows on `threads`
    /// threads. A is read where it lies when its rows or its columns are contiguous (measured
    /// 2–5% faster than packing it, and no copy), all but a last partial panel of rows, which
    /// is packed with zeros below it; A of other strides is packed per depth and row block.
    #[allow(clippy::too_many_arguments)]
    fn tiled<const R: usize, const V: usize>(
        m: usize,
        n: usize,
        k: usize,
        dst: &mut [f32],
        accumulate: bool,
        lhs: Operand,
        rhs: Operand,
        threads: usize,
    ) {
        let nr = 16 * V;
        let parallel = threads > 1;
        // Row blocks: two per thread when parallel, whole micro-panels, at most 192 rows.
        let mc = if parallel { m.div_ceil(2 * threads).div_ceil(R) * R } else { 192 }.clamp(R, (192 / R).max(1) * R);
        let depth: Vec<(usize, usize)> = (0..k).step_by(KC).map(|pc| (pc, KC.min(k - pc))).collect();
        let panel_values = n.div_ceil(nr) * nr;
        let direct = lhs.1 == 1 || lhs.2 == 1;
        // Grown, never shrunk: every value used is written by the packing.
        let mut packed = PACKED_B.with(|b| b.take());
        if packed.len() < k * panel_values {
            packed.resize(k * panel_values, 0.0);
        }
        let mut b_parts = Vec::with_capacity(depth.len());
        let mut rest: &mut [f32] = &mut packed[..k * panel_values];
        for &(pc, kc) in &depth {
            let (part, tail) = rest.split_at_mut(kc * panel_values);
            if V == 1 {
                pack_rhs::<16>(rhs, pc, kc, n, parallel, part);
            } else {
                pack_rhs::<32>(rhs, pc, kc, n, parallel, part);
            }
            b_parts.push(&*part);
            rest = tail;
        }
        let block = |(blk, c): (usize, &mut [f32])| {
            let (ic, rows) = (blk * mc, c.len() / n);
            let mut a = PACKED_A.with(|a| a.take());
            for (&(pc, kc), b) in depth.iter().zip(&b_parts) {
                let load = accumulate || pc > 0;
                // Whole panels of rows read in place when `direct`; the rest packed.
                let in_place = if direct { rows / R * R } else { 0 };
                pack_lhs::<R>(lhs, ic + in_place, rows - in_place, pc, kc, &mut a);
                for (jp, bp) in b.chunks_exact(kc * nr).enumerate() {
                    let cols = nr.min(n - jp * nr);
                    for ip in 0..rows.div_ceil(R) {
                        let r = R.min(rows - ip * R);
                        let at = ip * R * n + jp * nr;
                        let c = c[at..].as_mut_ptr();
                        // SAFETY: AVX-512F is present (checked by the caller); the tile's r rows
                        // of `cols` values at stride n start at `at` and end inside `c`; a packed
                        // A panel holds kc × R values and a B panel kc × nr; a whole panel of A
                        // read in place has R rows (ic + ip·R + R ≤ m) and kc columns from pc,
                        // inside `lhs` (asserted by the caller).
                        unsafe {
                            if ip * R < in_place {
                                let at = (ic + ip * R) * lhs.1 + pc * lhs.2;
                                let a = lhs.0[at..].as_ptr();
                                if lhs.2 == 1 {
                                    kernel::<R, V, ROWS>(kc, a, lhs.1, bp.as_ptr(), c, n, r, cols, load);
                                } else {
                                    kernel::<R, V, COLUMNS>(kc, a, lhs.2, bp.as_ptr(), c, n, r, cols, load);
                                }
                            } else {
                                let ap = &a[(ip * R - in_place) * kc..][..kc * R];
                                kernel::<R, V, PACKED>(kc, ap.as_ptr(), R, bp.as_ptr(), c, n, r, cols, load);
                            }
                        }
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

    /// How a kernel finds A's element (i, p): at a[i·lda + p] (ROWS), a[p·lda + i] (COLUMNS),
    /// or a[p·R + i] in a packed panel (PACKED: the stride a constant, so are the offsets).
    const PACKED: u8 = 0;
    const ROWS: u8 = 1;
    const COLUMNS: u8 = 2;

    /// C[0..rows, 0..cols] (row stride ldc) = [C +] A · B-panel over kc steps, for an R-row
    /// panel of A laid out as `LAYOUT` says and a packed kc × 16V panel of B.
    ///
    /// # Safety
    ///
    /// The CPU must have AVX-512F. `a` must be readable for R rows of kc values as `LAYOUT`
    /// lays them out (stride `lda`), `b` for kc · 16V values, and `c` writable (and, with
    /// `load`, readable) for `rows` ≤ R rows of `cols` ≤ 16V values at stride `ldc`.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn kernel<const R: usize, const V: usize, const LAYOUT: u8>(
        kc: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        rows: usize,
        cols: usize,
        load: bool,
    ) {
        let nr = 16 * V;
        let mut acc = [[_mm512_setzero_ps(); V]; R];
        for p in 0..kc {
            let mut bv = [_mm512_setzero_ps(); V];
            for (v, bv) in bv.iter_mut().enumerate() {
                *bv = _mm512_loadu_ps(b.add(p * nr + 16 * v));
            }
            for (i, acc) in acc.iter_mut().enumerate() {
                let ai = _mm512_set1_ps(match LAYOUT {
                    ROWS => *a.add(i * lda + p),
                    COLUMNS => *a.add(p * lda + i),
                    _ => *a.add(p * R + i),
                });
                for (acc, bv) in acc.iter_mut().zip(&bv) {
                    *acc = _mm512_fmadd_ps(ai, *bv, *acc);
                }
            }
        }
        for (i, acc) in acc.iter().enumerate().take(rows) {
            let cp = c.add(i * ldc);
            for (v, acc) in acc.iter().enumerate() {
                let lanes = cols.saturating_sub(16 * v).min(16);
                if lanes == 0 {
                    break;
                }
                let mask: __mmask16 = if lanes == 16 { 0xffff } else { (1u16 << lanes) - 1 };
                let mut cv = *acc;
                if load {
                    cv = _mm512_add_ps(cv, _mm512_maskz_loadu_ps(mask, cp.add(16 * v)));
                }
                _mm512_mask_storeu_ps(cp.add(16 * v), mask, cv);
            }
        }
    }

    /// C (m × n, n ≤ 8) = [C +] A · B for A with contiguous rows, as m · n dot products along
    /// k: A is read once where it lies, Bᵀ packed (n rows of k, zero to a multiple of 16).
    #[allow(clippy::too_many_arguments)]
    fn dot_rows(_m: usize, n: usize, k: usize, dst: &mut [f32], accumulate: bool, lhs: Operand, rhs: Operand, threads: usize) {
        let kp = k.div_ceil(16) * 16;
        let mut bt = vec![0.0f32; 8 * kp];
        for j in 0..n {
            for p in 0..k {
                bt[j * kp + p] = rhs.0[p * rhs.1 + j * rhs.2];
            }
        }
        // Blocks of 64 rows (the unit of work on rayon's threads); the kernel walks each.
        let block = |(blk, c): (usize, &mut [f32])| {
            let (i0, rows) = (blk * 64, c.len() / n);
            // SAFETY: AVX-512F is present (checked by the caller); rows i0..i0+rows of A hold k
            // values each from i0 · lda (asserted by the caller); `bt` holds 8 · kp values;
            // `c` holds rows · n.
            unsafe {
                let a = lhs.0[i0 * lhs.1..].as_ptr();
                if n <= 4 {
                    dot_kernel::<4, 4>(k, kp, a, lhs.1, rows, bt.as_ptr(), n, c, accumulate);
                } else {
                    dot_kernel::<8, 2>(k, kp, a, lhs.1, rows, bt.as_ptr(), n, c, accumulate);
                }
            }
        };
        if threads > 1 {
            dst.par_chunks_mut(64 * n).enumerate().for_each(block);
        } else {
            dst.chunks_mut(64 * n).enumerate().for_each(block);
        }
    }

    /// `rows` rows of C as dot products of A's rows with Bᵀ's, RB rows at a time with N ≥ n
    /// accumulators each (constant bounds keep them in registers: the rows past the last are
    /// the last again, their sums dropped; Bᵀ's rows past n are zeros); the last partial 16
    /// values of k loaded under a mask.
    ///
    /// # Safety
    ///
    /// The CPU must have AVX-512F. `a` must be readable for `rows` rows of k values at stride
    /// `lda`, `bt` for N rows of `kp` ≥ k values (zeros past k and past n), and `c` must hold
    /// `rows` · n values.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn dot_kernel<const N: usize, const RB: usize>(
        k: usize,
        kp: usize,
        a: *const f32,
        lda: usize,
        rows: usize,
        bt: *const f32,
        n: usize,
        c: &mut [f32],
        accumulate: bool,
    ) {
        let mut i = 0;
        while i < rows {
            let here = RB.min(rows - i);
            let mut ar = [a; RB];
            for (r, ar) in ar.iter_mut().enumerate() {
                *ar = a.add((i + r.min(here - 1)) * lda);
            }
            let mut acc = [[_mm512_setzero_ps(); N]; RB];
            let mut p = 0;
            while p < kp {
                let lanes = (k - p).min(16);
                let mask: __mmask16 = if lanes == 16 { 0xffff } else { (1u16 << lanes) - 1 };
                let mut bv = [_mm512_setzero_ps(); N];
                for (j, bv) in bv.iter_mut().enumerate() {
                    *bv = _mm512_loadu_ps(bt.add(j * kp + p));
                }
                for (acc, ar) in acc.iter_mut().zip(&ar) {
                    let av = _mm512_maskz_loadu_ps(mask, ar.add(p));
                    for (acc, bv) in acc.iter_mut().zip(&bv) {
                        *acc = _mm512_fmadd_ps(av, *bv, *acc);
                    }
                }
                p += 16;
            }
            for (r, acc) in acc.iter().enumerate().take(here) {
                for (j, acc) in acc.iter().enumerate().take(n) {
                    let s = _mm512_reduce_add_ps(*acc);
                    let d = &mut c[(i + r) * n + j];
                    *d = if accumulate { *d + s } else { s };
                }
            }
            i += here;
        }
    }

    /// C (m × n, n ≤ 8) = [C +] A · B for A with contiguous columns, through Cᵀ = Bᵀ Aᵀ: Aᵀ's
    /// rows are contiguous, so it is the wide right factor of a product of at most 8 rows,
    /// which the `gemm` crate does well (reading that factor in place).
    #[allow(clippy::too_many_arguments)]
    fn transposed(m: usize, n: usize, k: usize, dst: &mut [f32], accumulate: bool, lhs: Operand, rhs: Operand, threads: usize) {
        let mut ct = vec![0.0f32; n * m];
        super::fallback(n, m, k, &mut ct, false, (rhs.0, rhs.2, rhs.1), (lhs.0, lhs.2, lhs.1), threads);
        for (i, row) in dst.chunks_exact_mut(n).enumerate() {
            for (j, d) in row.iter_mut().enumerate() {
                let v = ct[j * m + i];
                *d = if accumulate { *d + v } else { v };
            }
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

    /// A transposed B (columns contiguous) packs into the same panels as its row-major copy:
    /// whole 16 × 16 blocks (transposed in registers on AVX-512) and the edges of both.
    #[test]
    fn a_transposed_operand_packs_like_its_row_major_copy() {
        for (k, n, pc, kc) in [(48, 64, 0, 48), (150, 45, 128, 22), (37, 19, 0, 37)] {
            let rows: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.37).sin()).collect();
            let mut columns = vec![0.0f32; k * n];
            for p in 0..k {
                for j in 0..n {
                    columns[j * k + p] = rows[p * n + j];
                }
            }
            let panels = n.div_ceil(32) * 32 * kc;
            let (mut want, mut got) = (vec![f32::NAN; panels], vec![f32::NAN; panels]);
            pack_rhs::<32>((&rows, n, 1), pc, kc, n, false, &mut want);
            pack_rhs::<32>((&columns, 1, k), pc, kc, n, false, &mut got);
            assert_eq!(got, want, "k {k}, n {n}, rows {pc}..{}", pc + kc);
        }
    }

    /// Every shape class (edges of every tile, A read in place and packed, several depth blocks, transposed operands,
    /// accumulation, one and several threads) against a direct f64 sum.
    #[test]
    fn gemm_matches_a_direct_sum() {
        for &(m, n, k) in &[
            (1, 16, 1),
            (5, 17, 3),
            (12, 32, 128),
            (13, 33, 129),
            (40, 70, 300),
            (200, 48, 260),
            (512, 64, 40),
            (3, 5, 7),
            // Columns ≤ 8 (dot products, or the transposes' product), rows ≤ 4, columns ≤ 16.
            (100, 4, 37),
            (61, 7, 300),
            (30, 1, 16),
            (25, 8, 2),
            (2, 100, 50),
            (4, 256, 130),
            (50, 16, 7),
            (131, 13, 200),
            (40, 30, 5),
        ] {
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
