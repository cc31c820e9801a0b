#!/usr/bin/env python3
"""Make the tiny random-weight sequence classifiers in tests/fixtures/classifiers/ with real transformers.

One folder per architecture (BertForSequenceClassification, XLMRobertaForSequenceClassification,
DistilBertForSequenceClassification, DebertaV2ForSequenceClassification): config.json with id2label,
model.safetensors, a tiny WordPiece tokenizer.json, and expected.json with the logits PyTorch computes for a
few texts (each text alone, so no padding), which the Rust tests compare against candle's (batched, padded).

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch==2.15.0 transformers==5.23.0
    /tmp/venv/bin/python benches/reference/make_classifiers.py      # writes tests/fixtures/classifiers/

Deterministic for a given torch version (torch.manual_seed). Each folder is well under 100 KB.
"""
import json, os, torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
import transformers as tf

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/fixtures/classifiers")
WORDS = ("my internet is not working i want to cancel subscription bill invoice too high the "
         "mijn werkt niet ik wil opzeggen factuur te hoog de het een please help why").split()
LABELS = {0: "billing", 1: "cancel", 2: "outage"}
TEXTS = [
    "My internet is not working",
    "I want to cancel my subscription, please!",
    "Mijn factuur is te hoog",
    "why",
    "Ik wil opzeggen want het internet werkt niet en de factuur is te hoog, help",
]


def tokenizer():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("abcdefghijklmnopqrstuvwxyz,.!?")
    vocab += ["##" + c for c in "abcdefghijklmnopqrstuvwxyz"] + sorted(set(WORDS))
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return tok, len(vocab)


def configs(vocab):
    common = dict(id2label=LABELS, label2id={v: k for k, v in LABELS.items()}, pad_token_id=0,
                  initializer_range=0.2)
    bert = dict(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                intermediate_size=64, max_position_embeddings=64, hidden_act="gelu", **common)
    yield "bert", tf.BertConfig(**bert), tf.BertForSequenceClassification
    yield "xlm-roberta", tf.XLMRobertaConfig(**{**bert, "max_position_embeddings": 66}), \
        tf.XLMRobertaForSequenceClassification
    yield "distilbert", tf.DistilBertConfig(vocab_size=vocab, dim=32, n_layers=2, n_heads=4, hidden_dim=64,
                                            max_position_embeddings=64, **common), \
        tf.DistilBertForSequenceClassification
    yield "deberta-v2", tf.DebertaV2Config(**bert, relative_attention=True, pos_att_type=["p2c", "c2p"],
                                           max_relative_positions=-1, position_buckets=16, share_att_key=True,
                                           norm_rel_ebd="layer_norm", position_biased_input=False,
                                           type_vocab_size=0, pooler_hidden_size=32, pooler_dropout=0.0,
                                           pooler_hidden_act="gelu"), \
        tf.DebertaV2ForSequenceClassification


def main():
    tok, vocab = tokenizer()
    for name, config, cls in configs(vocab):
        torch.manual_seed(7)
        model = cls(config).eval()
        out = os.path.join(ROOT, name)
        os.makedirs(out, exist_ok=True)
        model.save_pretrained(out, safe_serialization=True)
        tok.save(os.path.join(out, "tokenizer.json"))
        logits = []
        with torch.no_grad():
            for text in TEXTS:
                ids = torch.tensor([tok.encode(text).ids])
                logits.append(model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0].tolist())
        with open(os.path.join(out, "expected.json"), "w") as f:
            json.dump({"architecture": type(model).__name__, "labels": [LABELS[i] for i in range(3)],
                       "texts": TEXTS, "logits": logits, "transformers": tf.__version__,
                       "torch": torch.__version__}, f, indent=1)
        print(out, type(model).__name__, [round(x, 4) for x in logits[0]])


if __name__ == "__main__":
    main()
