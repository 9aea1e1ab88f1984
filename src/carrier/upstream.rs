//! What the HTTP carrier adapters share: sending through the [`HttpClient`]
//! with credentials kept out of every message, and turning HTTP outcomes into
//! the crate's [`Error`].
//!
//! | upstream outcome | error |
//! |---|---|
//! | no answer in time ([`HttpError::Timeout`]) | [`Error::Unspecified`] `timeout` (cause: the number) |
//! | 401, 403 | [`Error::Unspecified`] `carrier_authentication_failed` |
//! | the carrier says the number cannot be had | [`Error::Unspecified`] `number_not_available` (cause: the number) |
//! | 429 | [`Error::Unspecified`] `rate_limited` (cause: the carrier and its `Retry-After`) |
//! | 5xx, a transport failure (the redacted [`HttpError`] as source) | [`Error::ByCarrier`], [`CarrierFault::Unavailable`] (retryable) |
//! | any other status | [`Error::ByCarrier`], [`CarrierFault::Refused`] |
//! | a malformed body | [`Error::ByCarrier`], [`CarrierFault::Malformed`] |

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use crate::error::{CarrierFault, Error, Result, Source, UnspecifiedKind};

/// The longest piece of an upstream answer kept in an error message.
const DETAIL_MAX: usize = 300;

/// A credential: shown as `[redacted]` by `Debug` and never put in a message.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// One carrier's way out: its HTTP client, its name for messages, and the
/// secrets no message may contain.
#[derive(Clone)]
pub(crate) struct Upstream {
    http: Arc<dyn HttpClient>,
    carrier: String,
    secrets: Vec<Secret>,
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("carrier", &self.carrier)
            .finish_non_exhaustive()
    }
}

impl Upstream {
    pub(crate) fn new(http: Arc<dyn HttpClient>, carrier: &str, secrets: Vec<Secret>) -> Self {
        let secrets = secrets
            .into_iter()
            .filter(|s| !s.expose().is_empty())
            .collect();
        Upstream {
            http,
            carrier: carrier.to_string(),
            secrets,
        }
    }

    /// `s` with every secret replaced by `[redacted]`.
    pub(crate) fn redact(&self, s: &str) -> String {
        let mut out = s.to_string();
        for secret in &self.secrets {
            out = out.replace(secret.expose(), "[redacted]");
        }
        out
    }

    /// Sends `request`; a transport failure becomes its error (about `subject`).
    pub(crate) async fn send(&self, request: HttpRequest, subject: &str) -> Result<HttpResponse> {
        match self.http.send(request).await {
            Ok(r) => Ok(r),
            Err(HttpError::Timeout) => Err(Error::timeout(subject)),
            Err(e) => {
                // The source is redacted too: the chain must not leak a secret.
                let redacted = match e {
                    HttpError::Connect(s) => HttpError::Connect(self.redact(&s)),
                    HttpError::Transport(s) => HttpError::Transport(self.redact(&s)),
                    other => other,
                };
                let mut error = self.fault(subject, &redacted.to_string());
                if let Error::ByCarrier { source, .. } = &mut error {
                    *source = Some(Source::new(redacted));
                }
                Err(error)
            }
        }
    }

    /// A fault by the carrier about `subject`, its reason redacted: one the
    /// same request may get past later ([`CarrierFault::Unavailable`]).
    pub(crate) fn fault(&self, subject: &str, reason: &str) -> Error {
        self.fault_of(subject, reason, CarrierFault::Unavailable)
    }

    /// A fault by the carrier of kind `fault` about `subject`, its reason redacted.
    fn fault_of(&self, subject: &str, reason: &str, fault: CarrierFault) -> Error {
        Error::ByCarrier {
            number: subject.to_string(),
            reason: self.redact(&format!("{}: {}", self.carrier, clip(reason))),
            fault,
            source: None,
        }
    }

    /// An answer that is not what the carrier documents.
    pub(crate) fn malformed(&self, subject: &str, what: &str) -> Error {
        self.fault_of(
            subject,
            &format!("malformed answer: {what}"),
            CarrierFault::Malformed,
        )
    }

    /// The error for a non-2xx answer. `detail` is the carrier's own
    /// explanation; `not_available` says whether the carrier meant that the
    /// number cannot be had (each adapter knows its own way of saying so).
    pub(crate) fn status_error(
        &self,
        response: &HttpResponse,
        subject: &str,
        detail: &str,
        not_available: bool,
    ) -> Error {
        match response.status {
            401 | 403 => Error::Unspecified {
                kind: UnspecifiedKind::CarrierAuthenticationFailed,
                cause: Some(self.redact(&format!(
                    "{} answered {}: {}",
                    self.carrier,
                    response.status,
                    clip(detail)
                ))),
            },
            429 => {
                let wait = match retry_after(response) {
                    Some(s) => format!("retry after {s}"),
                    None => "no retry-after given".into(),
                };
                Error::Unspecified {
                    kind: UnspecifiedKind::RateLimited,
                    cause: Some(self.redact(&format!("{}: {wait}", self.carrier))),
                }
            }
            _ if not_available => Error::unspecified(UnspecifiedKind::NumberNotAvailable, subject),
            status @ 500..=599 => self.fault(subject, &format!("HTTP {status}: {detail}")),
            status => self.fault_of(
                subject,
                &format!("HTTP {status}: {detail}"),
                CarrierFault::Refused,
            ),
        }
    }

    /// The body as JSON, or the malformed-answer error.
    #[cfg_attr(not(any(feature = "telnyx", feature = "twilio")), allow(dead_code))]
    pub(crate) fn json(&self, response: &HttpResponse, subject: &str) -> Result<Value> {
        serde_json::from_slice(&response.body).map_err(|e| {
            self.malformed(
                subject,
                &format!("HTTP {} body is not JSON ({e})", response.status),
            )
        })
    }
}

/// The `Retry-After` header: `N s` for a delay in seconds, else the value as
/// given (an HTTP date), clipped.
pub(crate) fn retry_after(response: &HttpResponse) -> Option<String> {
    let v = response.header("retry-after")?.trim();
    if v.is_empty() {
        return None;
    }
    Some(match v.parse::<u64>() {
        Ok(n) => format!("{n} s"),
        Err(_) => clip(v),
    })
}

/// The first [`DETAIL_MAX`] characters of `s`.
fn clip(s: &str) -> String {
    match s.char_indices().nth(DETAIL_MAX) {
        Some((i, _)) => format!("{}...", s.get(..i).unwrap_or("")),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;

    struct Never;

    #[async_trait]
    impl HttpClient for Never {
        async fn send(&self, _: HttpRequest) -> std::result::Result<HttpResponse, HttpError> {
            Err(HttpError::Transport("with key sk-123 inside".into()))
        }
    }

    fn upstream() -> Upstream {
        Upstream::new(
            Arc::new(Never),
            "acme",
            vec![Secret::new("sk-123"), Secret::new("")],
        )
    }

    #[test]
    fn secrets_never_show() {
        assert_eq!(format!("{:?}", Secret::new("sk-123")), "[redacted]");
        let u = upstream();
        assert_eq!(u.redact("a sk-123 b"), "a [redacted] b");
        let e = u.fault("+14155550100", "echo sk-123");
        assert!(!e.to_string().contains("sk-123"), "{e}");
    }

    #[test]
    fn statuses_map_to_kinds() {
        let u = upstream();
        let n = "+14155550100";
        let e = u.status_error(&HttpResponse::new(401, ""), n, "bad key", false);
        assert_eq!(e.message(), "carrier_authentication_failed");
        let mut limited = HttpResponse::new(429, "");
        limited.headers.push(("Retry-After".into(), "12".into()));
        let e = u.status_error(&limited, n, "", false);
        assert_eq!(e.message(), "rate_limited");
        assert!(e.cause().unwrap().contains("retry after 12 s"), "{e:?}");
        let e = u.status_error(&HttpResponse::new(422, ""), n, "gone", true);
        assert_eq!(e.message(), "number_not_available");
        assert_eq!(e.cause().as_deref(), Some(n));
        let e = u.status_error(&HttpResponse::new(503, ""), n, "down", false);
        assert!(matches!(e, Error::ByCarrier { .. }), "{e:?}");
        assert!(e.to_string().contains("HTTP 503: down"), "{e}");
        // A 5xx or a rate limit may pass later; a refusal or a bad answer will not.
        assert!(e.is_retryable(), "{e:?}");
        assert!(u.status_error(&limited, n, "", false).is_retryable());
        let e = u.status_error(&HttpResponse::new(400, ""), n, "bad request", false);
        assert!(
            matches!(e, Error::ByCarrier { .. }) && !e.is_retryable(),
            "{e:?}"
        );
        assert!(!u.malformed(n, "no id").is_retryable());
    }

    #[test]
    fn long_details_are_clipped() {
        let long = "x".repeat(1000);
        let e = upstream().fault("n", &long);
        assert!(e.to_string().len() < 400, "{}", e.to_string().len());
    }

    #[test]
    fn transport_failures_are_redacted() {
        let u = upstream();
        let e = block_on(u.send(HttpRequest::new(super::super::Method::Get, "x"), "n"));
        let e = e.unwrap_err();
        assert!(!e.to_string().contains("sk-123"), "{e}");
        // The transport error is the source, redacted as well, and retryable.
        let source = std::error::Error::source(&e).expect("a source");
        assert!(source.downcast_ref::<HttpError>().is_some(), "{source:?}");
        assert!(!source.to_string().contains("sk-123"), "{source}");
        assert!(e.is_retryable(), "{e:?}");
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }
}
