//! Models: sources, the sentence encoder, the default-model catalog and installer.
