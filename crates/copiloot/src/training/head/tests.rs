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
