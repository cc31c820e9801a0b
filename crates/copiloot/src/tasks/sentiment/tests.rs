//! Unit tests of the sentiment trajectory thresholds and of label normalisation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn turn(i: usize, speaker: Speaker, score: f32) -> TurnSentiment {
    TurnSentiment { turn: i, speaker, label: SentimentLabel::from_score(score), score, confidence: 0.9 }
}

#[test]
fn trajectory_follows_documented_thresholds() {
    let c = Speaker::Customer;
    let a = Speaker::Agent;
    let turns = vec![
        turn(0, c, -0.8),
        turn(1, a, 0.5),
        turn(2, c, -0.9),
        turn(3, a, 0.6),
        turn(4, c, 0.1),
        turn(5, c, 0.7),
    ];
    let s = summarize(turns, "t".into());
    let t = s.customer_trajectory.unwrap();
    // 4 customer turns → k = 1: start = −0.8, end = 0.7.
    assert_eq!((t.start, t.end, t.trend), (-0.8, 0.7, Trend::Improving));
    assert_eq!((t.most_negative_turn, t.most_negative_score), (2, -0.9));
    let agent = s.speakers.iter().find(|p| p.speaker == a).unwrap();
    assert_eq!((agent.turns, agent.label, agent.positive_turns), (2, SentimentLabel::Positive, 2));

    let flat = summarize(vec![turn(0, c, 0.1), turn(1, c, 0.3)], "t".into());
    assert_eq!(flat.customer_trajectory.unwrap().trend, Trend::Stable);
    let worse = summarize(vec![turn(0, c, 0.2), turn(1, c, -0.2)], "t".into());
    assert_eq!(worse.customer_trajectory.unwrap().trend, Trend::Worsening);
    assert!(summarize(vec![turn(0, a, 0.2)], "t".into()).customer_trajectory.is_none());
}

#[test]
fn labels_normalise_or_fail_with_the_unknown_ones() {
    let ok = normalize_labels(&["Positief".into(), "neg".into(), "neutral".into()]).unwrap();
    assert_eq!(ok, ["positive", "negative", "neutral"]);
    let err = normalize_labels(&["positive".into(), "2".into(), "happy".into()]).unwrap_err();
    assert!(err.to_string().contains("[\"2\", \"happy\"]"), "{err}");
}
