//! [`BandwidthCarrier`]: Bandwidth's Numbers (Dashboard) API v2 (XML, basic
//! auth, an account id) through a host-supplied [`HttpClient`] (feature
//! `bandwidth`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::builtin::{e164_prefix, number_data};
use super::http::{
    base64, encode_component, encode_pairs, HttpClient, HttpRequest, HttpResponse, Method,
};
use super::upstream::{Secret, Upstream};
use super::xml::{self, escape, Element};
use super::{Capabilities, Carrier, NumberOrder, Ownership, SearchRequest, SearchResult};
use crate::error::{ConflictKind, Error, Result, UnspecifiedKind};
use crate::number::PhoneNumber;
use crate::state::NumberState;

/// Bandwidth's Numbers API v2 base URL (the `/accounts/{accountId}/...`
/// paths go after it).
pub const BANDWIDTH_API: &str = "https://dashboard.bandwidth.com/api/v2";

/// How many times a pending order is looked at again, by default.
const ORDER_CHECKS: usize = 2;

/// The most numbers one search may ask for.
const MAX_QUANTITY: usize = 5000;

/// The NANP toll-free area codes: a search for one uses a toll-free pattern.
const TOLL_FREE: [&str; 7] = ["800", "833", "844", "855", "866", "877", "888"];

/// Bandwidth's order error codes for "this number cannot be had": telephone
/// number unavailable, the entire quantity unavailable, not available on
/// the system.
const NOT_AVAILABLE: [&str; 3] = ["5005", "5018", "5071"];

/// Order statuses whose outcome is not known yet.
const PENDING: [&str; 3] = ["RECEIVED", "PROCESSING", "BACKORDERED"];

/// A [`Carrier`] over Bandwidth's Numbers (Dashboard) API v2.
///
/// | call | Bandwidth request |
/// |---|---|
/// | `find_numbers` | `GET /accounts/{accountId}/availableNumbers` with `areaCode` (3 or 4–5 national digits), `npaNxx` (6), `npaNxxx` (7–10), or `tollFreeWildCardPattern` (a toll-free area code), plus the adapter's `rateCenter` + `state` and `zip`, `quantity`, `enableTNDetail=true`, `LCA=false` and `orderBy=fullNumber` where Bandwidth allows them; results not starting with the prefix are dropped |
/// | `acquire` | `POST /accounts/{accountId}/orders` with an `<Order>` holding `<ExistingTelephoneNumberOrderType>` for the number, `<PartialAllowed>false</PartialAllowed>`, the site (and SIP peer) and a `CustomerOrderId` of `nm-<digits>`; then `GET /orders/{id}` while the order is `RECEIVED` or `PROCESSING` |
/// | `disconnect` | `GET /accounts/{accountId}/inserviceNumbers/{tn}` (nothing to do when it is not in service), then `POST /accounts/{accountId}/disconnects` with a `<DisconnectTelephoneNumberOrder>`, then `GET /disconnects/{id}` while it is pending |
/// | `owned_numbers` | `GET /accounts/{accountId}/inserviceNumbers/{tn}`, and for a number not in service `GET /accounts/{accountId}/orders?customerOrderId=nm-<digits>` |
///
/// Every request carries `Authorization: Basic base64(username:password)`.
/// Only NANP numbers are searched (a prefix of another country finds
/// nothing); a 4–5 digit prefix is searched by its area code and filtered,
/// reading at most 5,000 numbers.
///
/// # Orders
///
/// A purchase is an order for the one number, not allowed to be partial.
/// Only an order in status `COMPLETE` (listing the number among its
/// completed numbers, or listing none) is a purchase: `acquire` then returns
/// `bandwidth_order_id`. `FAILED` and `PARTIAL` bought nothing; their
/// `ErrorList` says why (codes 5005, 5018 and 5071 mean the number cannot be
/// had). An order still `RECEIVED` or `PROCESSING` after the configured
/// number of checks ([`with_order_checks`](Self::with_order_checks)) fails
/// with [`Error::Conflict`]: the outcome is not known yet, and the manager
/// settles it later through `owned_numbers`.
///
/// # Ownership
///
/// A number in service on the account is ours. One that is not is not ours,
/// unless an order for it placed by this adapter (found by its
/// `CustomerOrderId`) is still pending, or more orders exist than one answer
/// lists: then it is left out of the answer, as the carrier cannot tell yet.
/// So a purchase whose answer was lost (a timeout) is never taken for
/// "not bought" while Bandwidth still works on it.
///
/// A disconnect still pending after the configured checks fails with
/// [`Error::Conflict`] (the number is still in service); a repeat once it
/// went through finds the number out of service and succeeds.
///
/// # Errors
///
/// | Bandwidth answers | error |
/// |---|---|
/// | nothing within the [`HttpClient`]'s time limit | [`Error::Unspecified`] `timeout` (cause: the number) |
/// | 401, 403 | [`Error::Unspecified`] `carrier_authentication_failed` |
/// | 409, or error code 5005, 5018 or 5071, to an order (or in a failed order) | [`Error::Unspecified`] `number_not_available` (cause: the number) |
/// | 429 | [`Error::Unspecified`] `rate_limited`, its cause naming the `Retry-After` |
/// | 5xx, 404 and any other status, a transport failure, a body that is not the documented XML | [`Error::ByCarrier`] |
///
/// The password never appears in an error or in `Debug` output.
///
/// ```
/// use std::sync::Arc;
/// use number_manager::carrier::{BandwidthCarrier, Carrier, HttpClient, BANDWIDTH_API};
/// # use async_trait::async_trait;
/// # use number_manager::carrier::{HttpError, HttpRequest, HttpResponse};
/// # struct Offline;
/// # #[async_trait]
/// # impl HttpClient for Offline {
/// #     async fn send(&self, _: HttpRequest) -> Result<HttpResponse, HttpError> {
/// #         Err(HttpError::Connect("offline".into()))
/// #     }
/// # }
/// # let http: Arc<dyn HttpClient> = Arc::new(Offline);
/// let bandwidth = BandwidthCarrier::new(http, "9900000", "743", "api-user", "s3cret!", BANDWIDTH_API)
///     .with_peer_id("500025")
///     .with_rate_center("RALEIGH", "NC");
/// assert_eq!(bandwidth.name(), "bandwidth2");
/// assert!(bandwidth.capabilities().owned_numbers);
/// assert!(!format!("{bandwidth:?}").contains("s3cret!"));
/// ```
pub struct BandwidthCarrier {
    name: String,
    base_url: String,
    account_id: String,
    site_id: String,
    peer_id: Option<String>,
    username: String,
    auth: Secret,
    upstream: Upstream,
    rate_center: Option<(String, String)>,
    zip: Option<String>,
    order_checks: usize,
}

impl fmt::Debug for BandwidthCarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BandwidthCarrier")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("account_id", &self.account_id)
            .field("site_id", &self.site_id)
            .field("peer_id", &self.peer_id)
            .field("username", &self.username)
            .field("password", &self.auth)
            .field("rate_center", &self.rate_center)
            .field("zip", &self.zip)
            .field("order_checks", &self.order_checks)
            .finish()
    }
}

/// What an order (or disconnect) answer says.
#[derive(Debug, Default)]
struct OrderView {
    id: Option<String>,
    status: Option<String>,
    /// The completed numbers, in E.164 where they could be read.
    completed: Vec<String>,
    /// `(code, description, telephone number)` of each listed error.
    errors: Vec<(String, String, Option<String>)>,
}

impl OrderView {
    fn read(root: &Element, id_path: &[&str]) -> OrderView {
        let completed = root
            .child("CompletedNumbers")
            .map(|list| {
                list.descendants("FullNumber")
                    .into_iter()
                    .chain(
                        list.children_named("TelephoneNumber")
                            .filter(|t| t.children.is_empty()),
                    )
                    .filter_map(|e| tn_to_e164(e.text()))
                    .collect()
            })
            .unwrap_or_default();
        let errors = root
            .child("ErrorList")
            .map(|list| {
                list.children_named("Error")
                    .map(|e| {
                        let field = |k: &str| e.text_at(&[k]).unwrap_or("").to_string();
                        let tn = e.text_at(&["TelephoneNumber"]).and_then(tn_to_e164);
                        (field("Code"), field("Description"), tn)
                    })
                    .collect()
            })
            .unwrap_or_default();
        OrderView {
            id: root.text_at(id_path).map(str::to_string),
            status: root.text_at(&["OrderStatus"]).map(str::to_ascii_uppercase),
            completed,
            errors,
        }
    }

    /// The status, `RECEIVED` when the answer names none (a new order).
    fn status(&self) -> &str {
        self.status.as_deref().unwrap_or("RECEIVED")
    }

    fn pending(&self) -> bool {
        PENDING.contains(&self.status())
    }

    /// The listed errors as `code: description; ...`.
    fn error_text(&self) -> String {
        if self.errors.is_empty() {
            return "no error listed".into();
        }
        self.errors
            .iter()
            .map(|(c, d, _)| format!("{c}: {d}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Whether an error about `number` (or about no number in particular)
    /// says it cannot be had.
    fn not_available(&self, number: &str) -> bool {
        self.errors.iter().any(|(code, _, tn)| {
            NOT_AVAILABLE.contains(&code.as_str()) && tn.as_deref().is_none_or(|t| t == number)
        })
    }
}

/// A Bandwidth telephone number in E.164: `+1...` as given, ten NANP digits,
/// or eleven starting with `1`.
fn tn_to_e164(s: &str) -> Option<String> {
    let s = s.trim();
    let e164 = if s.starts_with('+') {
        s.to_string()
    } else if s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit()) {
        format!("+1{s}")
    } else if s.len() == 11 && s.starts_with('1') && s.bytes().all(|b| b.is_ascii_digit()) {
        format!("+{s}")
    } else {
        return None;
    };
    PhoneNumber::from_e164(&e164)
        .ok()
        .map(|n| n.as_str().to_string())
}

/// The last path segment of the `Location` header (the new order's URL).
fn location_id(response: &HttpResponse) -> Option<String> {
    let location = response.header("location")?;
    let path = location.split(['?', '#']).next().unwrap_or("");
    path.rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Bandwidth's error answer: its codes and `code: description; ...`, from
/// an `<Error>` (with `Code` or `ErrorCode`) or `<ResponseStatus>` anywhere
/// in the body; a body that is not XML is given as it is.
fn error_detail(response: &HttpResponse) -> (Vec<String>, String) {
    let Ok(root) = xml::parse(&response.body) else {
        return (
            Vec::new(),
            String::from_utf8_lossy(&response.body).into_owned(),
        );
    };
    let mut codes = Vec::new();
    let mut parts = Vec::new();
    for e in root
        .descendants("Error")
        .into_iter()
        .chain(root.descendants("ResponseStatus"))
        .chain((root.name == "Error").then_some(&root))
    {
        let code = e.text_at(&["Code"]).or_else(|| e.text_at(&["ErrorCode"]));
        let description = e.text_at(&["Description"]).unwrap_or("");
        if let Some(c) = code {
            codes.push(c.to_string());
            parts.push(format!("{c}: {description}"));
        } else if !description.is_empty() {
            parts.push(description.to_string());
        }
    }
    (codes, parts.join("; "))
}

/// A search result's carrier data: Kazoo's fields, then Bandwidth's rate
/// center, city, tier and vendor (with `enableTNDetail`).
fn result_data(number: &PhoneNumber, detail: Option<&Element>) -> Map<String, Value> {
    let mut data = number_data(number);
    if let Some(d) = detail {
        let mut rate_center = Map::new();
        for (key, name) in [("name", "RateCenter"), ("state", "State"), ("lata", "LATA")] {
            if let Some(v) = d.text_at(&[name]) {
                rate_center.insert(key.into(), json!(v));
            }
        }
        if !rate_center.is_empty() {
            data.insert("rate_center".into(), Value::Object(rate_center));
        }
        for (key, name) in [
            ("locality", "City"),
            ("tier", "Tier"),
            ("vendor", "VendorName"),
        ] {
            if let Some(v) = d.text_at(&[name]) {
                data.insert(key.into(), json!(v));
            }
        }
    }
    data.insert("status".into(), json!("Available"));
    data
}

/// A search: the E.164 prefix its results must start with, and the query.
struct SearchPlan {
    prefix: String,
    query: Vec<(String, String)>,
}

impl BandwidthCarrier {
    /// A carrier named `bandwidth2` (Kazoo's module name for this API)
    /// calling `base_url` (e.g. [`BANDWIDTH_API`], or a stub's address) for
    /// account `account_id`, ordering numbers into site (sub-account)
    /// `site_id`, as API user `username` with `password`.
    pub fn new(
        http: Arc<dyn HttpClient>,
        account_id: impl Into<String>,
        site_id: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
        base_url: impl Into<String>,
    ) -> Self {
        let username = username.into();
        let password = password.into();
        let basic = base64(format!("{username}:{password}").as_bytes());
        let upstream = Upstream::new(
            http,
            "bandwidth",
            vec![Secret::new(password), Secret::new(basic.clone())],
        );
        BandwidthCarrier {
            name: "bandwidth2".into(),
            base_url: base_url.into().trim_end_matches('/').to_string(),
            account_id: account_id.into(),
            site_id: site_id.into(),
            peer_id: None,
            username,
            auth: Secret::new(format!("Basic {basic}")),
            upstream,
            rate_center: None,
            zip: None,
            order_checks: ORDER_CHECKS,
        }
    }

    /// Renames the carrier (the module name stored on its numbers).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Orders numbers onto this SIP peer (location) of the site.
    pub fn with_peer_id(mut self, peer_id: impl Into<String>) -> Self {
        self.peer_id = Some(peer_id.into());
        self
    }

    /// Searches only numbers of this rate center (its abbreviation, e.g.
    /// `RALEIGH`) in this state (`NC`).
    pub fn with_rate_center(
        mut self,
        rate_center: impl Into<String>,
        state: impl Into<String>,
    ) -> Self {
        self.rate_center = Some((rate_center.into(), state.into()));
        self
    }

    /// Searches only numbers of this ZIP code (`27606`).
    pub fn with_zip(mut self, zip: impl Into<String>) -> Self {
        self.zip = Some(zip.into());
        self
    }

    /// How many times `acquire` and `disconnect` look again at an order that
    /// is still pending before they give up (default 2; 0 never looks again).
    pub fn with_order_checks(mut self, checks: usize) -> Self {
        self.order_checks = checks;
        self
    }

    fn request(&self, method: Method, tail: &str, query: &[(String, String)]) -> HttpRequest {
        let mut url = format!(
            "{}/accounts/{}{tail}",
            self.base_url,
            encode_component(&self.account_id)
        );
        if !query.is_empty() {
            url.push('?');
            url.push_str(&encode_pairs(query));
        }
        HttpRequest::new(method, url)
            .header("Authorization", self.auth.expose())
            .header("Accept", "application/xml")
    }

    fn post_xml(&self, tail: &str, body: String) -> HttpRequest {
        self.request(Method::Post, tail, &[])
            .header("Content-Type", "application/xml; charset=utf-8")
            .body(body)
    }

    /// Sends; a non-2xx answer is its error. `purchase` says whether a 409
    /// or a not-available code means the number cannot be had.
    async fn call(
        &self,
        request: HttpRequest,
        subject: &str,
        purchase: bool,
    ) -> Result<HttpResponse> {
        let response = self.upstream.send(request, subject).await?;
        if response.is_success() {
            return Ok(response);
        }
        Err(self.status_error(&response, subject, purchase))
    }

    fn status_error(&self, response: &HttpResponse, subject: &str, purchase: bool) -> Error {
        let (codes, detail) = error_detail(response);
        let not_available = purchase
            && (response.status == 409
                || codes.iter().any(|c| NOT_AVAILABLE.contains(&c.as_str())));
        self.upstream
            .status_error(response, subject, &detail, not_available)
    }

    /// The body as XML whose root is `root`, or the malformed-answer error.
    fn xml(&self, response: &HttpResponse, subject: &str, root: &str) -> Result<Element> {
        let doc = xml::parse(&response.body).map_err(|e| {
            self.upstream.malformed(
                subject,
                &format!("HTTP {} body is not XML ({e})", response.status),
            )
        })?;
        if doc.name != root {
            return Err(self.upstream.malformed(
                subject,
                &format!("<{}> where <{root}> was expected", doc.name),
            ));
        }
        Ok(doc)
    }

    /// The query for a request; `None` when there is nothing Bandwidth can
    /// search by (a prefix of another country, or too short without a
    /// configured rate center or ZIP code).
    fn search_plan(&self, request: &SearchRequest) -> Option<SearchPlan> {
        let prefix = e164_prefix(&request.prefix, &request.country)?;
        let national = prefix.strip_prefix("+1")?;
        if national.len() > 10 {
            return None;
        }
        let npa = national.get(..3).filter(|_| national.len() >= 3);
        let mut q: Vec<(String, String)> = Vec::new();
        let mut sortable = false;
        let pinned = match npa {
            Some(npa) if TOLL_FREE.contains(&npa) => {
                q.push(("tollFreeWildCardPattern".into(), npa.into()));
                sortable = true;
                3
            }
            Some(npa) => {
                let pinned = match national.len() {
                    3..=5 => {
                        q.push(("areaCode".into(), npa.into()));
                        3
                    }
                    6 => {
                        q.push(("npaNxx".into(), national.into()));
                        6
                    }
                    _ => {
                        q.push((
                            "npaNxxx".into(),
                            national.get(..7).unwrap_or(national).into(),
                        ));
                        7
                    }
                };
                if pinned > 3 {
                    // Exactly the digits asked, not their local calling area.
                    q.push(("LCA".into(), "false".into()));
                    sortable = true;
                }
                self.push_location(&mut q, &mut sortable);
                pinned
            }
            None => {
                self.push_location(&mut q, &mut sortable);
                if q.is_empty() {
                    return None;
                }
                0
            }
        };
        let wanted = request.offset.saturating_add(request.quantity);
        let quantity = if national.len() > pinned {
            MAX_QUANTITY
        } else {
            wanted.clamp(1, MAX_QUANTITY)
        };
        q.push(("quantity".into(), quantity.to_string()));
        q.push(("enableTNDetail".into(), "true".into()));
        if sortable {
            q.push(("orderBy".into(), "fullNumber".into()));
        }
        Some(SearchPlan { prefix, query: q })
    }

    /// The configured rate center (with its state) and ZIP code.
    fn push_location(&self, q: &mut Vec<(String, String)>, sortable: &mut bool) {
        if let Some((rc, state)) = &self.rate_center {
            q.push(("rateCenter".into(), rc.clone()));
            q.push(("state".into(), state.clone()));
            *sortable = true;
        }
        if let Some(zip) = &self.zip {
            q.push(("zip".into(), zip.clone()));
            *sortable = true;
        }
    }

    /// The `CustomerOrderId` of this adapter's orders for `number`, by which
    /// `owned_numbers` finds them again.
    fn order_tag(number: &PhoneNumber) -> String {
        format!("nm-{}", number.strip_plus())
    }

    fn order_body(&self, number: &PhoneNumber) -> String {
        let peer = self
            .peer_id
            .as_ref()
            .map(|p| format!("<PeerId>{}</PeerId>", escape(p)))
            .unwrap_or_default();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
             <Order><CustomerOrderId>{tag}</CustomerOrderId><Name>number-manager {n}</Name>\
             <ExistingTelephoneNumberOrderType><TelephoneNumberList>\
             <TelephoneNumber>{n}</TelephoneNumber>\
             </TelephoneNumberList></ExistingTelephoneNumberOrderType>\
             <PartialAllowed>false</PartialAllowed><SiteId>{site}</SiteId>{peer}</Order>",
            tag = escape(&Self::order_tag(number)),
            n = escape(number.as_str()),
            site = escape(&self.site_id),
        )
    }

    fn disconnect_body(number: &PhoneNumber) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
             <DisconnectTelephoneNumberOrder><Name>number-manager {n}</Name>\
             <CustomerOrderId>{tag}</CustomerOrderId>\
             <DisconnectTelephoneNumberOrderType><TelephoneNumberList>\
             <TelephoneNumber>{n}</TelephoneNumber>\
             </TelephoneNumberList></DisconnectTelephoneNumberOrderType>\
             </DisconnectTelephoneNumberOrder>",
            tag = escape(&Self::order_tag(number)),
            n = escape(number.as_str()),
        )
    }

    /// Whether `number` is in service on the account (200) or not (404).
    async fn in_service(&self, number: &PhoneNumber) -> Result<bool> {
        let subject = number.as_str();
        let tail = format!("/inserviceNumbers/{}", encode_component(subject));
        let response = self
            .upstream
            .send(self.request(Method::Get, &tail, &[]), subject)
            .await?;
        match response.status {
            404 => Ok(false),
            _ if response.is_success() => Ok(true),
            _ => Err(self.status_error(&response, subject, false)),
        }
    }

    /// Whether an order this adapter placed for `number` may still be
    /// pending: one is `RECEIVED`, `PROCESSING` or `BACKORDERED`, or the
    /// answer does not list every order it counts.
    async fn order_pending(&self, number: &PhoneNumber) -> Result<bool> {
        let subject = number.as_str();
        let query = vec![("customerOrderId".to_string(), Self::order_tag(number))];
        let response = self
            .upstream
            .send(self.request(Method::Get, "/orders", &query), subject)
            .await?;
        if response.status == 404 {
            // No order has that id.
            return Ok(false);
        }
        if !response.is_success() {
            return Err(self.status_error(&response, subject, false));
        }
        let root = self.xml(&response, subject, "ResponseSelectWrapper")?;
        let rows = root.descendants("OrderIdUserIdDate");
        let pending = rows.iter().any(|row| {
            let status = row
                .text_at(&["OrderStatus"])
                .unwrap_or("")
                .to_ascii_uppercase();
            PENDING.contains(&status.as_str())
        });
        let counted = root
            .descendants("TotalCount")
            .first()
            .and_then(|t| t.text().parse::<usize>().ok())
            .unwrap_or(0);
        Ok(pending || counted > rows.len())
    }

    /// Looks at a pending order (`orders`) or disconnect (`disconnects`)
    /// again, up to the configured number of times. A failed look leaves it
    /// as it was: its outcome is still unknown.
    async fn settle(&self, kind: &str, id: &str, number: &str, mut view: OrderView) -> OrderView {
        let (root, id_path): (&str, &[&str]) = if kind == "orders" {
            ("OrderResponse", &["Order", "id"])
        } else {
            (
                "DisconnectTelephoneNumberOrderResponse",
                &["orderRequest", "id"],
            )
        };
        let tail = format!("/{kind}/{}", encode_component(id));
        for _ in 0..self.order_checks {
            if !view.pending() {
                break;
            }
            let Ok(response) = self
                .call(self.request(Method::Get, &tail, &[]), number, false)
                .await
            else {
                break;
            };
            match self.xml(&response, number, root) {
                Ok(doc) => view = OrderView::read(&doc, id_path),
                Err(_) => break,
            }
        }
        view
    }

    /// The error of an order that bought nothing.
    fn order_failed(&self, id: &str, number: &str, view: &OrderView) -> Error {
        if view.not_available(number) {
            return Error::unspecified(UnspecifiedKind::NumberNotAvailable, number);
        }
        self.upstream.fault(
            number,
            &format!("order {id} {}: {}", view.status(), view.error_text()),
        )
    }
}

#[async_trait]
impl Carrier for BandwidthCarrier {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            is_local: false,
            check_numbers: false,
            owned_numbers: true,
            // The whole NANP national number (searched by its NPA-NXX-X).
            maximal_prefix_length: 10,
            billable: true,
            should_lookup_cnam: true,
        }
    }

    async fn find_numbers(&self, request: &SearchRequest) -> Result<Vec<SearchResult>> {
        if request.quantity == 0 {
            return Ok(Vec::new());
        }
        let Some(plan) = self.search_plan(request) else {
            return Ok(Vec::new());
        };
        let prefix = plan.prefix.as_str();
        let response = self
            .call(
                self.request(Method::Get, "/availableNumbers", &plan.query),
                prefix,
                false,
            )
            .await?;
        let root = self.xml(&response, prefix, "SearchResult")?;
        if let Some(e) = root.child("Error") {
            let code = e.text_at(&["Code"]).unwrap_or("");
            let description = e.text_at(&["Description"]).unwrap_or("");
            return Err(self
                .upstream
                .fault(prefix, &format!("{code}: {description}")));
        }
        let mut rows: Vec<(String, Option<&Element>)> = Vec::new();
        if let Some(list) = root.child("TelephoneNumberDetailList") {
            for d in list.children_named("TelephoneNumberDetail") {
                if let Some(full) = d.text_at(&["FullNumber"]) {
                    rows.push((full.to_string(), Some(d)));
                }
            }
        }
        if let Some(list) = root.child("TelephoneNumberList") {
            rows.extend(
                list.children_named("TelephoneNumber")
                    .map(|t| (t.text().to_string(), None)),
            );
        }
        let mut seen = BTreeSet::new();
        Ok(rows
            .into_iter()
            .filter_map(|(raw, detail)| {
                let number = PhoneNumber::from_e164(&tn_to_e164(&raw)?).ok()?;
                (number.as_str().starts_with(prefix) && seen.insert(number)).then(|| SearchResult {
                    data: result_data(&number, detail),
                    number,
                    state: NumberState::Discovery,
                })
            })
            .skip(request.offset)
            .take(request.quantity)
            .collect())
    }

    async fn acquire(&self, order: &NumberOrder) -> Result<Map<String, Value>> {
        let number = order.number.as_str();
        let request = self.post_xml("/orders", self.order_body(&order.number));
        let response = self.call(request, number, true).await?;
        let root = self.xml(&response, number, "OrderResponse")?;
        let view = OrderView::read(&root, &["Order", "id"]);
        let id = view
            .id
            .clone()
            .or_else(|| root.text_at(&["OrderId"]).map(str::to_string))
            .or_else(|| location_id(&response))
            .ok_or_else(|| self.upstream.malformed(number, "order without id"))?;
        let view = self.settle("orders", &id, number, view).await;
        match view.status() {
            "COMPLETE"
                if view.completed.is_empty() || view.completed.iter().any(|n| n == number) =>
            {
                let mut data = Map::new();
                data.insert("bandwidth_order_id".into(), json!(id));
                Ok(data)
            }
            "COMPLETE" => Err(self
                .upstream
                .malformed(number, &format!("order {id} completed without the number"))),
            "FAILED" | "PARTIAL" => Err(self.order_failed(&id, number, &view)),
            _ if view.pending() => Err(Error::Conflict {
                number: number.to_string(),
                kind: ConflictKind::CarrierOrderPending,
                detail: Some(format!(
                    "bandwidth order {id} is still {}; the purchase settles later",
                    view.status()
                )),
            }),
            other => Err(self
                .upstream
                .malformed(number, &format!("order status {other:?}"))),
        }
    }

    async fn disconnect(&self, order: &NumberOrder) -> Result<()> {
        let number = order.number.as_str();
        if !self.in_service(&order.number).await? {
            // Not held (never bought, or already disconnected): done.
            return Ok(());
        }
        let request = self.post_xml("/disconnects", Self::disconnect_body(&order.number));
        let response = self.call(request, number, false).await?;
        let root = self.xml(&response, number, "DisconnectTelephoneNumberOrderResponse")?;
        let view = OrderView::read(&root, &["orderRequest", "id"]);
        let id = view
            .id
            .clone()
            .or_else(|| location_id(&response))
            .ok_or_else(|| self.upstream.malformed(number, "disconnect without id"))?;
        let view = self.settle("disconnects", &id, number, view).await;
        match view.status() {
            "COMPLETE" => Ok(()),
            "FAILED" | "PARTIAL" => Err(self.upstream.fault(
                number,
                &format!("disconnect {id} {}: {}", view.status(), view.error_text()),
            )),
            _ if view.pending() => Err(Error::Conflict {
                number: number.to_string(),
                kind: ConflictKind::CarrierOrderPending,
                detail: Some(format!(
                    "bandwidth disconnect {id} is still {}; the number is in service until it completes",
                    view.status()
                )),
            }),
            other => Err(self
                .upstream
                .malformed(number, &format!("disconnect status {other:?}"))),
        }
    }

    async fn owned_numbers(
        &self,
        numbers: &[PhoneNumber],
    ) -> Result<BTreeMap<PhoneNumber, Ownership>> {
        let mut out = BTreeMap::new();
        let asked: BTreeSet<PhoneNumber> = numbers.iter().copied().collect();
        for number in asked {
            if self.in_service(&number).await? {
                out.insert(
                    number,
                    Ownership::Ours {
                        carrier_data: Map::new(),
                    },
                );
            } else if !self.order_pending(&number).await? {
                out.insert(number, Ownership::NotOurs);
            }
        }
        Ok(out)
    }
}
