//! [`ReqwestClient`]: the [`HttpClient`] this crate ships, over `reqwest`
//! (feature `reqwest`).

use std::time::Duration;

use async_trait::async_trait;

use super::http::{HttpClient, HttpError, HttpRequest, HttpResponse, Method};
use crate::error::{Error, Result};

/// How long [`ReqwestClient::new`] waits for a connection by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`ReqwestClient::new`] waits for a whole answer by default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// An [`HttpClient`] over `reqwest`: TLS by rustls with the webpki roots,
/// HTTP/1.1, a connection pool, and a connect and a whole-request time limit
/// (a request that runs out of either answers [`HttpError::Timeout`] or
/// [`HttpError::Connect`]).
///
/// `reqwest` runs on tokio: call it from within a tokio runtime. The carrier
/// adapters themselves need no runtime; a host on another executor supplies
/// its own [`HttpClient`].
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use number_manager::carrier::{HttpClient, ReqwestClient};
///
/// let client: Arc<dyn HttpClient> = Arc::new(
///     ReqwestClient::with_timeouts(Duration::from_secs(3), Duration::from_secs(10)).unwrap(),
/// );
/// # let _ = client;
/// ```
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
}

impl ReqwestClient {
    /// A client with [`DEFAULT_CONNECT_TIMEOUT`] and [`DEFAULT_REQUEST_TIMEOUT`].
    pub fn new() -> Result<Self> {
        Self::with_timeouts(DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT)
    }

    /// A client that waits at most `connect` for a connection and `request`
    /// for a whole answer (connection included).
    ///
    /// Fails with [`Error::InitFailed`] when the TLS backend cannot start.
    pub fn with_timeouts(connect: Duration, request: Duration) -> Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect)
            .timeout(request)
            // A carrier API answers where it is asked; a redirect is a misconfiguration.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::InitFailed {
                data: Box::new(serde_json::Value::String(format!("http client: {e}"))),
            })?;
        Ok(ReqwestClient { client })
    }

    /// Wraps a `reqwest::Client` the host configured itself (proxies, other
    /// roots, its own limits).
    pub fn from_client(client: reqwest::Client) -> Self {
        ReqwestClient { client }
    }
}

fn method(m: Method) -> reqwest::Method {
    match m {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    }
}

/// The transport error, without the URL (it may carry credentials a host
/// put there).
fn transport(e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        return HttpError::Timeout;
    }
    let e = e.without_url();
    if e.is_connect() {
        HttpError::Connect(e.to_string())
    } else {
        HttpError::Transport(e.to_string())
    }
}

#[async_trait]
impl HttpClient for ReqwestClient {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let mut builder = self
            .client
            .request(method(request.method), request.url.as_str());
        for (k, v) in &request.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body);
        }
        let response = builder.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let body = response.bytes().await.map_err(transport)?.to_vec();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}
