//! [`OfflineLocality`]: locality from built-in data, with no network.

use std::collections::{BTreeMap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::nanp::{self, NpaKind};
use super::Locality;
use crate::error::{Error, Result};
use crate::number::PhoneNumber;

/// How many non-NANP answers [`OfflineLocality`] keeps before it starts over.
const DEFAULT_CACHE_LIMIT: usize = 10_000;

/// A locality provider that answers from data compiled into the library: the
/// North American Numbering Plan table of this crate for `+1` numbers, and the
/// `phonenumber` crate's metadata for every other country. It never calls out,
/// so it cannot be "not set up"; it also cannot know what only a carrier
/// database knows (the carrier, the switch, the city of a NANP number, whether
/// a US number is wireless), and leaves those fields out.
///
/// # Answers
///
/// One object per number, in Kazoo's shape:
///
/// ```json
/// {"country": "US", "number": "+14155550100", "e164_number": "+14155550100",
///  "geocode": {"locality": "California"}, "locality": {"province": "CA"},
///  "status": "success"}
/// ```
///
/// - `country`: ISO 3166 alpha-2. For `+1` numbers it comes from the area
///   code (`+1416...` is `CA`, `+1876...` is `JM`); toll-free and other
///   non-geographic `+1` codes answer `US`.
/// - `geocode.locality`: the state, province or country name of a geographic
///   NANP area code (what Kazoo shows: `California`). Absent elsewhere.
/// - `locality.province`: the two-letter state / province code of a NANP area
///   code, when the area code serves exactly one.
/// - `locality.type`: the kind of number, mapped from the numbering-plan
///   metadata to Kazoo's vocabulary:
///
///   | metadata | `type` |
///   |---|---|
///   | fixed line | `LANDLINE` |
///   | mobile | `WIRELESS` |
///   | toll free (also NANP 8XX) | `TOLLFREE` |
///   | premium rate (also NANP 900) | `PREMIUM` |
///   | shared cost | `SHARED_COST` |
///   | personal number (also NANP 5XX) | `PERSONAL` |
///   | VoIP | `VOIP` |
///   | pager | `PAGER` |
///   | UAN | `UAN` |
///   | voicemail | `VOICEMAIL` |
///
///   Absent when the plan cannot tell, notably for every geographic NANP number
///   (North American landline and wireless numbers share the same ranges).
/// - `status`: `success`, or `error` (with a `message`) for a number that no
///   numbering plan knows: an unassigned area code, a national number of the
///   wrong shape for its country, an unassigned country code.
///
/// # Cost
///
/// `+1` numbers are answered from a sorted table (a binary search). Other
/// numbers go through the `phonenumber` crate, which takes about a millisecond
/// per number, so their answers are cached per number, up to
/// 10 000 entries (the cache starts over when full).
///
/// # City prefixes
///
/// [`Locality::city_prefixes`] knows the area codes of the larger US and
/// Canadian cities. The city is matched case-insensitively, ignoring repeated
/// spaces, as the start of a city name (`san` finds San Diego, San Francisco and
/// San Jose); the answer maps each matching city to its area codes:
/// `{"San Francisco": ["415", "628"]}`. No match, or another country, is
/// [`Error::CityNotFound`] (404, with Kazoo's `Not Found` data).
///
/// ```
/// use number_manager::locality::{Locality, OfflineLocality};
/// use number_manager::PhoneNumber;
/// # block_on(async {
/// let locality = OfflineLocality::new();
/// let sf = PhoneNumber::parse("+14155550100").unwrap();
/// let answer = locality.locality(&[sf]).await.unwrap();
/// assert_eq!(answer[&sf]["country"], "US");
/// assert_eq!(answer[&sf]["locality"]["province"], "CA");
/// assert_eq!(answer[&sf]["geocode"]["locality"], "California");
///
/// let cities = locality.city_prefixes("US", "san francisco").await.unwrap();
/// assert_eq!(cities, serde_json::json!({"San Francisco": ["415", "628"]}));
/// # });
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug)]
pub struct OfflineLocality {
    cache: Mutex<HashMap<PhoneNumber, Option<PlanAnswer>>>,
    cache_limit: usize,
}

/// What the `phonenumber` metadata says about one non-NANP number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PlanAnswer {
    country: Option<&'static str>,
    kind: Option<&'static str>,
}

impl Default for OfflineLocality {
    fn default() -> Self {
        Self::new()
    }
}

impl OfflineLocality {
    /// A provider with an empty cache.
    pub fn new() -> Self {
        OfflineLocality {
            cache: Mutex::new(HashMap::new()),
            cache_limit: DEFAULT_CACHE_LIMIT,
        }
    }

    /// The locality object of one number (see the type's documentation).
    pub fn lookup(&self, number: &PhoneNumber) -> Value {
        if number.as_str().starts_with("+1") {
            return nanp_answer(number);
        }
        let answer = self.plan_answer(number);
        let mut out = head(number, answer.and_then(|a| a.country));
        match answer {
            Some(a) => {
                if let Some(kind) = a.kind {
                    out.insert("locality".into(), json!({ "type": kind }));
                }
                out.insert("status".into(), json!("success"));
                Value::Object(out)
            }
            None => error_answer(out),
        }
    }

    fn plan_answer(&self, number: &PhoneNumber) -> Option<PlanAnswer> {
        if let Some(hit) = self.lock().get(number) {
            return *hit;
        }
        // Computed outside the lock: it is slow, and two tasks computing the
        // same answer at once is harmless.
        let answer = metadata_answer(number);
        let mut cache = self.lock();
        if cache.len() >= self.cache_limit {
            cache.clear();
        }
        cache.insert(*number, answer);
        answer
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PhoneNumber, Option<PlanAnswer>>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Locality for OfflineLocality {
    async fn locality(&self, numbers: &[PhoneNumber]) -> Result<BTreeMap<PhoneNumber, Value>> {
        Ok(numbers.iter().map(|n| (*n, self.lookup(n))).collect())
    }

    async fn city_prefixes(&self, country: &str, city: &str) -> Result<Value> {
        find_cities(CITIES, country, city).ok_or_else(|| city_not_found(country, city))
    }
}

/// The `country`, `number`, `e164_number` head every answer starts with.
fn head(number: &PhoneNumber, country: Option<&str>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(c) = country {
        out.insert("country".into(), json!(c));
    }
    out.insert("number".into(), json!(number.as_str()));
    out.insert("e164_number".into(), json!(number.as_str()));
    out
}

fn error_answer(mut out: Map<String, Value>) -> Value {
    out.insert("status".into(), json!("error"));
    out.insert(
        "message".into(),
        json!("number is not in any numbering plan"),
    );
    Value::Object(out)
}

/// The answer for a `+1` number, from the crate's NANP table.
pub(crate) fn nanp_answer(number: &PhoneNumber) -> Value {
    let kind = match nanp::npa_of(number.as_str()) {
        // `is_nanp` also insists on a central office code starting 2-9.
        Some(npa) if number.is_nanp() => nanp::classify_npa(npa),
        _ => NpaKind::Unassigned,
    };
    let (country, geocode, province, kind) = match kind {
        NpaKind::Geographic(area) => (
            Some(area.country),
            Some(area.place()),
            Some(area.region),
            None,
        ),
        NpaKind::TollFree => (Some("US"), None, None, Some("TOLLFREE")),
        NpaKind::Premium => (Some("US"), None, None, Some("PREMIUM")),
        NpaKind::Personal => (Some("US"), None, None, Some("PERSONAL")),
        NpaKind::Service => (Some("US"), None, None, None),
        NpaKind::Unassigned => return error_answer(head(number, None)),
    };
    let mut out = head(number, country);
    if let Some(g) = geocode {
        out.insert("geocode".into(), json!({ "locality": g }));
    }
    let mut locality = Map::new();
    if let Some(p) = province.filter(|p| !p.is_empty()) {
        locality.insert("province".into(), json!(p));
    }
    if let Some(k) = kind {
        locality.insert("type".into(), json!(k));
    }
    if !locality.is_empty() {
        out.insert("locality".into(), Value::Object(locality));
    }
    out.insert("status".into(), json!("success"));
    Value::Object(out)
}

/// Asks the `phonenumber` metadata about a non-NANP number. `None`: no plan
/// knows it.
fn metadata_answer(number: &PhoneNumber) -> Option<PlanAnswer> {
    use phonenumber::metadata::DATABASE;
    // The input is a validated E.164 string, but the crate is third-party code
    // with a history of panics on odd input; a panic there must not become one
    // here.
    catch_unwind(AssertUnwindSafe(|| {
        // No default region: with one, the crate strips a leading 1 from some
        // foreign numbers (its issue #30).
        let parsed = phonenumber::parse(None, number.as_str()).ok()?;
        let meta = parsed.metadata(&DATABASE)?;
        let kind = parsed.number_type(&DATABASE);
        if kind == phonenumber::Type::Unknown {
            return None;
        }
        // "001" is the metadata's id for non-geographic services (+800, +882, ...).
        let id: &'static str = meta.id();
        let country = (id.len() == 2).then_some(id);
        Some(PlanAnswer {
            country,
            kind: type_name(kind),
        })
    }))
    .ok()
    .flatten()
}

/// Kazoo's `type` for a metadata number type (see [`OfflineLocality`]).
fn type_name(kind: phonenumber::Type) -> Option<&'static str> {
    use phonenumber::Type;
    match kind {
        Type::FixedLine => Some("LANDLINE"),
        Type::Mobile => Some("WIRELESS"),
        Type::TollFree => Some("TOLLFREE"),
        Type::PremiumRate => Some("PREMIUM"),
        Type::SharedCost => Some("SHARED_COST"),
        Type::PersonalNumber => Some("PERSONAL"),
        Type::Voip => Some("VOIP"),
        Type::Pager => Some("PAGER"),
        Type::Uan => Some("UAN"),
        Type::Voicemail => Some("VOICEMAIL"),
        _ => None,
    }
}

/// One city of the built-in city table.
pub(crate) struct City {
    pub(crate) country: &'static str,
    pub(crate) name: &'static str,
    pub(crate) npas: &'static [&'static str],
}

const fn city(country: &'static str, name: &'static str, npas: &'static [&'static str]) -> City {
    City {
        country,
        name,
        npas,
    }
}

/// Area codes of the larger US and Canadian cities (including overlays).
const CITIES: &[City] = &[
    city("US", "Atlanta", &["404", "470", "678", "770", "943"]),
    city("US", "Austin", &["512", "737"]),
    city("US", "Boston", &["617", "857"]),
    city("US", "Chicago", &["312", "773", "872"]),
    city("US", "Dallas", &["214", "469", "945", "972"]),
    city("US", "Denver", &["303", "720", "983"]),
    city("US", "Detroit", &["313", "679"]),
    city("US", "Houston", &["281", "346", "713", "832"]),
    city("US", "Las Vegas", &["702", "725"]),
    city(
        "US",
        "Los Angeles",
        &["213", "310", "323", "424", "738", "747", "818"],
    ),
    city("US", "Miami", &["305", "645", "786"]),
    city("US", "Minneapolis", &["612"]),
    city(
        "US",
        "New York",
        &["212", "332", "347", "646", "718", "917", "929"],
    ),
    city("US", "Oakland", &["341", "510"]),
    city("US", "Philadelphia", &["215", "267", "445"]),
    city("US", "Phoenix", &["480", "602", "623"]),
    city("US", "Portland", &["503", "971"]),
    city("US", "San Diego", &["619", "858"]),
    city("US", "San Francisco", &["415", "628"]),
    city("US", "San Jose", &["408", "669"]),
    city("US", "Seattle", &["206"]),
    city("US", "Washington", &["202", "771"]),
    city("CA", "Calgary", &["368", "403", "587", "825"]),
    city("CA", "Montreal", &["263", "438", "514"]),
    city("CA", "Ottawa", &["343", "613", "753"]),
    city("CA", "Toronto", &["416", "437", "647", "942"]),
    city("CA", "Vancouver", &["236", "604", "672", "778"]),
];

/// Upper-cases and collapses runs of whitespace, so that ` san  FRANCISCO`
/// matches `San Francisco`.
pub(crate) fn normalize_name(s: &str) -> String {
    s.split_whitespace()
        .map(str::to_uppercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Kazoo's "country or city not found" error.
pub(crate) fn city_not_found(country: &str, city: &str) -> Error {
    Error::CityNotFound {
        country: country.trim().to_ascii_uppercase(),
        city: city.to_string(),
    }
}

/// The cities of `country` whose name starts with `pattern`; `None` when
/// there are none.
fn find_cities(table: &[City], country: &str, pattern: &str) -> Option<Value> {
    let pattern = normalize_name(pattern);
    if pattern.is_empty() {
        return None;
    }
    let mut out = Map::new();
    for c in table {
        if c.country.eq_ignore_ascii_case(country.trim())
            && normalize_name(c.name).starts_with(&pattern)
        {
            out.insert(c.name.to_string(), json!(c.npas));
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> PhoneNumber {
        PhoneNumber::from_e164(s).unwrap()
    }

    #[test]
    fn nanp_toll_free_and_unassigned() {
        let v = nanp_answer(&n("+18005550100"));
        assert_eq!(v["locality"]["type"], "TOLLFREE");
        assert_eq!(v["status"], "success");
        let v = nanp_answer(&n("+13745550100"));
        assert_eq!(v["status"], "error");
        // Central office code starting with 1: not a NANP number.
        let v = nanp_answer(&n("+14151550100"));
        assert_eq!(v["status"], "error");
    }

    #[test]
    fn city_table_is_sane() {
        for c in CITIES {
            for npa in c.npas {
                let area = npa.parse().ok().and_then(nanp::area).unwrap();
                assert_eq!(area.country, c.country, "{} {}", c.name, npa);
            }
        }
    }
}
