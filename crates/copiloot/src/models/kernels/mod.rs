//! CPU kernels under the models, and the only place with `unsafe` (SIMD intrinsics behind CPUID checks):
//! int8/4-bit matrix products ([`q8`]), the encoder's fused f32 steps ([`bert`]) and the AVX-512 copies of
//! f32 loops ([`simd`]).

pub(crate) mod bert;
pub(crate) mod q8;
pub(crate) mod simd;
