//! A generated, seeded evaluation set for redaction: valid identifiers (with correct checksums) and
//! look-alike decoys (wrong checksums, order numbers, amounts, times, years) in Dutch and English sentences.
//!
//! Run it with `cargo run -p copiloot --example redact_eval -- [PER_KIND] [SEED]`.

use crate::redact::{PiiKind, Redactor};
use serde::Serialize;
use std::collections::BTreeMap;

/// One sentence with the spans that must be masked.
#[derive(Debug, Clone)]
pub struct Sample {
    pub text: String,
    pub gold: Vec<(PiiKind, usize, usize)>,
}

/// Precision and recall of one kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindScore {
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    pub precision: f64,
    pub recall: f64,
}

/// The seeded generator behind the test data, with helpers for digits and choices.
struct Rng(crate::rng::SplitMix64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0.below(n)
    }
    fn digit(&mut self) -> u8 {
        self.below(10) as u8
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items.get(self.below(items.len())).copied().unwrap_or("")
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b'0' + self.digit())).collect()
    }
}

fn bsn(rng: &mut Rng, valid: bool) -> String {
    loop {
        let mut d: Vec<u8> = (0..8).map(|_| rng.digit()).collect();
        d[0] = d[0].max(1);
        let partial: i32 = d.iter().enumerate().map(|(i, &x)| (9 - i as i32) * i32::from(x)).sum();
        let check = partial % 11;
        if check == 10 {
            continue;
        }
        let last = if valid { check as u8 } else { ((check + 1 + rng.below(8) as i32) % 10) as u8 };
        d.push(last);
        if crate::redact::elfproef_valid(&d) == valid {
            return d.iter().map(|x| char::from(b'0' + x)).collect();
        }
    }
}

fn iban(rng: &mut Rng, valid: bool) -> String {
    let bban = match rng.below(4) {
        0 => format!(
            "{}{}",
            rng.pick(&["ABNA", "INGB", "RABO", "TRIO", "SNSB", "ASNB", "KNAB"]),
            rng.digits(10)
        ),
        1 => rng.digits(12),                        // BE
        2 => rng.digits(18),                        // DE
        _ => format!("{}{}", rng.digits(21), "00"), // FR-like: 23 digits
    };
    let country = match bban.len() {
        14 => "NL",
        12 => "BE",
        18 => "DE",
        _ => "FR",
    };
    let numeric: String = format!("{bban}{country}00")
        .chars()
        .map(|c| if c.is_ascii_digit() { c.to_string() } else { (c as u32 - 'A' as u32 + 10).to_string() })
        .collect();
    let rem = numeric.bytes().fold(0u32, |r, b| (r * 10 + u32::from(b - b'0')) % 97);
    let mut check = 98 - rem;
    if !valid {
        check = (check + 1 + rng.below(90) as u32) % 97 + 2;
    }
    let raw = format!("{country}{check:02}{bban}");
    if rng.below(2) == 0 {
        raw.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).to_string()).collect::<Vec<_>>().join(" ")
    } else {
        raw
    }
}

fn card(rng: &mut Rng, valid: bool) -> String {
    let mut d: Vec<u8> = vec![4];
    if rng.below(2) == 0 {
        d = vec![5, 1 + rng.below(5) as u8];
    }
    while d.len() < 15 {
        d.push(rng.digit());
    }
    // The check digit that makes the Luhn sum work (or, for a decoy, one that breaks it).
    let good = (0..10u8).find(|&c| crate::redact::luhn_valid(&[d.as_slice(), &[c]].concat())).unwrap_or(0);
    let check = if valid { good } else { (good + 1 + rng.below(8) as u8) % 10 };
    d.push(check);
    let s: String = d.iter().map(|x| char::from(b'0' + x)).collect();
    let sep = rng.pick(&[" ", "-", ""]);
    s.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).to_string()).collect::<Vec<_>>().join(sep)
}

fn phone(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => format!("06 {}", rng.digits(8)),
        1 => format!("06-{}", rng.digits(8)),
        2 => format!("+31 6 {} {}", rng.digits(4), rng.digits(4)),
        3 => format!("020-{} {}", rng.digits(3), rng.digits(4)),
        4 => format!("010 {} {}", rng.digits(3), rng.digits(4)),
        _ => format!("+44 20 {} {}", rng.digits(4), rng.digits(4)),
    }
}

fn sample(template: &str, value: &str, kind: Option<PiiKind>) -> Sample {
    let start = template.find("{}").unwrap_or(0);
    let text = template.replacen("{}", value, 1);
    let gold = kind.map(|k| vec![(k, start, start + value.len())]).unwrap_or_default();
    Sample { text, gold }
}

/// `per_kind` sentences for each kind, and as many decoy sentences, mixed Dutch and English.
pub fn generate(per_kind: usize, seed: u64) -> Vec<Sample> {
    let mut rng = Rng(crate::rng::SplitMix64(seed));
    let mut out = Vec::new();
    let streets = ["Kerkstraat", "Dorpsweg", "Stationsplein", "Prinsengracht", "Molenlaan", "Julianalaan"];
    let months = ["maart", "april", "juni", "oktober"];
    for _ in 0..per_kind {
        let user = format!("{}.{}", rng.pick(&["jan", "sanne", "p.devries", "mark", "amira"]), rng.digits(2));
        let email = format!("{user}@{}", rng.pick(&["gmail.com", "ziggo.nl", "outlook.com", "kpnmail.nl"]));
        out.push(sample(
            rng.pick(&[
                "U kunt mij mailen op {} als dat makkelijker is.",
                "My email address is {}, please send the confirmation there.",
            ]),
            &email,
            Some(PiiKind::Email),
        ));
        let p = phone(&mut rng);
        out.push(sample(
            rng.pick(&[
                "Bel me terug op {} na vijf uur.",
                "You can reach me on {} tomorrow morning.",
                "Mijn nummer is {}.",
            ]),
            &p,
            Some(PiiKind::Phone),
        ));
        let i = iban(&mut rng, true);
        out.push(sample(
            rng.pick(&[
                "Het bedrag mag naar {} worden overgemaakt.",
                "Please refund it to IBAN {} as soon as possible.",
            ]),
            &i,
            Some(PiiKind::Iban),
        ));
        let b = bsn(&mut rng, true);
        out.push(sample(
            rng.pick(&["Mijn BSN is {}.", "Mijn burgerservicenummer: {}", "For the form, my BSN is {}."]),
            &b,
            Some(PiiKind::Bsn),
        ));
        let pc = format!(
            "{}{}{} {}{}",
            1 + rng.below(9),
            rng.digits(3),
            "",
            char::from(b'A' + rng.below(18) as u8),
            char::from(b'B' + rng.below(18) as u8)
        );
        out.push(sample(
            rng.pick(&["Mijn postcode is {} en het huisnummer 14.", "The postcode is {} in Utrecht."]),
            &pc,
            Some(PiiKind::Postcode),
        ));
        let c = card(&mut rng, true);
        out.push(sample(
            rng.pick(&["Mijn creditcard is {} maar die is verlopen.", "I paid with card {} last week."]),
            &c,
            Some(PiiKind::Card),
        ));
        let dob = match rng.below(3) {
            0 => format!("{:02}-{:02}-19{}", 1 + rng.below(28), 1 + rng.below(12), rng.digits(2)),
            1 => format!("{} {} 19{}", 1 + rng.below(28), rng.pick(&months), rng.digits(2)),
            _ => format!("{:02}/{:02}/19{}", 1 + rng.below(28), 1 + rng.below(12), rng.digits(2)),
        };
        out.push(sample(
            rng.pick(&["Ik ben geboren op {} in Zwolle.", "My date of birth is {}.", "Geboortedatum: {}"]),
            &dob,
            Some(PiiKind::DateOfBirth),
        ));
        let addr = if rng.below(2) == 0 {
            format!("{} {}", rng.pick(&streets), 1 + rng.below(200))
        } else {
            format!("{} {} Road", 1 + rng.below(200), rng.pick(&["Baker", "Station", "Mill", "Church"]))
        };
        out.push(sample(
            rng.pick(&["Ik woon op {} sinds vorig jaar.", "Please deliver it to {} instead."]),
            &addr,
            Some(PiiKind::Address),
        ));

        // Decoys: nothing in these sentences may be masked.
        let decoys = [
            format!("Mijn nummer is {} volgens de brief.", bsn(&mut rng, false)),
            format!(
                "Bestelnummer {}-{}-{} is nog niet verzonden.",
                rng.digits(4),
                rng.digits(4),
                rng.digits(4)
            ),
            format!("Order {} was shipped on Monday.", rng.digits(8)),
            format!("De rekening is € {},{} per maand.", 10 + rng.below(90), rng.digits(2)),
            format!("The bill came to {}.{} pounds this month.", 100 + rng.below(800), rng.digits(2)),
            format!("De monteur komt om {}:{}0 uur.", 8 + rng.below(10), rng.below(6)),
            format!("Ik ben sinds {} klant bij jullie.", 1990 + rng.below(35)),
            format!("Uw storingsnummer is ST-{}.", rng.digits(6)),
            format!("De meterstand is {}.{} kWh.", 10 + rng.below(20), rng.digits(3)),
            format!("Kaartnummer {} werd geweigerd.", card(&mut rng, false)),
            format!("IBAN {} klopt niet volgens de bank.", iban(&mut rng, false)),
            format!("Ticket {} is closed.", rng.digits(9)),
        ];
        let pick = rng.below(decoys.len());
        if let Some(d) = decoys.get(pick) {
            // A random nine-digit ticket may pass the elfproef by chance (1 in 11): then it *is* BSN-shaped.
            let digits: Vec<u8> = d.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect();
            let ambiguous = pick == 11 && crate::redact::elfproef_valid(&digits);
            if !ambiguous {
                out.push(Sample { text: d.clone(), gold: vec![] });
            }
        }
    }
    out
}

/// Score a redactor on samples: a prediction counts when it overlaps a gold span of the same kind.
pub fn evaluate(redactor: &Redactor, samples: &[Sample]) -> BTreeMap<PiiKind, KindScore> {
    let mut scores: BTreeMap<PiiKind, KindScore> =
        PiiKind::ALL.iter().map(|k| (*k, KindScore::default())).collect();
    for s in samples {
        let predicted = redactor.find(&s.text);
        for &(kind, start, end) in &predicted {
            let hit = s.gold.iter().any(|&(k, a, b)| k == kind && start < b && a < end);
            let e = scores.entry(kind).or_default();
            if hit {
                e.true_positives += 1;
            } else {
                e.false_positives += 1;
            }
        }
        for &(kind, a, b) in &s.gold {
            if !predicted.iter().any(|&(k, start, end)| k == kind && start < b && a < end) {
                scores.entry(kind).or_default().false_negatives += 1;
            }
        }
    }
    for s in scores.values_mut() {
        let (tp, fp, fnn) = (s.true_positives as f64, s.false_positives as f64, s.false_negatives as f64);
        s.precision = if tp + fp == 0.0 { 1.0 } else { tp / (tp + fp) };
        s.recall = if tp + fnn == 0.0 { 1.0 } else { tp / (tp + fnn) };
    }
    scores
}
