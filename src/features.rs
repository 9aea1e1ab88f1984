//! Features: how public fields turn into a number's active features, and
//! which features a number may use.
//!
//! Everything here is pure. The E911 feature needs the provider, so
//! `apply` only decides what E911 must do (an `E911Step`); the manager
//! performs it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};

/// Allow and deny lists; they live with the accounts that carry them.
pub use crate::account::FeatureLists;
use crate::record::{e911_key, NumberRecord};
use crate::state::NumberState;

/// Kazoo's own features.
pub const KAZOO_FEATURES: &[&str] = &["failover", "force_outbound", "prepend", "ringback"];
/// Features served by external providers.
pub const EXTERNAL_FEATURES: &[&str] = &[
    "cnam",
    "inbound_cnam",
    "outbound_cnam",
    "e911",
    "port",
    "sms",
    "mms",
];
/// Features only master may set.
pub const ADMIN_ONLY_FEATURES: &[&str] = &["carrier_name"];

/// Every user-requestable feature (the default system allow list).
pub fn all_features() -> Vec<String> {
    KAZOO_FEATURES
        .iter()
        .chain(EXTERNAL_FEATURES)
        .chain(ADMIN_ONLY_FEATURES)
        .map(|s| s.to_string())
        .collect()
}

/// Public-field keys that request a feature.
const REQUESTING_KEYS: &[&str] = &[
    "cnam",
    "e911",
    "dash_e911",
    "failover",
    "force_outbound",
    "port",
    "prepend",
    "carrier_name",
    "ringback",
    "sms",
    "mms",
];

/// Folds legacy names onto canonical ones (`dash_e911` -> `e911`, `knm_x` -> `x`, ...).
pub fn canonical(name: &str) -> String {
    let n = name
        .strip_prefix("knm_")
        .or_else(|| name.strip_prefix("wnm_"))
        .unwrap_or(name);
    match n {
        "dash_e911" | "vitelity_e911" | "telnyx_e911" => "e911".into(),
        "cnam_notifier" | "telnyx_cnam" | "vitelity_cnam" => "cnam".into(),
        "port_notifier" => "port".into(),
        "rename_carrier" => "carrier_name".into(),
        other => other.into(),
    }
}

/// Feature configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FeatureConfig {
    /// System lists (`allow` defaults to every feature).
    pub system: FeatureLists,
    /// Let local numbers use external features.
    pub local_feature_override: bool,
}

crate::util::with_setters!(FeatureConfig {
    /// Sets the system allow and deny lists ([`FeatureConfig::system`]).
    with_system => system: FeatureLists;
    /// Sets [`FeatureConfig::local_feature_override`].
    with_local_feature_override => local_feature_override: bool;
});

/// [`FeatureConfig`] as a config file spells it: every field optional, unknown
/// keys refused (the same fields, so serde reads straight into it).
#[derive(Serialize, Deserialize)]
#[serde(remote = "FeatureConfig", deny_unknown_fields)]
pub(crate) struct FeatureConfigDef {
    #[serde(default, with = "FeatureListsDef")]
    system: FeatureLists,
    #[serde(default)]
    local_feature_override: bool,
}

/// [`FeatureLists`] as a config file spells it (see [`FeatureConfigDef`]).
#[derive(Serialize, Deserialize)]
#[serde(remote = "FeatureLists", deny_unknown_fields)]
struct FeatureListsDef {
    #[serde(default)]
    allow: Option<Vec<String>>,
    #[serde(default)]
    deny: Option<Vec<String>>,
}

/// Everything [`available`] and `apply` need beyond the record.
#[derive(Debug, Clone)]
pub(crate) struct FeatureContext<'a> {
    /// System configuration.
    pub config: &'a FeatureConfig,
    /// The owner's reseller lists, if any.
    pub reseller: Option<&'a FeatureLists>,
    /// The actor is master or system.
    pub admin: bool,
    /// Carrier modules the system knows (for `carrier_name`).
    pub known_carriers: &'a [String],
}

impl FeatureContext<'_> {
    /// Whether numbers of `module` are local: the module is named `local` or
    /// `mdn` ([`is_local_module`](crate::record::is_local_module)).
    pub fn is_local(&self, module: &str) -> bool {
        crate::record::is_local_module(module)
    }
}

/// The features this number may enable: allowed minus denied.
pub(crate) fn available(record: &NumberRecord, ctx: &FeatureContext<'_>) -> BTreeSet<String> {
    let system_allow: Vec<String> = ctx.config.system.allow.clone().unwrap_or_else(all_features);
    let allowed: Vec<String> = if !record.features_allowed.is_empty() {
        record.features_allowed.clone()
    } else if record.assigned_to.is_none() {
        system_allow
    } else {
        match ctx.reseller.and_then(|r| r.allow.clone()) {
            Some(list) if !list.is_empty() => list,
            _ => system_allow,
        }
    };
    let mut denied: BTreeSet<String> = BTreeSet::new();
    if !record.features_denied.is_empty() {
        denied.extend(record.features_denied.iter().map(|f| canonical(f)));
    } else {
        let reseller_deny = ctx
            .reseller
            .and_then(|r| r.deny.clone())
            .or_else(|| ctx.config.system.deny.clone());
        if record.assigned_to.is_none() {
            denied.extend(EXTERNAL_FEATURES.iter().map(|s| s.to_string()));
        } else if let Some(list) = reseller_deny {
            denied.extend(list.iter().map(|f| canonical(f)));
        } else if ctx.is_local(&record.carrier) && !ctx.config.local_feature_override {
            denied.extend(EXTERNAL_FEATURES.iter().map(|s| s.to_string()));
        }
        if record.used_by.as_deref() != Some("trunkstore") {
            denied.insert("failover".into());
        }
    }
    if !ctx.admin {
        denied.insert("carrier_name".into());
    }
    let mut out: BTreeSet<String> = allowed
        .iter()
        .map(|f| canonical(f))
        .filter(|f| !denied.contains(f))
        .collect();
    // cnam grants both directions.
    if out.contains("cnam") {
        out.insert("inbound_cnam".into());
        out.insert("outbound_cnam".into());
    }
    if !(record.state == NumberState::InService && record.assigned_to.is_some()) {
        out.remove("sms");
        out.remove("mms");
    }
    out
}

/// What the E911 provider must do for this save.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum E911Step {
    /// Nothing.
    None,
    /// Validate and provision this address (from the public field under `key`).
    Provision {
        /// The public key the user wrote (`e911` or `dash_e911`).
        key: &'static str,
        /// The submitted address.
        address: Value,
    },
    /// Remove the number's address upstream.
    Remove,
}

fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Bool(_)) | Some(Value::Number(_)) => false,
    }
}

const CNAM_STATES: &[NumberState] = &[
    NumberState::Reserved,
    NumberState::InService,
    NumberState::PortIn,
];

/// Recomputes `record.features` from its public fields,
/// in place. Fails with 403 when a requested feature is not available, and with
/// 400 `invalid` for an unknown `carrier_name`. Returns what E911 must do.
pub(crate) fn apply(record: &mut NumberRecord, ctx: &FeatureContext<'_>) -> Result<E911Step> {
    let available = available(record, ctx);
    check_requested(&record.public, &available)?;
    apply_carrier_name(record, ctx)?;
    // The carrier may just have been renamed: ask about the current one.
    let local = ctx.is_local(&record.carrier);
    let state = record.state;
    let (public, features) = (&record.public, &mut record.features);
    // CNAM: only in reserved, in_service, port_in; other states leave it as is.
    if CNAM_STATES.contains(&state) {
        cnam_features(public, features);
    }
    if state == NumberState::InService {
        copy_in_service(public, features, &available);
    } else {
        for key in IN_SERVICE_FEATURES {
            features.remove(*key);
        }
    }
    if state == NumberState::PortIn {
        if let Some(p) = public.get("port").filter(|p| !is_empty(Some(p))) {
            features.insert("port".into(), p.clone());
        }
    } else {
        features.remove("port");
    }
    if local {
        features
            .entry("local".to_string())
            .or_insert_with(|| json!({}));
    } else {
        features.remove("local");
    }
    let step = e911_step(state, public, features);
    if step == E911Step::Remove {
        features.remove("e911");
    }
    Ok(step)
}

/// Features that copy their public object, in service only.
const IN_SERVICE_FEATURES: &[&str] = &[
    "prepend",
    "failover",
    "force_outbound",
    "ringback",
    "sms",
    "mms",
];

/// Fails when a feature the public fields request is not available
/// (sms and mms are silently dropped instead, as in Kazoo).
fn check_requested(public: &Map<String, Value>, available: &BTreeSet<String>) -> Result<()> {
    let mut requested: BTreeSet<String> = public
        .iter()
        .filter(|(k, v)| REQUESTING_KEYS.contains(&k.as_str()) && !is_empty(Some(v)))
        .map(|(k, _)| canonical(k))
        .collect();
    requested.remove("local");
    for f in &requested {
        let group_ok = match f.as_str() {
            "cnam" => {
                available.contains("cnam")
                    || available.contains("outbound_cnam")
                    || available.contains("inbound_cnam")
            }
            "sms" | "mms" => true,
            other => available.contains(other),
        };
        if !group_ok {
            return Err(Error::forbidden(format!(
                "feature '{f}' is not allowed on this number"
            )));
        }
    }
    Ok(())
}

/// A `carrier_name` public field moves the number to that (known) carrier
/// module and is consumed.
fn apply_carrier_name(record: &mut NumberRecord, ctx: &FeatureContext<'_>) -> Result<()> {
    let Some(name) = record.public.get("carrier_name").and_then(Value::as_str) else {
        return Ok(());
    };
    let module = canonical(name);
    if !ctx.known_carriers.iter().any(|c| c == &module) {
        return Err(Error::Invalid {
            cause: format!("'{name}' is not known by the system"),
        });
    }
    record.carrier = module;
    record.public.remove("carrier_name");
    Ok(())
}

/// `cnam.display_name` enables outbound CNAM, `cnam.inbound_lookup` inbound.
fn cnam_features(public: &Map<String, Value>, features: &mut BTreeMap<String, Value>) {
    let cnam = public.get("cnam");
    match cnam
        .and_then(|c| c.get("display_name"))
        .and_then(Value::as_str)
    {
        Some(name) if !name.is_empty() => {
            features.insert("outbound_cnam".into(), json!({ "display_name": name }));
        }
        _ => {
            features.remove("outbound_cnam");
        }
    }
    if cnam
        .and_then(|c| c.get("inbound_lookup"))
        .and_then(Value::as_bool)
        == Some(true)
    {
        features.insert("inbound_cnam".into(), json!({ "inbound_lookup": true }));
    } else {
        features.remove("inbound_cnam");
    }
    features.remove("cnam");
}

/// In service, each of [`IN_SERVICE_FEATURES`] copies its public object
/// when it is set (and, for prepend, sms and mms, enabled).
fn copy_in_service(
    public: &Map<String, Value>,
    features: &mut BTreeMap<String, Value>,
    available: &BTreeSet<String>,
) {
    let enabled = |key: &str| {
        public
            .get(key)
            .and_then(|v| v.get("enabled"))
            .and_then(Value::as_bool)
            == Some(true)
    };
    for key in IN_SERVICE_FEATURES {
        let keep = match *key {
            "prepend" => enabled("prepend"),
            "force_outbound" => public.get(*key).is_some_and(Value::is_boolean),
            "sms" | "mms" => enabled(key) && available.contains(*key),
            _ => !is_empty(public.get(*key)),
        };
        match public.get(*key).filter(|_| keep) {
            Some(v) => {
                features.insert((*key).to_string(), v.clone());
            }
            None => {
                features.remove(*key);
            }
        }
    }
}

/// What E911 must do: in a CNAM state, provision a submitted address that
/// differs from the provisioned one, or remove one no longer submitted; in
/// any other state, remove it.
fn e911_step(
    state: NumberState,
    public: &Map<String, Value>,
    features: &BTreeMap<String, Value>,
) -> E911Step {
    let provisioned = features.contains_key("e911");
    if !CNAM_STATES.contains(&state) {
        return if provisioned {
            E911Step::Remove
        } else {
            E911Step::None
        };
    }
    let key = e911_key(public);
    let submitted = key
        .and_then(|k| public.get(k))
        .filter(|v| !is_empty(Some(v)));
    match (submitted, key) {
        (None, _) if provisioned => E911Step::Remove,
        (None, _) => E911Step::None,
        (Some(addr), Some(k)) if features.get("e911") != Some(addr) => E911Step::Provision {
            key: k,
            address: addr.clone(),
        },
        (Some(_), _) => E911Step::None,
    }
}
