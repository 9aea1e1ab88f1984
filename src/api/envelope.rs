//! The seeds' JSON envelope, request ids, and the two outcomes of a handler.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use super::ApiResponse;
use crate::error::Error;

/// Fresh 32-hex request ids: a counter and the time, hashed with a key drawn
/// once per process (std's `RandomState`), so ids are unique and unguessable
/// enough for correlating logs without a random-number dependency.
#[derive(Debug)]
pub(crate) struct RequestIds {
    key: RandomState,
    counter: AtomicU64,
}

impl RequestIds {
    pub(crate) fn new() -> Self {
        RequestIds {
            key: RandomState::new(),
            counter: AtomicU64::new(0),
        }
    }

    pub(crate) fn next(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let hi = self.key.hash_one((n, t, 0u8));
        let lo = self.key.hash_one((n, t, 1u8));
        format!("{hi:016x}{lo:016x}")
    }
}

/// A successful answer: status, `data`, and envelope extras (listing keys).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub status: u16,
    pub data: Value,
    pub extra: Vec<(&'static str, Value)>,
    /// Bytes answered as they are, with their content type, instead of the
    /// envelope (an attachment).
    pub raw: Option<(String, Vec<u8>)>,
}

impl Reply {
    pub(crate) fn ok(data: Value) -> Self {
        Reply {
            status: 200,
            data,
            extra: Vec::new(),
            raw: None,
        }
    }

    /// 200 with `bytes` as the body, of type `content_type`.
    pub(crate) fn bytes(content_type: String, bytes: Vec<u8>) -> Self {
        Reply {
            raw: Some((content_type, bytes)),
            ..Reply::ok(Value::Null)
        }
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub(crate) fn with(mut self, key: &'static str, value: Value) -> Self {
        self.extra.push((key, value));
        self
    }
}

/// A failed answer: status, envelope `message`, `data` (boxed: errors stay
/// small on the happy path), and extra headers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub status: u16,
    pub message: String,
    pub data: Box<Value>,
    pub headers: Vec<(String, String)>,
}

impl Failure {
    pub(crate) fn new(status: u16, message: impl Into<String>, data: Value) -> Self {
        Failure {
            status,
            message: message.into(),
            data: Box::new(data),
            headers: Vec::new(),
        }
    }

    /// 401 `invalid_credentials`.
    pub(crate) fn unauthenticated(why: &str) -> Self {
        Failure::new(401, "invalid_credentials", json!({ "message": why }))
    }

    /// 400 `invalid request body`.
    pub(crate) fn bad_body(why: String) -> Self {
        Failure::new(400, "invalid request body", json!({ "message": why }))
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let (status, message, data) = e.envelope();
        Failure::new(status, message, data)
    }
}

fn sorted(pairs: Vec<(String, Value)>) -> Value {
    let mut pairs = pairs;
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Object(pairs.into_iter().collect::<Map<String, Value>>())
}

/// Renders an outcome as the seeds' envelope (keys sorted as the seeds print
/// them). `token` is the caller's token to echo as `auth_token`, or `None` to
/// leave the key out.
pub(crate) fn render(
    outcome: Result<Reply, Failure>,
    token: Option<&str>,
    request_id: &str,
) -> ApiResponse {
    let mut headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("x-request-id".to_string(), request_id.to_string()),
    ];
    let mut pairs = vec![("request_id".to_string(), json!(request_id))];
    if let Some(token) = token {
        pairs.push(("auth_token".to_string(), json!(token)));
    }
    let status = match outcome {
        Ok(Reply {
            status,
            raw: Some((content_type, body)),
            ..
        }) => {
            let headers = vec![
                ("content-type".to_string(), content_type),
                ("x-request-id".to_string(), request_id.to_string()),
            ];
            return ApiResponse {
                status,
                headers,
                body,
            };
        }
        Ok(reply) => {
            pairs.push(("data".into(), reply.data));
            pairs.push(("revision".into(), json!("undefined")));
            pairs.push(("status".into(), json!("success")));
            for (k, v) in reply.extra {
                pairs.push((k.to_string(), v));
            }
            reply.status
        }
        Err(f) => {
            pairs.push(("data".into(), *f.data));
            pairs.push(("error".into(), json!(f.status.to_string())));
            pairs.push(("message".into(), json!(f.message)));
            pairs.push(("status".into(), json!("error")));
            headers.extend(f.headers);
            f.status
        }
    };
    let body = serde_json::to_vec(&sorted(pairs)).unwrap_or_else(|_| b"{}".to_vec());
    ApiResponse {
        status,
        headers,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_32_hex_and_distinct() {
        let ids = RequestIds::new();
        let a = ids.next();
        let b = ids.next();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn envelope_keys_are_sorted() {
        let r = render(
            Ok(Reply::ok(json!({})).with("page_size", json!(3))),
            Some("tok"),
            "id",
        );
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "auth_token",
                "data",
                "page_size",
                "request_id",
                "revision",
                "status"
            ]
        );
        let r = render(Err(Failure::unauthenticated("no token")), Some(""), "id");
        assert_eq!(r.status, 401);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "auth_token",
                "data",
                "error",
                "message",
                "request_id",
                "status"
            ]
        );
        assert_eq!(v["error"], "401");
    }

    #[test]
    fn without_a_token_to_echo_the_envelope_has_no_auth_token() {
        let r = render(Ok(Reply::ok(json!({}))), None, "id");
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["data", "request_id", "revision", "status"]);
    }
}
