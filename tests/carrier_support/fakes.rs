//! Stateful fakes of the carriers' APIs for the conformance suite: an
//! inventory of numbers, what this account holds, and the requests that
//! search, buy, list and release them, answered in the documented shapes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::{decode_pairs, Handler, Recorded, Reply};

/// The numbers on offer: `+14155550100` to `+14155550199` in steps of 3
/// (so every block of ten has gaps, and a search by a missing number finds
/// nothing).
pub fn inventory() -> Vec<String> {
    (100..200)
        .step_by(3)
        .map(|n| format!("+1415555{n:04}"))
        .collect()
}

#[derive(Default)]
struct Book {
    /// Held number -> its id at the carrier.
    held: BTreeMap<String, String>,
    next: u64,
}

impl Book {
    fn hold(&mut self, number: &str, prefix: &str) -> Option<String> {
        if self.held.contains_key(number) || !inventory().iter().any(|n| n == number) {
            return None;
        }
        self.next += 1;
        let id = format!("{prefix}{:032}", self.next);
        self.held.insert(number.to_string(), id.clone());
        Some(id)
    }

    fn free(&self) -> Vec<String> {
        inventory()
            .into_iter()
            .filter(|n| !self.held.contains_key(n))
            .collect()
    }

    fn release(&mut self, id: &str) -> bool {
        let Some(number) = self
            .held
            .iter()
            .find(|(_, v)| v.as_str() == id)
            .map(|(k, _)| k.clone())
        else {
            return false;
        };
        self.held.remove(&number);
        true
    }
}

fn limit(r: &Recorded, key: &str) -> usize {
    r.query_value(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX)
}

/// Telnyx API v2 under `/v2`.
pub fn telnyx() -> Handler {
    let book = Arc::new(Mutex::new(Book::default()));
    Arc::new(move |r: &Recorded| {
        let mut book = book.lock().unwrap();
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/v2/available_phone_numbers") => {
                let ndc = r
                    .query_value("filter[national_destination_code]")
                    .unwrap_or("");
                let rest = r
                    .query_value("filter[phone_number][starts_with]")
                    .unwrap_or("");
                let prefix = format!("+1{ndc}{rest}");
                let data: Vec<Value> = book
                    .free()
                    .into_iter()
                    .filter(|n| n.starts_with(&prefix))
                    .take(limit(r, "filter[limit]"))
                    .map(|n| json!({"record_type": "available_phone_number", "phone_number": n}))
                    .collect();
                Some(Reply::json(
                    200,
                    json!({"data": data, "meta": {"total_results": data.len()}}),
                ))
            }
            ("POST", "/v2/number_orders") => {
                let body = r.json();
                let number = body["phone_numbers"][0]["phone_number"]
                    .as_str()
                    .unwrap_or("");
                Some(match book.hold(number, "") {
                    Some(_) => Reply::json(
                        200,
                        json!({"data": {
                            "id": format!("order-{number}"),
                            "status": "success",
                            "phone_numbers": [{"phone_number": number, "status": "success"}]
                        }}),
                    ),
                    None => Reply::json(
                        422,
                        json!({"errors": [{
                            "code": "85001", "title": "Number not available", "detail": number
                        }]}),
                    ),
                })
            }
            ("GET", "/v2/phone_numbers") => {
                let digits = r.query_value("filter[phone_number]").unwrap_or("");
                let data: Vec<Value> = book
                    .held
                    .iter()
                    .filter(|(n, _)| n.contains(digits))
                    .map(|(n, id)| json!({"id": id, "phone_number": n, "status": "active"}))
                    .collect();
                Some(Reply::json(200, json!({"data": data})))
            }
            ("DELETE", path) => {
                let id = path.strip_prefix("/v2/phone_numbers/")?;
                Some(if book.release(id) {
                    Reply::json(200, json!({"data": {"id": id, "status": "deleted"}}))
                } else {
                    Reply::json(
                        404,
                        json!({"errors": [{"code": "10005", "title": "Resource not found"}]}),
                    )
                })
            }
            _ => None,
        }
    })
}

/// Whether a national number matches a Twilio `Contains` pattern of the
/// same length (`*` is any digit).
fn matches(national: &str, pattern: &str) -> bool {
    national.len() == pattern.len()
        && national
            .chars()
            .zip(pattern.chars())
            .all(|(d, p)| p == '*' || p == d)
}

/// Twilio's 2010-04-01 API for account `sid`.
pub fn twilio(sid: &str) -> Handler {
    let book = Arc::new(Mutex::new(Book::default()));
    let base = format!("/2010-04-01/Accounts/{sid}");
    Arc::new(move |r: &Recorded| {
        let mut book = book.lock().unwrap();
        let tail = r.path.strip_prefix(&base)?;
        match (r.method.as_str(), tail) {
            ("GET", "/AvailablePhoneNumbers/US/Local.json") => {
                let area = r.query_value("AreaCode").unwrap_or("");
                let pattern = r.query_value("Contains");
                let rows: Vec<Value> = book
                    .free()
                    .into_iter()
                    .filter(|n| {
                        let national = &n[2..];
                        national.starts_with(area) && pattern.is_none_or(|p| matches(national, p))
                    })
                    .take(limit(r, "PageSize"))
                    .map(|n| json!({"phone_number": n, "iso_country": "US"}))
                    .collect();
                Some(Reply::json(200, json!({"available_phone_numbers": rows})))
            }
            ("POST", "/IncomingPhoneNumbers.json") => {
                let form = decode_pairs(&String::from_utf8_lossy(&r.body));
                let number = form
                    .iter()
                    .find(|(k, _)| k == "PhoneNumber")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                Some(match book.hold(&number, "PN") {
                    Some(id) => Reply::json(
                        201,
                        json!({"sid": id, "phone_number": number, "status": "in-use"}),
                    ),
                    None => Reply::json(
                        400,
                        json!({
                            "code": 21422, "message": "PhoneNumber requested is not available", "status": 400
                        }),
                    ),
                })
            }
            ("GET", "/IncomingPhoneNumbers.json") => {
                let number = r.query_value("PhoneNumber").unwrap_or("");
                let rows: Vec<Value> = book
                    .held
                    .iter()
                    .filter(|(n, _)| n.as_str() == number)
                    .map(|(n, id)| json!({"sid": id, "phone_number": n}))
                    .collect();
                Some(Reply::json(
                    200,
                    json!({"incoming_phone_numbers": rows, "page": 0}),
                ))
            }
            ("DELETE", tail) => {
                let id = tail
                    .strip_prefix("/IncomingPhoneNumbers/")?
                    .strip_suffix(".json")?;
                Some(if book.release(id) {
                    Reply::empty(204)
                } else {
                    Reply::json(
                        404,
                        json!({"code": 20404, "message": "Not found", "status": 404}),
                    )
                })
            }
            _ => None,
        }
    })
}
