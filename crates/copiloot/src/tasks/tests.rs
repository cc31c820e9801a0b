//! Unit tests of the shared helpers, and tests against the real default encoder (`copiloot models install`) and the shipped taxonomy and
//! sentiment head. They skip, saying so, only when the encoder is not installed; CI installs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::intent::{default_taxonomy_path, IntentModel, IntentOptions, Taxonomy, OTHER};
use super::sentiment::{SentimentLabel, SentimentModel, Trend};
use super::{argmax, check_text, softmax_in_place, TextEmbedder};
use crate::conversation::{Conversation, Speaker, Turn};
use crate::error::Error;
use crate::error::Location;
use crate::models::Encoder;
use crate::training::head::{LinearHead, TrainConfig};
use std::path::PathBuf;
use std::sync::OnceLock;

fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

/// The encoder, loaded once for all tests in this module; `None` (with a message) when not installed.
fn encoder() -> Option<&'static Encoder> {
    static ENCODER: OnceLock<Option<Encoder>> = OnceLock::new();
    ENCODER
        .get_or_init(|| {
            let dir = models_dir().join("multilingual-e5-small");
            if !dir.join("config.json").is_file() {
                eprintln!("SKIPPED: {} is not installed; run `copiloot models install`", dir.display());
                return None;
            }
            Some(Encoder::from_dir(&dir).expect("the installed default encoder loads"))
        })
        .as_ref()
}

fn zero_shot(enc: &Encoder) -> &'static IntentModel {
    static MODEL: OnceLock<IntentModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let taxonomy = Taxonomy::from_path(&default_taxonomy_path(&models_dir())).unwrap();
        IntentModel::zero_shot(taxonomy, enc).unwrap()
    })
}

fn conversation(turns: &[(Speaker, &str)]) -> Conversation {
    Conversation {
        id: "t".into(),
        channel: Default::default(),
        language: Some("nl".into()),
        turns: turns
            .iter()
            .enumerate()
            .map(|(i, (s, t))| Turn { index: i, speaker: *s, text: t.to_string(), timestamp: None })
            .collect(),
        customer: Default::default(),
        parties: Default::default(),
    }
}

#[test]
fn zero_shot_intents_in_dutch_and_english() {
    let Some(enc) = encoder() else { return };
    let model = zero_shot(enc);
    let cases = [
        ("ik wil mijn abonnement opzeggen", "cancel"),
        ("Mijn internet ligt er al sinds vanochtend uit", "technical_fault"),
        ("Waar blijft mijn pakket? Ik heb vorige week al besteld", "delivery_status"),
        ("We gaan in maart verhuizen naar Utrecht", "moving_house"),
        ("I want to cancel my contract", "cancel"),
        ("Why is my bill so much higher this month?", "billing_question"),
        ("Let me speak to your manager right now", "escalation"),
    ];
    let texts: Vec<&str> = cases.iter().map(|c| c.0).collect();
    let got = model.predict_texts(&texts, enc, &IntentOptions::default()).unwrap();
    for ((text, want), p) in cases.iter().zip(&got) {
        assert_eq!(p.intent, *want, "{text}: {p:?}");
        assert!(p.score > 0.3 && p.score <= 1.0, "{text}: {p:?}");
    }
}

#[test]
fn out_of_scope_requests_are_other() {
    let Some(enc) = encoder() else { return };
    let got = zero_shot(enc)
        .predict_texts(
            &["Wat is de hoofdstad van Australië?", "play some jazz music"],
            enc,
            &IntentOptions::default(),
        )
        .unwrap();
    for p in &got {
        assert_eq!(p.intent, OTHER, "{p:?}");
    }
}

#[test]
fn conversation_intents_cite_customer_turns() {
    let Some(enc) = encoder() else { return };
    let c = conversation(&[
        (Speaker::Agent, "Goedemiddag, u spreekt met Sanne, waarmee kan ik u helpen?"),
        (Speaker::Customer, "Ik wil graag mijn abonnement opzeggen, ik vind het gewoon te duur geworden."),
        (Speaker::Agent, "Wat jammer. Mag ik vragen waarom?"),
        (Speaker::Customer, "Mijn internet valt ook steeds uit, al weken storing."),
    ]);
    let texts: Vec<&str> = c.turns.iter().map(|t| t.text.as_str()).collect();
    let embeddings = enc.embed_for_classification(&texts).unwrap();
    let r = zero_shot(enc).analyze_conversation(&c, &embeddings, &IntentOptions::default()).unwrap();
    assert_eq!(r.primary.as_deref(), Some("cancel"), "{r:?}");
    let cancel = r.intents.iter().find(|d| d.intent == "cancel").unwrap();
    assert_eq!(cancel.turns, [1]);
    assert_eq!(cancel.name.as_deref(), Some("Opzeggen van contract of abonnement"));
    let fault = r.intents.iter().find(|d| d.intent == "technical_fault").expect("the fault is found too");
    assert_eq!(fault.turns, [3]);
    assert!(r.turns.iter().all(|t| t.turn % 2 == 1), "only customer turns are classified: {:?}", r.turns);
}

fn sentiment(enc: &Encoder) -> Option<SentimentModel> {
    let dir = SentimentModel::default_dir(&models_dir());
    Some(SentimentModel::load(&dir, enc).expect("the shipped sentiment head loads"))
}

#[test]
fn sentiment_of_obvious_turns_in_both_languages() {
    let Some(enc) = encoder() else { return };
    let model = sentiment(enc).unwrap();
    let cases = [
        ("Dit is echt waardeloos, ik ben woedend en wil mijn geld terug!", SentimentLabel::Negative),
        ("Super, heel erg bedankt voor de snelle hulp!", SentimentLabel::Positive),
        ("This is the worst service I have ever had, absolutely terrible.", SentimentLabel::Negative),
        ("Thank you so much, you were really helpful, great job!", SentimentLabel::Positive),
    ];
    let texts: Vec<&str> = cases.iter().map(|c| c.0).collect();
    for ((text, want), (label, score, _)) in cases.iter().zip(model.predict_texts(&texts, enc).unwrap()) {
        assert_eq!(label, *want, "{text}: {score}");
        let sign = if *want == SentimentLabel::Positive { 1.0 } else { -1.0 };
        assert!(score * sign > 0.4, "{text}: {score}");
    }
}

/// The contact-center utterances of `tests/fixtures/sentiment/contact_center.jsonl` (written for this test,
/// in no training set): customer complaints, thanks and agent procedure in Dutch and English.
#[test]
fn contact_center_utterances_in_both_languages() {
    let Some(enc) = encoder() else { return };
    let model = sentiment(enc).unwrap();
    let path = models_dir().join("../tests/fixtures/sentiment/contact_center.jsonl");
    let examples = crate::training::labelled::read_labelled(&path, &Default::default()).unwrap();
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let predictions = model.predict_texts(&texts, enc).unwrap();
    let mut wrong = Vec::new();
    for (e, (label, score, _)) in examples.iter().zip(&predictions) {
        assert!((-1.0..=1.0).contains(score), "{}: {score}", e.text);
        let gold = SentimentLabel::parse(&e.label).unwrap();
        if gold != SentimentLabel::Neutral {
            // Every complaint reads negative and every thank-you positive, in both languages.
            assert_eq!(*label, gold, "{}: {score}", e.text);
        } else if *label != gold {
            wrong.push(format!("{} ({label:?} {score:.2})", e.text));
        }
    }
    // Agent procedure is mostly neutral (a friendly "I'll look into it for you" may read positive), never negative.
    assert!(wrong.len() <= 2 && !wrong.iter().any(|w| w.contains("Negative")), "{wrong:?}");
    let zat = &predictions[texts.iter().position(|t| t.ends_with("ik ben het zat.")).unwrap()];
    assert!(zat.0 == SentimentLabel::Negative && zat.1 <= -0.25, "cancelling because fed up: {zat:?}");
}

#[test]
fn customer_trajectory_improves_when_the_problem_is_solved() {
    let Some(enc) = encoder() else { return };
    let model = sentiment(enc).unwrap();
    let c = conversation(&[
        (
            Speaker::Customer,
            "Ik ben er echt klaar mee, dit is al de derde keer dat mijn internet eruit ligt!",
        ),
        (Speaker::Agent, "Dat begrijp ik, ik kijk het direct voor u na."),
        (Speaker::Customer, "Het is gewoon schandalig hoe slecht dit geregeld is."),
        (Speaker::Agent, "Ik heb de storing gevonden en opgelost, en u krijgt een maand gratis."),
        (Speaker::Customer, "Oh wat fijn, super bedankt, u heeft me echt goed geholpen!"),
    ]);
    let texts: Vec<&str> = c.turns.iter().map(|t| t.text.as_str()).collect();
    let r = model.analyze_conversation(&c, &model.features(&texts, enc).unwrap()).unwrap();
    let t = r.customer_trajectory.as_ref().unwrap();
    assert_eq!(t.trend, Trend::Improving, "{r:?}");
    assert!(t.start < 0.0 && t.end > 0.3, "{t:?}");
    assert!([0, 2].contains(&t.most_negative_turn), "{t:?}");
    assert_eq!(r.turns[4].label, SentimentLabel::Positive);
    assert_eq!(r.speakers.iter().map(|s| s.speaker).collect::<Vec<_>>(), [Speaker::Agent, Speaker::Customer]);
}

#[test]
fn a_trained_head_reloads_with_identical_predictions_and_refuses_other_encoders() {
    let Some(enc) = encoder() else { return };
    let data = [
        ("ik wil opzeggen", "cancel"),
        ("cancel my plan please", "cancel"),
        ("zeg mijn contract op", "cancel"),
        ("my internet is down", "fault"),
        ("storing aan mijn tv", "fault"),
        ("the wifi doesn't work", "fault"),
    ];
    let texts: Vec<&str> = data.iter().map(|d| d.0).collect();
    let labels: Vec<String> = data.iter().map(|d| d.1.to_string()).collect();
    let x = enc.embed_for_classification(&texts).unwrap();
    let head = LinearHead::train("intent", enc.model_id(), &x, &labels, &TrainConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    head.save(dir.path()).unwrap();
    let model = IntentModel::from_head_dir(dir.path(), enc.model_id()).unwrap();
    let probe = ["Ik wil mijn abonnement beëindigen", "My TV has no signal"];
    let opts = IntentOptions::default();
    let a = model.predict_texts(&probe, enc, &opts).unwrap();
    let b = IntentModel::Head(head).predict_texts(&probe, enc, &opts).unwrap();
    assert_eq!(a, b);
    assert_eq!((a[0].intent.as_str(), a[1].intent.as_str()), ("cancel", "fault"));
    let err = IntentModel::from_head_dir(dir.path(), "sentence-transformers/all-MiniLM-L6-v2").unwrap_err();
    assert!(matches!(err, Error::ModelLoad { .. }) && err.to_string().contains("retrain"), "{err}");
}

#[test]
fn bad_texts_are_typed_errors() {
    let Some(enc) = encoder() else { return };
    for bad in ["", "   ", "𒀀𒀁𒀂 𒀃𒀄"] {
        let err = zero_shot(enc).predict_texts(&["ok", bad], enc, &IntentOptions::default()).unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { .. }) && err.to_string().contains("texts[1]"),
            "{bad:?}: {err}"
        );
    }
}

/// The default intent and sentiment tasks run over turn embeddings, as the facade runs them.
fn intent_and_sentiment(
    enc: &crate::models::Encoder,
    c: &crate::Conversation,
    embeddings: &[Vec<f32>],
) -> (
    crate::tasks::intent::ConversationIntents,
    Option<crate::tasks::sentiment::SentimentAnalysis>,
    Vec<String>,
) {
    use super::{ConversationTask, IntentTask, SentimentTask, TaskContext};
    let tasks: [&dyn ConversationTask; 2] =
        [&IntentTask::load(&models_dir(), enc).unwrap(), &SentimentTask::load(&models_dir(), enc).unwrap()];
    let display: Vec<String> = c.turns.iter().map(|t| t.text.clone()).collect();
    let texts: Vec<&str> = c.turns.iter().map(|t| t.text.as_str()).collect();
    let spec = sentiment(enc).and_then(|m| m.feature_spec().cloned()).unwrap_or_default();
    let layer_features =
        if spec.is_empty() { Vec::new() } else { enc.embed_with_features(&texts, &spec).unwrap().1 };
    let mut context = TaskContext {
        conversation: c,
        display: &display,
        embeddings,
        layer_features: &layer_features,
        truncated: &[],
        on_token: &mut |_| true,
        memo: &mut Default::default(),
    };
    let mut analysis = crate::Analysis::empty(c, Default::default());
    for task in tasks {
        task.run(&mut context, &mut analysis).unwrap();
    }
    (analysis.intents.unwrap(), analysis.sentiment, analysis.warnings)
}

#[test]
fn default_tasks_analyze_a_dutch_conversation_from_turn_embeddings() {
    let Some(enc) = encoder() else { return };
    let c = conversation(&[
        (Speaker::Agent, "Goedemorgen, waarmee kan ik u helpen?"),
        (
            Speaker::Customer,
            "Ik heb een rekening gekregen die twee keer zo hoog is als normaal, belachelijk!",
        ),
        (Speaker::Agent, "Ik zie het, er is per ongeluk dubbel gefactureerd. Ik corrigeer dat nu."),
        (Speaker::Customer, "Dank u wel, fijn dat het zo snel opgelost is."),
    ]);
    let texts: Vec<&str> = c.turns.iter().map(|t| t.text.as_str()).collect();
    let (intents, sentiment, warnings) =
        intent_and_sentiment(enc, &c, &enc.embed_for_classification(&texts).unwrap());
    assert_eq!(intents.primary.as_deref(), Some("billing_question"), "{intents:?}");
    let billing = intents.intents.iter().find(|d| d.intent == "billing_question").unwrap();
    assert_eq!(billing.turns, [1], "{intents:?}");
    let sentiment = sentiment.unwrap();
    let t = sentiment.customer_trajectory.unwrap();
    assert_eq!((t.most_negative_turn, t.trend), (1, Trend::Improving), "{t:?}");
    assert_eq!(sentiment.turns[3].label, SentimentLabel::Positive);
    assert!(warnings.is_empty(), "{:?}", warnings);
}

#[test]
fn fixture_conversations_get_their_reason_for_contact_and_trajectory() {
    let Some(enc) = encoder() else { return };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/conversations");
    let all = crate::conversation::read_conversations(&dir.join("all.jsonl"), &Default::default()).unwrap();
    // en_energy_billing opens with a bill blamed on a wrong meter reading: either intent is right.
    let want = [
        ("en_energy_billing", "billing_question|meter_reading"),
        ("en_internet_outage", "technical_fault"),
        ("en_telecom_cancellation", "cancel"),
        ("en_webshop_delivery", "delivery_status"),
        ("nl_energie_jaarafrekening", "billing_question"),
        ("nl_internet_storing", "technical_fault"),
        ("nl_telecom_opzegging", "cancel"),
        ("nl_webshop_bezorging", "delivery_status"),
    ];
    assert_eq!(all.len(), want.len());
    for (id, intent) in want {
        let c = all.iter().find(|c| c.id == id).unwrap();
        let texts: Vec<&str> = c.turns.iter().map(|t| t.text.as_str()).collect();
        let (intents, sentiment, _) =
            intent_and_sentiment(enc, c, &enc.embed_for_classification(&texts).unwrap());
        let primary = intents.primary.clone().unwrap_or_default();
        assert!(intent.split('|').any(|i| i == primary), "{id}: {intents:?}");
        assert_eq!(intents.intents[0].intent, primary, "{id}: the primary intent is listed first");
        let t = sentiment.unwrap().customer_trajectory.unwrap();
        assert_eq!(c.turns[t.most_negative_turn].speaker, Speaker::Customer, "{id}");
        assert!(t.most_negative_score < -0.3, "{id}: every fixture has an upset customer: {t:?}");
    }
}

#[test]
fn check_text_rejects_empty_and_unsupported_scripts() {
    assert!(check_text("ik wil opzeggen", Location::default).is_ok());
    assert!(check_text("👍", Location::default).is_ok());
    let err = check_text("   ", || Location::line(3)).unwrap_err();
    assert!(err.to_string().contains("line 3") && err.to_string().contains("empty"), "{err}");
    let err = check_text("𒀀𒀁𒀂𒀃", Location::default).unwrap_err();
    assert!(err.to_string().contains("script"), "{err}");
}

#[test]
fn softmax_and_argmax() {
    let mut v = vec![1.0, 2.0, 3.0];
    softmax_in_place(&mut v);
    assert!((v.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    assert_eq!(argmax(&v).0, 2);
}

/// A task from outside the default list: it reads what the churn task wrote, so it must run after it.
struct ChurnAudit;

impl super::ConversationTask for ChurnAudit {
    fn name(&self) -> &'static str {
        "churn_audit"
    }

    fn run(&self, context: &mut super::TaskContext<'_>, analysis: &mut crate::Analysis) -> crate::Result<()> {
        let score = analysis.churn.as_ref().map(|c| c.score).unwrap_or(f64::NAN);
        analysis
            .warnings
            .push(format!("audit: churn {score:.3} over {} turn vectors", context.embeddings.len()));
        Ok(())
    }
}

#[test]
fn the_facade_runs_the_registered_tasks_in_order_then_added_ones() {
    let Some(_) = encoder() else { return };
    let options = crate::CopilotOptions { models_dir: Some(models_dir()), ..Default::default() };
    let copilot = crate::Copilot::new(options).unwrap();
    let names: Vec<&str> = copilot.tasks().iter().map(|t| t.name()).collect();
    assert_eq!(names, ["intent", "sentiment", "summary", "churn", "alerts"]);
    assert!(copilot.task::<super::IntentTask>().is_some() && copilot.task::<ChurnAudit>().is_none());

    let audited = copilot.clone().with_task(std::sync::Arc::new(ChurnAudit));
    let c = conversation(&[
        (Speaker::Customer, "Ik wil mijn abonnement opzeggen, ik stap over naar een andere provider."),
        (Speaker::Agent, "Dat regel ik voor u, de opzegging gaat per 1 maart in."),
    ]);
    let plain = copilot.analyze(&c).unwrap();
    let with_audit = audited.analyze(&c).unwrap();
    let score = plain.churn.as_ref().unwrap().score;
    assert!(score > 0.5, "a cancellation with a competitor is high risk: {score}");
    assert_eq!(with_audit.warnings.last().unwrap(), &format!("audit: churn {score:.3} over 2 turn vectors"));
    // The added task changes nothing the default tasks wrote.
    assert_eq!(
        (&with_audit.intents, &with_audit.summary, &with_audit.churn),
        (&plain.intents, &plain.summary, &plain.churn)
    );
    assert_eq!(audited.tasks().last().unwrap().name(), "churn_audit");
}

#[test]
fn a_dutch_cancellation_naming_a_competitor_raises_the_retention_alert() {
    let Some(_) = encoder() else { return };
    let options = crate::CopilotOptions { models_dir: Some(models_dir()), ..Default::default() };
    let copilot = crate::Copilot::new(options).unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/conversations");
    let text = std::fs::read_to_string(dir.join("nl_telecom_opzegging.txt")).unwrap();
    let c = crate::conversation::parse_transcript("opzegging", &text, &Default::default()).unwrap();
    let analysis = copilot.analyze(&c).unwrap();
    let alerts = analysis.alerts.clone().unwrap();
    let retention = alerts.iter().find(|a| a.id == "retention_offer").unwrap_or_else(|| panic!("{alerts:?}"));
    assert!(retention.message.starts_with("Klant overweegt te vertrekken"), "{retention:?}");
    let competitor = &analysis.churn.as_ref().unwrap().signals.as_ref().unwrap().competitor;
    assert!(
        !competitor.is_empty() && competitor.iter().all(|e| retention.turns.contains(&e.turn)),
        "{alerts:?}"
    );
    assert!(retention.turns.iter().all(|&t| c.turns[t].speaker == Speaker::Customer), "{alerts:?}");
    assert_eq!(copilot.tasks().last().unwrap().name(), "alerts");
}

#[test]
fn a_head_for_other_layers_or_another_encoder_is_refused() {
    let Some(enc) = encoder() else { return };
    let dim = enc.dim();
    let labels: Vec<String> = ["negative", "neutral", "positive"].iter().map(|l| l.to_string()).collect();
    let head_on = |width: usize, encoder: &str, layers: Option<&[usize]>| {
        let x: Vec<Vec<f32>> = (0..3).map(|k| super::test_support::hash_embed(&labels[k], width)).collect();
        let mut head = LinearHead::train("sentiment", encoder, &x, &labels, &TrainConfig::default()).unwrap();
        if let Some(layers) = layers {
            head.set_layers(layers).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        head.save(dir.path()).unwrap();
        dir
    };
    let fits = head_on(3 * dim, enc.model_id(), Some(&[6, 9, 12]));
    let model = SentimentModel::load(fits.path(), enc).unwrap();
    assert_eq!(model.layers(), Some(&[6, 9, 12][..]));
    assert_eq!(model.predict_texts(&["Ik ben het zat."], enc).unwrap().len(), 1);

    // Layers the encoder lacks, repeated layers, a width that is not its layers', a head on the embedding
    // given layer-wide weights, a head on another encoder's layers.
    let cases = [
        (head_on(3 * dim, enc.model_id(), Some(&[6, 9, 13])), "6, 9, 13"),
        (head_on(3 * dim, enc.model_id(), Some(&[6, 9, 9])), "distinct"),
        (head_on(2 * dim, enc.model_id(), Some(&[6, 9, 12])), "gives 1152 for layers [6, 9, 12]"),
        (head_on(3 * dim, enc.model_id(), None), "reads 1152 values"),
        (head_on(3 * dim, "all-minilm-l6-v2", Some(&[6, 9, 12])), "all-minilm-l6-v2"),
    ];
    for (dir, says) in &cases {
        let err = SentimentModel::load(dir.path(), enc).unwrap_err();
        assert!(matches!(err, Error::ModelLoad { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains(says) && msg.contains("train"), "{says}: {msg}");
    }
}
