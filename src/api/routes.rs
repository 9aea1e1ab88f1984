//! The route table and the path matcher.
//!
//! Patterns are `/`-separated segments; `{NAME}` matches any one non-empty
//! segment (after percent-decoding), anything else matches itself. When several
//! patterns match a path, the most specific wins: comparing segments left to
//! right, a literal beats a placeholder. So `…/phone_numbers/collection` is the
//! collection route, never a number called `collection`, and a method that
//! pattern does not serve is a 405, not a lookup of that "number".

use std::fmt;

use crate::porting::PortState;

/// An HTTP method, as far as the API cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD` (not served: answered 405)
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `OPTIONS` (not served: answered 405)
    Options,
    /// Any other method (answered 405).
    Other,
}

impl Method {
    /// The method's name (`OTHER` for [`Method::Other`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other => "OTHER",
        }
    }
}

impl From<&str> for Method {
    /// Parses a method name case-sensitively, as HTTP does; unknown names are [`Method::Other`].
    fn from(s: &str) -> Self {
        match s {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a route does (one handler each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Search,
    ClassifyPublic,
    List,
    Get,
    Create,
    Update,
    Patch,
    Remove,
    Activate,
    Reserve,
    Port,
    Identify,
    CollectionCreate,
    CollectionUpdate,
    CollectionPatch,
    CollectionRemove,
    CollectionActivate,
    Check,
    Locality,
    Prefix,
    Classifiers,
    Classify,
    CarriersInfo,
    Fix,
    FixNumber,
    PortList,
    PortCreate,
    PortGet,
    PortReplace,
    PortPatch,
    PortCancel,
    PortMove(crate::porting::PortState),
    PortComment,
    PortAttachments,
    PortAttachmentGet,
    PortAttachmentPut,
    PortAttachmentDelete,
}

impl Endpoint {
    /// Whether the route takes the body as bytes (an attachment), not as
    /// the `{"data": ...}` envelope.
    pub(crate) fn takes_raw_body(self) -> bool {
        matches!(self, Endpoint::PortAttachmentPut)
    }

    /// Whether the route is one of the port request routes.
    pub(crate) fn is_port(self) -> bool {
        matches!(
            self,
            Endpoint::PortList
                | Endpoint::PortCreate
                | Endpoint::PortGet
                | Endpoint::PortReplace
                | Endpoint::PortPatch
                | Endpoint::PortCancel
                | Endpoint::PortMove(_)
                | Endpoint::PortComment
                | Endpoint::PortAttachments
                | Endpoint::PortAttachmentGet
                | Endpoint::PortAttachmentPut
                | Endpoint::PortAttachmentDelete
        )
    }
}

/// One route the API serves: a method and a path pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The method.
    pub method: Method,
    /// The path pattern, with `{ACCOUNT_ID}`, `{PHONE_NUMBER}`,
    /// `{PORT_REQUEST_ID}` and `{ATTACHMENT_ID}` placeholders.
    pub pattern: &'static str,
    /// Whether the route needs an `X-Auth-Token`.
    pub requires_auth: bool,
    pub(crate) endpoint: Endpoint,
}

const fn route(
    method: Method,
    pattern: &'static str,
    requires_auth: bool,
    endpoint: Endpoint,
) -> Route {
    Route {
        method,
        pattern,
        requires_auth,
        endpoint,
    }
}

macro_rules! acct {
    ($suffix:literal) => {
        concat!("/v2/accounts/{ACCOUNT_ID}/phone_numbers", $suffix)
    };
}

macro_rules! port {
    ($suffix:literal) => {
        concat!("/v2/accounts/{ACCOUNT_ID}/port_requests", $suffix)
    };
}

/// Every route, in the order of the seeds, then the port request routes.
pub(crate) static ROUTES: &[Route] = &[
    route(Method::Get, "/v2/phone_numbers", false, Endpoint::Search),
    route(
        Method::Get,
        "/v2/phone_numbers/classifiers/{PHONE_NUMBER}",
        false,
        Endpoint::ClassifyPublic,
    ),
    route(Method::Get, acct!(""), true, Endpoint::List),
    route(Method::Get, acct!("/{PHONE_NUMBER}"), true, Endpoint::Get),
    route(
        Method::Put,
        acct!("/{PHONE_NUMBER}"),
        true,
        Endpoint::Create,
    ),
    route(
        Method::Post,
        acct!("/{PHONE_NUMBER}"),
        true,
        Endpoint::Update,
    ),
    route(
        Method::Patch,
        acct!("/{PHONE_NUMBER}"),
        true,
        Endpoint::Patch,
    ),
    route(
        Method::Delete,
        acct!("/{PHONE_NUMBER}"),
        true,
        Endpoint::Remove,
    ),
    route(
        Method::Put,
        acct!("/{PHONE_NUMBER}/activate"),
        true,
        Endpoint::Activate,
    ),
    route(
        Method::Put,
        acct!("/{PHONE_NUMBER}/reserve"),
        true,
        Endpoint::Reserve,
    ),
    route(
        Method::Put,
        acct!("/{PHONE_NUMBER}/port"),
        true,
        Endpoint::Port,
    ),
    route(
        Method::Get,
        acct!("/{PHONE_NUMBER}/identify"),
        true,
        Endpoint::Identify,
    ),
    route(
        Method::Put,
        acct!("/collection"),
        true,
        Endpoint::CollectionCreate,
    ),
    route(
        Method::Post,
        acct!("/collection"),
        true,
        Endpoint::CollectionUpdate,
    ),
    route(
        Method::Patch,
        acct!("/collection"),
        true,
        Endpoint::CollectionPatch,
    ),
    route(
        Method::Delete,
        acct!("/collection"),
        true,
        Endpoint::CollectionRemove,
    ),
    route(
        Method::Put,
        acct!("/collection/activate"),
        true,
        Endpoint::CollectionActivate,
    ),
    route(Method::Post, acct!("/check"), true, Endpoint::Check),
    route(Method::Post, acct!("/locality"), true, Endpoint::Locality),
    route(Method::Get, acct!("/prefix"), true, Endpoint::Prefix),
    route(
        Method::Get,
        acct!("/classifiers"),
        true,
        Endpoint::Classifiers,
    ),
    route(
        Method::Get,
        acct!("/classifiers/{PHONE_NUMBER}"),
        true,
        Endpoint::Classify,
    ),
    route(
        Method::Get,
        acct!("/carriers_info"),
        true,
        Endpoint::CarriersInfo,
    ),
    route(Method::Post, acct!("/fix"), true, Endpoint::Fix),
    route(
        Method::Post,
        acct!("/fix/{PHONE_NUMBER}"),
        true,
        Endpoint::FixNumber,
    ),
    route(Method::Get, port!(""), true, Endpoint::PortList),
    route(Method::Put, port!(""), true, Endpoint::PortCreate),
    route(
        Method::Get,
        port!("/{PORT_REQUEST_ID}"),
        true,
        Endpoint::PortGet,
    ),
    route(
        Method::Post,
        port!("/{PORT_REQUEST_ID}"),
        true,
        Endpoint::PortReplace,
    ),
    route(
        Method::Patch,
        port!("/{PORT_REQUEST_ID}"),
        true,
        Endpoint::PortPatch,
    ),
    route(
        Method::Delete,
        port!("/{PORT_REQUEST_ID}"),
        true,
        Endpoint::PortCancel,
    ),
    route(
        Method::Patch,
        port!("/{PORT_REQUEST_ID}/submitted"),
        true,
        Endpoint::PortMove(PortState::Submitted),
    ),
    route(
        Method::Patch,
        port!("/{PORT_REQUEST_ID}/pending"),
        true,
        Endpoint::PortMove(PortState::Pending),
    ),
    route(
        Method::Patch,
        port!("/{PORT_REQUEST_ID}/scheduled"),
        true,
        Endpoint::PortMove(PortState::Scheduled),
    ),
    route(
        Method::Patch,
        port!("/{PORT_REQUEST_ID}/completed"),
        true,
        Endpoint::PortMove(PortState::Completed),
    ),
    route(
        Method::Patch,
        port!("/{PORT_REQUEST_ID}/rejected"),
        true,
        Endpoint::PortMove(PortState::Rejected),
    ),
    route(
        Method::Patch,
        port!("/{PORT_REQUEST_ID}/canceled"),
        true,
        Endpoint::PortMove(PortState::Canceled),
    ),
    route(
        Method::Put,
        port!("/{PORT_REQUEST_ID}/comments"),
        true,
        Endpoint::PortComment,
    ),
    route(
        Method::Get,
        port!("/{PORT_REQUEST_ID}/attachments"),
        true,
        Endpoint::PortAttachments,
    ),
    route(
        Method::Get,
        port!("/{PORT_REQUEST_ID}/attachments/{ATTACHMENT_ID}"),
        true,
        Endpoint::PortAttachmentGet,
    ),
    route(
        Method::Put,
        port!("/{PORT_REQUEST_ID}/attachments/{ATTACHMENT_ID}"),
        true,
        Endpoint::PortAttachmentPut,
    ),
    route(
        Method::Post,
        port!("/{PORT_REQUEST_ID}/attachments/{ATTACHMENT_ID}"),
        true,
        Endpoint::PortAttachmentPut,
    ),
    route(
        Method::Delete,
        port!("/{PORT_REQUEST_ID}/attachments/{ATTACHMENT_ID}"),
        true,
        Endpoint::PortAttachmentDelete,
    ),
];

/// The values of a matched path's placeholders.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Params {
    pub account: Option<String>,
    pub number: Option<String>,
    pub port: Option<String>,
    pub attachment: Option<String>,
}

/// The result of matching a request line against the table.
#[derive(Debug)]
pub(crate) enum Match {
    Found(&'static Route, Params),
    /// The path exists but not with this method; the methods it has.
    WrongMethod(Vec<Method>),
    NotFound,
}

/// Splits a raw path into percent-decoded segments; `None` for paths that
/// cannot match anything (not absolute, or with empty segments).
fn segments(path: &str) -> Option<Vec<String>> {
    let rest = path.strip_prefix('/')?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let raw: Vec<&str> = rest.split('/').collect();
    if raw.iter().any(|s| s.is_empty()) {
        return None;
    }
    Some(
        raw.into_iter()
            .map(|s| super::input::percent_decode(s, false))
            .collect(),
    )
}

/// Whether `pattern` matches the segments; a specificity key (true = literal) and the params if so.
fn try_match(pattern: &str, segs: &[String]) -> Option<(Vec<bool>, Params)> {
    let pat: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    if pat.len() != segs.len() {
        return None;
    }
    let mut key = Vec::with_capacity(pat.len());
    let mut params = Params::default();
    for (p, s) in pat.iter().zip(segs) {
        match *p {
            "{ACCOUNT_ID}" => {
                params.account = Some(s.clone());
                key.push(false);
            }
            "{PHONE_NUMBER}" => {
                params.number = Some(s.clone());
                key.push(false);
            }
            "{PORT_REQUEST_ID}" => {
                params.port = Some(s.clone());
                key.push(false);
            }
            "{ATTACHMENT_ID}" => {
                params.attachment = Some(s.clone());
                key.push(false);
            }
            lit if lit == s => key.push(true),
            _ => return None,
        }
    }
    Some((key, params))
}

/// The prefix every pattern in [`ROUTES`] is written under (the seeds' paths).
const PATTERN_BASE: &str = "/v2";

/// Finds the route for a method and a raw path below the API's base path
/// (`/accounts/{id}/phone_numbers`, or `""` for the base itself).
pub(crate) fn find_below_base(method: Method, rest: &str) -> Match {
    find(method, &format!("{PATTERN_BASE}{rest}"))
}

/// Finds the route for a method and a raw (still percent-encoded) path.
pub(crate) fn find(method: Method, path: &str) -> Match {
    let Some(segs) = segments(path) else {
        return Match::NotFound;
    };
    let mut best: Option<(Vec<bool>, &'static str)> = None;
    for r in ROUTES {
        if let Some((key, _)) = try_match(r.pattern, &segs) {
            let better = match &best {
                None => true,
                Some((k, _)) => key > *k,
            };
            if better {
                best = Some((key, r.pattern));
            }
        }
    }
    let Some((_, pattern)) = best else {
        return Match::NotFound;
    };
    let mut allowed = Vec::new();
    for r in ROUTES.iter().filter(|r| r.pattern == pattern) {
        if r.method == method {
            let params = try_match(r.pattern, &segs)
                .map(|(_, p)| p)
                .unwrap_or_default();
            return Match::Found(r, params);
        }
        allowed.push(r.method);
    }
    Match::WrongMethod(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(method: Method, path: &str) -> Option<Endpoint> {
        match find(method, path) {
            Match::Found(r, _) => Some(r.endpoint),
            _ => None,
        }
    }

    #[test]
    fn literals_beat_placeholders() {
        let a = "/v2/accounts/abc/phone_numbers";
        assert_eq!(
            endpoint(Method::Put, &format!("{a}/collection")),
            Some(Endpoint::CollectionCreate)
        );
        assert_eq!(
            endpoint(Method::Put, &format!("{a}/collection/activate")),
            Some(Endpoint::CollectionActivate)
        );
        assert_eq!(
            endpoint(Method::Put, &format!("{a}/%2B14155550000/activate")),
            Some(Endpoint::Activate)
        );
        assert_eq!(
            endpoint(Method::Post, &format!("{a}/fix/%2B14155550000")),
            Some(Endpoint::FixNumber)
        );
        assert_eq!(
            endpoint(Method::Get, &format!("{a}/classifiers/4158867900")),
            Some(Endpoint::Classify)
        );
        assert!(
            matches!(find(Method::Get, &format!("{a}/collection")), Match::WrongMethod(m) if m.len() == 4)
        );
    }

    #[test]
    fn params_are_decoded() {
        match find(
            Method::Get,
            "/v2/accounts/abc/phone_numbers/%2B14155550000/",
        ) {
            Match::Found(r, p) => {
                assert_eq!(r.endpoint, Endpoint::Get);
                assert_eq!(p.account.as_deref(), Some("abc"));
                assert_eq!(p.number.as_deref(), Some("+14155550000"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_paths() {
        for p in [
            "",
            "v2/phone_numbers",
            "/v2//phone_numbers",
            "/v1/phone_numbers",
            "/v2/accounts/a/phone_numbers/x/y/z",
        ] {
            assert!(matches!(find(Method::Get, p), Match::NotFound), "{p}");
        }
    }

    #[test]
    fn port_request_routes() {
        let p = "/v2/accounts/abc/port_requests";
        assert_eq!(endpoint(Method::Get, p), Some(Endpoint::PortList));
        assert_eq!(
            endpoint(Method::Patch, &format!("{p}/r1/scheduled")),
            Some(Endpoint::PortMove(PortState::Scheduled))
        );
        assert_eq!(
            endpoint(Method::Get, &format!("{p}/r1/attachments")),
            Some(Endpoint::PortAttachments)
        );
        match find(Method::Put, &format!("{p}/r1/attachments/bill.pdf")) {
            Match::Found(r, params) => {
                assert_eq!(r.endpoint, Endpoint::PortAttachmentPut);
                assert_eq!(params.port.as_deref(), Some("r1"));
                assert_eq!(params.attachment.as_deref(), Some("bill.pdf"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            find(Method::Put, &format!("{p}/r1/unknown")),
            Match::NotFound
        ));
    }

    #[test]
    fn base_is_the_listing_pattern() {
        assert!(ROUTES
            .iter()
            .any(|r| r.pattern == "/v2/accounts/{ACCOUNT_ID}/phone_numbers"));
    }
}
