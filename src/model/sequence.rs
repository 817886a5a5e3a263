//! The two ops a bidirectional layer adds around its recurrences: the
//! sequence reversed in time, and the two directions' outputs side by side.
//! Both are dfdx ops with their backward passes (each adds into the
//! gradients it reaches, so that a tensor used twice gets both parts).

use dfdx::prelude::*;

use super::recurrent::{Mat, add_into, values};

/// The time-major `(T·B) × C` matrix `x` with its blocks of `batch` rows in
/// reverse order (step t becomes step T−1−t).
pub fn reverse_steps<T: Tape<f32, Cpu>>(x: Mat<T>, batch: usize) -> Mat<T> {
    let (x, mut tape) = x.split_tape();
    let (rows, cols) = *x.shape();
    let block = batch * cols;
    let flip = move |v: &[f32]| -> Vec<f32> {
        let mut out = Vec::with_capacity(v.len());
        for step in v.chunks_exact(block.max(1)).rev() {
            out.extend_from_slice(step);
        }
        out
    };
    let out = x.device().tensor_from_vec(flip(&values(&x)), (rows, cols));
    if T::OWNS_TAPE {
        let (out_g, x_g) = (out.ghost(), x.ghost());
        tape.add_backward_op(move |grads| {
            let g = flip(grads.get_or_alloc_mut(&out_g)?);
            add_into(grads.get_or_alloc_mut(&x_g)?, &g);
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// `[a b]`: the columns of `a` then those of `b`, row by row.
pub fn concat_columns<T: Tape<f32, Cpu>>(a: Mat<T>, b: Mat<T>) -> Mat<T> {
    let (a, ta) = a.split_tape();
    let (b, tb) = b.split_tape();
    let mut tape = ta.merge(tb);
    let ((rows, ca), (rows_b, cb)) = (*a.shape(), *b.shape());
    assert_eq!(rows, rows_b, "concat_columns: row counts differ");
    let (av, bv) = (values(&a), values(&b));
    let mut out = Vec::with_capacity(rows * (ca + cb));
    for r in 0..rows {
        out.extend_from_slice(&av[r * ca..(r + 1) * ca]);
        out.extend_from_slice(&bv[r * cb..(r + 1) * cb]);
    }
    let out = a.device().tensor_from_vec(out, (rows, ca + cb));
    if T::OWNS_TAPE {
        let (out_g, a_g, b_g) = (out.ghost(), a.ghost(), b.ghost());
        tape.add_backward_op(move |grads| {
            let g = grads.get_or_alloc_mut(&out_g)?.clone();
            let w = ca + cb;
            let ga = grads.get_or_alloc_mut(&a_g)?;
            for (r, dst) in ga.chunks_exact_mut(ca.max(1)).enumerate().take(rows) {
                add_into(dst, &g[r * w..r * w + ca]);
            }
            let gb = grads.get_or_alloc_mut(&b_g)?;
            for (r, dst) in gb.chunks_exact_mut(cb.max(1)).enumerate().take(rows) {
                add_into(dst, &g[r * w + ca..(r + 1) * w]);
            }
            Ok(())
        });
    }
    out.put_tape(tape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_and_concat_pass_gradients_back() {
        let dev = Cpu::default();
        // 3 steps × 2 rows × 2 columns.
        let x: Mat = dev.tensor_from_vec((0..12).map(|v| v as f32).collect(), (6, 2));
        let y: Mat = dev.tensor_from_vec((0..6).map(|v| v as f32 * 10.0).collect(), (6, 1));
        let r = reverse_steps(x.retaped::<OwnedTape<f32, Cpu>>(), 2);
        assert_eq!(
            r.as_vec(),
            vec![8.0, 9.0, 10.0, 11.0, 4.0, 5.0, 6.0, 7.0, 0.0, 1.0, 2.0, 3.0]
        );
        let c = concat_columns(r, y.retaped::<OwnedTape<f32, Cpu>>());
        assert_eq!(&c.as_vec()[..6], &[8.0, 9.0, 0.0, 10.0, 11.0, 10.0]);
        // L = Σ c ⊙ weights: ∂L/∂c = weights, mapped back.
        let weights: Vec<f32> = (0..18).map(|v| v as f32).collect();
        let loss = (c * dev.tensor_from_vec(weights, (6, 3))).sum();
        let g = loss.backward();
        // x's row (step 0, row 0) is c's row 4: columns 0, 1 → weights 12, 13.
        assert_eq!(&g.get(&x).as_vec()[..2], &[12.0, 13.0]);
        assert_eq!(g.get(&y).as_vec(), vec![2.0, 5.0, 8.0, 11.0, 14.0, 17.0]);
    }
}
