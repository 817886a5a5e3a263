//! Large fills and copies split over two threads, so the second core does
//! not idle through the memory passes between the products.

use std::mem::MaybeUninit;

/// Below this many values a pass stays on the calling thread.
const PARALLEL_LEN: usize = 1 << 18;

/// `rows` copies of `row`, one after another.
pub fn repeat_rows(row: &[f32], rows: usize) -> Vec<f32> {
    // SAFETY: every value is written (the chunks tile `out`: whole rows).
    unsafe {
        build(rows, row.len(), |_, out| {
            for dst in out.chunks_exact_mut(row.len().max(1)) {
                write(dst, row);
            }
        })
    }
}

/// `n` zeros.
pub fn zeros(n: usize) -> Vec<f32> {
    // SAFETY: every value is written.
    unsafe {
        build(n, 1, |_, out| {
            for v in out {
                v.write(0.0);
            }
        })
    }
}

/// A copy of `src`, as a vector.
pub fn copy(src: &[f32]) -> Vec<f32> {
    // SAFETY: every value is written.
    unsafe {
        build(src.len(), 1, |first, out| {
            write(out, &src[first..first + out.len()]);
        })
    }
}

/// Writes `src` into `dst`, of the same length (`write_copy_of_slice`
/// needs Rust 1.93).
fn write(dst: &mut [MaybeUninit<f32>], src: &[f32]) {
    assert_eq!(dst.len(), src.len(), "par::write: lengths differ");
    for (d, s) in dst.iter_mut().zip(src) {
        d.write(*s);
    }
}

/// A vector of `rows × cols` values, filled by `fill(first_row, out)` where
/// `out` holds the rows from `first_row` on. Large vectors are filled in two
/// halves on two threads.
///
/// # Safety
/// `fill` must write every value of `out`.
unsafe fn build(
    rows: usize,
    cols: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync,
) -> Vec<f32> {
    let n = rows * cols;
    let mut v = Vec::with_capacity(n);
    let out = &mut v.spare_capacity_mut()[..n];
    if n >= PARALLEL_LEN && rows >= 2 && rayon::current_num_threads() >= 2 {
        let top = rows / 2;
        let (a, b) = out.split_at_mut(top * cols);
        rayon::join(|| fill(0, a), || fill(top, b));
    } else {
        fill(0, out);
    }
    // SAFETY: `fill` wrote all `n` values (the caller's promise).
    unsafe { v.set_len(n) };
    v
}

#[cfg(test)]
mod tests {
    use super::{copy, repeat_rows, zeros};

    /// Both sizes: on the calling thread, and in two halves.
    #[test]
    fn fills_and_copies_whole_vectors() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for rows in [3, 1001, 100_003] {
            let row = [1.0, 2.0, 3.0];
            let want: Vec<f32> = row.iter().copied().cycle().take(3 * rows).collect();
            assert_eq!(pool.install(|| repeat_rows(&row, rows)), want);
            assert_eq!(pool.install(|| copy(&want)), want);
            assert_eq!(pool.install(|| zeros(rows)), vec![0.0; rows]);
        }
        assert!(repeat_rows(&[], 5).is_empty());
    }
}
