//! The ops that rearrange time-major sequences around the recurrences: the
//! sequence reversed in time and two outputs side by side (a bidirectional
//! layer), one row per sequence repeated at every step and every step's
//! outputs gathered per sequence (the encoder–decoder). Each is a dfdx op
//! with its backward pass (adding into the gradients it reaches, so that a
//! tensor used twice gets both parts).

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

/// The `B × C` matrix `x` repeated `steps` times: a time-major
/// `(steps·B) × C` sequence whose every step is `x` (the encoder's context
/// at each decoder step). Its gradient is the sum over the steps.
pub fn repeat_steps<T: Tape<f32, Cpu>>(x: Mat<T>, steps: usize) -> Mat<T> {
    let (x, mut tape) = x.split_tape();
    let (rows, cols) = *x.shape();
    let v = values(&x);
    let mut out = Vec::with_capacity(steps * v.len());
    for _ in 0..steps {
        out.extend_from_slice(&v);
    }
    let out = x.device().tensor_from_vec(out, (steps * rows, cols));
    if T::OWNS_TAPE {
        let (out_g, x_g) = (out.ghost(), x.ghost());
        let block = rows * cols;
        tape.add_backward_op(move |grads| {
            let g = grads.get_or_alloc_mut(&out_g)?.clone();
            let gx = grads.get_or_alloc_mut(&x_g)?;
            for step in g.chunks_exact(block.max(1)) {
                add_into(gx, step);
            }
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// The time-major `(steps·B) × L` outputs `z` gathered per sequence:
/// `B × (L·steps)`, row b holding output l of every step in a block of
/// `steps` values, block after block (`out[b][l·steps + k] = z[k·B + b][l]`:
/// the layout of a head that predicts all steps at once, one block per
/// quantile level).
pub fn steps_to_rows<T: Tape<f32, Cpu>>(z: Mat<T>, batch: usize) -> Mat<T> {
    let (z, mut tape) = z.split_tape();
    let (rows, l) = *z.shape();
    let steps = rows / batch.max(1);
    let at = move |b: usize, lvl: usize, k: usize| (b * l + lvl) * steps + k;
    let v = values(&z);
    let mut out = vec![0.0; v.len()];
    for k in 0..steps {
        for b in 0..batch {
            for lvl in 0..l {
                out[at(b, lvl, k)] = v[(k * batch + b) * l + lvl];
            }
        }
    }
    let out = z.device().tensor_from_vec(out, (batch, l * steps));
    if T::OWNS_TAPE {
        let (out_g, z_g) = (out.ghost(), z.ghost());
        tape.add_backward_op(move |grads| {
            let g = grads.get_or_alloc_mut(&out_g)?.clone();
            let gz = grads.get_or_alloc_mut(&z_g)?;
            for k in 0..steps {
                for b in 0..batch {
                    for lvl in 0..l {
                        gz[(k * batch + b) * l + lvl] += g[at(b, lvl, k)];
                    }
                }
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

    #[test]
    fn repeat_and_gather_pass_gradients_back() {
        let dev = Cpu::default();
        // Two sequences, a context of 2 values each.
        let ctx: Mat = dev.tensor_from_vec(vec![1.0, 2.0, 3.0, 4.0], (2, 2));
        let r = repeat_steps(ctx.retaped::<OwnedTape<f32, Cpu>>(), 3);
        assert_eq!(r.shape(), &(6, 2));
        assert_eq!(r.as_vec(), [1.0, 2.0, 3.0, 4.0].repeat(3));
        // 3 steps × 2 sequences × 2 outputs → 2 × (2·3).
        let g = steps_to_rows(r, 2);
        assert_eq!(
            g.as_vec(),
            vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0, 4.0, 4.0]
        );
        // L = Σ g ⊙ w: each context value gets the sum of its three copies' weights.
        let w: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let loss = (g * dev.tensor_from_vec(w, (2, 6))).sum();
        let grads = loss.backward();
        assert_eq!(grads.get(&ctx).as_vec(), vec![3.0, 12.0, 21.0, 30.0]);
    }
}
