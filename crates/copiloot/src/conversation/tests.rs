//! Unit tests of the parsers: every format, the aliases, and each error with its location.

#![allow(clippy::unwrap_used)]

use super::rules::parse_clock;
use super::*;

fn opts() -> ParseOptions {
    ParseOptions::default()
}

#[test]
fn transcript_with_timestamps_aliases_and_multiline_turns() {
    let text = "[00:01] Medewerker: Goedemorgen, u spreekt met Sanne.\n\
                [0:00:09] KLANT: Hallo, mijn internet doet het niet.\n\
                Ik heb de modem al opnieuw opgestart.\n\
                \n\
                Agent: Ik kijk even mee.";
    let c = parse_transcript("t1", text, &opts()).unwrap();
    assert_eq!(c.turns.len(), 3);
    assert_eq!(c.turns[0].speaker, Speaker::Agent);
    assert_eq!(c.turns[0].timestamp, Some(1.0));
    assert_eq!(c.turns[1].speaker, Speaker::Customer);
    assert_eq!(c.turns[1].timestamp, Some(9.0));
    assert_eq!(c.turns[1].text, "Hallo, mijn internet doet het niet.\nIk heb de modem al opnieuw opgestart.");
    assert_eq!((c.turns[2].index, c.turns[2].timestamp), (2, None));
}

#[test]
fn unknown_speaker_names_the_line_and_lists_what_is_accepted() {
    let err = parse_transcript("t", "Klant: hoi\nMarsmannetje: bliep", &opts()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("line 2") && msg.contains("Marsmannetje") && msg.contains("medewerker"), "{msg}");
    let mut o = opts();
    o.speaker_map.insert("marsmannetje".into(), Speaker::Agent);
    assert_eq!(
        parse_transcript("t", "Klant: hoi\nMarsmannetje: bliep", &o).unwrap().turns[1].speaker,
        Speaker::Agent
    );
}

#[test]
fn text_before_any_speaker_is_an_error() {
    let err = parse_transcript("t", "hallo zonder spreker", &opts()).unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
}

#[test]
fn json_accepts_aliases() {
    let c = parse_json(
        r#"{"conversation_id": 42, "channel": "webcare", "messages": [
            {"role": "klant", "message": "Waar blijft mijn pakket?", "time": "00:10"},
            {"speaker": "Medewerker", "text": " Ik zoek het op. ", "timestamp": 12.5}],
            "customer": {"customer_id": "C-1", "tenure_months": 30, "plan": "Unlimited", "segment": "gold"}}"#,
        &opts(),
    )
    .unwrap();
    assert_eq!(c.id, "42");
    assert_eq!(c.channel, Channel::Social);
    assert_eq!(c.turns[0].timestamp, Some(10.0));
    assert_eq!(c.turns[1].text, "Ik zoek het op.");
    assert_eq!(c.customer.tenure_months, Some(30.0));
    assert_eq!(c.customer.extra["segment"], "gold");
    assert!(c.parties.is_empty());
    // The names a note uses for the parties, under either key; the output keeps them.
    for key in ["parties", "speaker_names"] {
        let c = parse_json(
            &format!(r#"{{"id": "p", "turns": [{{"speaker": "customer", "text": "Hi."}}], "{key}": {{"customer": "Sanne"}}}}"#),
            &opts(),
        )
        .unwrap();
        assert_eq!(c.parties, crate::conversation::Parties { customer: Some("Sanne".into()), agent: None });
        assert_eq!(serde_json::to_value(&c).unwrap()["parties"], serde_json::json!({"customer": "Sanne"}));
    }
}

#[test]
fn json_errors_name_their_field_or_line() {
    let cases = [
        (r#"{"turns": [{"speaker": "klant", "text": "hoi"}]}"#, "field `id`"),
        (r#"{"id": "x", "turns": []}"#, "no turns"),
        (r#"{"id": "x", "turns": [{"speaker": "klant", "text": "  "}]}"#, "turns[0].text"),
        (r#"{"id": "x", "turns": [{"speaker": "alien", "text": "hoi"}]}"#, "turns[0].speaker"),
        (r#"{"id": "x", "channel": "fax", "turns": [{"speaker": "klant", "text": "hoi"}]}"#, "channel"),
        (r#"{"id": "x", "turns": [{"speaker": "klant", "text": "hoi", "timestamp": true}]}"#, "timestamp"),
        ("{\"id\": \"x\",\n \"turns\": [", "line 2"),
    ];
    for (input, expected) in cases {
        let err = parse_json(input, &opts()).unwrap_err();
        assert_eq!(err.code(), "invalid_input");
        assert!(err.to_string().contains(expected), "{input}: {err}");
    }
}

#[test]
fn jsonl_errors_carry_the_line_number() {
    let good = r#"{"id": "a", "turns": [{"speaker": "klant", "text": "hoi"}]}"#;
    let text = format!("{good}\n\n{{\"id\": \"b\"}}\n");
    let err = parse_jsonl(&text, &opts()).unwrap_err();
    assert!(err.to_string().contains("line 3"), "{err}");
    assert_eq!(parse_jsonl(&format!("{good}\n{good}\n"), &opts()).unwrap().len(), 2);
    assert!(parse_jsonl("\n \n", &opts()).is_err());
}

#[test]
fn limits_are_enforced() {
    let mut o = opts();
    o.limits.max_turns = 2;
    let err = parse_transcript("t", "Klant: a\nAgent: b\nKlant: c", &o).unwrap_err();
    assert_eq!(err.code(), "input_too_large");
    o.limits = Limits { max_turn_chars: 5, ..Limits::default() };
    assert!(parse_transcript("t", "Klant: veel te lang", &o)
        .unwrap_err()
        .to_string()
        .contains("turns[0].text"));
    o.limits = Limits { max_bytes: 10, ..Limits::default() };
    assert_eq!(parse_json(r#"{"id": "x", "turns": []}"#, &o).unwrap_err().code(), "input_too_large");
    let long_id =
        format!(r#"{{"id": "{}", "turns": [{{"speaker": "klant", "text": "hoi"}}]}}"#, "x".repeat(300));
    assert_eq!(parse_json(&long_id, &opts()).unwrap_err().code(), "input_too_large");
}

#[test]
fn invalid_utf8_names_the_line() {
    let bytes = b"Klant: hoi\nAgent: \xff\xfe";
    let err = decode_utf8(bytes, &opts()).unwrap_err();
    assert!(err.to_string().contains("line 2") && err.to_string().contains("UTF-8"), "{err}");
}

#[test]
fn read_conversations_by_extension() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("call-7.txt");
    std::fs::write(&txt, "Klant: hoi\nAgent: hallo").unwrap();
    assert_eq!(read_conversations(&txt, &opts()).unwrap()[0].id, "call-7");
    let arr = dir.path().join("many.json");
    std::fs::write(
        &arr,
        r#"[{"id": "a", "turns": [{"speaker": "klant", "text": "hoi"}]}, {"id": "b", "turns": []}]"#,
    )
    .unwrap();
    let err = read_conversations(&arr, &opts()).unwrap_err().to_string();
    assert!(err.contains("many.json") && err.contains("[1]"), "{err}");
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, b"Klant: \xff").unwrap();
    assert_eq!(read_conversations(&bad, &opts()).unwrap_err().code(), "invalid_input");
}

#[test]
fn clock_parsing() {
    assert_eq!(parse_clock("01:02:03"), Some(3723.0));
    assert_eq!(parse_clock("2:05"), Some(125.0));
    assert_eq!(parse_clock("1:75"), None);
    assert_eq!(parse_clock("ab:cd"), None);
    assert_eq!(parse_clock("12"), None);
}
