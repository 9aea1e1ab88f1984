//! The API on the `http` crate's types: conversions between [`ApiRequest`] /
//! [`ApiResponse`] and `http::Request` / `http::Response`, and
//! [`tower_service::Service`] for [`Api`].
//!
//! The `http` crate defines no body trait (that is `http-body`, one more
//! dependency), so the service takes a body the host has already collected:
//! any `B: Into<Vec<u8>>` — `Vec<u8>`, `String`, `&'static str`, `&[u8]`, and
//! `bytes::Bytes` (what hyper's and axum's collectors return; it converts
//! without a copy when it owns its buffer alone). The answer's body is the
//! envelope as a `Vec<u8>`, which every server's body type converts from
//! (`http_body_util::Full::from`, `axum::body::Body::from`).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{Api, ApiRequest, ApiResponse, Method};

impl From<&http::Method> for Method {
    /// The method by name; extension methods are [`Method::Other`].
    fn from(method: &http::Method) -> Self {
        Method::from(method.as_str())
    }
}

/// Header values as text: a value that is not UTF-8 is left out (no header
/// the API reads can carry one).
fn text_headers(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            let value = std::str::from_utf8(value.as_bytes()).ok()?;
            Some((name.as_str().to_string(), value.to_string()))
        })
        .collect()
}

impl From<&http::request::Parts> for ApiRequest {
    /// The request line and headers, with an empty body (for answering a
    /// request whose body was not read, as [`Api::payload_too_large_for`] does).
    fn from(head: &http::request::Parts) -> Self {
        ApiRequest {
            method: Method::from(&head.method),
            path: head.uri.path().to_string(),
            query: head.uri.query().unwrap_or("").to_string(),
            headers: text_headers(&head.headers),
            body: Vec::new(),
        }
    }
}

impl<B: Into<Vec<u8>>> From<http::Request<B>> for ApiRequest {
    /// The method, the raw path and query (still percent-encoded), every
    /// header whose value is UTF-8, and the body.
    fn from(request: http::Request<B>) -> Self {
        let (head, body) = request.into_parts();
        let mut out = ApiRequest::from(&head);
        out.body = body.into();
        out
    }
}

impl TryFrom<ApiRequest> for http::Request<Vec<u8>> {
    type Error = http::Error;

    /// The same request as an `http::Request` (origin-form target
    /// `path?query`); fails on a path, header name or value `http` refuses.
    fn try_from(request: ApiRequest) -> Result<Self, http::Error> {
        let target = if request.query.is_empty() {
            request.path
        } else {
            format!("{}?{}", request.path, request.query)
        };
        let mut builder = http::Request::builder()
            .method(request.method.as_str())
            .uri(target);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder.body(request.body)
    }
}

impl TryFrom<ApiResponse> for http::Response<Vec<u8>> {
    type Error = http::Error;

    /// The same status, headers (in order, repeated names kept) and body;
    /// fails on a status outside 100-999 or a header `http` refuses, which
    /// no answer of [`Api`] has.
    fn try_from(response: ApiResponse) -> Result<Self, http::Error> {
        let mut builder = http::Response::builder().status(response.status);
        for (name, value) in &response.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder.body(response.body)
    }
}

impl<B: Into<Vec<u8>>> From<http::Response<B>> for ApiResponse {
    /// The status, every header whose value is UTF-8, and the body.
    fn from(response: http::Response<B>) -> Self {
        let (head, body) = response.into_parts();
        ApiResponse {
            status: head.status.as_u16(),
            headers: text_headers(&head.headers),
            body: body.into(),
        }
    }
}

/// An answer of [`Api`] as an `http::Response`. Its statuses and headers are
/// always valid; should one ever not be, the host gets a bare 500 rather than
/// a panic.
fn into_http(answer: ApiResponse) -> http::Response<Vec<u8>> {
    http::Response::try_from(answer).unwrap_or_else(|_| {
        let mut bare = http::Response::new(Vec::new());
        *bare.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        bare
    })
}

impl Api {
    /// The 413 answer, as an `http::Response`, for a request whose body was
    /// cut off at [`Api::body_limit`]: what a host on hyper or axum answers
    /// when collecting the body fails (see [`Api::payload_too_large`]).
    pub fn payload_too_large_for(&self, head: &http::request::Parts) -> http::Response<Vec<u8>> {
        into_http(self.payload_too_large(&ApiRequest::from(head)))
    }
}

/// [`Api::handle`] on `http` types: the answer has the same status, headers
/// (one `content-type`) and body as `handle` gives for
/// `ApiRequest::from(request)`.
///
/// The body is one the host has collected already (any `B: Into<Vec<u8>>`,
/// `bytes::Bytes` included: the `http` crate has no body trait, and this crate
/// adds no dependency for one). A host reads it up to [`Api::body_limit`] and
/// answers [`Api::payload_too_large_for`] past it; a longer body that reaches
/// the service anyway is answered 413 too. The service is always ready
/// (`poll_ready` never waits, so calling `call` directly is fine), never fails
/// (`Error = Infallible`: every problem is an error envelope) and its future is
/// `Send + 'static`, for `tokio::spawn` and tower middleware.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use number_manager::NumberManager;
/// use number_manager::account::MemoryAccounts;
/// use number_manager::api::Api;
/// use tower_service::Service;
///
/// let accounts = Arc::new(MemoryAccounts::new());
/// let master = accounts.add("master", "Master", None).unwrap();
/// accounts.set_master(&master, true);
/// accounts.set_token(&master, "secret");
/// let manager = NumberManager::builder().accounts(accounts.clone()).build();
/// let mut api = Api::new(manager, accounts).with_base_path("/numbers/v2");
///
/// let put = http::Request::put("/numbers/v2/accounts/master/phone_numbers/%2B14155550100")
///     .header("x-auth-token", "secret")
///     .header("x-request-id", "host-1")
///     .body(r#"{"data": {}}"#)
///     .unwrap();
/// let Ok(answer) = api.call(put).await;
/// assert_eq!(answer.status(), 201);
/// assert_eq!(answer.headers()["content-type"], "application/json");
/// assert_eq!(answer.headers()["x-request-id"], "host-1");
/// let json: serde_json::Value = serde_json::from_slice(answer.body()).unwrap();
/// assert_eq!(json["data"]["state"], "reserved");
/// # });
/// ```
impl<B: Into<Vec<u8>>> tower_service::Service<http::Request<B>> for Api {
    type Response = http::Response<Vec<u8>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Vec<u8>>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let api = self.clone();
        let request = ApiRequest::from(request);
        Box::pin(async move { Ok(into_http(api.handle(request).await)) })
    }
}
