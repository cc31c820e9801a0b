//! The example conversations parse, in every format, with the expected language and turn counts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use copiloot::conversation::{read_conversations, ConversationMetrics, ParseOptions};
use copiloot::Speaker;
use std::path::PathBuf;

fn dir() -> PathBuf {
    common::fixtures().join("conversations")
}

#[test]
fn every_fixture_parses_with_its_language() {
    let expected = [
        ("nl_telecom_opzegging.txt", "nl", 15),
        ("nl_internet_storing.txt", "nl", 14),
        ("nl_energie_jaarafrekening.json", "nl", 13),
        ("nl_webshop_bezorging.json", "nl", 10),
        ("en_telecom_cancellation.json", "en", 12),
        ("en_energy_billing.json", "en", 5),
        ("en_internet_outage.txt", "en", 13),
        ("en_webshop_delivery.txt", "en", 10),
    ];
    for (file, lang, turns) in expected {
        let convs = read_conversations(&dir().join(file), &ParseOptions::default())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(convs.len(), 1);
        let c = &convs[0];
        assert_eq!(c.id, file.rsplit_once('.').unwrap().0, "{file}: the id is the file name");
        assert_eq!(c.turns.len(), turns, "{file}");
        assert_eq!(c.detect_language().as_deref(), Some(lang), "{file}");
        assert!(c.turns_by(Speaker::Customer).count() >= 2, "{file}");
    }
}

#[test]
fn jsonl_holds_all_examples_with_customer_records() {
    let convs = read_conversations(&dir().join("all.jsonl"), &ParseOptions::default()).unwrap();
    assert_eq!(convs.len(), 8);
    let cancel = convs.iter().find(|c| c.id == "en_telecom_cancellation").unwrap();
    assert_eq!(cancel.customer.tenure_months, Some(7.0));
    assert_eq!(cancel.customer.contract_end.as_deref(), Some("2026-12-20"));
    let storing = convs.iter().find(|c| c.id == "nl_internet_storing").unwrap();
    let m = ConversationMetrics::compute(storing);
    assert_eq!(m.duration_seconds, Some(97.0));
    assert_eq!(m.first_response_seconds, Some(7.0));
    assert!(m.speakers[&Speaker::Agent].talk_share > 0.5);
}
