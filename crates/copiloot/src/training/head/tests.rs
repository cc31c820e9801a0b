//! Unit tests of the linear heads: training, determinism, bad data, loading and encoder ids.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::tasks::test_support::hash_embed;

fn toy() -> (Vec<Vec<f32>>, Vec<String>) {
    let data = [
        ("cancel my subscription", "cancel"),
        ("I want to cancel the contract", "cancel"),
        ("please cancel my plan", "cancel"),
        ("where is my parcel", "delivery"),
        ("my parcel has not arrived", "delivery"),
        ("when will the parcel be delivered", "delivery"),
        ("my bill is too high", "billing"),
        ("question about my bill", "billing"),
    ];
    (data.iter().map(|(t, _)| hash_embed(t, 64)).collect(), data.iter().map(|(_, l)| l.to_string()).collect())
}

#[test]
fn trains_fits_and_roundtrips() {
    let (x, y) = toy();
    let head = LinearHead::train("intent", "test/hash", &x, &y, &TrainConfig::default()).unwrap();
    assert_eq!(head.labels(), ["billing", "cancel", "delivery"]);
    assert_eq!(head.meta().training.train_accuracy, 1.0);
    let p = head.predict(&[hash_embed("cancel the subscription please", 64)]).unwrap();
    assert_eq!(p[0].label, "cancel");

    let dir = tempfile::tempdir().unwrap();
    head.save(dir.path()).unwrap();
    let back = LinearHead::load(dir.path()).unwrap();
    assert_eq!(back.predict_proba(&x).unwrap(), head.predict_proba(&x).unwrap());
    back.check_encoder("test/hash", dir.path()).unwrap();
    let err = back.check_encoder("other/encoder", dir.path()).unwrap_err();
    assert!(matches!(err, Error::ModelLoad { .. }) && err.to_string().contains("`hash`"), "{err}");
}

#[test]
fn training_is_deterministic() {
    let (x, y) = toy();
    let a = LinearHead::train("intent", "t", &x, &y, &TrainConfig::default()).unwrap();
    let b = LinearHead::train("intent", "t", &x, &y, &TrainConfig::default()).unwrap();
    assert_eq!(a.weight, b.weight);
}

#[test]
fn rejects_bad_training_data() {
    let (x, _) = toy();
    let one = vec!["cancel".to_string(); x.len()];
    let err = LinearHead::train("intent", "t", &x, &one, &TrainConfig::default()).unwrap_err();
    assert!(err.to_string().contains("only one label"), "{err}");
    let err = LinearHead::train("intent", "t", &x[..2], &one, &TrainConfig::default()).unwrap_err();
    assert!(err.to_string().contains("2 embeddings but 8 labels"), "{err}");
    let err = LinearHead::train("intent", "t", &[], &[], &TrainConfig::default()).unwrap_err();
    assert!(err.to_string().contains("no training examples"), "{err}");
}

#[test]
fn load_rejects_missing_and_corrupt_files() {
    let dir = tempfile::tempdir().unwrap();
    let err = LinearHead::load(dir.path()).unwrap_err();
    assert!(matches!(err, Error::ModelLoad { .. }), "{err}");
    std::fs::write(dir.path().join(META_FILE), "{not json").unwrap();
    assert!(matches!(LinearHead::load(dir.path()).unwrap_err(), Error::ModelLoad { .. }));
}

#[test]
fn encoder_ids_match_across_hub_ids_and_folders() {
    assert_eq!(canonical_encoder_id("intfloat/multilingual-e5-small@abc"), "multilingual-e5-small");
    assert_eq!(canonical_encoder_id("/opt/models/multilingual-e5-small/"), "multilingual-e5-small");
    assert_eq!(canonical_encoder_id("multilingual-e5-small"), "multilingual-e5-small");
}

#[test]
fn mlp_head_trains_roundtrips_and_is_deterministic() {
    let (x, y) = toy();
    let mlp = mlp::MlpConfig { hidden: 16, epochs: 60, batch_size: 4, ..Default::default() };
    let head = LinearHead::train_mlp("intent", "test/hash", &x, &y, &TrainConfig::default(), &mlp).unwrap();
    assert_eq!(head.labels(), ["billing", "cancel", "delivery"]);
    assert_eq!(head.meta().training.train_accuracy, 1.0);
    assert!(head.parts().is_none(), "an MLP head has no linear parts to fine-tune from");
    let again = LinearHead::train_mlp("intent", "test/hash", &x, &y, &TrainConfig::default(), &mlp).unwrap();
    assert_eq!(head.predict_proba(&x).unwrap(), again.predict_proba(&x).unwrap());
    // Two members average their logits: one MLP twice as wide, whose first member is the head above.
    let pair = mlp::MlpConfig { members: 2, ..mlp.clone() };
    let two = LinearHead::train_mlp("intent", "test/hash", &x, &y, &TrainConfig::default(), &pair).unwrap();
    assert_eq!((two.meta().hidden, two.meta().training.train_accuracy), (Some(32), 1.0));
    assert_eq!(two.hidden.as_ref().unwrap().weight[..16 * 64], head.hidden.as_ref().unwrap().weight[..]);

    let dir = tempfile::tempdir().unwrap();
    head.save(dir.path()).unwrap();
    let json = std::fs::read_to_string(dir.path().join(META_FILE)).unwrap();
    assert!(json.contains("\"kind\": \"mlp\"") && json.contains("\"hidden\": 16"), "{json}");
    assert!(json.contains("\"format_version\": 3"), "{json}");
    let back = LinearHead::load(dir.path()).unwrap();
    assert_eq!(back.predict_proba(&x).unwrap(), head.predict_proba(&x).unwrap());

    // A damaged kind/width pair is a load error, not a panic or a silently linear head.
    std::fs::write(dir.path().join(META_FILE), json.replace("\"hidden\": 16", "\"hidden\": 8")).unwrap();
    let err = LinearHead::load(dir.path()).unwrap_err();
    assert!(matches!(err, Error::ModelLoad { .. }) && err.to_string().contains("disagree"), "{err}");
    std::fs::write(dir.path().join(META_FILE), json.replace("\"kind\": \"mlp\",", "")).unwrap();
    let err = LinearHead::load(dir.path()).unwrap_err();
    assert!(matches!(err, Error::ModelLoad { .. }) && err.to_string().contains("hidden width"), "{err}");
    std::fs::write(dir.path().join(META_FILE), json.replace("\"mlp\"", "\"forest\"")).unwrap();
    assert!(matches!(LinearHead::load(dir.path()).unwrap_err(), Error::ModelLoad { .. }));
}

#[test]
fn linear_heads_keep_their_format_version_and_no_kind() {
    let (x, y) = toy();
    let mut head = LinearHead::train("sentiment", "t", &x, &y, &TrainConfig::default()).unwrap();
    head.set_layers(&[4, 8]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    head.save(dir.path()).unwrap();
    let json = std::fs::read_to_string(dir.path().join(META_FILE)).unwrap();
    assert!(json.contains("\"format_version\": 2") && !json.contains("kind"), "{json}");
    assert_eq!(LinearHead::load(dir.path()).unwrap().meta().kind, HeadKind::Linear);
}

#[test]
fn mlp_settings_out_of_range_are_config_errors() {
    let (x, y) = toy();
    for bad in [
        mlp::MlpConfig { hidden: 0, ..Default::default() },
        mlp::MlpConfig { dropout: 1.0, ..Default::default() },
        mlp::MlpConfig { lr: 0.0, ..Default::default() },
    ] {
        let err = LinearHead::train_mlp("t", "t", &x, &y, &TrainConfig::default(), &bad).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
    }
    let one = vec!["cancel".to_string(); x.len()];
    let err =
        LinearHead::train_mlp("t", "t", &x, &one, &TrainConfig::default(), &Default::default()).unwrap_err();
    assert!(err.to_string().contains("only one label"), "{err}");
}

#[test]
fn temperature_sharpens_without_changing_labels_and_is_checked() {
    let (x, y) = toy();
    let head = LinearHead::train("sentiment", "t", &x, &y, &TrainConfig::default()).unwrap();
    let mut sharp = head.clone();
    sharp.set_temperature(0.5).unwrap();
    let (p, q) = (head.predict(&x).unwrap(), sharp.predict(&x).unwrap());
    for (a, b) in p.iter().zip(&q) {
        assert_eq!(a.label, b.label);
        assert!(b.probability >= a.probability, "{a:?} {b:?}");
    }
    assert!(sharp.clone().set_temperature(0.0).is_err() && sharp.clone().set_temperature(f32::NAN).is_err());
    let dir = tempfile::tempdir().unwrap();
    sharp.save(dir.path()).unwrap();
    let json = std::fs::read_to_string(dir.path().join(META_FILE)).unwrap();
    assert!(json.contains("\"temperature\": 0.5") && json.contains("\"format_version\": 3"), "{json}");
    assert_eq!(LinearHead::load(dir.path()).unwrap().predict(&x).unwrap(), q);
    std::fs::write(dir.path().join(META_FILE), json.replace("0.5", "-1.0")).unwrap();
    assert!(matches!(LinearHead::load(dir.path()).unwrap_err(), Error::ModelLoad { .. }));
}
