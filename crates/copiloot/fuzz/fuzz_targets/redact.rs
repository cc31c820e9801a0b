//! Fuzz the redactor: spans are ordered char boundaries and redaction is idempotent for any UTF-8.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let once = copiloot::redact::redact(text);
    let mut last = 0;
    for s in &once.spans {
        assert!(s.start >= last && s.start < s.end && text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
        last = s.end;
    }
    assert_eq!(copiloot::redact::redact(&once.text).text, once.text, "redaction must be idempotent");
});
