//! The `tojson` filter as transformers defines it for chat templates: Python's `json.dumps` with
//! `ensure_ascii=False` by default, Python's separators (`", "`, `": "`; `","` between items once
//! `indent` is set) and float spelling, no HTML escaping (minijinja's own `tojson` escapes `<`, `>`,
//! `&` and `'`, which would change the tool descriptions a model was trained on).
//!
//! Map keys come out in insertion order, as Python's dicts keep them (the workspace builds minijinja with
//! `preserve_order`); `sort_keys=True` sorts them.

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Error, ErrorKind};

/// `value | tojson(indent=None, separators=None, sort_keys=False, ensure_ascii=False)`.
pub fn tojson(value: &Value, indent: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let indent = match indent {
        Some(v) => Some(v),
        None => kwargs.get::<Option<Value>>("indent")?,
    };
    let indent = match indent {
        Some(v) if v.is_none() => None,
        Some(v) => Some(usize::try_from(v)?),
        None => None,
    };
    let separators: Option<Vec<String>> = kwargs.get("separators")?;
    let (item, key) = match separators.as_deref() {
        Some([item, key]) => (item.clone(), key.clone()),
        Some(_) => return Err(Error::new(ErrorKind::InvalidOperation, "separators takes two strings")),
        None if indent.is_some() => (",".into(), ": ".into()),
        None => (", ".into(), ": ".into()),
    };
    let mut writer = Writer {
        out: String::new(),
        indent,
        item,
        key,
        sort_keys: kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false),
        ensure_ascii: kwargs.get::<Option<bool>>("ensure_ascii")?.unwrap_or(false),
    };
    kwargs.assert_all_used()?;
    writer.value(value, 0)?;
    Ok(Value::from_safe_string(writer.out))
}

struct Writer {
    out: String,
    indent: Option<usize>,
    item: String,
    key: String,
    sort_keys: bool,
    ensure_ascii: bool,
}

impl Writer {
    fn value(&mut self, v: &Value, depth: usize) -> Result<(), Error> {
        match v.kind() {
            ValueKind::Undefined | ValueKind::None => self.out.push_str("null"),
            ValueKind::Bool => self.out.push_str(if v.is_true() { "true" } else { "false" }),
            ValueKind::Number if v.is_integer() => self.out.push_str(&v.to_string()),
            ValueKind::Number => self.out.push_str(&py_float(f64::try_from(v.clone())?)),
            ValueKind::String | ValueKind::Plain => self.string(&v.to_string()),
            ValueKind::Map => {
                let mut keys: Vec<Value> = v.try_iter()?.collect();
                if self.sort_keys {
                    keys.sort_by_key(|k| k.to_string());
                }
                let mut pairs = Vec::with_capacity(keys.len());
                for k in keys {
                    let item = v.get_item(&k)?;
                    pairs.push((k, item));
                }
                self.container(('{', '}'), pairs, depth, |w, (k, item), depth| {
                    w.string(&py_key(&k)?);
                    w.out.push_str(&w.key.clone());
                    w.value(&item, depth)
                })?;
            }
            ValueKind::Seq | ValueKind::Iterable | ValueKind::Bytes => {
                let items: Vec<Value> = v.try_iter()?.collect();
                self.container(('[', ']'), items, depth, |w, item, depth| w.value(&item, depth))?;
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("cannot write {} as JSON", v.kind()),
                ))
            }
        }
        Ok(())
    }

    fn container<T>(
        &mut self,
        (open, close): (char, char),
        items: Vec<T>,
        depth: usize,
        mut each: impl FnMut(&mut Self, T, usize) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.out.push(open);
        let empty = items.is_empty();
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.out.push_str(&self.item.clone());
            }
            self.newline(depth + 1);
            each(self, item, depth + 1)?;
        }
        if !empty {
            self.newline(depth);
        }
        self.out.push(close);
        Ok(())
    }

    fn newline(&mut self, depth: usize) {
        if let Some(n) = self.indent {
            self.out.push('\n');
            self.out.extend(std::iter::repeat_n(' ', n * depth));
        }
    }

    fn string(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\r' => self.out.push_str("\\r"),
                '\t' => self.out.push_str("\\t"),
                '\u{8}' => self.out.push_str("\\b"),
                '\u{c}' => self.out.push_str("\\f"),
                c if (c as u32) < 0x20 || (self.ensure_ascii && !c.is_ascii()) => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        self.out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }
}

/// A map key as `json.dumps` writes it: strings as they are, numbers, booleans and None spelled out.
fn py_key(k: &Value) -> Result<String, Error> {
    Ok(match k.kind() {
        ValueKind::None => "null".into(),
        ValueKind::Bool => (if k.is_true() { "true" } else { "false" }).into(),
        ValueKind::Number if !k.is_integer() => py_float(f64::try_from(k.clone())?),
        _ => k.to_string(),
    })
}

/// Python's `repr(float)`: shortest round-trip digits, positional between 1e-4 and 1e16, else
/// `1.5e-07` style; always a `.0` on integral values.
fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let abs = f.abs();
    if abs == 0.0 || (1e-4..1e16).contains(&abs) {
        let s = f.to_string();
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    let s = format!("{f:e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{py_float, tojson};

    #[test]
    fn tojson_writes_what_transformers_writes() {
        // Expected: jinja2 3.1.6 with transformers' tojson filter on the same template.
        let src = r#"{% set t = {"name": "refund", "parameters": {"amount": 12.5, "ids": [1, 2], "n": none, "note": "<é & 'x'>\n", "ok": true, "tags": []}} %}{{ t | tojson }}|{{ t | tojson(indent=2) }}|{{ t | tojson(ensure_ascii=true, separators=(",", ":")) }}"#;
        let mut env = minijinja::Environment::new();
        env.add_filter("tojson", tojson);
        let out = env.render_str(src, ()).unwrap();
        let want = concat!(
            r#"{"name": "refund", "parameters": {"amount": 12.5, "ids": [1, 2], "n": null, "note": "<é & 'x'>\n", "ok": true, "tags": []}}|"#,
            "{\n  \"name\": \"refund\",\n  \"parameters\": {\n    \"amount\": 12.5,\n    \"ids\": [\n      1,\n      2\n    ],\n",
            "    \"n\": null,\n    \"note\": \"<é & 'x'>\\n\",\n    \"ok\": true,\n    \"tags\": []\n  }\n}|",
            r#"{"name":"refund","parameters":{"amount":12.5,"ids":[1,2],"n":null,"note":"<\u00e9 & 'x'>\n","ok":true,"tags":[]}}"#,
        );
        assert_eq!(out, want);
    }

    #[test]
    fn map_keys_keep_their_order_like_python_dicts() {
        let mut env = minijinja::Environment::new();
        env.add_filter("tojson", tojson);
        let out = env.render_str(r#"{{ {"type": "function", "name": "refund", "a": 1} | tojson }}|{{ {"b": 1, "a": 2} | tojson(sort_keys=true) }}"#, ()).unwrap();
        assert_eq!(out, r#"{"type": "function", "name": "refund", "a": 1}|{"a": 2, "b": 1}"#);
    }

    #[test]
    fn floats_are_spelled_like_python() {
        // Expected strings are Python 3.11's repr() of the same floats.
        let cases = [
            (2.5, "2.5"),
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (1e16, "1e+16"),
            (1.5e-7, "1.5e-07"),
            (0.0001, "0.0001"),
            (123456.789, "123456.789"),
            (1e300, "1e+300"),
        ];
        for (f, want) in cases {
            assert_eq!(py_float(f), want, "{f}");
        }
    }
}
