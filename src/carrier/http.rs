//! The HTTP seam real carriers speak through: [`HttpClient`], with small
//! request and response types that depend on no HTTP stack and no runtime.
//!
//! A host hands an adapter an `Arc<dyn HttpClient>`: the `reqwest` one this
//! crate ships behind the `reqwest` feature (`ReqwestClient`),
//! or its own over whatever stack it already runs. Tests hand a client that
//! talks to a local stub server.

use std::fmt;

use async_trait::async_trait;

/// An HTTP request method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

impl Method {
    /// The method as it goes on the wire (`GET`, `POST`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One request: method, absolute URL (query string included), headers, body.
///
/// Its `Debug` output never shows the value of an `Authorization` header, so
/// a request can be logged without leaking credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The absolute URL, query string included.
    pub url: String,
    /// Header names and values, in order; a name may repeat.
    pub headers: Vec<(String, String)>,
    /// The body (empty for none).
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A request with no headers and no body.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        HttpRequest {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                if k.eq_ignore_ascii_case("authorization") {
                    (k.as_str(), "[redacted]")
                } else {
                    (k.as_str(), v.as_str())
                }
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// One response: status, headers, body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names and values, in order; a name may repeat.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A response with a status and body and no headers.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// The first value of header `name` (compared without regard to case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a request got no response.
///
/// Adapters turn these into the crate's [`Error`](crate::Error): a
/// [`Timeout`](HttpError::Timeout) becomes the `timeout` fault (the request
/// may have been carried out upstream all the same), anything else a fault by
/// the carrier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// No complete answer within the client's time limit.
    #[error("timed out")]
    Timeout,
    /// The connection could not be made (so the request was never sent).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// Any other transport failure (reset connection, bad TLS, unreadable body...).
    #[error("transport error: {0}")]
    Transport(String),
}

/// Sends HTTP requests for a carrier adapter.
///
/// The library calls it from whatever executor the host runs; an
/// implementation bounds its own connect and request time and answers
/// [`HttpError::Timeout`] when they run out. A response of any status is
/// `Ok`: telling a 404 from a 200 is the adapter's job.
///
/// ```
/// use std::sync::Mutex;
/// use async_trait::async_trait;
/// use number_manager::carrier::{HttpClient, HttpError, HttpRequest, HttpResponse, Method};
///
/// /// Answers every request with one canned response and remembers the URLs.
/// struct Canned {
///     answer: HttpResponse,
///     seen: Mutex<Vec<String>>,
/// }
///
/// #[async_trait]
/// impl HttpClient for Canned {
///     async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
///         self.seen.lock().unwrap().push(request.url);
///         Ok(self.answer.clone())
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let client = Canned {
///     answer: HttpResponse::new(200, r#"{"data":[]}"#),
///     seen: Mutex::new(Vec::new()),
/// };
/// let request = HttpRequest::new(Method::Get, "http://127.0.0.1:1/v2/phone_numbers")
///     .header("Authorization", "Bearer secret");
/// // Debug output never shows credentials.
/// assert!(!format!("{request:?}").contains("secret"));
/// let response = client.send(request).await.unwrap();
/// assert!(response.is_success());
/// assert_eq!(client.seen.lock().unwrap().len(), 1);
/// # });
/// ```
#[async_trait]
pub trait HttpClient: Send + Sync {
    /// Sends one request and returns the whole response.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError>;
}

/// Percent-encodes `s` for a query string or a form body
/// (`application/x-www-form-urlencoded`): unreserved characters stay, a space
/// becomes `%20`, everything else is `%XX` of its UTF-8 bytes.
#[cfg_attr(not(any(feature = "telnyx", feature = "twilio")), allow(dead_code))]
pub(crate) fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0x0F));
        }
    }
    out
}

fn hex_digit(n: u8) -> char {
    char::from(if n < 10 { b'0' + n } else { b'A' + n - 10 })
}

/// `key=value` pairs, each side percent-encoded, joined by `&`: a query
/// string (without the `?`) or a form body.
#[cfg_attr(not(any(feature = "telnyx", feature = "twilio")), allow(dead_code))]
pub(crate) fn encode_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                encode_component(k.as_ref()),
                encode_component(v.as_ref())
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Standard base64 with padding (RFC 4648 section 4), for basic auth.
#[cfg_attr(not(feature = "twilio"), allow(dead_code))]
pub(crate) fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextet = |n: u32| char::from(ALPHABET[(n & 63) as usize]);
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b0 = u32::from(chunk.first().copied().unwrap_or(0));
        let b1 = u32::from(chunk.get(1).copied().unwrap_or(0));
        let b2 = u32::from(chunk.get(2).copied().unwrap_or(0));
        let n = (b0 << 16) | (b1 << 8) | b2;
        out.push(sextet(n >> 18));
        out.push(sextet(n >> 12));
        out.push(if chunk.len() > 1 { sextet(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(n) } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_keep_unreserved_and_escape_the_rest() {
        assert_eq!(encode_component("abcXYZ019-._~"), "abcXYZ019-._~");
        assert_eq!(encode_component("+14155550100"), "%2B14155550100");
        assert_eq!(encode_component("filter[limit]"), "filter%5Blimit%5D");
        assert_eq!(encode_component("a b&c=d"), "a%20b%26c%3Dd");
        assert_eq!(encode_component("415555****"), "415555%2A%2A%2A%2A");
        assert_eq!(encode_component("é"), "%C3%A9");
        assert_eq!(encode_component(""), "");
    }

    #[test]
    fn pairs_join_with_ampersands() {
        assert_eq!(
            encode_pairs(&[("PhoneNumber", "+14155550100"), ("x", "a b")]),
            "PhoneNumber=%2B14155550100&x=a%20b"
        );
        assert_eq!(encode_pairs::<&str, &str>(&[]), "");
    }

    #[test]
    fn base64_matches_the_rfc_vectors() {
        // RFC 4648 section 10.
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
        assert_eq!(base64(&[0xFF, 0xFE, 0xFD]), "//79");
    }

    #[test]
    fn request_debug_hides_authorization() {
        let r = HttpRequest::new(Method::Post, "http://x/y")
            .header("authorization", "Basic c2VjcmV0")
            .header("Accept", "application/json")
            .body("k=v");
        let shown = format!("{r:?}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
        assert!(shown.contains("application/json"), "{shown}");
    }

    #[test]
    fn response_headers_ignore_case() {
        let mut r = HttpResponse::new(429, "");
        r.headers.push(("Retry-After".into(), "7".into()));
        assert_eq!(r.header("retry-after"), Some("7"));
        assert_eq!(r.header("x-missing"), None);
        assert!(!r.is_success());
        assert!(HttpResponse::new(204, "").is_success());
    }
}
