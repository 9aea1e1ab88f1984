//! The seeds' REST API as a framework-free request -> response layer (feature `api`).
//!
//! [`Api::handle`] takes an [`ApiRequest`] (method, raw path, raw query,
//! headers, body bytes) and answers an [`ApiResponse`] (status, headers, JSON
//! body in the seeds' envelope). [`Api`] is also a [`tower_service::Service`]
//! over `http::Request` and `http::Response` (the types hyper, axum and tower
//! share), and both pairs convert into each other, so any HTTP server can sit
//! in front of it in a few lines; the `server` example puts hyper there, the
//! `axum` example nests it in an axum router. The layer only translates: it matches
//! the route (under a configurable base path, `/v2` by default), authenticates the token, checks the acting account may address
//! the URL account, reads the query and the `{"data": ...}` body, calls the
//! typed [`NumberManager`] operation, and renders the typed result or
//! [`crate::Error`] as the envelope. No business rule lives here.
//!
//! Status codes: a library error keeps its own code ([`crate::Error::envelope`]);
//! a single-number `PUT` (create, activate, reserve, port) that is not a dry run
//! answers 201, everything else that succeeds 200; a collection where every
//! number failed is 400 `client error` with the per-number errors as `data`.
//! Request-level problems: 401 `invalid_credentials` (missing or unknown
//! token), 403 `forbidden` (the URL account is not the caller's or a
//! descendant's), 404 `not_found` (no such route), 405 `method_not_allowed`
//! (with an `Allow` header), 413 `payload_too_large`, 400 `invalid request
//! body` (not JSON, not an object, stray top-level keys) and 400 `validation
//! error` (wrong types, schema violations) with per-field `data`.
//!
//! Every answer carries a request id, in the `X-Request-Id` header and the
//! envelope's `request_id`: the caller's own `X-Request-Id` when it is 1 to
//! [`MAX_REQUEST_ID_LEN`] visible ASCII characters, else a fresh 32-hex id.
//! The same id goes into the operation's [`Options::request_id`] and so into
//! every [`Event`](crate::events::Event) the request causes.
//!
//! The envelope echoes the caller's token as `auth_token`, as the seeds do;
//! [`Api::with_auth_token_echo`]`(false)` leaves that key out of every answer.

use std::sync::Arc;

use crate::account::AccountId;
use crate::limits;
use crate::manager::{NumberManager, Options};

mod auth;
mod envelope;
mod handlers;
mod input;
mod port_handlers;
mod routes;
mod service;

pub use auth::Authenticator;
pub use routes::{Method, Route};

use envelope::{Failure, Reply, RequestIds};
use input::{Body, Query};
use routes::Match;

/// Default largest accepted request body: 1 MiB (the default
/// [`Limits::max_body_bytes`](crate::Limits::max_body_bytes)).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Header carrying the token.
pub const AUTH_HEADER: &str = "x-auth-token";

/// Header carrying the request id, read from the request and always set on the answer.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest `X-Request-Id` kept; a longer one (or one with a character that is
/// not visible ASCII) is replaced by a fresh id.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The base path the routes are served under unless [`Api::with_base_path`] says otherwise.
pub const DEFAULT_BASE_PATH: &str = "/v2";

/// Header carrying an idempotency key (a retried request with the same key
/// and body returns the first result without doing anything again).
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// An HTTP-shaped request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    /// The method.
    pub method: Method,
    /// The path, still percent-encoded (`/v2/accounts/{id}/phone_numbers/%2B1415...`).
    pub path: String,
    /// The query string without `?`, still encoded (`prefix=415&quantity=2`).
    pub query: String,
    /// Headers; names compare case-insensitively.
    pub headers: Vec<(String, String)>,
    /// The body (`{"data": {...}}`, or empty).
    pub body: Vec<u8>,
}

impl ApiRequest {
    /// A request for `target` (a path with an optional `?query`), no headers, no body.
    pub fn new(method: Method, target: &str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        ApiRequest {
            method,
            path: path.to_string(),
            query: query.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets `X-Auth-Token`.
    pub fn token(self, token: &str) -> Self {
        self.header(AUTH_HEADER, token)
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the body to a JSON value.
    pub fn json(self, body: &serde_json::Value) -> Self {
        self.body(body.to_string())
    }

    /// The first value of a header.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The caller's token: `X-Auth-Token`, else an `Authorization: Bearer` token, else "".
    pub fn auth_token(&self) -> &str {
        if let Some(t) = self.header_value(AUTH_HEADER) {
            return t.trim();
        }
        self.header_value("authorization")
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .unwrap_or("")
    }
}

/// An HTTP-shaped response: status, headers and a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    /// The HTTP status.
    pub status: u16,
    /// Headers (`content-type`, `x-request-id`, and `allow` on a 405).
    pub headers: Vec<(String, String)>,
    /// The envelope, serialized.
    pub body: Vec<u8>,
}

impl ApiResponse {
    /// The body as JSON (always an object for responses of [`Api`]).
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The REST API over a [`NumberManager`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use number_manager::NumberManager;
/// use number_manager::account::MemoryAccounts;
/// use number_manager::api::{Api, ApiRequest, Method};
///
/// let accounts = Arc::new(MemoryAccounts::new());
/// let master = accounts.add("master", "Master", None).unwrap();
/// accounts.set_master(&master, true);
/// accounts.set_token(&master, "secret");
/// let manager = NumberManager::builder().accounts(accounts.clone()).build();
/// let api = Api::new(manager, accounts);
///
/// let put = ApiRequest::new(Method::Put, "/v2/accounts/master/phone_numbers/%2B14155550100")
///     .token("secret")
///     .body(r#"{"data": {"my_own_field": {}}}"#);
/// let answer = api.handle(put).await;
/// assert_eq!(answer.status, 201);
/// let json = answer.json().unwrap();
/// assert_eq!(json["status"], "success");
/// assert_eq!(json["data"]["id"], "+14155550100");
/// assert_eq!(json["data"]["state"], "reserved");
/// assert_eq!(json["request_id"].as_str().unwrap().len(), 32);
///
/// let anonymous = api.handle(ApiRequest::new(Method::Get, "/v2/accounts/master/phone_numbers")).await;
/// assert_eq!(anonymous.status, 401);
/// # });
/// ```
///
/// `Api` is cheap to clone (the shared state is behind one `Arc`): a server
/// clones it per connection or per request.
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
    body_limit: usize,
    /// Whether envelopes echo the caller's token as `auth_token`.
    echo_token: bool,
    /// Normalized: empty (the root) or `/segment[/segment...]` without a trailing `/`.
    base_path: Arc<str>,
}

struct Inner {
    manager: NumberManager,
    auth: Arc<dyn Authenticator>,
    ids: RequestIds,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("manager", &self.inner.manager)
            .field("authenticator", &self.inner.auth)
            .field("body_limit", &self.body_limit)
            .field("echo_token", &self.echo_token)
            .field("base_path", &self.base_path)
            .finish()
    }
}

/// Everything a handler needs about one request.
pub(crate) struct Call {
    pub endpoint: routes::Endpoint,
    pub account: Option<AccountId>,
    pub number: Option<String>,
    /// `{PORT_REQUEST_ID}`, decoded.
    pub port: Option<String>,
    /// `{ATTACHMENT_ID}`, decoded.
    pub attachment: Option<String>,
    pub query: Query,
    pub body: Body,
    /// The body as bytes, on the routes that take bytes (attachments); empty elsewhere.
    pub raw: Vec<u8>,
    /// The request's `Content-Type`, on the routes that take bytes.
    pub content_type: Option<String>,
    /// The operation options for the authenticated caller; `None` on a public
    /// route called without a (known) token. Never the system actor.
    pub opts: Option<Options>,
}

impl Api {
    /// An API over `manager`, authenticating tokens with `authenticator`. The
    /// body limit is the manager's [`Limits::max_body_bytes`](crate::Limits::max_body_bytes).
    pub fn new(manager: NumberManager, authenticator: impl Authenticator + 'static) -> Self {
        let body_limit = manager.config().limits.max_body_bytes;
        Api {
            inner: Arc::new(Inner {
                manager,
                auth: Arc::new(authenticator),
                ids: RequestIds::new(),
            }),
            body_limit,
            echo_token: true,
            base_path: Arc::from(DEFAULT_BASE_PATH),
        }
    }

    /// Whether every envelope echoes the caller's token as `auth_token` (on
    /// by default, as the seeds and Kazoo answer: the token the request
    /// carried, or `""` without one). Off, the envelope has no `auth_token`
    /// key at all, so a token never reaches a log or cache that keeps
    /// response bodies.
    #[must_use]
    pub fn with_auth_token_echo(mut self, echo: bool) -> Self {
        self.echo_token = echo;
        self
    }

    /// Whether envelopes echo the caller's token as `auth_token`
    /// ([`Api::with_auth_token_echo`]).
    pub fn echoes_auth_token(&self) -> bool {
        self.echo_token
    }

    /// The token an envelope echoes: the caller's, unless echoing is off.
    fn echoed<'t>(&self, token: &'t str) -> Option<&'t str> {
        self.echo_token.then_some(token)
    }

    /// Serves the routes under `base` instead of `/v2`: with `/api/v2`, the
    /// listing is `GET /api/v2/accounts/{ACCOUNT_ID}/phone_numbers`, and a path
    /// outside the base is 404 `not_found` in the envelope. A host can so nest
    /// the API anywhere in its own router and hand it the full path. `base` is
    /// compared with the raw (still percent-encoded) path, whole segments only
    /// (`/v2` does not cover `/v2x`); a missing leading `/` is added, trailing
    /// ones are dropped, and `""` or `"/"` serves the routes at the root
    /// (`/accounts/...`). [`Api::routes`] keeps listing the `/v2` patterns of
    /// the seeds and `openapi.json`.
    pub fn with_base_path(mut self, base: &str) -> Self {
        let trimmed = base.trim_end_matches('/');
        let normalized = match trimmed {
            "" => String::new(),
            t if t.starts_with('/') => t.to_string(),
            t => format!("/{t}"),
        };
        self.base_path = Arc::from(normalized);
        self
    }

    /// The base path the routes are served under (`/v2` by default; `""` for the root).
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// The path below the base, or `None` for a path outside it.
    fn below_base<'p>(&self, path: &'p str) -> Option<&'p str> {
        let rest = path.strip_prefix(&*self.base_path)?;
        (rest.is_empty() || rest.starts_with('/')).then_some(rest)
    }

    /// The request id of an answer: the caller's `X-Request-Id` if it is 1 to
    /// [`MAX_REQUEST_ID_LEN`] visible ASCII characters, else a fresh one.
    fn request_id(&self, request: &ApiRequest) -> String {
        match request.header_value(REQUEST_ID_HEADER) {
            Some(id) if is_valid_request_id(id) => id.to_string(),
            _ => self.inner.ids.next(),
        }
    }

    /// Sets the largest accepted body in bytes (default: the manager's
    /// [`Limits::max_body_bytes`](crate::Limits::max_body_bytes));
    /// a larger one is answered 413.
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The largest accepted body in bytes. A server should stop reading a body
    /// past this and answer [`Api::payload_too_large`].
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// The manager behind the API.
    pub fn manager(&self) -> &NumberManager {
        &self.inner.manager
    }

    /// Every route served, in the seeds' order (the OpenAPI document lists the
    /// same). Patterns are written under the default base `/v2`; an API with
    /// another [`base_path`](Api::base_path) serves them with that prefix instead.
    pub fn routes() -> &'static [Route] {
        routes::ROUTES
    }

    /// The 413 answer for a request whose body was cut off at [`Api::body_limit`]
    /// (for servers that stop reading early instead of buffering the whole body).
    pub fn payload_too_large(&self, request: &ApiRequest) -> ApiResponse {
        let id = self.request_id(request);
        envelope::render(
            Err(self.too_large(None)),
            self.echoed(request.auth_token()),
            &id,
        )
    }

    fn too_large(&self, got: Option<usize>) -> Failure {
        let limit = self.body_limit;
        let message = match got {
            Some(n) => format!("the request body is {n} bytes; at most {limit} are accepted"),
            None => format!("the request body is larger than the {limit} bytes accepted"),
        };
        Failure::new(
            413,
            "payload_too_large",
            serde_json::json!({ "message": message }),
        )
    }

    /// Refuses a body nested deeper than the public fields may be (one more
    /// level for the `{"data": ...}` envelope) before parsing it.
    fn too_deep(&self, body: &[u8]) -> Result<(), Failure> {
        let max = self
            .inner
            .manager
            .config()
            .limits
            .max_depth
            .saturating_add(1);
        if limits::json_depth(body, max) <= max {
            return Ok(());
        }
        Err(crate::Error::validation(
            "data",
            "maxDepth",
            format!("the request body may nest at most {max} levels deep, counting the envelope"),
        )
        .into())
    }

    /// Answers one request. Never panics; every problem is an error envelope.
    pub async fn handle(&self, request: ApiRequest) -> ApiResponse {
        let id = self.request_id(&request);
        let token = request.auth_token().to_string();
        let outcome = self.answer(request, &token, &id).await;
        envelope::render(outcome, self.echoed(&token), &id)
    }

    async fn answer(
        &self,
        mut request: ApiRequest,
        token: &str,
        id: &str,
    ) -> Result<Reply, Failure> {
        let found = match self.below_base(&request.path) {
            Some(rest) => routes::find_below_base(request.method, rest),
            None => Match::NotFound,
        };
        let (route, params) = match found {
            Match::Found(route, params) => (route, params),
            Match::WrongMethod(allowed) => {
                let names: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
                let mut f = Failure::new(
                    405,
                    "method_not_allowed",
                    serde_json::json!({
                        "allowed": names,
                        "message": format!("{} is not allowed on {}", request.method, request.path),
                    }),
                );
                f.headers.push(("allow".into(), names.join(", ")));
                return Err(f);
            }
            Match::NotFound => {
                return Err(Failure::new(
                    404,
                    "not_found",
                    serde_json::json!({
                        "message": format!("no route for {} {}", request.method, request.path),
                    }),
                ))
            }
        };
        if request.body.len() > self.body_limit {
            return Err(self.too_large(Some(request.body.len())));
        }
        let actor = self.authenticate(token, route.requires_auth).await?;
        let account = match params.account {
            None => None,
            Some(raw) => Some(AccountId::new(&raw).map_err(|_| {
                Failure::new(
                    404,
                    "bad_identifier",
                    serde_json::json!({"message": "bad identifier", "not_found": "The account could not be found"}),
                )
            })?),
        };
        if let (Some(account), Some(me)) = (&account, &actor) {
            self.inner
                .manager
                .may_address(account, &Options::as_account(me))
                .await?;
        }
        let query = Query::parse(&request.query);
        let raw_body = route.endpoint.takes_raw_body();
        let mut body = match request.method {
            Method::Get => Body::default(),
            _ if raw_body => Body::default(),
            _ => {
                self.too_deep(&request.body)?;
                match Body::parse(&request.body) {
                    Err(bad) => return Err(Failure::bad_body(bad.0)),
                    Ok(parsed) => parsed?,
                }
            }
        };
        let dry_run = body.take_flag(&query, "dry_run")?;
        if dry_run && route.endpoint.is_port() {
            return Err(crate::Error::validation(
                "dry_run",
                "enum",
                "port request routes have no dry run",
            )
            .into());
        }
        // The library has no charges to quote, so `accept_charges` is read (and
        // type-checked) but never needed: nothing is ever answered 402.
        body.take_flag(&query, "accept_charges")?;
        let idempotency_key = match request.header_value(IDEMPOTENCY_HEADER).map(str::trim) {
            None => None,
            Some(k) if !k.is_empty() && k.len() <= 255 => Some(k.to_string()),
            Some(_) => {
                return Err(crate::Error::validation(
                    "Idempotency-Key",
                    "maxLength",
                    "Idempotency-Key must be 1 to 255 characters",
                )
                .into())
            }
        };
        let opts = actor.map(|me| {
            let mut opts = Options::as_account(&me);
            opts.dry_run = dry_run;
            opts.idempotency_key = idempotency_key;
            opts.request_id = Some(id.to_string());
            opts
        });
        let (raw, content_type) = if raw_body {
            let content_type = request.header_value("content-type").map(str::to_string);
            (std::mem::take(&mut request.body), content_type)
        } else {
            (Vec::new(), None)
        };
        let call = Call {
            endpoint: route.endpoint,
            account,
            number: params.number,
            port: params.port,
            attachment: params.attachment,
            query,
            body,
            raw,
            content_type,
            opts,
        };
        self.dispatch(call).await
    }

    /// The acting account for a token. Routes that need auth answer 401 for a
    /// missing or unknown token; public routes use a known token and ignore others.
    async fn authenticate(
        &self,
        token: &str,
        required: bool,
    ) -> Result<Option<AccountId>, Failure> {
        if token.is_empty() {
            return if required {
                Err(Failure::unauthenticated("missing X-Auth-Token"))
            } else {
                Ok(None)
            };
        }
        match self.inner.auth.authenticate(token).await? {
            Some(id) => Ok(Some(id)),
            None if required => Err(Failure::unauthenticated("invalid credentials")),
            None => Ok(None),
        }
    }
}

/// Whether a caller's request id is kept: 1 to [`MAX_REQUEST_ID_LEN`] bytes,
/// each visible ASCII (`!` to `~`), so it is safe in a header, a log line and JSON.
fn is_valid_request_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_REQUEST_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}
