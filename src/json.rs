//! Kazoo's JSON: every response body of the `phone_numbers` API is
//! rendered here, from the typed values (the record's public view and
//! listing row, an operation's outcome, a collection's per-number results, a
//! search hit, a listing page, `identify`, a classification, `check`, the
//! owned-number search). The types themselves carry no JSON; the error
//! catalogue (`Error::to_json`, `Error::envelope`) stays with the errors.
//!
//! The methods keep their paths (`NumberRecord::to_public_json`,
//! `BatchResult::to_json`, ...): they are defined in this module, so one file
//! holds the API's shapes.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::carrier::Availability;
use crate::classify::Classification;
use crate::clock::to_gregorian;
use crate::manager::{BatchResult, CarriersInfo, Identify, Listing, Outcome, SearchHit};
use crate::number::PhoneNumber;
use crate::record::NumberRecord;
use crate::state::NumberState;

impl NumberRecord {
    /// Kazoo's public JSON: public fields, `id`, `state`,
    /// `features` (sorted, omitted when empty), `used_by`, and `_read_only`.
    ///
    /// ```
    /// use number_manager::{record::NumberRecord, state::NumberState, PhoneNumber};
    /// let now = number_manager::clock::from_gregorian(63627848989).unwrap();
    /// let mut r = NumberRecord::new(PhoneNumber::parse("+14155550000").unwrap(), NumberState::Reserved, "local", now);
    /// r.public.insert("my_own_field".into(), serde_json::json!({}));
    /// let v = r.to_public_json();
    /// assert_eq!(v["id"], "+14155550000");
    /// assert_eq!(v["state"], "reserved");
    /// assert_eq!(v["features"], serde_json::json!(["local"]));
    /// assert_eq!(v["_read_only"]["created"], 63627848989i64);
    /// assert_eq!(v["my_own_field"], serde_json::json!({}));
    /// ```
    pub fn to_public_json(&self) -> Value {
        let mut out = Map::new();
        let mut ro = Map::new();
        ro.insert("created".into(), json!(to_gregorian(self.created)));
        let features = self.feature_names();
        if !features.is_empty() {
            ro.insert("features".into(), json!(features));
        }
        ro.insert("modified".into(), json!(to_gregorian(self.modified)));
        if self.ported_in {
            ro.insert("ported_in".into(), json!(true));
        }
        ro.insert("state".into(), json!(self.state.as_str()));
        if let Some(u) = &self.used_by {
            ro.insert("used_by".into(), json!(u));
        }
        out.insert("_read_only".into(), Value::Object(ro));
        for (k, v) in &self.public {
            out.insert(k.clone(), v.clone());
        }
        if !features.is_empty() {
            out.insert("features".into(), json!(features));
        }
        out.insert("id".into(), json!(self.number.as_str()));
        out.insert("state".into(), json!(self.state.as_str()));
        if let Some(u) = &self.used_by {
            out.insert("used_by".into(), json!(u));
        }
        Value::Object(out)
    }

    /// Kazoo's listing row shape (`assigned_to`, `created`, `features`,
    /// `state`, `updated`, `used_by`).
    pub fn to_listing_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(a) = &self.assigned_to {
            m.insert("assigned_to".into(), json!(a.as_str()));
        }
        m.insert("created".into(), json!(to_gregorian(self.created)));
        m.insert("features".into(), json!(self.feature_names()));
        m.insert("state".into(), json!(self.state.as_str()));
        m.insert("updated".into(), json!(to_gregorian(self.modified)));
        if let Some(u) = &self.used_by {
            m.insert("used_by".into(), json!(u));
        }
        Value::Object(m)
    }
}

impl Outcome {
    /// Kazoo's public JSON of the record.
    pub fn to_public_json(&self) -> Value {
        self.record.to_public_json()
    }
}

impl BatchResult {
    /// Kazoo's collection `data`: `{"success": {...}}`, plus `"error": {...}`
    /// when something failed.
    pub fn to_json(&self) -> Value {
        let mut data = Map::new();
        let success: Map<String, Value> = self
            .success
            .iter()
            .map(|(k, o)| (k.clone(), o.to_public_json()))
            .collect();
        data.insert("success".into(), Value::Object(success));
        if !self.errors.is_empty() {
            let errors: Map<String, Value> = self
                .errors
                .iter()
                .map(|(k, e)| (k.clone(), e.to_json()))
                .collect();
            data.insert("error".into(), Value::Object(errors));
        }
        Value::Object(data)
    }

    /// The error map as JSON (the `data` of an all-failed 400 `client error`).
    pub fn errors_json(&self) -> Value {
        Value::Object(
            self.errors
                .iter()
                .map(|(k, e)| (k.clone(), e.to_json()))
                .collect(),
        )
    }
}

impl SearchHit {
    /// Kazoo's search result object: the carrier data plus `number` and `e164`.
    pub fn to_json(&self) -> Value {
        let mut m = self.data.clone();
        m.entry("e164")
            .or_insert_with(|| json!(self.number.as_str()));
        m.insert("number".into(), json!(self.number.as_str()));
        if self.state != NumberState::Discovery {
            m.entry("state")
                .or_insert_with(|| json!(self.state.as_str()));
        }
        let mut sorted: Vec<(String, Value)> = m.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        Value::Object(sorted.into_iter().collect())
    }
}

impl Listing {
    /// Kazoo's listing `data`: `{"numbers": {...}, "cascade_quantity": n,
    /// "casquade_quantity": n}` (the misspelling kept as an alias); the
    /// numbers of open port requests are in `numbers` as `port_in`, with
    /// `port_id` and `port_state`.
    pub fn to_json(&self) -> Value {
        let mut numbers: Map<String, Value> = self
            .numbers
            .iter()
            .map(|r| (r.number.to_string(), r.to_listing_json()))
            .collect();
        // Numbers on their way in: Kazoo's `port_in` view, merged into a
        // `port_in` record's own entry when there is one.
        for p in &self.porting {
            let entry = numbers
                .entry(p.number.to_string())
                .or_insert_with(|| p.to_json());
            if let Value::Object(m) = entry {
                p.annotate(m);
            }
        }
        json!({
            "cascade_quantity": self.cascade_quantity,
            "casquade_quantity": self.cascade_quantity,
            "numbers": numbers,
        })
    }
}

impl Identify {
    /// Kazoo's `identify` data: `{"account_id", "number"}`.
    pub fn to_json(&self) -> Value {
        json!({"account_id": self.account_id.as_str(), "number": self.number.as_str()})
    }
}

impl Classification<'_> {
    /// Kazoo's `GET …/classifiers/{number}` data object, keys in Kazoo's
    /// order: `e164`, `emergency` (when true), `friendly_name`, `name`, `number`,
    /// `pretty_print` (when set), `regex`.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("e164".into(), Value::String(self.e164.to_string()));
        if self.emergency {
            obj.insert("emergency".into(), Value::Bool(true));
        }
        obj.insert(
            "friendly_name".into(),
            Value::String(self.friendly_name.to_string()),
        );
        obj.insert("name".into(), Value::String(self.name.to_string()));
        obj.insert("number".into(), Value::String(self.number.to_string()));
        if let Some(template) = &self.pretty_print {
            obj.insert("pretty_print".into(), Value::String(template.to_string()));
        }
        obj.insert("regex".into(), Value::String(self.regex.to_string()));
        Value::Object(obj)
    }
}

impl CarriersInfo {
    /// Kazoo's `carriers_info` data.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| Value::Object(Map::new()))
    }
}

/// Kazoo's `check` data: each number with `"success"` (it can be bought)
/// or `"error"`.
pub fn availability(answers: &BTreeMap<String, Availability>) -> Value {
    Value::Object(
        answers
            .iter()
            .map(|(n, a)| (n.clone(), json!(a.as_str())))
            .collect(),
    )
}

/// Kazoo's owned-number search (`GET …/phone_numbers?prefix=`): a list of
/// `{"number", "state"}`.
pub fn owned_numbers(found: &[(PhoneNumber, NumberState)]) -> Value {
    Value::Array(
        found
            .iter()
            .map(|(n, s)| json!({"number": n.as_str(), "state": s.as_str()}))
            .collect(),
    )
}
