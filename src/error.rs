//! The error catalogue: one [`Error`] enum for the whole crate.
//!
//! Every variant knows its API error name ([`Error::name`]), its HTTP code
//! ([`Error::code`]), its message ([`Error::message`]) and its cause
//! ([`Error::cause`]). [`Error::to_json`] gives the knm error object that the
//! seeds show inside collection error maps, and [`Error::envelope`] gives the
//! `(status, message, data)` triple of the API's error envelope, which differs
//! from `to_json` for a few errors (`bad_identifier`, `invalid data`,
//! `multiple_choice`, `validation error`, `init failed`).
//!
//! Variants that come in several sorts carry a kind: [`ConflictKind`],
//! [`UnspecifiedKind`], [`NotIdentifiedReason`], [`CarrierFault`] and
//! [`DatabaseFault`]. Store and carrier errors keep the backend's own error as
//! their [`Source`] ([`std::error::Error::source`]). [`Error::is_retryable`]
//! says whether the same request may succeed later.

use serde_json::{json, Map, Value};

use crate::state::{NumberState, ParseError, PortState};

mod eq;
mod kind;
mod source;

pub use kind::{CarrierFault, ConflictKind, DatabaseFault, NotIdentifiedReason, UnspecifiedKind};
pub use source::Source;

/// The crate-wide result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One failed check of a request body against the seeds' schema.
///
/// Rendered in the API as `{"<field>": {"<code>": {"message": "..."}}}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldError {
    /// Dotted path of the offending property, e.g. `cnam.display_name`.
    pub field: String,
    /// JSON-schema keyword that failed: `required`, `minLength`, `maxLength`, `type`, `enum`, ...
    pub code: String,
    /// Human readable explanation.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        FieldError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Every way an operation of this crate can fail.
///
/// The variants are semantic (callers match on them); each maps to exactly one
/// API error name and HTTP code, listed on the variant.
///
/// Two errors are equal when every field but their sources is: a [`Source`]
/// is for diagnosis, is not serialized, and takes no part in comparisons, so
/// an error equals itself read back from storage.
#[derive(Debug, Clone, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Error {
    /// 409 `number_exists`: create on a number that already exists (and is not
    /// aging, available or port_in).
    #[error("number {number} already exists")]
    NumberExists {
        /// The E.164 number.
        number: String,
    },
    /// 404 `not_found` (API envelope: `bad_identifier`): the number does not
    /// exist, or the actor may not know that it does.
    #[error("number {number} not found")]
    NotFound {
        /// The number as looked up.
        number: String,
    },
    /// 404 `not_reconcilable`: the input cannot be turned into an E.164 number.
    #[error("number {number} is not reconcilable")]
    NotReconcilable {
        /// The raw input.
        number: String,
    },
    /// 403 `forbidden`: the actor may not perform this operation.
    #[error("requestor is unauthorized to perform operation{}", fmt_cause(.cause))]
    Unauthorized {
        /// Why, when there is more to say (e.g. `can not assign to self`).
        cause: Option<String>,
    },
    /// 400 `no_change_required`: the operation would change nothing
    /// (e.g. reserving a number onto the account that already holds it).
    #[error("no change required")]
    NoChangeRequired {
        /// The number.
        number: String,
    },
    /// 400 `invalid_state_transition`, cause `from <a> to <b>`.
    #[error("invalid state transition from {} to {to}", fmt_state(.from))]
    InvalidStateTransition {
        /// The current state, if the number exists.
        from: Option<NumberState>,
        /// The requested state.
        to: NumberState,
    },
    /// 400 `invalid_state_transition`, cause `from 'MDN' to <b>`: an MDN
    /// number (carrier module `mdn`) only ever stays `in_service`, so it is
    /// never reserved, made available, aged or ported.
    #[error("invalid state transition from 'MDN' to {to}")]
    InvalidMdnTransition {
        /// The requested state.
        to: NumberState,
    },
    /// 400 `invalid_state_transition`, cause `from <a> to <b>`: a port request
    /// move the port state machine does not have.
    #[error("invalid port request transition from {from} to {to}")]
    InvalidPortTransition {
        /// The request's state.
        from: PortState,
        /// The requested state.
        to: PortState,
    },
    /// 403 `user_not_allowed`: the actor may not make this port request move.
    #[error("user not allowed{}", .cause.as_ref().map(|c| format!(": {c}")).unwrap_or_default())]
    UserNotAllowed {
        /// Who tried what.
        cause: Option<String>,
    },
    /// 413 `payload_too_large`: a port request attachment is larger than
    /// [`Limits::max_attachment_bytes`](crate::Limits::max_attachment_bytes).
    #[error("attachment {name} is {size} bytes; at most {limit} are accepted")]
    AttachmentTooLarge {
        /// The attachment's name.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// 400 `assign_failure`: no valid account to assign the number to.
    #[error("invalid account to assign to: {cause}")]
    AssignFailure {
        /// What was wrong (`field_undefined`, ...).
        cause: String,
    },
    /// 400 `number_is_porting`: the number is in an active port request.
    #[error("number {number} is porting")]
    NumberIsPorting {
        /// The number.
        number: String,
    },
    /// 400 `invalid`: a value the system does not know (unknown carrier name, ...).
    #[error("invalid: {cause}")]
    Invalid {
        /// Free text.
        cause: String,
    },
    /// 400 `invalid data` (seeds' E911 "Invalid address"): the E911 provider
    /// could not geocode the address.
    #[error("invalid data: {message}")]
    E911Invalid {
        /// The provider's name as the API shows it (`dash_e911`).
        provider: String,
        /// The submitted address.
        address: Box<Value>,
        /// The provider's explanation, e.g. `Location is not geocoded`.
        message: String,
    },
    /// 400 `multiple_choice`: the E911 address matched several locations.
    #[error("multiple_choice: {message}")]
    MultipleChoice {
        /// The provider's name as the API shows it (`dash_e911`).
        provider: String,
        /// The submitted address.
        address: Box<Value>,
        /// The candidate addresses.
        details: Vec<Value>,
        /// `more than one address found`.
        message: String,
    },
    /// 500 `unspecified_fault` / `fault by carrier`: the carrier failed.
    /// Built with [`Error::by_carrier`] or [`Error::by_carrier_with`].
    #[error("fault by carrier for {number}: {reason}")]
    ByCarrier {
        /// The number the carrier failed on.
        number: String,
        /// What the carrier said (not part of the API JSON; for logs).
        reason: String,
        /// What kind of failure it is (not part of the API JSON). Stored
        /// errors written without it read as [`CarrierFault::Unavailable`].
        #[serde(default)]
        fault: CarrierFault,
        /// The transport or client error underneath, when there is one (not
        /// serialized).
        #[source]
        #[serde(skip)]
        source: Option<Source>,
    },
    /// 500 `unspecified_fault` with a named reason (`missing_provider_url`,
    /// `carrier_not_specified`, `number_not_available`, an E911 provider error...).
    #[error("unspecified fault: {kind}")]
    Unspecified {
        /// The reason, whose name is the JSON `message` (serialized as `message`).
        #[serde(rename = "message")]
        kind: UnspecifiedKind,
        /// Optional cause.
        cause: Option<String>,
    },
    /// 402 `not_enough_credit`.
    #[error("account {account} does not have enough credit to perform the operation")]
    NotEnoughCredit {
        /// The account.
        account: String,
        /// Why.
        reason: String,
    },
    /// 409 `conflict`: a concurrent writer won every retry, an idempotency key
    /// was reused with a different request, the number is mid-operation, ...
    /// (see [`ConflictKind`]). Built with [`Error::conflict`].
    #[error("conflict on {number}: {kind}{}", fmt_detail(.detail))]
    Conflict {
        /// The number (or idempotency key).
        number: String,
        /// What conflicted; its text is the JSON `message` (serialized as `reason`).
        #[serde(rename = "reason")]
        kind: ConflictKind,
        /// More for logs (the revisions involved, a carrier's error...); not
        /// part of the API JSON.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// 400 `validation error` with per-field details.
    #[error("validation error: {}", fmt_fields(.errors))]
    Validation {
        /// Every failed check.
        errors: Vec<FieldError>,
    },
    /// 500 `init failed`: a backend (locality, city prefix) is not configured
    /// or answered with an error. `data` is returned as the envelope's data.
    #[error("init failed: {data}")]
    InitFailed {
        /// The envelope data (a string or the backend's error object).
        data: Box<Value>,
    },
    /// 404 `not_found`: the locality backend knows no such city in that
    /// country. The API envelope is 404 `Not Found` with the seeds' data
    /// `{"data": {}, "error": 404, "message": "Not Found", "status": "error"}`.
    #[error("city {city:?} not found in {country}")]
    CityNotFound {
        /// The country asked about (ISO 3166 alpha-2).
        country: String,
        /// The city asked about.
        city: String,
    },
    /// 500 `unspecified_fault` / `database_error`: the store failed. Built with
    /// [`Error::database`] or [`Error::database_with`].
    #[error("database error: {cause}")]
    Database {
        /// What the store said.
        cause: String,
        /// What kind of failure it is (not part of the API JSON). Stored
        /// errors written without it read as [`DatabaseFault::Failed`].
        #[serde(default)]
        fault: DatabaseFault,
        /// The driver's error underneath (a `sqlx::Error` for the SQL stores),
        /// when there is one (not serialized).
        #[source]
        #[serde(skip)]
        source: Option<Source>,
    },
    /// 400 `client error` from `identify`: the number is unassigned
    /// (`unassigned`), not in service (`not_in_service`) or its owner is
    /// disabled (`account_disabled`).
    #[error("number {number} cannot be identified: {reason}")]
    NotIdentified {
        /// The number.
        number: String,
        /// Why: `unassigned`, `not_in_service` or `account_disabled`.
        reason: NotIdentifiedReason,
        /// The owner, when there is one.
        account_id: Option<String>,
    },
    /// 503 `broker_unavailable`: the event broker behind an outbox
    /// [`Publisher`](crate::outbox::Publisher) could not be reached, or did not
    /// confirm a message. Always retryable: the outbox keeps the events until
    /// a later attempt is confirmed. Built with [`Error::broker`] or
    /// [`Error::broker_with`].
    #[error("broker {broker} unavailable: {cause}")]
    Broker {
        /// Which broker (`amqp`, `nats`, or a host publisher's name).
        broker: String,
        /// What failed.
        cause: String,
        /// The client library's error underneath, when there is one (not serialized).
        #[source]
        #[serde(skip)]
        source: Option<Source>,
    },
    /// 500 `internal_error`: a bug or an impossible situation; never caused by input.
    #[error("internal error: {cause}")]
    Internal {
        /// What happened.
        cause: String,
    },
}

fn fmt_cause(cause: &Option<String>) -> String {
    match cause {
        Some(c) => format!(": {c}"),
        None => String::new(),
    }
}

fn fmt_detail(detail: &Option<String>) -> String {
    match detail {
        Some(d) => format!(": {d}"),
        None => String::new(),
    }
}

/// A state or operation name that does not parse is a validation error on
/// the field it names (keyword `enum`).
impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::validation(e.field(), "enum", e.to_string())
    }
}

fn fmt_state(state: &Option<NumberState>) -> String {
    match state {
        Some(s) => s.as_str().to_string(),
        None => "(nothing)".to_string(),
    }
}

fn fmt_fields(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{} {}: {}", e.field, e.code, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// Shorthand for a 403 `forbidden` with a cause.
    pub fn forbidden(cause: impl Into<String>) -> Self {
        Error::Unauthorized {
            cause: Some(cause.into()),
        }
    }

    /// Shorthand for a single-field validation error.
    pub fn validation(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Validation {
            errors: vec![FieldError::new(field, code, message)],
        }
    }

    /// Shorthand for a store failure described by text only
    /// ([`DatabaseFault::Failed`], no source).
    pub fn database(cause: impl std::fmt::Display) -> Self {
        Error::Database {
            cause: cause.to_string(),
            fault: DatabaseFault::Failed,
            source: None,
        }
    }

    /// A store failure that wraps the driver's error `source`
    /// ([`DatabaseFault::Failed`]; set `fault` in the variant for another).
    pub fn database_with(
        cause: impl std::fmt::Display,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Database {
            cause: cause.to_string(),
            fault: DatabaseFault::Failed,
            source: Some(Source::new(source)),
        }
    }

    /// The broker `broker` failed (no source).
    pub fn broker(broker: impl Into<String>, cause: impl std::fmt::Display) -> Self {
        Error::Broker {
            broker: broker.into(),
            cause: cause.to_string(),
            source: None,
        }
    }

    /// The broker `broker` failed with the client library's error `source`.
    pub fn broker_with(
        broker: impl Into<String>,
        cause: impl std::fmt::Display,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Broker {
            broker: broker.into(),
            cause: cause.to_string(),
            source: Some(Source::new(source)),
        }
    }

    /// A fault by the carrier about `number` ([`CarrierFault::Unavailable`],
    /// no source).
    pub fn by_carrier(number: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::ByCarrier {
            number: number.into(),
            reason: reason.into(),
            fault: CarrierFault::Unavailable,
            source: None,
        }
    }

    /// A fault by the carrier about `number` that wraps the transport or
    /// client error `source` ([`CarrierFault::Unavailable`]; set `fault` in
    /// the variant for another).
    pub fn by_carrier_with(
        number: impl Into<String>,
        reason: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::ByCarrier {
            number: number.into(),
            reason: reason.into(),
            fault: CarrierFault::Unavailable,
            source: Some(Source::new(source)),
        }
    }

    /// A 409 conflict of `kind` on `number` (or an idempotency key), without
    /// detail.
    pub fn conflict(number: impl Into<String>, kind: ConflictKind) -> Self {
        Error::Conflict {
            number: number.into(),
            kind,
            detail: None,
        }
    }

    /// A 500 `unspecified_fault` of `kind` with `cause`.
    pub fn unspecified(kind: UnspecifiedKind, cause: impl Into<String>) -> Self {
        Error::Unspecified {
            kind,
            cause: Some(cause.into()),
        }
    }

    /// The `timeout` fault of a carrier or provider call about `subject`.
    pub fn timeout(subject: impl Into<String>) -> Self {
        Error::unspecified(UnspecifiedKind::Timeout, subject)
    }

    /// Whether the same request may succeed if sent again later, unchanged.
    ///
    /// True for:
    /// - [`Error::Conflict`] whose kind is retryable
    ///   ([`ConflictKind::is_retryable`]: concurrent writers won every retry,
    ///   the number is claimed, the idempotency key is still running, a
    ///   carrier cannot tell now what an interrupted operation did);
    /// - [`Error::Unspecified`] whose kind is retryable
    ///   ([`UnspecifiedKind::is_retryable`]: a timeout, a provider's server
    ///   error or unreachable provider, a carrier's rate limit);
    /// - [`Error::ByCarrier`] with [`CarrierFault::Unavailable`] (a transport
    ///   failure, an HTTP 5xx);
    /// - [`Error::Database`] with [`DatabaseFault::Unavailable`] (a connection
    ///   or pool timeout, a busy store, an aborted transaction);
    /// - [`Error::Broker`] (an event broker down or not confirming).
    ///
    /// False for everything else: what the request asks is wrong or not
    /// allowed (not found, exists, forbidden, invalid, validation, state
    /// transition, porting, credit, identify), what the configuration lacks
    /// (`init failed`), a bug (`internal_error`), and the non-retryable kinds
    /// above.
    ///
    /// ```
    /// use number_manager::{ConflictKind, Error};
    /// assert!(Error::conflict("+14155550000", ConflictKind::Claimed).is_retryable());
    /// assert!(!Error::conflict("+14155550000", ConflictKind::KeyReused).is_retryable());
    /// assert!(Error::timeout("+14155550000").is_retryable());
    /// assert!(!Error::NotFound { number: "+14155550000".into() }.is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Conflict { kind, .. } => kind.is_retryable(),
            Error::Unspecified { kind, .. } => kind.is_retryable(),
            Error::ByCarrier { fault, .. } => *fault == CarrierFault::Unavailable,
            Error::Database { fault, .. } => *fault == DatabaseFault::Unavailable,
            Error::Broker { .. } => true,
            Error::NumberExists { .. }
            | Error::NotFound { .. }
            | Error::NotReconcilable { .. }
            | Error::Unauthorized { .. }
            | Error::NoChangeRequired { .. }
            | Error::InvalidStateTransition { .. }
            | Error::InvalidMdnTransition { .. }
            | Error::InvalidPortTransition { .. }
            | Error::UserNotAllowed { .. }
            | Error::AttachmentTooLarge { .. }
            | Error::AssignFailure { .. }
            | Error::NumberIsPorting { .. }
            | Error::Invalid { .. }
            | Error::E911Invalid { .. }
            | Error::MultipleChoice { .. }
            | Error::NotEnoughCredit { .. }
            | Error::Validation { .. }
            | Error::InitFailed { .. }
            | Error::CityNotFound { .. }
            | Error::NotIdentified { .. }
            | Error::Internal { .. } => false,
        }
    }

    /// The API error name (the knm `error` field).
    pub fn name(&self) -> &str {
        match self {
            Error::NumberExists { .. } => "number_exists",
            Error::NotFound { .. } => "not_found",
            Error::NotReconcilable { .. } => "not_reconcilable",
            Error::Unauthorized { .. } => "forbidden",
            Error::NoChangeRequired { .. } => "no_change_required",
            Error::InvalidStateTransition { .. }
            | Error::InvalidMdnTransition { .. }
            | Error::InvalidPortTransition { .. } => "invalid_state_transition",
            Error::UserNotAllowed { .. } => "user_not_allowed",
            Error::AttachmentTooLarge { .. } => "payload_too_large",
            Error::AssignFailure { .. } => "assign_failure",
            Error::NumberIsPorting { .. } => "number_is_porting",
            Error::Invalid { .. } => "invalid",
            Error::E911Invalid { .. } => "invalid",
            Error::MultipleChoice { .. } => "multiple_choice",
            Error::ByCarrier { .. } => "unspecified_fault",
            Error::Unspecified { .. } => "unspecified_fault",
            Error::NotEnoughCredit { .. } => "not_enough_credit",
            Error::Conflict { .. } => "conflict",
            Error::Validation { .. } => "validation_error",
            Error::InitFailed { .. } => "init_failed",
            Error::CityNotFound { .. } => "not_found",
            Error::Database { .. } => "unspecified_fault",
            Error::Internal { .. } => "internal_error",
            Error::Broker { .. } => "broker_unavailable",
            Error::NotIdentified { reason, .. } => reason.as_str(),
        }
    }

    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            Error::NumberExists { .. } | Error::Conflict { .. } => 409,
            Error::NotFound { .. } | Error::NotReconcilable { .. } | Error::CityNotFound { .. } => {
                404
            }
            Error::Unauthorized { .. } | Error::UserNotAllowed { .. } => 403,
            Error::NotEnoughCredit { .. } => 402,
            Error::AttachmentTooLarge { .. } => 413,
            Error::NoChangeRequired { .. }
            | Error::InvalidStateTransition { .. }
            | Error::InvalidMdnTransition { .. }
            | Error::InvalidPortTransition { .. }
            | Error::AssignFailure { .. }
            | Error::NumberIsPorting { .. }
            | Error::Invalid { .. }
            | Error::E911Invalid { .. }
            | Error::MultipleChoice { .. }
            | Error::NotIdentified { .. }
            | Error::Validation { .. } => 400,
            Error::ByCarrier { .. }
            | Error::Unspecified { .. }
            | Error::InitFailed { .. }
            | Error::Database { .. }
            | Error::Internal { .. } => 500,
            Error::Broker { .. } => 503,
        }
    }

    /// The knm `message` field.
    pub fn message(&self) -> String {
        match self {
            Error::NumberExists { number } => format!("number {number} already exists"),
            Error::NotFound { number } => format!("number {number} not found"),
            Error::NotReconcilable { number } => format!("number {number} is not reconcilable"),
            Error::Unauthorized { .. } => "requestor is unauthorized to perform operation".into(),
            Error::NoChangeRequired { .. } => "no change required".into(),
            Error::InvalidStateTransition { .. }
            | Error::InvalidMdnTransition { .. }
            | Error::InvalidPortTransition { .. } => "invalid state transition".into(),
            Error::UserNotAllowed { .. } => "user not allowed to perform this action".into(),
            Error::AttachmentTooLarge { .. } => "payload_too_large".into(),
            Error::AssignFailure { .. } => "invalid account to assign to".into(),
            Error::NumberIsPorting { number } => format!("number {number} is porting"),
            Error::Invalid { .. } => "invalid".into(),
            Error::E911Invalid { message, .. } => message.clone(),
            Error::MultipleChoice { message, .. } => message.clone(),
            Error::ByCarrier { .. } => "fault by carrier".into(),
            Error::Unspecified { kind, .. } => kind.as_str().to_string(),
            Error::NotEnoughCredit { account, .. } => {
                format!("account {account} does not have enough credit to perform the operation")
            }
            Error::Conflict { kind, .. } => kind.as_str().to_string(),
            Error::Validation { .. } => "validation error".into(),
            Error::InitFailed { .. } => "init failed".into(),
            Error::CityNotFound { city, .. } => format!("city {city} not found"),
            Error::Database { .. } => "database_error".into(),
            Error::Internal { .. } => "internal_error".into(),
            Error::Broker { broker, .. } => format!("event broker {broker} unavailable"),
            Error::NotIdentified { reason, .. } => reason.as_str().to_string(),
        }
    }

    /// The knm `cause` field, when there is one.
    pub fn cause(&self) -> Option<String> {
        match self {
            Error::NumberExists { number }
            | Error::NotFound { number }
            | Error::NotReconcilable { number }
            | Error::NumberIsPorting { number }
            | Error::ByCarrier { number, .. }
            | Error::Conflict { number, .. } => Some(number.clone()),
            // The seeds show `no_change_required` without a cause.
            Error::NoChangeRequired { .. } => None,
            Error::Unauthorized { cause } => cause.clone(),
            Error::InvalidStateTransition { from, to } => {
                Some(format!("from {} to {}", fmt_state(from), to.as_str()))
            }
            Error::InvalidMdnTransition { to } => Some(format!("from 'MDN' to {}", to.as_str())),
            Error::InvalidPortTransition { from, to } => Some(format!("from {from} to {to}")),
            Error::UserNotAllowed { cause } => cause.clone(),
            Error::AttachmentTooLarge { name, size, limit } => Some(format!(
                "attachment {name} is {size} bytes; at most {limit} are accepted"
            )),
            Error::AssignFailure { cause } | Error::Invalid { cause } => Some(cause.clone()),
            Error::E911Invalid { address, .. } | Error::MultipleChoice { address, .. } => {
                Some(address.to_string())
            }
            Error::Unspecified { cause, .. } => cause.clone(),
            Error::NotEnoughCredit { reason, .. } => Some(reason.clone()),
            Error::Validation { errors } => Some(fmt_fields(errors)),
            Error::InitFailed { data } => Some(match &**data {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            Error::CityNotFound { country, city } => Some(format!("{city} in {country}")),
            Error::Database { cause, .. } | Error::Internal { cause } => Some(cause.clone()),
            Error::Broker { cause, .. } => Some(cause.clone()),
            Error::NotIdentified { reason, .. } => Some(reason.as_str().to_string()),
        }
    }

    /// The knm error object: `{"cause"?, "code", "error", "message"}`, keys sorted
    /// as the seeds print them. This is what collection error maps hold.
    ///
    /// ```
    /// use number_manager::Error;
    /// let e = Error::NumberExists { number: "+14155550000".into() };
    /// assert_eq!(
    ///     e.to_json().to_string(),
    ///     r#"{"cause":"+14155550000","code":409,"error":"number_exists","message":"number +14155550000 already exists"}"#
    /// );
    /// ```
    pub fn to_json(&self) -> Value {
        match self {
            // E911 outcomes and validation errors carry structured data that a
            // client needs in collections too; keep it rather than flatten it.
            Error::E911Invalid { .. } | Error::MultipleChoice { .. } | Error::Validation { .. } => {
                let (_, _, data) = self.envelope();
                data
            }
            _ => {
                let mut m = Map::new();
                if let Some(cause) = self.cause() {
                    m.insert("cause".into(), Value::String(cause));
                }
                m.insert("code".into(), json!(self.code()));
                m.insert("error".into(), Value::String(self.name().into()));
                m.insert("message".into(), Value::String(self.message()));
                Value::Object(m)
            }
        }
    }

    /// The API error envelope parts for this error as the answer to a whole
    /// request: `(HTTP status, envelope "message", envelope "data")`.
    ///
    /// ```
    /// use number_manager::Error;
    /// let (status, message, data) = Error::NotFound { number: "+14155550000".into() }.envelope();
    /// assert_eq!(status, 404);
    /// assert_eq!(message, "bad_identifier");
    /// assert_eq!(data["not_found"], "The number could not be found");
    /// ```
    pub fn envelope(&self) -> (u16, String, Value) {
        match self {
            Error::NotFound { .. } => (
                404,
                "bad_identifier".into(),
                json!({"message": "bad identifier", "not_found": "The number could not be found"}),
            ),
            Error::E911Invalid {
                provider,
                address,
                message,
            } => (
                400,
                "invalid data".into(),
                json!({"address": {"invalid": {"cause": address, "message": message, "provider": provider}}}),
            ),
            Error::MultipleChoice {
                provider,
                address,
                details,
                message,
            } => {
                let mut inner = Map::new();
                inner.insert(
                    provider.clone(),
                    json!({"cause": address, "details": details, "message": message}),
                );
                (
                    400,
                    "multiple_choice".into(),
                    json!({ "multiple_choice": Value::Object(inner) }),
                )
            }
            Error::Validation { errors } => {
                let mut data = Map::new();
                for e in errors {
                    let entry = data
                        .entry(e.field.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(codes) = entry {
                        codes.insert(e.code.clone(), json!({ "message": e.message }));
                    }
                }
                (400, "validation error".into(), Value::Object(data))
            }
            Error::InitFailed { data } => (500, "init failed".into(), (**data).clone()),
            Error::CityNotFound { .. } => (
                404,
                "Not Found".into(),
                json!({"data": {}, "error": 404, "message": "Not Found", "status": "error"}),
            ),
            Error::NotIdentified {
                number,
                reason,
                account_id,
            } => {
                let mut data = Map::new();
                if let Some(a) = account_id {
                    data.insert("account_id".into(), Value::String(a.clone()));
                }
                data.insert("cause".into(), Value::String(reason.as_str().to_string()));
                data.insert("number".into(), Value::String(number.clone()));
                (400, "client error".into(), Value::Object(data))
            }
            _ => (self.code(), self.name().into(), self.to_json()),
        }
    }
}

#[cfg(test)]
mod tests;
