//! Typed views of the public fields Kazoo's API defines: [`Cnam`],
//! [`E911Address`], [`Porting`], [`Prepend`], [`Failover`], [`Ringback`],
//! [`Messaging`] (`sms`, `mms`), `force_outbound` and `carrier_name`, and
//! [`PublicFields`], which reads and writes them over the JSON map a record
//! stores while every other (custom) key stays as it is, in its place.
//!
//! Each type's serde shape is Kazoo's JSON exactly: absent fields are
//! omitted rather than written as `null`, and fields appear in Kazoo's
//! order. The stored format is the JSON map, so records read and write the
//! same documents whether a host uses the typed views or not.
//!
//! The typed views check types, not the schema's lengths and enumerations
//! (`cnam.display_name` 1..15, a 2-character `e911.region`, ...): a write
//! through [`NumberManager`](crate::NumberManager) validates those.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Caller-id name (`cnam`): `display_name` enables outbound CNAM,
/// `inbound_lookup: true` inbound lookups.
///
/// ```
/// use number_manager::fields::Cnam;
/// let cnam = Cnam::new("My caller ID").with_inbound_lookup(true);
/// assert_eq!(
///     serde_json::to_value(&cnam).unwrap(),
///     serde_json::json!({"display_name": "My caller ID", "inbound_lookup": true})
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cnam {
    /// The outbound caller-id name (1 to 15 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Whether inbound calls look the caller's name up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound_lookup: Option<bool>,
}

impl Cnam {
    /// A CNAM with this outbound display name.
    pub fn new(display_name: impl Into<String>) -> Self {
        Cnam {
            display_name: Some(display_name.into()),
            inbound_lookup: None,
        }
    }

    /// Sets whether inbound calls look the caller's name up.
    pub fn with_inbound_lookup(mut self, lookup: bool) -> Self {
        self.inbound_lookup = Some(lookup);
        self
    }
}

/// Legacy (MSAG) parts of an E911 address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyData {
    /// House number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub house_number: Option<String>,
    /// Pre-directional (`N`, `SW`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predirectional: Option<String>,
    /// Street name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streetname: Option<String>,
    /// Suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
}

/// An E911 service address (`e911`, or its alias `dash_e911`), as submitted
/// or as provisioned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct E911Address {
    /// Street address (required).
    pub street_address: String,
    /// Suite / floor / apartment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_address: Option<String>,
    /// Name shown to emergency services (at least 3 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_name: Option<String>,
    /// City (required).
    pub locality: String,
    /// Latitude computed by the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<String>,
    /// Longitude computed by the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<String>,
    /// The provider's id for the location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    /// ZIP+4 extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plus_four: Option<String>,
    /// Postal code (required).
    pub postal_code: String,
    /// Region / state, 2 characters (required).
    pub region: String,
    /// `INVALID`, `GEOCODED`, `PROVISIONED`, `REMOVED` or `ERROR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// When it was provisioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_time: Option<String>,
    /// Legacy address parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_data: Option<LegacyData>,
}

impl E911Address {
    /// An address with the four required fields.
    ///
    /// ```
    /// use number_manager::fields::E911Address;
    /// let a = E911Address::new("116 Natoma St", "San Francisco", "CA", "94105")
    ///     .with_extended_address("APT 116");
    /// assert_eq!(a.to_json()["extended_address"], "APT 116");
    /// ```
    pub fn new(
        street_address: impl Into<String>,
        locality: impl Into<String>,
        region: impl Into<String>,
        postal_code: impl Into<String>,
    ) -> Self {
        E911Address {
            street_address: street_address.into(),
            locality: locality.into(),
            region: region.into(),
            postal_code: postal_code.into(),
            ..E911Address::default()
        }
    }

    /// Sets the suite / floor / apartment.
    pub fn with_extended_address(mut self, extended: impl Into<String>) -> Self {
        self.extended_address = Some(extended.into());
        self
    }

    /// Sets the name shown to emergency services.
    pub fn with_caller_name(mut self, name: impl Into<String>) -> Self {
        self.caller_name = Some(name.into());
        self
    }

    /// Reads an address from the public `e911` object.
    pub fn from_json(value: &Value) -> Result<Self> {
        serde_json::from_value(value.clone())
            .map_err(|e| Error::validation("e911", "type", format!("invalid e911 address: {e}")))
    }

    /// The address as a JSON object (absent fields omitted).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Object(Map::new()))
    }

    /// Only the fields a user submits (what Kazoo echoes back as `cause`).
    pub fn submitted_json(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "postal_code".into(),
            Value::String(self.postal_code.clone()),
        );
        m.insert(
            "street_address".into(),
            Value::String(self.street_address.clone()),
        );
        if let Some(x) = &self.extended_address {
            m.insert("extended_address".into(), Value::String(x.clone()));
        }
        m.insert("locality".into(), Value::String(self.locality.clone()));
        m.insert("region".into(), Value::String(self.region.clone()));
        Value::Object(m)
    }
}

/// Porting (in) information (`porting`): what the losing carrier has on file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Porting {
    /// The account id the losing carrier has on file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_account_id: Option<String>,
    /// The suite / floor / apartment the losing carrier has on file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_extended_address: Option<String>,
    /// The locality (city) the losing carrier has on file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_locality: Option<String>,
    /// The name or company name the losing carrier has on file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_name: Option<String>,
    /// The zip / postal code the losing carrier has on file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_postal_code: Option<String>,
    /// The region (state) the losing carrier has on file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_region: Option<String>,
    /// The street address the losing carrier has on file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_street_address: Option<String>,
    /// The billing telephone number of the account the number belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_telephone_number: Option<String>,
    /// Comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<Vec<String>>,
    /// A phone number that reaches the owner of the number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_contact: Option<String>,
    /// The id of the port request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_id: Option<String>,
    /// The requested port date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_port_date: Option<String>,
    /// The name of the losing carrier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_provider: Option<String>,
}

/// Caller-id prepend (`prepend`): in service and `enabled`, calls to the
/// number show `name` before the caller id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepend {
    /// Whether the prepend is active (only `true` activates it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The text prepended to the caller-id name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The digits prepended to the caller-id number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
}

/// Where calls go when the number's devices cannot be reached (`failover`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failover {
    /// An E.164 number to forward to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e164: Option<String>,
    /// A SIP URI to forward to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip: Option<String>,
}

/// Ringback media (`ringback`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ringback {
    /// Early media played while the call rings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early: Option<String>,
    /// Media played while the call is transferred.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<String>,
}

/// Messaging for the number (`sms`, `mms`): only `enabled: true`, on an
/// assigned number in service, turns the feature on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Messaging {
    /// Whether messaging is wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// The public-field keys [`PublicFields`] has typed accessors for; every
/// other key is custom.
pub const TYPED_KEYS: &[&str] = &[
    "carrier_name",
    "cnam",
    "dash_e911",
    "e911",
    "failover",
    "force_outbound",
    "mms",
    "porting",
    "prepend",
    "ringback",
    "sms",
];

/// A number's public fields: typed get and set for the keys Kazoo's API defines,
/// over the JSON map a record stores, so custom keys keep their values and
/// their order.
///
/// A getter answers `Ok(None)` when the key is absent (or `null`), and a
/// `validation_error` when the stored value does not have the type's shape.
/// A setter given `None` removes the key; setting a key that is present keeps
/// its position in the map, a new key goes last.
///
/// ```
/// use number_manager::fields::{Cnam, Prepend, PublicFields};
/// let mut fields = PublicFields::from(serde_json::json!({"my_own_field": 1}).as_object().unwrap().clone());
/// fields.set_cnam(Some(Cnam::new("My caller ID")));
/// fields.set_prepend(Some(Prepend { enabled: Some(true), name: Some("VIP".into()), number: None }));
/// assert_eq!(fields.cnam().unwrap().unwrap().display_name.as_deref(), Some("My caller ID"));
/// assert_eq!(fields.custom().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["my_own_field"]);
/// let stored = fields.into_map();
/// assert_eq!(stored.keys().collect::<Vec<_>>(), ["my_own_field", "cnam", "prepend"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PublicFields(Map<String, Value>);

impl From<Map<String, Value>> for PublicFields {
    fn from(map: Map<String, Value>) -> Self {
        PublicFields(map)
    }
}

impl From<PublicFields> for Map<String, Value> {
    fn from(fields: PublicFields) -> Self {
        fields.0
    }
}

impl PublicFields {
    /// No fields.
    pub fn new() -> Self {
        PublicFields::default()
    }

    /// The fields as the JSON map that is stored and sent.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The JSON map, mutably (for custom keys).
    pub fn as_map_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.0
    }

    /// The JSON map.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// The custom keys (those without a typed accessor), in order.
    pub fn custom(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0
            .iter()
            .filter(|(k, _)| !TYPED_KEYS.contains(&k.as_str()))
    }

    /// Reads `key` as `T`.
    fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|e| {
                Error::validation(key, "type", format!("{key} does not have its shape: {e}"))
            }),
        }
    }

    /// Writes `key` (or removes it for `None`), keeping its position.
    fn set<T: Serialize>(&mut self, key: &str, value: Option<&T>) -> &mut Self {
        match value.and_then(|v| serde_json::to_value(v).ok()) {
            Some(v) => {
                self.0.insert(key.to_string(), v);
            }
            None => {
                self.0.shift_remove(key);
            }
        }
        self
    }

    /// `cnam`.
    pub fn cnam(&self) -> Result<Option<Cnam>> {
        self.get("cnam")
    }

    /// Sets or removes `cnam`.
    pub fn set_cnam(&mut self, cnam: Option<Cnam>) -> &mut Self {
        self.set("cnam", cnam.as_ref())
    }

    /// The E911 address: `e911`, else its alias `dash_e911`.
    pub fn e911(&self) -> Result<Option<E911Address>> {
        if matches!(self.0.get("e911"), None | Some(Value::Null)) {
            self.get("dash_e911")
        } else {
            self.get("e911")
        }
    }

    /// Sets the E911 address under `e911` and drops the alias `dash_e911`
    /// (so one address is stored); `None` removes both.
    pub fn set_e911(&mut self, address: Option<E911Address>) -> &mut Self {
        self.0.shift_remove("dash_e911");
        self.set("e911", address.as_ref())
    }

    /// `porting`.
    pub fn porting(&self) -> Result<Option<Porting>> {
        self.get("porting")
    }

    /// Sets or removes `porting`.
    pub fn set_porting(&mut self, porting: Option<Porting>) -> &mut Self {
        self.set("porting", porting.as_ref())
    }

    /// `prepend`.
    pub fn prepend(&self) -> Result<Option<Prepend>> {
        self.get("prepend")
    }

    /// Sets or removes `prepend`.
    pub fn set_prepend(&mut self, prepend: Option<Prepend>) -> &mut Self {
        self.set("prepend", prepend.as_ref())
    }

    /// `failover`.
    pub fn failover(&self) -> Result<Option<Failover>> {
        self.get("failover")
    }

    /// Sets or removes `failover`.
    pub fn set_failover(&mut self, failover: Option<Failover>) -> &mut Self {
        self.set("failover", failover.as_ref())
    }

    /// `ringback`.
    pub fn ringback(&self) -> Result<Option<Ringback>> {
        self.get("ringback")
    }

    /// Sets or removes `ringback`.
    pub fn set_ringback(&mut self, ringback: Option<Ringback>) -> &mut Self {
        self.set("ringback", ringback.as_ref())
    }

    /// `sms`.
    pub fn sms(&self) -> Result<Option<Messaging>> {
        self.get("sms")
    }

    /// Sets or removes `sms`.
    pub fn set_sms(&mut self, sms: Option<Messaging>) -> &mut Self {
        self.set("sms", sms.as_ref())
    }

    /// `mms`.
    pub fn mms(&self) -> Result<Option<Messaging>> {
        self.get("mms")
    }

    /// Sets or removes `mms`.
    pub fn set_mms(&mut self, mms: Option<Messaging>) -> &mut Self {
        self.set("mms", mms.as_ref())
    }

    /// `force_outbound`.
    pub fn force_outbound(&self) -> Result<Option<bool>> {
        self.get("force_outbound")
    }

    /// Sets or removes `force_outbound`.
    pub fn set_force_outbound(&mut self, force: Option<bool>) -> &mut Self {
        self.set("force_outbound", force.as_ref())
    }

    /// `carrier_name` (a request, by master, to move the number to that
    /// carrier module; it is consumed when applied).
    pub fn carrier_name(&self) -> Result<Option<String>> {
        self.get("carrier_name")
    }

    /// Sets or removes `carrier_name`.
    pub fn set_carrier_name(&mut self, name: Option<String>) -> &mut Self {
        self.set("carrier_name", name.as_ref())
    }
}
