//! The stored number document ([`NumberRecord`]), its public fields and the
//! Kazoo's public JSON view.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::account::{AccountId, Actor};
use crate::error::{Error, FieldError, Result};
use crate::fields::PublicFields;
use crate::limits::Limits;
use crate::number::PhoneNumber;
use crate::state::{NumberState, Operation};

/// A store revision. `0` means "never written"; every successful write increments it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub struct Revision(pub u64);

impl Revision {
    /// The revision a record has before it is first stored.
    pub const NEW: Revision = Revision(0);

    /// The revision after one more write.
    pub fn next(self) -> Revision {
        Revision(self.0.saturating_add(1))
    }
}

/// A marker written before a carrier or E911 side effect, so that a concurrent
/// writer on another task or instance sees the number is mid-operation
/// (claim first, then call the carrier, then commit).
///
/// A claim is stored as `{"operation", "by", "until"}`: `by` is the typed
/// [`Actor`] (`"system"` or `{"account": id}`). Claims stored by earlier
/// versions, whose `by` was the actor's display string (`"system"` or the
/// bare account id), still read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The operation holding the claim (`activate`, `reserve`, ...; `give_back`
    /// while maintenance gives an interrupted purchase back to its carrier).
    pub operation: Operation,
    /// Who holds it (for `give_back`, the claimant of the purchase being given back).
    #[serde(deserialize_with = "claimant")]
    pub by: Actor,
    /// When the claim lapses (a crashed holder does not block the number forever).
    pub until: DateTime<Utc>,
}

/// A claim's holder in either encoding: the typed [`Actor`], or the display
/// string earlier versions stored (`"system"`, else an account id).
fn claimant<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Actor, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Typed(Actor),
        Display(String),
    }
    match Stored::deserialize(d)? {
        Stored::Typed(actor) => Ok(actor),
        Stored::Display(id) => AccountId::new(&id)
            .map(Actor::Account)
            .map_err(serde::de::Error::custom),
    }
}

/// One phone number as stored: private fields plus the user's public fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumberRecord {
    /// The number (the document id).
    pub number: PhoneNumber,
    /// Current state.
    pub state: NumberState,
    /// The owning account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<AccountId>,
    /// The previous owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_assigned_to: Option<AccountId>,
    /// Accounts that reserved the number, most recent first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reserve_history: Vec<AccountId>,
    /// The application using the number (`callflow`, `trunkstore`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_by: Option<String>,
    /// The carrier module that provides the number (`local`, `simulated`, ...).
    pub carrier: String,
    /// Opaque data from the carrier (order ids, rate center, ...).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub carrier_data: Map<String, Value>,
    /// Active features and their settings (Kazoo's `pvt_features`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub features: BTreeMap<String, Value>,
    /// Per-number feature allow list (an override).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features_allowed: Vec<String>,
    /// Per-number feature deny list (an override).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features_denied: Vec<String>,
    /// Whether the number was ported in.
    #[serde(default)]
    pub ported_in: bool,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Last modification time.
    pub modified: DateTime<Utc>,
    /// When a discovery entry or a reservation lease lapses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// A claim held by an operation in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
    /// Store revision this copy was read at.
    #[serde(default)]
    pub revision: Revision,
    /// The user's public fields, in the order given (unknown keys kept).
    #[serde(default)]
    pub public: Map<String, Value>,
}

impl NumberRecord {
    /// A fresh record (revision 0) in `state`, provided by `carrier`.
    pub fn new(
        number: PhoneNumber,
        state: NumberState,
        carrier: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Self {
        let carrier = carrier.into();
        let mut features = BTreeMap::new();
        if carrier == "local" {
            features.insert("local".to_string(), json!({}));
        }
        NumberRecord {
            number,
            state,
            assigned_to: None,
            prev_assigned_to: None,
            reserve_history: Vec::new(),
            used_by: None,
            carrier,
            carrier_data: Map::new(),
            features,
            features_allowed: Vec::new(),
            features_denied: Vec::new(),
            ported_in: false,
            created: now,
            modified: now,
            expires_at: None,
            pending: None,
            revision: Revision::NEW,
            public: Map::new(),
        }
    }

    /// Whether the record is a discovery entry or lease whose time has passed.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }

    /// Whether another operation holds a live claim on the number.
    pub fn is_claimed(&self, now: DateTime<Utc>) -> bool {
        self.pending.as_ref().is_some_and(|p| p.until > now)
    }

    /// Sets the owner with Kazoo's side effects: a real change
    /// remembers the previous owner and clears `used_by`.
    pub fn set_assigned_to(&mut self, to: Option<AccountId>) {
        if self.assigned_to == to {
            return;
        }
        if let Some(old) = self.assigned_to.take() {
            self.prev_assigned_to = Some(old);
        }
        self.assigned_to = to;
        self.used_by = None;
    }

    /// The public fields with typed accessors (a copy; see
    /// [`set_public_fields`](Self::set_public_fields)).
    pub fn public_fields(&self) -> PublicFields {
        PublicFields::from(self.public.clone())
    }

    /// Replaces the public fields.
    pub fn set_public_fields(&mut self, fields: PublicFields) {
        self.public = fields.into_map();
    }

    /// Sorted feature names.
    pub fn feature_names(&self) -> Vec<String> {
        self.features.keys().cloned().collect()
    }
}

/// Keys that may never be written through public fields (they are derived or private).
const RESERVED_KEYS: &[&str] = &[
    "id",
    "state",
    "features",
    "used_by",
    "numbers",
    "create_with_state",
];

/// Cleans user input into public fields: keys starting with `_`
/// or `pvt_`, and the derived keys `id`, `state`, `features`, `used_by`,
/// `numbers`, `create_with_state`, are dropped. `dash_e911` is kept as the
/// user's alias of `e911` unless `e911` itself is given, so the
/// answer echoes the key the user wrote.
pub fn sanitize_public(input: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in input {
        if k.starts_with('_') || k.starts_with("pvt_") || RESERVED_KEYS.contains(&k.as_str()) {
            continue;
        }
        if k == "dash_e911" && input.contains_key("e911") {
            continue;
        }
        out.insert(k.clone(), v.clone());
    }
    out
}

/// The key holding the E911 address in public fields (`e911`, or its alias
/// `dash_e911`), if either is present.
pub(crate) fn e911_key(public: &Map<String, Value>) -> Option<&'static str> {
    if public.contains_key("e911") {
        Some("e911")
    } else if public.contains_key("dash_e911") {
        Some("dash_e911")
    } else {
        None
    }
}

/// Deep merge for PATCH (Kazoo's `update_doc`): the right side wins,
/// `null` deletes a key, and an empty object replaces rather than merges.
pub fn merge_public(base: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        match v {
            Value::Null => {
                base.remove(k);
            }
            Value::Object(p) if !p.is_empty() => match base.get_mut(k) {
                Some(Value::Object(b)) => merge_public(b, p),
                _ => {
                    let mut fresh = Map::new();
                    merge_public(&mut fresh, p);
                    base.insert(k.clone(), Value::Object(fresh));
                }
            },
            other => {
                base.insert(k.clone(), other.clone());
            }
        }
    }
}

fn str_len_check(
    errors: &mut Vec<FieldError>,
    field: &str,
    v: &Value,
    min: usize,
    max: Option<usize>,
) {
    match v.as_str() {
        None => errors.push(FieldError::new(
            field,
            "type",
            format!("{field} must be a string"),
        )),
        Some(s) => {
            let n = s.chars().count();
            if n < min {
                errors.push(FieldError::new(
                    field,
                    "minLength",
                    format!("String must be at least {min} characters"),
                ));
            }
            if let Some(max) = max {
                if n > max {
                    errors.push(FieldError::new(
                        field,
                        "maxLength",
                        format!("String must not be more than {max} characters"),
                    ));
                }
            }
        }
    }
}

const E911_STATUSES: &[&str] = &["INVALID", "GEOCODED", "PROVISIONED", "REMOVED", "ERROR"];

/// Validates public fields against Kazoo's `phone_numbers` schema and the
/// default [`Limits`]; see [`validate_public_within`].
pub fn validate_public(fields: &Map<String, Value>) -> Result<()> {
    validate_public_within(fields, &Limits::default())
}

/// Validates public fields against Kazoo's `phone_numbers` schema:
/// `carrier_name` 1..30, `cnam.display_name` 1..15, `cnam.inbound_lookup` bool,
/// `create_with_state` a state, `e911` with its required fields, a 2-character
/// region, `caller_name` of at least 3 characters, a known `status`,
/// `legacy_data` an object of strings, and `porting` an object of strings
/// whose `comments` is an array of strings; then against `limits` (nesting,
/// string and key lengths, entry count, size). All failures are reported
/// together.
pub fn validate_public_within(fields: &Map<String, Value>, limits: &Limits) -> Result<()> {
    let mut errors = Vec::new();
    schema_errors(fields, &mut errors);
    limits.public_errors(fields, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation { errors })
    }
}

/// Validates a PATCH body before it is merged into stored fields: the types,
/// lengths and limits of what it sets, but not `required` (the stored fields
/// may supply it) and not the `null`s that delete keys. The merged result is
/// validated again with [`validate_public_within`].
pub fn validate_patch_within(patch: &Map<String, Value>, limits: &Limits) -> Result<()> {
    fn prune(v: &Value) -> Option<Value> {
        match v {
            Value::Null => None,
            Value::Object(m) => Some(Value::Object(
                m.iter()
                    .filter_map(|(k, v)| prune(v).map(|v| (k.clone(), v)))
                    .collect(),
            )),
            other => Some(other.clone()),
        }
    }
    let pruned: Map<String, Value> = patch
        .iter()
        .filter_map(|(k, v)| prune(v).map(|v| (k.clone(), v)))
        .collect();
    match validate_public_within(&pruned, limits) {
        Err(Error::Validation { errors }) => {
            let errors: Vec<_> = errors
                .into_iter()
                .filter(|e| e.code != "required")
                .collect();
            if errors.is_empty() {
                Ok(())
            } else {
                Err(Error::Validation { errors })
            }
        }
        other => other,
    }
}

fn schema_errors(fields: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    if let Some(v) = fields.get("carrier_name") {
        str_len_check(errors, "carrier_name", v, 1, Some(30));
    }
    if let Some(v) = fields.get("create_with_state") {
        match v.as_str().map(str::parse::<NumberState>) {
            Some(Ok(_)) => {}
            _ => errors.push(FieldError::new(
                "create_with_state",
                "enum",
                "Value not found in enumerated list of values",
            )),
        }
    }
    if let Some(cnam) = fields.get("cnam") {
        validate_cnam(errors, cnam);
    }
    for key in ["e911", "dash_e911"] {
        if let Some(e911) = fields.get(key) {
            validate_e911(errors, key, e911);
        }
    }
    if let Some(p) = fields.get("porting") {
        validate_porting(errors, p);
    }
}

fn validate_cnam(errors: &mut Vec<FieldError>, cnam: &Value) {
    let Value::Object(c) = cnam else {
        errors.push(FieldError::new("cnam", "type", "cnam must be an object"));
        return;
    };
    if let Some(v) = c.get("display_name") {
        str_len_check(errors, "cnam.display_name", v, 1, Some(15));
    }
    if let Some(v) = c.get("inbound_lookup") {
        if !v.is_boolean() {
            errors.push(FieldError::new(
                "cnam.inbound_lookup",
                "type",
                "cnam.inbound_lookup must be a boolean",
            ));
        }
    }
}

/// The string sub-fields of `porting` (Kazoo's schema).
const PORTING_STRINGS: &[&str] = &[
    "billing_account_id",
    "billing_extended_address",
    "billing_locality",
    "billing_name",
    "billing_postal_code",
    "billing_region",
    "billing_street_address",
    "billing_telephone_number",
    "customer_contact",
    "port_id",
    "requested_port_date",
    "service_provider",
];

fn validate_porting(errors: &mut Vec<FieldError>, porting: &Value) {
    let Value::Object(p) = porting else {
        errors.push(FieldError::new(
            "porting",
            "type",
            "porting must be an object",
        ));
        return;
    };
    optional_strings(errors, "porting", p, PORTING_STRINGS);
    match p.get("comments") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if !item.is_string() {
                    errors.push(FieldError::new(
                        format!("porting.comments.{i}"),
                        "type",
                        format!("porting.comments.{i} must be a string"),
                    ));
                }
            }
        }
        Some(_) => errors.push(FieldError::new(
            "porting.comments",
            "type",
            "porting.comments must be an array of strings",
        )),
    }
}

/// Each of `keys` in `object`, when present and not `null`, must be a string.
fn optional_strings(
    errors: &mut Vec<FieldError>,
    prefix: &str,
    object: &Map<String, Value>,
    keys: &[&str],
) {
    for key in keys {
        if let Some(v) = object.get(*key) {
            if !v.is_string() && !v.is_null() {
                errors.push(FieldError::new(
                    format!("{prefix}.{key}"),
                    "type",
                    format!("{prefix}.{key} must be a string"),
                ));
            }
        }
    }
}

fn validate_e911(errors: &mut Vec<FieldError>, key: &str, e911: &Value) {
    let Value::Object(e) = e911 else {
        errors.push(FieldError::new(
            key,
            "type",
            format!("{key} must be an object"),
        ));
        return;
    };
    // An empty object means "remove E911", which is allowed.
    if e.is_empty() {
        return;
    }
    for req in ["street_address", "locality", "region", "postal_code"] {
        match e.get(req) {
            None | Some(Value::Null) => errors.push(FieldError::new(
                format!("{key}.{req}"),
                "required",
                "Field is required but missing",
            )),
            Some(v) => str_len_check(errors, &format!("{key}.{req}"), v, 1, None),
        }
    }
    if let Some(v @ Value::String(_)) = e.get("region") {
        str_len_check(errors, &format!("{key}.region"), v, 2, Some(2));
    }
    if let Some(v) = e.get("caller_name") {
        str_len_check(errors, &format!("{key}.caller_name"), v, 3, None);
    }
    if let Some(v) = e.get("status") {
        if !v.as_str().is_some_and(|s| E911_STATUSES.contains(&s)) {
            errors.push(FieldError::new(
                format!("{key}.status"),
                "enum",
                "Value not found in enumerated list of values",
            ));
        }
    }
    optional_strings(
        errors,
        key,
        e,
        &[
            "extended_address",
            "activated_time",
            "latitude",
            "longitude",
            "location_id",
            "plus_four",
        ],
    );
    match e.get("legacy_data") {
        None | Some(Value::Null) => {}
        Some(Value::Object(legacy)) => optional_strings(
            errors,
            &format!("{key}.legacy_data"),
            legacy,
            &["house_number", "predirectional", "streetname", "suite"],
        ),
        Some(_) => errors.push(FieldError::new(
            format!("{key}.legacy_data"),
            "type",
            format!("{key}.legacy_data must be an object"),
        )),
    }
}

/// The carrier modules whose numbers are local.
pub const LOCAL_MODULES: [&str; 2] = ["local", "mdn"];

/// Whether numbers of carrier module `name` are local: a module named
/// `local` or `mdn` ([`LOCAL_MODULES`]), and no other, whatever carriers are
/// configured. A local number may be released from any state, is deleted when
/// released, and is denied external features by default; every other number,
/// including one of a module no carrier in the registry has, belongs to a
/// carrier upstream, so a release keeps it in the inventory.
///
/// ```
/// use number_manager::record::is_local_module;
/// assert!(is_local_module("local") && is_local_module("mdn"));
/// assert!(!is_local_module("bandwidth2") && !is_local_module("gone_carrier"));
/// ```
pub fn is_local_module(name: &str) -> bool {
    LOCAL_MODULES.contains(&name)
}
