//! Hand-written CPU kernels, for the operations dfdx 0.13 lacks or runs slowly: a blocked
//! matrix product with AVX-512 micro-kernels ([`gemm`]), the fused dense layer that reads
//! several inputs with their biases and ReLU in one pass ([`linear`]), and the 1-D
//! convolution with ReLU and max-pooling ([`conv1d`]). Each has its own backward, tested
//! against finite differences; the CUDA build replaces them with device ops (on_device.rs).

pub(super) mod conv1d;
pub(super) mod gemm;
pub(super) mod linear;
