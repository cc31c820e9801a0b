//! Fuzz the E5S1 container reader with hostile headers: typed errors, no panic, no huge allocation.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = copiloot::models::e5s1::read_e5s1(data);
});
