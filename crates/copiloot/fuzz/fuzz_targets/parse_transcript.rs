//! Fuzz the plain-transcript parser and format sniffing (`[hh:mm:ss] Speaker: text`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = copiloot::conversation::ParseOptions::default();
    if let Ok(text) = copiloot::conversation::decode_utf8(data, &opts) {
        let _ = copiloot::conversation::parse_transcript("fuzz", text, &opts);
        let _ = copiloot::conversation::parse_str("fuzz", text, &opts);
    }
});
