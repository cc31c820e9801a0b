//! Wider vector code for the f32 kernels. The crate is built for baseline x86-64 (SSE2: 4 lanes);
//! [`wide_fn!`] defines a function whose body is compiled twice — as it is, and for AVX-512 (16 lanes,
//! which Zen 4/5 and recent Xeons have) — and picks one by CPUID at each call. What the body calls must
//! be `#[inline(always)]` to be compiled inside the wide copy. Results are the same up to float
//! summation order.
//!
//! Why not the `multiversion` crate, which does the same (a `target_feature` clone plus a CPUID-cached
//! dispatch): this 40-line macro is what every speed figure in the README and `benches/` was measured
//! with, and it needs exactly one extra target. Swapping it is only worth it together with re-running
//! those comparisons (or when a third target is wanted); the q8 kernels are hand-written intrinsics,
//! which no multiversioning crate replaces.

/// Whether the AVX-512 copies run here (std caches the CPUID answer).
#[inline(always)]
pub fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `wide_fn! { /// docs  pub fn name(arg: Type, ...) -> Ret { body } }`: see the module docs.
macro_rules! wide_fn {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[allow(unsafe_code)]
                #[target_feature(enable = "avx512f,avx512bw,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if $crate::models::kernels::simd::has_avx512() {
                    // SAFETY: the CPU has the features `avx512` is compiled for (checked just above).
                    #[allow(unsafe_code)]
                    return unsafe { avx512($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use wide_fn;
