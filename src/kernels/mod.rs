//! Numeric kernels: the products and element-wise passes a recurrent layer
//! spends its time in. They depend on nothing else in the crate (only std,
//! rayon and matrixmultiply), and all of the crate's `unsafe` for speed lives
//! here, each block with its reason.
//!
//! Layers, lowest first:
//! - [`simd`]: which instructions (`RNNLAB_SIMD=avx512|avx2|portable`);
//! - [`pack`]: a strided matrix into column panels;
//! - [`block`]: the AVX-512 register block (`R × 32` of the result);
//! - [`gemm`]: `c = a·b + beta·c` for the large products over all time steps
//!   (blocked AVX-512 GEMM, matrixmultiply for the rest), split over two threads;
//! - [`panel`]: the per-step product by a weight matrix packed once per sequence;
//! - [`math`]: vectorised `exp`, `tanh`, `sigmoid` and blocks of 16 lanes;
//! - [`gates`]: the LSTM cell's activations in explicit AVX2/AVX-512 instructions;
//! - [`cell`]: a plain LSTM layer's inference, fused (gates kept in L1) and
//!   split by units between threads;
//! - [`par`]: large fills and copies on two threads;
//! - [`scan`]: the linear recurrence of the minimal cells, a blocked parallel scan over time;
//! - [`fp`]: subnormals flushed to zero on the threads that compute
//!   (`RNNLAB_SUBNORMALS=keep` to keep them).

#![allow(unsafe_code)]

pub mod block;
pub mod cell;
pub mod fp;
pub mod gates;
pub mod gemm;
pub mod math;
pub mod pack;
pub mod panel;
pub mod par;
pub mod scan;
pub mod simd;

pub use simd::instructions;
