#!/usr/bin/env python3
"""Turn the shared evaluation datasets into the labelled CSV/JSONL files `copiloot train|eval` read.

Standard library only. Reads ../shared/data (or $COPILOOT_DATA), writes target/eval-data/ (never commit it:
several licences are research-only). Deterministic: the same inputs give byte-identical outputs.

    python3 benches/data/prepare_eval_data.py [--data ../shared/data] [--out target/eval-data]

Outputs
- sentiment_en_train.jsonl / sentiment_en_test.jsonl: TweetEval sentiment; its `val` split (2,000) is our
  training data, its `test` split (12,284) is held out. Labels negative / neutral / positive.
- sentiment_nl_train.jsonl / sentiment_nl_test.jsonl: SemEval-2016 Dutch restaurant sentences that carry
  opinions; a sentence's label is its opinions' polarity (positive+negative mixed → dropped, only neutral →
  neutral). Split by review (every 5th review by sorted id → test, about 20 %) so no review is in both.
- sentiment_nl_train_no_opinion.jsonl: the training reviews' sentences without any opinion, labelled
  neutral (mostly factual: "We kwamen hier met z'n tweeën") — Dutch neutral examples are otherwise scarce.
- xsid_{nl,en}.jsonl (all 300), xsid_nl_train.jsonl / xsid_nl_test.jsonl: a stratified half split of Dutch.
- banking77_10shot_seed{1,2,3}.csv: 10 training examples per intent, sampled with random.Random(seed).
- bitext_taxonomy.jsonl: Bitext customer-support queries whose intent maps one-to-one onto our taxonomy
  (models/taxonomy/intents.toml), for a zero-shot check with the shipped taxonomy.
"""
import argparse, csv, json, os, random, xml.etree.ElementTree as ET
from collections import defaultdict


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for text, label in rows:
            f.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
    print(f"{path}: {len(rows)} rows")


def tweeteval(data, out):
    names = [l.split("\t")[1].strip() for l in open(f"{data}/sentiment/tweeteval/mapping.txt") if l.strip()]
    for split, ours in (("val", "train"), ("test", "test")):
        texts = open(f"{data}/sentiment/tweeteval/{split}_text.txt", encoding="utf-8").read().split("\n")
        labels = open(f"{data}/sentiment/tweeteval/{split}_labels.txt").read().split()
        rows = [(t.strip(), names[int(l)]) for t, l in zip(texts, labels) if t.strip()]
        write_jsonl(f"{out}/sentiment_en_{ours}.jsonl", rows)


def semeval_nl(data, out):
    root = ET.parse(f"{data}/sentiment/semeval2016_nl/restaurants_dutch_train.xml").getroot()
    reviews = sorted(root.iter("Review"), key=lambda r: r.get("rid"))
    train, test, plain = [], [], []
    for i, review in enumerate(reviews):
        for s in review.iter("sentence"):
            pols = {o.get("polarity") for o in s.iter("Opinion")}
            if not pols:
                if i % 5 != 4:
                    plain.append((s.findtext("text").strip(), "neutral"))
                continue
            polar = pols - {"neutral"}
            if len(polar) > 1:
                continue
            label = polar.pop() if polar else "neutral"
            (test if i % 5 == 4 else train).append((s.findtext("text").strip(), label))
    write_jsonl(f"{out}/sentiment_nl_train.jsonl", train)
    write_jsonl(f"{out}/sentiment_nl_test.jsonl", test)
    write_jsonl(f"{out}/sentiment_nl_train_no_opinion.jsonl", plain)


def xsid(data, out):
    for lang in ("nl", "en"):
        rows, text, intent = [], None, None
        for line in open(f"{data}/intent/xsid/{lang}.valid.conll", encoding="utf-8"):
            if line.startswith("# text = "):
                text = line[len("# text = "):].strip()
            elif line.startswith("# intent = "):
                intent = line[len("# intent = "):].strip()
            elif not line.strip() and text:
                rows.append((text, intent))
                text = intent = None
        if text:
            rows.append((text, intent))
        write_jsonl(f"{out}/xsid_{lang}.jsonl", rows)
        if lang == "nl":
            by = defaultdict(list)
            for r in rows:
                by[r[1]].append(r)
            train, test = [], []
            for label in sorted(by):
                for j, r in enumerate(by[label]):
                    (train if j % 2 == 0 else test).append(r)
            write_jsonl(f"{out}/xsid_nl_train.jsonl", train)
            write_jsonl(f"{out}/xsid_nl_test.jsonl", test)


def banking_few_shot(data, out, k=10):
    with open(f"{data}/intent/banking77/train.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    by = defaultdict(list)
    for r in rows:
        by[r["category"]].append(r["text"])
    for seed in (1, 2, 3):
        rng = random.Random(seed)
        path = f"{out}/banking77_10shot_seed{seed}.csv"
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["text", "category"])
            n = 0
            for label in sorted(by):
                for t in rng.sample(by[label], k):
                    w.writerow([t, label])
                    n += 1
        print(f"{path}: {n} rows")


BITEXT_TO_TAXONOMY = {
    "cancel_order": "order_change", "change_order": "order_change", "check_invoice": "billing_question",
    "check_payment_methods": "payment_method", "payment_issue": "payment_method", "get_refund": "return_refund",
    "track_refund": "return_refund", "check_refund_policy": "return_refund", "complaint": "complaint",
    "contact_human_agent": "escalation", "create_account": "account_login", "recover_password": "account_login",
    "registration_problems": "account_login", "edit_account": "personal_details", "delete_account": "cancel",
    "delivery_period": "delivery_status", "track_order": "delivery_status", "place_order": "new_contract",
}


def bitext(data, out):
    path = f"{data}/intent/bitext/Bitext_Sample_Customer_Support_Training_Dataset.csv"
    with open(path, encoding="utf-8") as f:
        rows = [(r["instruction"].strip(), BITEXT_TO_TAXONOMY[r["intent"]]) for r in csv.DictReader(f)
                if r["intent"] in BITEXT_TO_TAXONOMY and r["instruction"].strip()]
    write_jsonl(f"{out}/bitext_taxonomy.jsonl", rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.environ.get("COPILOOT_DATA", os.path.join(here, "../../../shared/data")))
    ap.add_argument("--out", default=os.path.join(here, "../../target/eval-data"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    tweeteval(a.data, a.out)
    semeval_nl(a.data, a.out)
    xsid(a.data, a.out)
    banking_few_shot(a.data, a.out)
    bitext(a.data, a.out)


if __name__ == "__main__":
    main()
