//! The sub-kinds of [`Error`](super::Error) variants: what conflicted, what
//! the unspecified fault was, why a number cannot be identified, and what
//! kind of backend failure a carrier or store fault is.
//!
//! Each named kind has `as_str`, the text the API shows for it, which is also
//! how it is serialized; reading accepts every text this library ever stored.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Serializes a kind as its `as_str` text and reads it back from that text.
macro_rules! as_text_serde {
    ($name:ident, $parse:path) => {
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Ok($parse(&text))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// What a 409 [`Error::Conflict`](super::Error::Conflict) conflicted with.
///
/// Its [`as_str`](Self::as_str) is the error's API `message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConflictKind {
    /// A store write expected a revision the number no longer has. The write
    /// must be planned again on a fresh read; sent again unchanged, it fails
    /// again.
    StaleRevision,
    /// A store update or delete expected a record that is not stored (never
    /// was, or was deleted since it was read).
    RecordGone,
    /// A write of a refused atomic batch that did not fail on its own: another
    /// write of the batch failed, so none was applied.
    BatchAborted,
    /// Concurrent writers changed the number every time this operation tried
    /// to write it, until it ran out of retries.
    RetriesExhausted,
    /// The number is claimed by another operation in progress (or by one whose
    /// holder died, until its claim lapses and is settled).
    Claimed,
    /// An idempotency key was reused with a different request.
    KeyReused,
    /// A request with the same idempotency key is still running.
    KeyRunning,
    /// The store refused to finish an idempotency key that is no longer
    /// pending under this owner (finished, or taken over after its lease lapsed).
    KeyNotPending,
    /// The store refused to finish an idempotency key that was never begun
    /// (or was abandoned or purged).
    KeyNotBegun,
    /// An interrupted purchase of the number may have gone through and the
    /// carrier cannot tell now (it did not answer, or left the number out).
    PurchaseUncertain,
    /// An interrupted purchase of the number may have gone through: the
    /// carrier no longer offers the number.
    PurchaseNoLongerOffered,
    /// An interrupted removal may have disconnected the number and the carrier
    /// cannot tell now.
    RemovalUncertain,
    /// An interrupted purchase went through and giving the number back to the
    /// carrier failed (the error's `detail` says how).
    GiveBackFailed,
    /// An interrupted purchase went through and its carrier is not configured,
    /// so the number cannot be given back (the `detail` names the carrier).
    GiveBackCarrierMissing,
    /// The carrier accepted an order for the number (a purchase or a
    /// disconnect) that is still pending: its outcome is not known yet, and
    /// it settles later (the `detail` names the order).
    CarrierOrderPending,
}

impl ConflictKind {
    /// Every conflict kind.
    pub const ALL: &'static [ConflictKind] = &[
        ConflictKind::StaleRevision,
        ConflictKind::RecordGone,
        ConflictKind::BatchAborted,
        ConflictKind::RetriesExhausted,
        ConflictKind::Claimed,
        ConflictKind::KeyReused,
        ConflictKind::KeyRunning,
        ConflictKind::KeyNotPending,
        ConflictKind::KeyNotBegun,
        ConflictKind::PurchaseUncertain,
        ConflictKind::PurchaseNoLongerOffered,
        ConflictKind::RemovalUncertain,
        ConflictKind::GiveBackFailed,
        ConflictKind::GiveBackCarrierMissing,
        ConflictKind::CarrierOrderPending,
    ];

    /// The text the API shows as the conflict's `message`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ConflictKind::StaleRevision => "stale revision",
            ConflictKind::RecordGone => "record no longer exists",
            ConflictKind::BatchAborted => "batch aborted",
            ConflictKind::RetriesExhausted => "concurrent writers won every retry",
            ConflictKind::Claimed => "number is being changed by another operation",
            ConflictKind::KeyReused => "idempotency key reused with a different request",
            ConflictKind::KeyRunning => "a request with this idempotency key is still running",
            ConflictKind::KeyNotPending => "idempotency key is not pending under this owner (finished, or taken over after its lease lapsed)",
            ConflictKind::KeyNotBegun => "idempotency key was not begun (or was abandoned or purged)",
            ConflictKind::PurchaseUncertain => "an interrupted purchase of this number may have gone through; the carrier cannot tell now",
            ConflictKind::PurchaseNoLongerOffered => "an interrupted purchase of this number may have gone through; the carrier no longer offers it",
            ConflictKind::RemovalUncertain => "an interrupted removal of this number may have disconnected it; the carrier cannot tell now",
            ConflictKind::GiveBackFailed => "an interrupted purchase of this number went through and giving it back failed",
            ConflictKind::GiveBackCarrierMissing => "an interrupted purchase of this number went through and its carrier is not configured",
            ConflictKind::CarrierOrderPending => "the carrier's order for this number is still pending; it settles later",
        }
    }

    /// Whether the same request may succeed later, unchanged: true while
    /// another operation holds the number or the key, after losing every race
    /// to concurrent writers, while a carrier cannot tell what an interrupted
    /// operation did (maintenance settles it) and while a carrier's order is
    /// pending; false when the
    /// request itself must change (a stale or missing revision, an aborted
    /// batch, a reused key, a key no longer held) or a definite answer or the
    /// configuration stands in the way.
    pub fn is_retryable(&self) -> bool {
        match self {
            ConflictKind::RetriesExhausted
            | ConflictKind::Claimed
            | ConflictKind::KeyRunning
            | ConflictKind::PurchaseUncertain
            | ConflictKind::RemovalUncertain
            | ConflictKind::GiveBackFailed
            | ConflictKind::CarrierOrderPending => true,
            ConflictKind::StaleRevision
            | ConflictKind::RecordGone
            | ConflictKind::BatchAborted
            | ConflictKind::KeyReused
            | ConflictKind::KeyNotPending
            | ConflictKind::KeyNotBegun
            | ConflictKind::PurchaseNoLongerOffered
            | ConflictKind::GiveBackCarrierMissing => false,
        }
    }

    /// The kind a stored conflict text names. Besides every `as_str`, this
    /// reads the texts that earlier versions stored, which carried details
    /// (revisions, a carrier's name or error) in the text itself; any other
    /// text (a host store's own wording) reads as [`StaleRevision`](Self::StaleRevision),
    /// the conflict a store write reports.
    pub fn from_text(text: &str) -> Self {
        if let Some(kind) = ConflictKind::ALL.iter().find(|k| k.as_str() == text) {
            return *kind;
        }
        let give_back = "an interrupted purchase of this number went through and ";
        match text {
            "number is not stored" => ConflictKind::RecordGone,
            t if t.starts_with(give_back) && t.contains("giving it back failed") => {
                ConflictKind::GiveBackFailed
            }
            t if t.starts_with(give_back) && t.ends_with("is not configured") => {
                ConflictKind::GiveBackCarrierMissing
            }
            t if t.contains(" is still ")
                && (t.ends_with("settles later") || t.ends_with("until it completes")) =>
            {
                ConflictKind::CarrierOrderPending
            }
            _ => ConflictKind::StaleRevision,
        }
    }
}

as_text_serde!(ConflictKind, ConflictKind::from_text);

/// The named reason of a 500 [`Error::Unspecified`](super::Error::Unspecified)
/// `unspecified_fault`. Its [`as_str`](Self::as_str) is the error's API `message`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnspecifiedKind {
    /// `timeout`: a carrier or E911 provider call got no answer in time (it
    /// may have been carried out upstream all the same).
    Timeout,
    /// `server_error`: the E911 provider failed.
    ServerError,
    /// `unreachable`: the E911 provider could not be reached.
    Unreachable,
    /// `rate_limited`: the carrier asks to slow down (HTTP 429).
    RateLimited,
    /// `carrier_authentication_failed`: the carrier refused the credentials.
    CarrierAuthenticationFailed,
    /// `carrier_not_specified`: no carrier of that name is configured.
    CarrierNotSpecified,
    /// `fault by carrier`: the carrier answered, but could not tell whether
    /// it still holds the number.
    CarrierCannotTell,
    /// `number_not_available`: the carrier cannot sell the number.
    NumberNotAvailable,
    /// `not_implemented`: the carrier does not have this optional call.
    NotImplemented,
    /// `e911_provider_not_configured`: E911 was asked for but no provider is
    /// configured.
    E911ProviderNotConfigured,
    /// `missing_provider_url`: a provider is configured without its URL.
    MissingProviderUrl,
    /// `fix_failed`: repairing a number failed (the cause says how).
    FixFailed,
    /// Any other reason a host's carrier or E911 provider names itself,
    /// shown as given.
    Other(String),
}

impl UnspecifiedKind {
    /// Every named kind (all but [`Other`](Self::Other)).
    pub const NAMED: &'static [UnspecifiedKind] = &[
        UnspecifiedKind::Timeout,
        UnspecifiedKind::ServerError,
        UnspecifiedKind::Unreachable,
        UnspecifiedKind::RateLimited,
        UnspecifiedKind::CarrierAuthenticationFailed,
        UnspecifiedKind::CarrierNotSpecified,
        UnspecifiedKind::CarrierCannotTell,
        UnspecifiedKind::NumberNotAvailable,
        UnspecifiedKind::NotImplemented,
        UnspecifiedKind::E911ProviderNotConfigured,
        UnspecifiedKind::MissingProviderUrl,
        UnspecifiedKind::FixFailed,
    ];

    /// The text the API shows as the fault's `message`.
    pub fn as_str(&self) -> &str {
        match self {
            UnspecifiedKind::Timeout => "timeout",
            UnspecifiedKind::ServerError => "server_error",
            UnspecifiedKind::Unreachable => "unreachable",
            UnspecifiedKind::RateLimited => "rate_limited",
            UnspecifiedKind::CarrierAuthenticationFailed => "carrier_authentication_failed",
            UnspecifiedKind::CarrierNotSpecified => "carrier_not_specified",
            UnspecifiedKind::CarrierCannotTell => "fault by carrier",
            UnspecifiedKind::NumberNotAvailable => "number_not_available",
            UnspecifiedKind::NotImplemented => "not_implemented",
            UnspecifiedKind::E911ProviderNotConfigured => "e911_provider_not_configured",
            UnspecifiedKind::MissingProviderUrl => "missing_provider_url",
            UnspecifiedKind::FixFailed => "fix_failed",
            UnspecifiedKind::Other(name) => name,
        }
    }

    /// The kind named `name`: a named kind when `name` is its `as_str`,
    /// else [`Other`](Self::Other).
    ///
    /// ```
    /// use number_manager::UnspecifiedKind;
    /// assert_eq!(UnspecifiedKind::from_name("timeout"), UnspecifiedKind::Timeout);
    /// assert_eq!(UnspecifiedKind::from_name("quota"), UnspecifiedKind::Other("quota".into()));
    /// ```
    pub fn from_name(name: &str) -> Self {
        UnspecifiedKind::NAMED
            .iter()
            .find(|k| k.as_str() == name)
            .cloned()
            .unwrap_or_else(|| UnspecifiedKind::Other(name.to_string()))
    }

    /// Whether the same request may succeed later, unchanged: true for a
    /// timeout, a provider's server error, an unreachable provider, a rate
    /// limit and a carrier that could not tell now; false for what only a
    /// change of request or configuration mends (and for
    /// [`Other`](Self::Other), which this library cannot judge).
    pub fn is_retryable(&self) -> bool {
        match self {
            UnspecifiedKind::Timeout
            | UnspecifiedKind::ServerError
            | UnspecifiedKind::Unreachable
            | UnspecifiedKind::RateLimited
            | UnspecifiedKind::CarrierCannotTell => true,
            UnspecifiedKind::CarrierAuthenticationFailed
            | UnspecifiedKind::CarrierNotSpecified
            | UnspecifiedKind::NumberNotAvailable
            | UnspecifiedKind::NotImplemented
            | UnspecifiedKind::E911ProviderNotConfigured
            | UnspecifiedKind::MissingProviderUrl
            | UnspecifiedKind::FixFailed
            | UnspecifiedKind::Other(_) => false,
        }
    }
}

fn unspecified_from_text(text: &str) -> UnspecifiedKind {
    UnspecifiedKind::from_name(text)
}

as_text_serde!(UnspecifiedKind, unspecified_from_text);

/// Why `identify` cannot name a number's owner: the API error name, `message`
/// and `cause` of a 400 [`Error::NotIdentified`](super::Error::NotIdentified).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NotIdentifiedReason {
    /// `unassigned`: no account holds the number.
    Unassigned,
    /// `not_in_service`: the number is not in service.
    NotInService,
    /// `account_disabled`: the owner's account is disabled.
    AccountDisabled,
}

impl NotIdentifiedReason {
    /// Every reason.
    pub const ALL: &'static [NotIdentifiedReason] = &[
        NotIdentifiedReason::Unassigned,
        NotIdentifiedReason::NotInService,
        NotIdentifiedReason::AccountDisabled,
    ];

    /// The text the API shows (`unassigned`, `not_in_service`, `account_disabled`).
    pub fn as_str(&self) -> &'static str {
        match self {
            NotIdentifiedReason::Unassigned => "unassigned",
            NotIdentifiedReason::NotInService => "not_in_service",
            NotIdentifiedReason::AccountDisabled => "account_disabled",
        }
    }
}

impl std::fmt::Display for NotIdentifiedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of failure a 500 [`Error::ByCarrier`](super::Error::ByCarrier) is.
/// Not part of the API JSON (every one is `fault by carrier`); it tells a
/// caller whether to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CarrierFault {
    /// The carrier could not be reached or failed on its side: a transport
    /// failure, an HTTP 5xx, or a fault of unknown nature. Retryable.
    #[default]
    Unavailable,
    /// The carrier answered and refused the request as sent (an HTTP 4xx
    /// other than those with their own error). Not retryable.
    Refused,
    /// The carrier's answer is not what it documents. Not retryable.
    Malformed,
}

/// What kind of failure a 500 [`Error::Database`](super::Error::Database) is.
/// Not part of the API JSON; it tells a caller whether to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DatabaseFault {
    /// The store could not be reached or was busy: a connection refused or
    /// lost, a pool that timed out, a locked file, a transaction aborted by a
    /// concurrent one. Retryable.
    Unavailable,
    /// Anything else: a statement or data the store refuses or cannot read, a
    /// schema written by a newer version, a closed store. Not retryable.
    #[default]
    Failed,
}
