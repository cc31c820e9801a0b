//! The checksums that separate real identifiers from look-alikes: Luhn, the Dutch elfproef, IBAN mod-97.

/// Luhn check for payment-card numbers (digits only).
pub fn luhn_valid(digits: &[u8]) -> bool {
    if digits.is_empty() {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The BSN elfproef: 9·d1 + 8·d2 + … + 2·d8 − 1·d9 is a multiple of 11 (and not all zeros).
pub fn elfproef_valid(digits: &[u8]) -> bool {
    if digits.len() != 9 || digits.iter().all(|&d| d == 0) {
        return false;
    }
    let sum: i32 = digits
        .iter()
        .enumerate()
        .map(|(i, &d)| if i == 8 { -i32::from(d) } else { (9 - i as i32) * i32::from(d) })
        .sum();
    sum % 11 == 0
}

/// IBAN length per country for the countries our customers bank in (SEPA); others are checked by mod-97 only.
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("NL", 18),
    ("BE", 16),
    ("DE", 22),
    ("FR", 27),
    ("LU", 20),
    ("ES", 24),
    ("IT", 27),
    ("PT", 25),
    ("AT", 20),
    ("CH", 21),
    ("GB", 22),
    ("IE", 22),
    ("DK", 18),
    ("SE", 24),
    ("FI", 18),
    ("NO", 15),
    ("PL", 28),
];

/// Full IBAN validation on an upper-case, space-free string: country length and mod-97 == 1.
pub fn iban_valid(iban: &str) -> bool {
    let bytes = iban.as_bytes();
    if !(15..=34).contains(&bytes.len())
        || !bytes.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return false;
    }
    let (country, rest) = iban.split_at(2);
    if !country.bytes().all(|b| b.is_ascii_uppercase()) || !rest.bytes().take(2).all(|b| b.is_ascii_digit()) {
        return false;
    }
    if let Some((_, len)) = IBAN_LENGTHS.iter().find(|(c, _)| *c == country) {
        if *len != bytes.len() {
            return false;
        }
    }
    // Move the first four characters to the end, letters become 10..35, then mod 97 digit by digit.
    let rearranged = iban[4..].bytes().chain(iban[..4].bytes());
    let mut rem: u32 = 0;
    for b in rearranged {
        let v = if b.is_ascii_digit() { u32::from(b - b'0') } else { u32::from(b - b'A') + 10 };
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    rem == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(s: &str) -> Vec<u8> {
        s.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect()
    }

    #[test]
    fn known_values() {
        assert!(luhn_valid(&digits("4111 1111 1111 1111")));
        assert!(!luhn_valid(&digits("4111 1111 1111 1112")));
        assert!(elfproef_valid(&digits("111222333")));
        assert!(elfproef_valid(&digits("123456782")));
        assert!(!elfproef_valid(&digits("123456789")));
        assert!(iban_valid("NL91ABNA0417164300"));
        assert!(iban_valid("BE68539007547034"));
        assert!(iban_valid("DE89370400440532013000"));
        assert!(!iban_valid("NL91ABNA0417164301"));
        assert!(!iban_valid("NL91ABNA041716430"));
    }
}
