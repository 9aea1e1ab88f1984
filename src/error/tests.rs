//! `is_retryable` over every variant and kind, and the API text of every kind.

use serde_json::json;

use super::*;

const N: &str = "+14155550000";

/// The variant's name; exhaustive, so a new variant must be added here and to
/// the table below.
fn variant(e: &Error) -> &'static str {
    match e {
        Error::NumberExists { .. } => "NumberExists",
        Error::NotFound { .. } => "NotFound",
        Error::NotReconcilable { .. } => "NotReconcilable",
        Error::Unauthorized { .. } => "Unauthorized",
        Error::NoChangeRequired { .. } => "NoChangeRequired",
        Error::InvalidStateTransition { .. } => "InvalidStateTransition",
        Error::InvalidMdnTransition { .. } => "InvalidMdnTransition",
        Error::InvalidPortTransition { .. } => "InvalidPortTransition",
        Error::UserNotAllowed { .. } => "UserNotAllowed",
        Error::AttachmentTooLarge { .. } => "AttachmentTooLarge",
        Error::AssignFailure { .. } => "AssignFailure",
        Error::NumberIsPorting { .. } => "NumberIsPorting",
        Error::Invalid { .. } => "Invalid",
        Error::E911Invalid { .. } => "E911Invalid",
        Error::MultipleChoice { .. } => "MultipleChoice",
        Error::ByCarrier { .. } => "ByCarrier",
        Error::Unspecified { .. } => "Unspecified",
        Error::NotEnoughCredit { .. } => "NotEnoughCredit",
        Error::Conflict { .. } => "Conflict",
        Error::Validation { .. } => "Validation",
        Error::InitFailed { .. } => "InitFailed",
        Error::CityNotFound { .. } => "CityNotFound",
        Error::Database { .. } => "Database",
        Error::NotIdentified { .. } => "NotIdentified",
        Error::Internal { .. } => "Internal",
        Error::Broker { .. } => "Broker",
    }
}

/// Every kind-less variant, and whether it is retryable (none is).
fn plain_variants() -> Vec<(Error, bool)> {
    let address = Box::new(json!({"postal_code": "94105"}));
    vec![
        (Error::NumberExists { number: N.into() }, false),
        (Error::NotFound { number: N.into() }, false),
        (Error::NotReconcilable { number: N.into() }, false),
        (Error::forbidden("can not assign to self"), false),
        (Error::NoChangeRequired { number: N.into() }, false),
        (
            Error::InvalidStateTransition {
                from: None,
                to: NumberState::InService,
            },
            false,
        ),
        (
            Error::InvalidMdnTransition {
                to: NumberState::Reserved,
            },
            false,
        ),
        (
            Error::InvalidPortTransition {
                from: crate::state::PortState::Unconfirmed,
                to: crate::state::PortState::Completed,
            },
            false,
        ),
        (Error::UserNotAllowed { cause: None }, false),
        (
            Error::AttachmentTooLarge {
                name: "bill.pdf".into(),
                size: 2,
                limit: 1,
            },
            false,
        ),
        (
            Error::AssignFailure {
                cause: "field_undefined".into(),
            },
            false,
        ),
        (Error::NumberIsPorting { number: N.into() }, false),
        (Error::Invalid { cause: "x".into() }, false),
        (
            Error::E911Invalid {
                provider: "dash_e911".into(),
                address: address.clone(),
                message: "Location is not geocoded".into(),
            },
            false,
        ),
        (
            Error::MultipleChoice {
                provider: "dash_e911".into(),
                address,
                details: vec![],
                message: "more than one address found".into(),
            },
            false,
        ),
        (
            Error::NotEnoughCredit {
                account: "a".into(),
                reason: "r".into(),
            },
            false,
        ),
        (Error::validation("f", "type", "m"), false),
        (
            Error::InitFailed {
                data: Box::new(json!("not configured")),
            },
            false,
        ),
        (
            Error::CityNotFound {
                country: "US".into(),
                city: "Nowhere".into(),
            },
            false,
        ),
        (
            Error::Internal {
                cause: "bug".into(),
            },
            false,
        ),
    ]
}

/// Every kind of every variant that has kinds, and whether it is retryable.
fn kinded_variants() -> Vec<(Error, bool)> {
    use ConflictKind as C;
    use UnspecifiedKind as U;
    let conflicts = [
        (C::StaleRevision, false),
        (C::RecordGone, false),
        (C::BatchAborted, false),
        (C::RetriesExhausted, true),
        (C::Claimed, true),
        (C::KeyReused, false),
        (C::KeyRunning, true),
        (C::KeyNotPending, false),
        (C::KeyNotBegun, false),
        (C::PurchaseUncertain, true),
        (C::PurchaseNoLongerOffered, false),
        (C::RemovalUncertain, true),
        (C::GiveBackFailed, true),
        (C::GiveBackCarrierMissing, false),
        (C::CarrierOrderPending, true),
    ];
    assert_eq!(
        conflicts.len(),
        C::ALL.len(),
        "every conflict kind is in the table"
    );
    let unspecified = [
        (U::Timeout, true),
        (U::ServerError, true),
        (U::Unreachable, true),
        (U::RateLimited, true),
        (U::CarrierAuthenticationFailed, false),
        (U::CarrierNotSpecified, false),
        (U::CarrierCannotTell, true),
        (U::NumberNotAvailable, false),
        (U::NotImplemented, false),
        (U::E911ProviderNotConfigured, false),
        (U::MissingProviderUrl, false),
        (U::FixFailed, false),
        (U::Other("quota_exceeded".into()), false),
    ];
    assert_eq!(
        unspecified.len(),
        U::NAMED.len() + 1,
        "every named kind and Other"
    );
    let mut all: Vec<(Error, bool)> = Vec::new();
    all.extend(conflicts.iter().map(|(k, r)| (Error::conflict(N, *k), *r)));
    all.extend(
        unspecified
            .into_iter()
            .map(|(k, r)| (Error::unspecified(k, N), r)),
    );
    for (fault, retryable) in [
        (CarrierFault::Unavailable, true),
        (CarrierFault::Refused, false),
        (CarrierFault::Malformed, false),
    ] {
        let e = Error::ByCarrier {
            number: N.into(),
            reason: "HTTP 503".into(),
            fault,
            source: None,
        };
        all.push((e, retryable));
    }
    for (fault, retryable) in [
        (DatabaseFault::Unavailable, true),
        (DatabaseFault::Failed, false),
    ] {
        let e = Error::Database {
            cause: "pool timed out".into(),
            fault,
            source: None,
        };
        all.push((e, retryable));
    }
    all.push((Error::broker("amqp", "connection refused"), true));
    for reason in NotIdentifiedReason::ALL {
        let e = Error::NotIdentified {
            number: N.into(),
            reason: *reason,
            account_id: None,
        };
        all.push((e, false));
    }
    all
}

#[test]
fn is_retryable_over_every_variant_and_kind() {
    let table: Vec<(Error, bool)> = plain_variants()
        .into_iter()
        .chain(kinded_variants())
        .collect();
    let mut seen: Vec<&str> = table.iter().map(|(e, _)| variant(e)).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 26, "every variant is in the table: {seen:?}");
    for (i, (e, retryable)) in table.iter().enumerate() {
        assert_eq!(e.is_retryable(), *retryable, "{e:?}");
        // Equality is written out: each error equals itself and no other.
        for (j, (other, _)) in table.iter().enumerate() {
            assert_eq!(e == other, i == j, "{e:?} vs {other:?}");
        }
    }
    // The shorthands build the retryable faults.
    assert!(Error::timeout(N).is_retryable());
    assert!(Error::by_carrier(N, "reset").is_retryable());
    assert!(!Error::database("schema is newer").is_retryable());
    let e = Error::broker("nats", "no ack");
    assert_eq!((e.code(), e.name()), (503, "broker_unavailable"));
    assert_eq!(e.cause().as_deref(), Some("no ack"));
}

/// Each kind's API text is exactly what the API showed before kinds existed.
#[test]
fn every_kind_shows_the_text_the_api_showed() {
    let conflicts = [
        (ConflictKind::StaleRevision, "stale revision"),
        (ConflictKind::RecordGone, "record no longer exists"),
        (ConflictKind::BatchAborted, "batch aborted"),
        (ConflictKind::RetriesExhausted, "concurrent writers won every retry"),
        (ConflictKind::Claimed, "number is being changed by another operation"),
        (ConflictKind::KeyReused, "idempotency key reused with a different request"),
        (ConflictKind::KeyRunning, "a request with this idempotency key is still running"),
        (ConflictKind::KeyNotPending, "idempotency key is not pending under this owner (finished, or taken over after its lease lapsed)"),
        (ConflictKind::KeyNotBegun, "idempotency key was not begun (or was abandoned or purged)"),
        (ConflictKind::PurchaseUncertain, "an interrupted purchase of this number may have gone through; the carrier cannot tell now"),
        (ConflictKind::PurchaseNoLongerOffered, "an interrupted purchase of this number may have gone through; the carrier no longer offers it"),
        (ConflictKind::RemovalUncertain, "an interrupted removal of this number may have disconnected it; the carrier cannot tell now"),
        (ConflictKind::GiveBackFailed, "an interrupted purchase of this number went through and giving it back failed"),
        (ConflictKind::GiveBackCarrierMissing, "an interrupted purchase of this number went through and its carrier is not configured"),
        (ConflictKind::CarrierOrderPending, "the carrier's order for this number is still pending; it settles later"),
    ];
    assert_eq!(conflicts.len(), ConflictKind::ALL.len());
    for (kind, text) in conflicts {
        let e = Error::conflict(N, kind);
        assert_eq!(
            e.to_json(),
            json!({"cause": N, "code": 409, "error": "conflict", "message": text})
        );
        assert_eq!(ConflictKind::from_text(text), kind);
    }
    for kind in UnspecifiedKind::NAMED {
        let e = Error::unspecified(kind.clone(), N);
        let text = kind.as_str();
        assert_eq!(
            e.to_json(),
            json!({"cause": N, "code": 500, "error": "unspecified_fault", "message": text})
        );
        assert_eq!(&UnspecifiedKind::from_name(text), kind);
    }
    for (reason, text) in [
        (NotIdentifiedReason::Unassigned, "unassigned"),
        (NotIdentifiedReason::NotInService, "not_in_service"),
        (NotIdentifiedReason::AccountDisabled, "account_disabled"),
    ] {
        let e = Error::NotIdentified {
            number: N.into(),
            reason,
            account_id: None,
        };
        assert_eq!(
            e.to_json(),
            json!({"cause": text, "code": 400, "error": text, "message": text})
        );
        assert_eq!(e.envelope().2, json!({"cause": text, "number": N}));
    }
}
