//! [`Limits`]: how much one request may ask for, and how large a number's
//! public fields may grow.
//!
//! Every limit is a 4xx in the API's envelope, never a slow request: a body
//! over [`Limits::max_body_bytes`] is 413 `payload_too_large`; everything else
//! is 400 `validation error` with the offending field and the keyword that
//! failed (`maxItems`, `maxDepth`, `maxLength`, `maxProperties`, `maxSize`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, FieldError, Result};

/// Input limits, checked once per request (body size and nesting in the API,
/// the count of numbers in every operation that takes a list) and wherever
/// public fields are validated (the rest).
///
/// ```
/// use number_manager::Limits;
/// let limits = Limits::default();
/// assert_eq!(limits.max_numbers, 1000);
/// assert_eq!(limits.max_body_bytes, 1024 * 1024);
/// let strict = Limits::default().with_max_numbers(10);
/// assert!(strict.check_numbers(11).is_err());
/// let fields = serde_json::json!({"note": "x".repeat(5000)});
/// let err = limits.check_public(fields.as_object().unwrap()).unwrap_err();
/// assert_eq!(err.envelope().2["note"]["maxLength"]["message"],
///            "String must not be more than 4096 characters");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Limits {
    /// Largest request body the API reads, in bytes (default 1 MiB). A larger
    /// body is 413 `payload_too_large`.
    pub max_body_bytes: usize,
    /// Most numbers one call may name (default 1,000): every collection
    /// operation, `check`, `locality` and port requests. More is 400
    /// `validation error` on `numbers` (`maxItems`), and nothing is done.
    pub max_numbers: usize,
    /// Deepest nesting of public fields (default 16): the public-field object
    /// itself is level 1, each object or array inside it one more (so
    /// `{"e911": {"legacy_data": {"suite": "1"}}}` is 3). The API checks the
    /// request body before parsing it, allowing one more level for the
    /// `{"data": ...}` envelope; the JSON parser refuses more than 127 levels
    /// whatever this says.
    pub max_depth: usize,
    /// Longest string value anywhere in the public fields, in characters
    /// (default 4,096).
    pub max_string_chars: usize,
    /// Longest key anywhere in the public fields, in characters (default 256).
    pub max_key_chars: usize,
    /// Most entries in the public fields (default 1,000), counting every key
    /// and every array item at every level.
    pub max_fields: usize,
    /// Largest public fields as compact JSON, in bytes (default 64 KiB).
    pub max_public_bytes: usize,
    /// Largest port request attachment, in bytes (default 512 KiB). A larger
    /// one is 413 `payload_too_large` and is not kept.
    pub max_attachment_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_numbers: 1000,
            max_depth: 16,
            max_string_chars: 4096,
            max_key_chars: 256,
            max_fields: 1000,
            max_public_bytes: 64 * 1024,
            max_attachment_bytes: 512 * 1024,
        }
    }
}

crate::util::with_setters!(Limits {
    /// Sets [`Limits::max_body_bytes`].
    with_max_body_bytes => max_body_bytes: usize;
    /// Sets [`Limits::max_numbers`].
    with_max_numbers => max_numbers: usize;
    /// Sets [`Limits::max_depth`].
    with_max_depth => max_depth: usize;
    /// Sets [`Limits::max_string_chars`].
    with_max_string_chars => max_string_chars: usize;
    /// Sets [`Limits::max_key_chars`].
    with_max_key_chars => max_key_chars: usize;
    /// Sets [`Limits::max_fields`].
    with_max_fields => max_fields: usize;
    /// Sets [`Limits::max_public_bytes`].
    with_max_public_bytes => max_public_bytes: usize;
    /// Sets [`Limits::max_attachment_bytes`].
    with_max_attachment_bytes => max_attachment_bytes: usize;
});

impl Limits {
    /// Refuses a list of more than [`Limits::max_numbers`] numbers.
    pub fn check_numbers(&self, count: usize) -> Result<()> {
        if count <= self.max_numbers {
            return Ok(());
        }
        Err(Error::validation(
            "numbers",
            "maxItems",
            format!(
                "at most {} numbers may be given at once, {count} were",
                self.max_numbers
            ),
        ))
    }

    /// Checks public fields against the depth, string, key, count and size
    /// limits; every failure is reported together as a `validation error`.
    pub fn check_public(&self, fields: &Map<String, Value>) -> Result<()> {
        let mut errors = Vec::new();
        self.public_errors(fields, &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation { errors })
        }
    }

    /// Adds the limit failures of `fields` to `errors`. The walk stops at
    /// [`Limits::max_fields`] entries and [`Limits::max_depth`] levels, so its
    /// cost is bounded whatever the input.
    pub(crate) fn public_errors(&self, fields: &Map<String, Value>, errors: &mut Vec<FieldError>) {
        let mut walk = Walk {
            limits: self,
            entries: 0,
            errors,
        };
        if walk.object(fields, "", 1).is_err() {
            walk.errors.push(FieldError::new(
                "data",
                "maxProperties",
                format!(
                    "public fields may have at most {} entries, counting nested ones",
                    self.max_fields
                ),
            ));
            return;
        }
        let mut size = ByteCount(0);
        // Writing to a counter cannot fail; if it did, the size is unknown and
        // the fields are refused rather than stored unchecked.
        let measured = serde_json::to_writer(&mut size, fields).is_ok();
        if !measured || size.0 > self.max_public_bytes {
            errors.push(FieldError::new(
                "data",
                "maxSize",
                format!(
                    "public fields may take at most {} bytes as JSON, these take {}",
                    self.max_public_bytes, size.0
                ),
            ));
        }
    }
}

/// The depth of the deepest object or array in a JSON text (`{}` is 1),
/// without parsing it; stops counting once past `stop`. Brackets inside
/// strings do not count.
#[cfg_attr(not(feature = "api"), allow(dead_code))]
pub(crate) fn json_depth(bytes: &[u8], stop: usize) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > stop {
                    return deepest;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Too many entries: the walk stopped.
struct TooMany;

struct Walk<'a> {
    limits: &'a Limits,
    entries: usize,
    errors: &'a mut Vec<FieldError>,
}

impl Walk<'_> {
    fn count(&mut self) -> Result<(), TooMany> {
        self.entries += 1;
        if self.entries > self.limits.max_fields {
            Err(TooMany)
        } else {
            Ok(())
        }
    }

    fn object(&mut self, m: &Map<String, Value>, path: &str, depth: usize) -> Result<(), TooMany> {
        for (k, v) in m {
            self.count()?;
            let key_chars = k.chars().count();
            let field = join(path, &shorten(k, self.limits.max_key_chars));
            if key_chars > self.limits.max_key_chars {
                self.errors.push(FieldError::new(
                    field.clone(),
                    "maxLength",
                    format!(
                        "keys must not be more than {} characters",
                        self.limits.max_key_chars
                    ),
                ));
            }
            self.value(v, &field, depth)?;
        }
        Ok(())
    }

    fn value(&mut self, v: &Value, path: &str, depth: usize) -> Result<(), TooMany> {
        let nested = matches!(v, Value::Object(_) | Value::Array(_));
        if nested && depth + 1 > self.limits.max_depth {
            self.errors.push(FieldError::new(
                path,
                "maxDepth",
                format!(
                    "public fields may nest at most {} levels deep",
                    self.limits.max_depth
                ),
            ));
            return Ok(());
        }
        match v {
            Value::String(s) if s.chars().count() > self.limits.max_string_chars => {
                self.errors.push(FieldError::new(
                    path,
                    "maxLength",
                    format!(
                        "String must not be more than {} characters",
                        self.limits.max_string_chars
                    ),
                ));
            }
            Value::Object(m) => self.object(m, path, depth + 1)?,
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.count()?;
                    self.value(item, &join(path, &i.to_string()), depth + 1)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A key as it may be echoed back in an error: an over-long key is cut.
fn shorten(key: &str, max: usize) -> String {
    match key.char_indices().nth(max.min(64)) {
        Some((cut, _)) => format!("{}...", &key[..cut]),
        None => key.to_string(),
    }
}

/// An `io::Write` that only counts bytes.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_of_json_text() {
        assert_eq!(json_depth(b"", 10), 0);
        assert_eq!(json_depth(b"{}", 10), 1);
        assert_eq!(json_depth(br#"{"a": [{"b": "[[[["}]}"#, 10), 3);
        assert_eq!(json_depth(br#"{"a": "\"[["}"#, 10), 1);
        assert_eq!(json_depth(&[b'['; 1000], 5), 6);
    }

    #[test]
    fn key_paths_are_cut() {
        assert_eq!(shorten("abc", 256), "abc");
        assert_eq!(
            shorten(&"k".repeat(100), 256),
            format!("{}...", "k".repeat(64))
        );
        assert_eq!(shorten("ééé", 2), "éé...");
    }
}
