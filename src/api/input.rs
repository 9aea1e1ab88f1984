//! Reading a request: percent-decoding, the query string, the JSON body and
//! its `{"data": ...}` envelope, and the typed values the handlers need.
//!
//! Everything here turns HTTP-shaped text into typed values or a 400; nothing
//! decides what an operation means.

use serde_json::{Map, Value};

use crate::error::{Error, FieldError};

/// Decodes `%XX` escapes (and `+` as a space in query strings). A malformed
/// escape is kept as written; bytes that are not UTF-8 become U+FFFD, so the
/// result is always a string the library can reject with a proper error.
pub(crate) fn percent_decode(s: &str, plus_as_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| {
                    let h = std::str::from_utf8(h).ok()?;
                    u8::from_str_radix(h, 16).ok()
                });
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A decoded query string (`application/x-www-form-urlencoded`), in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub(crate) fn parse(raw: &str) -> Self {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k, true), percent_decode(v, true))
            })
            .collect();
        Query { pairs }
    }

    /// The last value given for `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value given for `key`, in order.
    pub(crate) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// A boolean parameter (`true`/`false`/`1`/`0`); absent is `None`.
    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => parse_bool(key, v).map(Some),
        }
    }

    /// A non-negative integer parameter, at least `min`; absent is `None`.
    pub(crate) fn usize(&self, key: &str, min: usize) -> Result<Option<usize>, Error> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let n: usize = v.trim().parse().map_err(|_| {
            Error::validation(key, "type", format!("{key} must be a non-negative integer"))
        })?;
        if n < min {
            return Err(Error::validation(
                key,
                "minimum",
                format!("{key} must be at least {min}"),
            ));
        }
        Ok(Some(n))
    }

    /// An integer parameter; absent is `None`.
    pub(crate) fn i64(&self, key: &str) -> Result<Option<i64>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => {
                v.trim().parse().map(Some).map_err(|_| {
                    Error::validation(key, "type", format!("{key} must be an integer"))
                })
            }
        }
    }
}

fn parse_bool(key: &str, v: &str) -> Result<bool, Error> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" | "" => Ok(false),
        _ => Err(Error::validation(
            key,
            "type",
            format!("{key} must be true or false"),
        )),
    }
}

/// A boolean in a JSON body: a JSON boolean or one of the query-string spellings.
pub(crate) fn json_bool(key: &str, v: &Value) -> Result<bool, Error> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Null => Ok(false),
        Value::String(s) => parse_bool(key, s),
        _ => Err(Error::validation(
            key,
            "type",
            format!("{key} must be a boolean"),
        )),
    }
}

/// Why a body could not be read at all (400 `invalid request body`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadBody(pub String);

/// Keys a request envelope may carry besides `data` (Kazoo's crossbar envelope).
const ENVELOPE_KEYS: &[&str] = &[
    "accept_charges",
    "dry_run",
    "auth_token",
    "verb",
    "request_id",
];

/// A request body: the envelope's top-level keys and its `data` object.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Body {
    pub envelope: Map<String, Value>,
    pub data: Map<String, Value>,
}

impl Body {
    /// Reads a body. Empty (or blank) is an empty `data`; otherwise it must be
    /// a JSON object whose `data`, when present, is an object.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Result<Body, Error>, BadBody> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Ok(Body::default()));
        }
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| BadBody(format!("the request body is not valid JSON: {e}")))?;
        let Value::Object(mut envelope) = value else {
            return Err(BadBody(format!(
                "the request body must be a JSON object such as {{\"data\": {{...}}}}, not {}",
                kind(&value)
            )));
        };
        let data = match envelope.remove("data") {
            None => {
                if let Some(k) = envelope
                    .keys()
                    .find(|k| !ENVELOPE_KEYS.contains(&k.as_str()))
                {
                    return Err(BadBody(format!(
                        "unexpected top-level key {k:?}: put the request's fields inside \"data\", as in {{\"data\": {{...}}}}"
                    )));
                }
                Map::new()
            }
            Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(other) => {
                return Ok(Err(Error::validation(
                    "data",
                    "type",
                    format!("data must be an object, not {}", kind(&other)),
                )))
            }
        };
        Ok(Ok(Body { envelope, data }))
    }

    /// A flag from the query string, the envelope or `data` (any `true` wins);
    /// it is removed from `data` so it never becomes a public field.
    pub(crate) fn take_flag(&mut self, query: &Query, key: &str) -> Result<bool, Error> {
        let mut on = query.bool(key)?.unwrap_or(false);
        if let Some(v) = self.envelope.get(key) {
            on |= json_bool(key, v)?;
        }
        if let Some(v) = self.data.remove(key) {
            on |= json_bool(key, &v)?;
        }
        Ok(on)
    }

    /// Takes the `numbers` list out of `data` (Kazoo's checks: required,
    /// a list of strings, at least one). Duplicates and the batch limit are the
    /// library's checks.
    pub(crate) fn take_numbers(&mut self) -> Result<Vec<String>, Error> {
        let items = match self.data.remove("numbers") {
            None | Some(Value::Null) => {
                return Err(Error::validation(
                    "numbers",
                    "required",
                    "list of numbers missing",
                ));
            }
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(Error::validation(
                    "numbers",
                    "type",
                    "numbers must be a list",
                ))
            }
        };
        if items.is_empty() {
            return Err(Error::validation(
                "numbers",
                "minimum",
                "minimum 1 number required",
            ));
        }
        let mut out = Vec::with_capacity(items.len());
        let mut bad = Vec::new();
        for (i, v) in items.into_iter().enumerate() {
            match v {
                Value::String(s) => out.push(s),
                // `[4155550100]` (an unquoted number) is read as its digits.
                Value::Number(n) if n.is_u64() => out.push(n.to_string()),
                other => bad.push(FieldError::new(
                    format!("numbers.{i}"),
                    "type",
                    format!(
                        "numbers must be a list of strings, item {i} is {}",
                        kind(&other)
                    ),
                )),
            }
        }
        if bad.is_empty() {
            Ok(out)
        } else {
            Err(Error::Validation { errors: bad })
        }
    }
}

/// A JSON value's kind, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_paths_and_queries() {
        assert_eq!(percent_decode("%2B14155550000", false), "+14155550000");
        assert_eq!(percent_decode("a+b%20c", false), "a+b c");
        assert_eq!(percent_decode("San+Francisco", true), "San Francisco");
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("%zz%2", false), "%zz%2");
        assert_eq!(percent_decode("%FF", false), "\u{fffd}");
    }

    #[test]
    fn query_values() {
        let q = Query::parse(
            "prefix=%2B1415&quantity=2&filter_state=reserved&filter_state=in_service&flag",
        );
        assert_eq!(q.get("prefix"), Some("+1415"));
        assert_eq!(q.usize("quantity", 1).unwrap(), Some(2));
        assert_eq!(
            q.all("filter_state").collect::<Vec<_>>(),
            ["reserved", "in_service"]
        );
        assert_eq!(q.get("flag"), Some(""));
        assert!(q.usize("filter_state", 0).is_err());
        assert!(Query::parse("quantity=0").usize("quantity", 1).is_err());
    }

    #[test]
    fn bodies() {
        assert_eq!(Body::parse(b"").unwrap().unwrap(), Body::default());
        assert_eq!(Body::parse(b" {} ").unwrap().unwrap(), Body::default());
        assert!(Body::parse(b"{").is_err());
        assert!(Body::parse(b"[1]").is_err());
        assert!(Body::parse(br#"{"my_field": 1}"#).is_err());
        assert!(Body::parse(br#"{"data": 5}"#).unwrap().is_err());
        let b = Body::parse(br#"{"data": {"a": 1}, "accept_charges": true}"#)
            .unwrap()
            .unwrap();
        assert_eq!(b.data["a"], json!(1));
    }

    #[test]
    fn numbers() {
        let take = |v: Value| {
            let mut b = Body {
                data: v.as_object().cloned().unwrap_or_default(),
                ..Default::default()
            };
            b.take_numbers()
        };
        let code = |r: Result<Vec<String>, Error>| match r {
            Err(Error::Validation { errors }) => errors[0].code.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(code(take(json!({}))), "required");
        assert_eq!(code(take(json!({"numbers": "x"}))), "type");
        assert_eq!(code(take(json!({"numbers": []}))), "minimum");
        assert_eq!(code(take(json!({"numbers": [{}]}))), "type");
        assert_eq!(
            take(json!({"numbers": ["+1415", 4155550000u64]})).unwrap(),
            ["+1415", "4155550000"]
        );
    }
}
