//! [`TwilioCarrier`]: Twilio's 2010-04-01 REST API (form-encoded, basic
//! auth) through a host-supplied [`HttpClient`] (feature `twilio`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::builtin::{e164_prefix, number_data};
use super::http::{
    base64, encode_component, encode_pairs, HttpClient, HttpRequest, HttpResponse, Method,
};
use super::upstream::{Secret, Upstream};
use super::{Capabilities, Carrier, NumberOrder, Ownership, SearchRequest, SearchResult};
use crate::error::Result;
use crate::number::{calling_code_of, PhoneNumber};
use crate::state::NumberState;

/// Twilio's REST API base URL (the `/2010-04-01/...` paths go after it).
pub const TWILIO_API: &str = "https://api.twilio.com";

/// The NANP toll-free area codes: a search for one goes to `TollFree`.
const TOLL_FREE: [&str; 7] = ["800", "833", "844", "855", "866", "877", "888"];

/// Twilio's error codes for "this number cannot be had": not available, and
/// no numbers found.
const NOT_AVAILABLE: [i64; 2] = [21422, 21452];

/// The longest page Twilio serves.
const MAX_PAGE: usize = 1000;

/// A [`Carrier`] over Twilio's 2010-04-01 REST API.
///
/// | call | Twilio request |
/// |---|---|
/// | `find_numbers` | `GET /2010-04-01/Accounts/{sid}/AvailablePhoneNumbers/{country}/Local.json` (or `TollFree.json` for a NANP toll-free area code) with `AreaCode` (a NANP prefix's area code), `Contains` (a NANP prefix padded with `*` to the whole national number; elsewhere the national digits) and `PageSize`; results not starting with the prefix are dropped |
/// | `acquire` | `POST .../IncomingPhoneNumbers.json` with the form `PhoneNumber=+1...`; returns `twilio_sid` |
/// | `disconnect` | `DELETE .../IncomingPhoneNumbers/{twilio_sid}.json` (the SID is looked up by number when the carrier data does not have it) |
/// | `owned_numbers` | `GET .../IncomingPhoneNumbers.json?PhoneNumber=+1...` |
///
/// Every request carries `Authorization: Basic base64(sid:token)`.
///
/// # Errors
///
/// | Twilio answers | error |
/// |---|---|
/// | nothing within the [`HttpClient`]'s time limit | [`Error::Unspecified`](crate::Error::Unspecified) `timeout` (cause: the number) |
/// | 401, 403 | [`Error::Unspecified`](crate::Error::Unspecified) `carrier_authentication_failed` |
/// | a 4xx with code 21422 (not available) or 21452 (none found), or a 404, to a purchase | [`Error::Unspecified`](crate::Error::Unspecified) `number_not_available` (cause: the number) |
/// | 429 | [`Error::Unspecified`](crate::Error::Unspecified) `rate_limited`, its cause naming the `Retry-After` |
/// | 5xx, any other status, a transport failure, a body not as documented | [`Error::ByCarrier`](crate::Error::ByCarrier) |
///
/// A purchase answered with a body that does not name the number's SID is
/// not taken as a purchase: the manager then asks `owned_numbers`, which
/// finds it if it went through. The auth token never appears in an error or
/// in `Debug` output.
///
/// ```
/// use std::sync::Arc;
/// use number_manager::carrier::{Carrier, HttpClient, TwilioCarrier, TWILIO_API};
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
/// let twilio = TwilioCarrier::new(http, "AC00000000000000000000000000000000", "token123", TWILIO_API);
/// assert_eq!(twilio.name(), "twilio");
/// assert!(!format!("{twilio:?}").contains("token123"));
/// ```
pub struct TwilioCarrier {
    name: String,
    base_url: String,
    account_sid: String,
    auth: Secret,
    upstream: Upstream,
}

impl fmt::Debug for TwilioCarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioCarrier")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &self.auth)
            .finish()
    }
}

impl TwilioCarrier {
    /// A carrier named `twilio` calling `base_url` (e.g. [`TWILIO_API`], or
    /// a stub's address) as account `account_sid` with `auth_token`.
    pub fn new(
        http: Arc<dyn HttpClient>,
        account_sid: impl Into<String>,
        auth_token: impl Into<String>,
        base_url: impl Into<String>,
    ) -> Self {
        let account_sid = account_sid.into();
        let token = auth_token.into();
        let basic = base64(format!("{account_sid}:{token}").as_bytes());
        let upstream = Upstream::new(
            http,
            "twilio",
            vec![Secret::new(token), Secret::new(basic.clone())],
        );
        TwilioCarrier {
            name: "twilio".into(),
            base_url: base_url.into().trim_end_matches('/').to_string(),
            account_sid,
            auth: Secret::new(format!("Basic {basic}")),
            upstream,
        }
    }

    /// Renames the carrier (the module name stored on its numbers).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    fn request(&self, method: Method, tail: &str, query: &[(String, String)]) -> HttpRequest {
        let mut url = format!(
            "{}/2010-04-01/Accounts/{}{tail}",
            self.base_url,
            encode_component(&self.account_sid)
        );
        if !query.is_empty() {
            url.push('?');
            url.push_str(&encode_pairs(query));
        }
        HttpRequest::new(method, url)
            .header("Authorization", self.auth.expose())
            .header("Accept", "application/json")
    }

    /// Sends; a non-2xx answer is its error. `purchase` says whether a 404
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
        let (code, detail) = error_detail(&response);
        let not_available = purchase
            && (response.status == 404 || code.is_some_and(|c| NOT_AVAILABLE.contains(&c)));
        Err(self
            .upstream
            .status_error(&response, subject, &detail, not_available))
    }

    /// The list path and query for a request; `None` when the prefix is not digits.
    fn search_query(&self, request: &SearchRequest) -> Option<ListQuery> {
        let prefix = e164_prefix(&request.prefix, &request.country)?;
        let digits = prefix.get(1..).unwrap_or("");
        let mut country = request.country.trim().to_ascii_uppercase();
        if country.is_empty() {
            country = "US".into();
        }
        let mut kind = "Local";
        let mut q: Vec<(String, String)> = Vec::new();
        let cc = calling_code_of(digits)?;
        let national = digits.get(cc.to_string().len()..).unwrap_or("");
        if cc == 1 {
            if let Some(npa) = national.get(..3) {
                if TOLL_FREE.contains(&npa) {
                    kind = "TollFree";
                }
                q.push(("AreaCode".into(), npa.into()));
            }
            // The whole national number as a pattern, so it anchors at the start.
            if national.len() > 3 && national.len() <= 10 {
                q.push((
                    "Contains".into(),
                    format!("{national}{}", "*".repeat(10 - national.len())),
                ));
            }
        } else if national.len() >= 2 {
            // Matched anywhere in the number; results are filtered by prefix.
            q.push(("Contains".into(), national.into()));
        }
        let size = request
            .offset
            .saturating_add(request.quantity)
            .clamp(1, MAX_PAGE);
        q.push(("PageSize".into(), size.to_string()));
        let path = format!(
            "/AvailablePhoneNumbers/{}/{kind}.json",
            encode_component(&country)
        );
        Some(ListQuery {
            prefix,
            path,
            query: q,
        })
    }

    /// The account's incoming numbers that are exactly `number`: their SIDs.
    async fn incoming(&self, number: &PhoneNumber) -> Result<Vec<String>> {
        let subject = number.as_str();
        let query = vec![("PhoneNumber".to_string(), subject.to_string())];
        let response = self
            .call(
                self.request(Method::Get, "/IncomingPhoneNumbers.json", &query),
                subject,
                false,
            )
            .await?;
        let body = self.upstream.json(&response, subject)?;
        let rows = body
            .get("incoming_phone_numbers")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                self.upstream
                    .malformed(subject, "no incoming_phone_numbers list")
            })?;
        rows.iter()
            .filter(|r| r.get("phone_number").and_then(Value::as_str) == Some(subject))
            .map(|r| {
                r.get("sid")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .ok_or_else(|| {
                        self.upstream
                            .malformed(subject, "incoming number without sid")
                    })
            })
            .collect()
    }
}

/// One search: the E.164 prefix, the list path under the account, the query.
struct ListQuery {
    prefix: String,
    path: String,
    query: Vec<(String, String)>,
}

/// Twilio's error body: its numeric `code` and `code: message`.
fn error_detail(response: &HttpResponse) -> (Option<i64>, String) {
    let Ok(body) = serde_json::from_slice::<Value>(&response.body) else {
        return (None, String::from_utf8_lossy(&response.body).into_owned());
    };
    let code = body.get("code").and_then(Value::as_i64);
    let message = body.get("message").and_then(Value::as_str).unwrap_or("");
    let detail = match code {
        Some(c) => format!("{c}: {message}"),
        None => body.to_string(),
    };
    (code, detail)
}

/// A search result's carrier data: Kazoo's fields, then Twilio's rate
/// center, locality and capabilities.
fn result_data(number: &PhoneNumber, row: &Value) -> Map<String, Value> {
    let mut data = number_data(number);
    let field = |k: &str| row.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let mut rate_center = Map::new();
    if let Some(rc) = field("rate_center") {
        rate_center.insert("name".into(), json!(rc));
    }
    if let Some(region) = field("region") {
        rate_center.insert("state".into(), json!(region));
    }
    if let Some(lata) = field("lata") {
        rate_center.insert("lata".into(), json!(lata));
    }
    if !rate_center.is_empty() {
        data.insert("rate_center".into(), Value::Object(rate_center));
    }
    if let Some(l) = field("locality") {
        data.insert("locality".into(), json!(l));
    }
    if let Some(c) = row.get("capabilities").filter(|c| c.is_object()) {
        data.insert("capabilities".into(), c.clone());
    }
    data.insert("status".into(), json!("Available"));
    data
}

#[async_trait]
impl Carrier for TwilioCarrier {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            is_local: false,
            check_numbers: false,
            owned_numbers: true,
            // Area code plus the seven digits `Contains` can pin down.
            maximal_prefix_length: 10,
            billable: true,
            should_lookup_cnam: true,
        }
    }

    async fn find_numbers(&self, request: &SearchRequest) -> Result<Vec<SearchResult>> {
        let Some(ListQuery {
            prefix,
            path,
            query,
        }) = self.search_query(request)
        else {
            return Ok(Vec::new());
        };
        let response = self
            .call(self.request(Method::Get, &path, &query), &prefix, false)
            .await?;
        let body = self.upstream.json(&response, &prefix)?;
        let rows = body
            .get("available_phone_numbers")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                self.upstream
                    .malformed(&prefix, "no available_phone_numbers list")
            })?;
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
        let request = self
            .request(Method::Post, "/IncomingPhoneNumbers.json", &[])
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(encode_pairs(&[("PhoneNumber", number)]));
        let response = self.call(request, number, true).await?;
        let body = self.upstream.json(&response, number)?;
        if body.get("phone_number").and_then(Value::as_str) != Some(number) {
            return Err(self
                .upstream
                .malformed(number, "purchase of another number"));
        }
        let sid = body
            .get("sid")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.upstream.malformed(number, "purchase without sid"))?;
        let mut data = Map::new();
        data.insert("twilio_sid".into(), json!(sid));
        Ok(data)
    }

    async fn disconnect(&self, order: &NumberOrder) -> Result<()> {
        let number = order.number.as_str();
        let known = order
            .carrier_data
            .get("twilio_sid")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let sids = match known {
            Some(sid) => vec![sid],
            None => self.incoming(&order.number).await?,
        };
        for sid in sids {
            let tail = format!("/IncomingPhoneNumbers/{}.json", encode_component(&sid));
            let response = self
                .upstream
                .send(self.request(Method::Delete, &tail, &[]), number)
                .await?;
            // 404: already released.
            if !response.is_success() && response.status != 404 {
                let (_, detail) = error_detail(&response);
                return Err(self
                    .upstream
                    .status_error(&response, number, &detail, false));
            }
        }
        Ok(())
    }

    async fn owned_numbers(
        &self,
        numbers: &[PhoneNumber],
    ) -> Result<BTreeMap<PhoneNumber, Ownership>> {
        let mut out = BTreeMap::new();
        for number in numbers {
            let sids = self.incoming(number).await?;
            let held = match sids.into_iter().next() {
                Some(sid) => {
                    let mut carrier_data = Map::new();
                    carrier_data.insert("twilio_sid".into(), json!(sid));
                    Ownership::Ours { carrier_data }
                }
                None => Ownership::NotOurs,
            };
            out.insert(*number, held);
        }
        Ok(out)
    }
}
