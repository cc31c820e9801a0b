//! Wider vector code for the f32 kernels. The crate is built for baseline x86-64 (SSE2: 4 lanes);
//! [`wide`] runs a kernel compiled once more for AVX-512 (16 lanes) or AVX2 (8 lanes) when this CPU has
//! them, and as it is elsewhere. The kernel's body and what it calls must be `#[inline(always)]` so they
//! are compiled inside the wider function; the results are the same up to float summation order.

/// Run `f` as a function compiled for the widest vector unit this CPU has.
#[inline(always)]
pub fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") {
            // SAFETY: the CPU has the features the function is compiled for (checked just above).
            return unsafe { avx512(f) };
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return unsafe { avx2(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma")]
unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}
