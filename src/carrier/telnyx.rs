//! [`TelnyxCarrier`]: Telnyx API v2 (JSON, bearer key) through a
//! host-supplied [`HttpClient`] (feature `telnyx`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::builtin::{e164_prefix, number_data};
use super::http::{encode_component, encode_pairs, HttpClient, HttpRequest, HttpResponse, Method};
use super::upstream::{Secret, Upstream};
use super::{Capabilities, Carrier, NumberOrder, Ownership, SearchRequest, SearchResult};
use crate::error::{ConflictKind, Error, Result};
use crate::number::{calling_code_of, PhoneNumber};
use crate::state::NumberState;

/// Telnyx's API v2 base URL.
pub const TELNYX_API: &str = "https://api.telnyx.com/v2";

/// How many times a pending number order is looked at again, by default.
const ORDER_CHECKS: usize = 2;

/// Rows asked for when looking a number up in the account's phone numbers.
const LOOKUP_PAGE: &str = "20";

/// A [`Carrier`] over Telnyx's API v2.
///
/// | call | Telnyx request |
/// |---|---|
/// | `find_numbers` | `GET /available_phone_numbers` with `filter[country_code]`, `filter[national_destination_code]` (a NANP prefix's area code), `filter[phone_number][starts_with]` (the rest of the prefix, without country code), `filter[locality]`, `filter[administrative_area]`, `filter[features]` (comma-separated), `filter[limit]` |
/// | `acquire` | `POST /number_orders` with `{"phone_numbers": [{"phone_number": "+1..."}]}` (and `connection_id` when set), then `GET /number_orders/{id}` while the order is `pending` |
/// | `disconnect` | `DELETE /phone_numbers/{id}` (the id is looked up by number when the carrier data does not have it) |
/// | `owned_numbers` | `GET /phone_numbers?filter[phone_number]=<digits>` |
///
/// Every request carries `Authorization: Bearer <key>`.
///
/// # Orders
///
/// A purchase is a number order. Only an order (or its entry for the number)
/// in status `success` is a purchase: `acquire` then returns
/// `telnyx_order_id` and, looked up in the account's phone numbers,
/// `telnyx_phone_number_id`. `failure` fails the purchase (nothing was bought). An
/// order still `pending` after the configured number of checks
/// ([`with_order_checks`](Self::with_order_checks)) fails with
/// [`Error::Conflict`]: the outcome is not known yet, and the manager settles
/// it later through `owned_numbers`.
///
/// # Ownership
///
/// `owned_numbers` reads the account's phone numbers: `active`,
/// `emergency-only` and `port-out-pending` are ours (with
/// `telnyx_phone_number_id`), a number absent or `deleted`,
/// `purchase-failed`, `port-failed` or `ported-out` is not, and any other
/// status (`purchase-pending`, `provision-pending`, the `requirement-info-*`
/// ones, `port-pending`) is left out of the answer: the carrier cannot tell yet.
///
/// # Errors
///
/// | Telnyx answers | error |
/// |---|---|
/// | nothing within the [`HttpClient`]'s time limit | [`Error::Unspecified`] `timeout` (cause: the number) |
/// | 401, 403 | [`Error::Unspecified`] `carrier_authentication_failed` |
/// | 404 or 422 to an order | [`Error::Unspecified`] `number_not_available` (cause: the number) |
/// | 429 | [`Error::Unspecified`] `rate_limited`, its cause naming the `Retry-After` |
/// | 5xx, any other status, a transport failure, a body not as documented | [`Error::ByCarrier`] |
///
/// The key never appears in an error or in `Debug` output.
///
/// ```
/// use std::sync::Arc;
/// use number_manager::carrier::{Capabilities, Carrier, HttpClient, TelnyxCarrier, TELNYX_API};
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
/// let telnyx = TelnyxCarrier::new(http, "KEY0123", TELNYX_API)
///     .with_features(["voice", "sms"])
///     .with_connection_id("1293384261075731499");
/// assert_eq!(telnyx.name(), "telnyx");
/// assert!(telnyx.capabilities().owned_numbers);
/// assert!(!format!("{telnyx:?}").contains("KEY0123"));
/// ```
pub struct TelnyxCarrier {
    name: String,
    base_url: String,
    auth: Secret,
    upstream: Upstream,
    features: Vec<String>,
    locality: Option<String>,
    administrative_area: Option<String>,
    connection_id: Option<String>,
    order_checks: usize,
}

impl fmt::Debug for TelnyxCarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelnyxCarrier")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("api_key", &self.auth)
            .field("features", &self.features)
            .field("locality", &self.locality)
            .field("administrative_area", &self.administrative_area)
            .field("connection_id", &self.connection_id)
            .field("order_checks", &self.order_checks)
            .finish()
    }
}

impl TelnyxCarrier {
    /// A carrier named `telnyx` calling `base_url` (e.g. [`TELNYX_API`], or a
    /// stub's address) with API key `api_key`.
    pub fn new(
        http: Arc<dyn HttpClient>,
        api_key: impl Into<String>,
        base_url: impl Into<String>,
    ) -> Self {
        let key = api_key.into();
        let upstream = Upstream::new(http, "telnyx", vec![Secret::new(key.clone())]);
        TelnyxCarrier {
            name: "telnyx".into(),
            base_url: base_url.into().trim_end_matches('/').to_string(),
            auth: Secret::new(format!("Bearer {key}")),
            upstream,
            features: Vec::new(),
            locality: None,
            administrative_area: None,
            connection_id: None,
            order_checks: ORDER_CHECKS,
        }
    }

    /// Renames the carrier (the module name stored on its numbers).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Searches only numbers with all these features (`voice`, `sms`, `mms`,
    /// `fax`, `emergency`, ...).
    pub fn with_features<I, S>(mut self, features: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.features = features.into_iter().map(Into::into).collect();
        self
    }

    /// Searches only numbers of this city.
    pub fn with_locality(mut self, locality: impl Into<String>) -> Self {
        self.locality = Some(locality.into());
        self
    }

    /// Searches only numbers of this US state or Canadian province (`IL`).
    pub fn with_administrative_area(mut self, area: impl Into<String>) -> Self {
        self.administrative_area = Some(area.into());
        self
    }

    /// Orders numbers onto this Telnyx connection.
    pub fn with_connection_id(mut self, id: impl Into<String>) -> Self {
        self.connection_id = Some(id.into());
        self
    }

    /// How many times `acquire` looks again at an order that is still
    /// pending before it gives up (default 2; 0 never looks again).
    pub fn with_order_checks(mut self, checks: usize) -> Self {
        self.order_checks = checks;
        self
    }

    fn request(&self, method: Method, path: &str, query: &[(String, String)]) -> HttpRequest {
        let mut url = format!("{}{path}", self.base_url);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&encode_pairs(query));
        }
        HttpRequest::new(method, url)
            .header("Authorization", self.auth.expose())
            .header("Accept", "application/json")
    }

    /// Sends; a non-2xx answer is its error (`not_available` as the caller says).
    async fn call(
        &self,
        request: HttpRequest,
        subject: &str,
        not_available: fn(u16) -> bool,
    ) -> Result<HttpResponse> {
        let response = self.upstream.send(request, subject).await?;
        if response.is_success() {
            return Ok(response);
        }
        let detail = error_detail(&response);
        Err(self
            .upstream
            .status_error(&response, subject, &detail, not_available(response.status)))
    }

    /// The search filters for a request; `None` when the prefix is not digits.
    fn search_query(&self, request: &SearchRequest) -> Option<(String, Vec<(String, String)>)> {
        let prefix = e164_prefix(&request.prefix, &request.country)?;
        let digits = prefix.get(1..).unwrap_or("");
        let mut q: Vec<(String, String)> = Vec::new();
        let country = request.country.trim().to_ascii_uppercase();
        if !country.is_empty() {
            q.push(("filter[country_code]".into(), country));
        }
        if let Some(cc) = calling_code_of(digits) {
            let national = digits.get(cc.to_string().len()..).unwrap_or("");
            match (cc, national.get(..3), national.get(3..)) {
                // The area code has its own filter; starts_with then excludes it.
                (1, Some(npa), rest) => {
                    q.push(("filter[national_destination_code]".into(), npa.into()));
                    if let Some(rest) = rest.filter(|r| !r.is_empty()) {
                        q.push(("filter[phone_number][starts_with]".into(), rest.into()));
                    }
                }
                _ if !national.is_empty() => {
                    q.push(("filter[phone_number][starts_with]".into(), national.into()));
                }
                _ => {}
            }
        }
        if let Some(l) = &self.locality {
            q.push(("filter[locality]".into(), l.clone()));
        }
        if let Some(a) = &self.administrative_area {
            q.push(("filter[administrative_area]".into(), a.clone()));
        }
        if !self.features.is_empty() {
            q.push(("filter[features]".into(), self.features.join(",")));
        }
        let limit = request.offset.saturating_add(request.quantity).max(1);
        q.push(("filter[limit]".into(), limit.to_string()));
        Some((prefix, q))
    }

    /// The account's phone-number records for `number`: `(id, status)`.
    async fn holdings(&self, number: &PhoneNumber) -> Result<Vec<(String, String)>> {
        let subject = number.as_str();
        let query = vec![
            (
                "filter[phone_number]".to_string(),
                number.strip_plus().to_string(),
            ),
            ("page[size]".to_string(), LOOKUP_PAGE.to_string()),
        ];
        let response = self
            .call(
                self.request(Method::Get, "/phone_numbers", &query),
                subject,
                |_| false,
            )
            .await?;
        let body = self.upstream.json(&response, subject)?;
        let rows = body
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| self.upstream.malformed(subject, "no data list"))?;
        let mut out = Vec::new();
        for row in rows {
            // The filter matches partially: keep exact matches only.
            if row.get("phone_number").and_then(Value::as_str) != Some(subject) {
                continue;
            }
            let id = match row.get("id") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(self.upstream.malformed(subject, "phone number without id")),
            };
            let status = row
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            out.push((id, status));
        }
        Ok(out)
    }

    /// Reads an order answer: its id and the status that applies to `number`.
    fn order_status(&self, body: &Value, number: &str) -> Result<(String, String)> {
        let data = body
            .get("data")
            .ok_or_else(|| self.upstream.malformed(number, "order without data"))?;
        let id = data
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.upstream.malformed(number, "order without id"))?;
        // The number's own entry says more than the order as a whole.
        let entry = data
            .get("phone_numbers")
            .and_then(Value::as_array)
            .and_then(|rows| {
                rows.iter()
                    .find(|r| r.get("phone_number").and_then(Value::as_str) == Some(number))
            })
            .and_then(|r| r.get("status"))
            .and_then(Value::as_str);
        let status = entry
            .or_else(|| data.get("status").and_then(Value::as_str))
            .ok_or_else(|| self.upstream.malformed(number, "order without status"))?;
        Ok((id.to_string(), status.to_string()))
    }

    /// Looks at a pending order again, up to the configured number of times.
    /// A failed look leaves it pending: its outcome is still unknown.
    async fn settle_order(&self, id: &str, number: &str, mut status: String) -> String {
        let path = format!("/number_orders/{}", encode_component(id));
        for _ in 0..self.order_checks {
            if status != "pending" {
                break;
            }
            let Ok(response) = self
                .call(self.request(Method::Get, &path, &[]), number, |_| false)
                .await
            else {
                break;
            };
            match self
                .upstream
                .json(&response, number)
                .and_then(|b| self.order_status(&b, number))
            {
                Ok((_, s)) => status = s,
                Err(_) => break,
            }
        }
        status
    }
}

/// Telnyx's error list, first entry: `code title: detail`.
fn error_detail(response: &HttpResponse) -> String {
    let Ok(body) = serde_json::from_slice::<Value>(&response.body) else {
        return String::from_utf8_lossy(&response.body).into_owned();
    };
    let Some(first) = body
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    else {
        return body.to_string();
    };
    let field = |k: &str| first.get(k).and_then(Value::as_str).unwrap_or("");
    let code = match first.get("code") {
        Some(Value::Number(n)) => n.to_string(),
        _ => field("code").to_string(),
    };
    format!("{code} {}: {}", field("title"), field("detail"))
        .trim()
        .to_string()
}

/// Whether an account phone-number status says it is ours (`Some(true)`),
/// not ours (`Some(false)`), or not yet known (`None`).
fn held(status: &str) -> Option<bool> {
    match status {
        "active" | "emergency-only" | "port-out-pending" => Some(true),
        "deleted" | "purchase-failed" | "port-failed" | "ported-out" => Some(false),
        _ => None,
    }
}

/// A search result's carrier data: Kazoo's fields, then Telnyx's region,
/// features and cost.
fn result_data(number: &PhoneNumber, row: &Value) -> Map<String, Value> {
    let mut data = number_data(number);
    if let Some(cost) = row.get("cost_information").filter(|c| c.is_object()) {
        data.insert("cost_information".into(), cost.clone());
    }
    let features: Vec<Value> = row
        .get("features")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter_map(|x| x.get("name").or(Some(x)).and_then(Value::as_str))
                .map(|s| json!(s))
                .collect()
        })
        .unwrap_or_default();
    if !features.is_empty() {
        data.insert("features".into(), Value::Array(features));
    }
    let mut rate_center = Map::new();
    for region in row
        .get("region_information")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = region.get("region_name").and_then(Value::as_str);
        match (region.get("region_type").and_then(Value::as_str), name) {
            (Some("rate_center"), Some(n)) => {
                rate_center.insert("name".into(), json!(n));
            }
            (Some("state"), Some(n)) => {
                rate_center.insert("state".into(), json!(n));
            }
            _ => {}
        }
    }
    if !rate_center.is_empty() {
        data.insert("rate_center".into(), Value::Object(rate_center));
    }
    data.insert("status".into(), json!("Available"));
    data
}

#[async_trait]
impl Carrier for TelnyxCarrier {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            is_local: false,
            check_numbers: false,
            owned_numbers: true,
            // A NANP area code plus seven digits; longer foreign prefixes work too.
            maximal_prefix_length: 10,
            billable: true,
            should_lookup_cnam: true,
        }
    }

    async fn find_numbers(&self, request: &SearchRequest) -> Result<Vec<SearchResult>> {
        let Some((prefix, query)) = self.search_query(request) else {
            return Ok(Vec::new());
        };
        let response = self
            .call(
                self.request(Method::Get, "/available_phone_numbers", &query),
                &prefix,
                |_| false,
            )
            .await?;
        let body = self.upstream.json(&response, &prefix)?;
        let rows = body
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| self.upstream.malformed(&prefix, "no data list"))?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let raw = row.get("phone_number").and_then(Value::as_str)?;
                let number = PhoneNumber::from_e164(raw).ok()?;
                number.as_str().starts_with(&prefix).then(|| SearchResult {
                    data: result_data(&number, row),
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
        let mut body = json!({ "phone_numbers": [{ "phone_number": number }] });
        if let (Some(id), Some(obj)) = (&self.connection_id, body.as_object_mut()) {
            obj.insert("connection_id".into(), json!(id));
        }
        let request = self
            .request(Method::Post, "/number_orders", &[])
            .header("Content-Type", "application/json")
            .body(body.to_string());
        // Telnyx answers 404/422 when the number cannot be ordered (gone, not in inventory).
        let response = self
            .call(request, number, |s| matches!(s, 404 | 422))
            .await?;
        let answer = self.upstream.json(&response, number)?;
        let (id, status) = self.order_status(&answer, number)?;
        let status = self.settle_order(&id, number, status).await;
        match status.as_str() {
            "success" => {
                let mut data = Map::new();
                data.insert("telnyx_order_id".into(), json!(id));
                // The id `disconnect` deletes by, as `owned_numbers` gives it;
                // without it (the look-up failed) `disconnect` looks it up.
                if let Ok(rows) = self.holdings(&order.number).await {
                    if let Some((pid, _)) = rows.iter().find(|(_, s)| held(s) != Some(false)) {
                        data.insert("telnyx_phone_number_id".into(), json!(pid));
                    }
                }
                Ok(data)
            }
            "failure" => Err(self
                .upstream
                .fault(number, &format!("number order {id} failed"))),
            "pending" => Err(Error::Conflict {
                number: number.to_string(),
                kind: ConflictKind::CarrierOrderPending,
                detail: Some(format!(
                    "telnyx number order {id} is still pending; the purchase settles later"
                )),
            }),
            other => Err(self
                .upstream
                .malformed(number, &format!("order status {other:?}"))),
        }
    }

    async fn disconnect(&self, order: &NumberOrder) -> Result<()> {
        let number = order.number.as_str();
        let known = order
            .carrier_data
            .get("telnyx_phone_number_id")
            .and_then(|v| match v {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
        let id = match known {
            Some(id) => id,
            None => {
                let rows = self.holdings(&order.number).await?;
                match rows.into_iter().find(|(_, s)| held(s) != Some(false)) {
                    Some((id, _)) => id,
                    // Nothing of ours to release.
                    None => return Ok(()),
                }
            }
        };
        let path = format!("/phone_numbers/{}", encode_component(&id));
        let request = self.request(Method::Delete, &path, &[]);
        let response = self.upstream.send(request, number).await?;
        // 404: already gone, so the release is done.
        if response.is_success() || response.status == 404 {
            return Ok(());
        }
        let detail = error_detail(&response);
        Err(self
            .upstream
            .status_error(&response, number, &detail, false))
    }

    async fn owned_numbers(
        &self,
        numbers: &[PhoneNumber],
    ) -> Result<BTreeMap<PhoneNumber, Ownership>> {
        let mut out = BTreeMap::new();
        for number in numbers {
            let rows = self.holdings(number).await?;
            let ours = rows.iter().find(|(_, s)| held(s) == Some(true));
            let undecided = rows.iter().any(|(_, s)| held(s).is_none());
            if let Some((id, _)) = ours {
                let mut carrier_data = Map::new();
                carrier_data.insert("telnyx_phone_number_id".into(), json!(id));
                out.insert(*number, Ownership::Ours { carrier_data });
            } else if !undecided {
                out.insert(*number, Ownership::NotOurs);
            }
        }
        Ok(out)
    }
}
