//! The error catalogue produces the seeds' JSON byte for byte.

use number_manager::state::NumberState;
use number_manager::{ConflictKind, Error, FieldError, NotIdentifiedReason, UnspecifiedKind};
use serde_json::json;

fn compact(v: &serde_json::Value) -> String {
    serde_json::to_string(v).unwrap()
}

#[test]
fn number_exists_is_409_with_the_seeds_data() {
    let e = Error::NumberExists {
        number: "+14155550000".into(),
    };
    assert_eq!(e.code(), 409);
    assert_eq!(e.name(), "number_exists");
    assert_eq!(
        compact(&e.to_json()),
        r#"{"cause":"+14155550000","code":409,"error":"number_exists","message":"number +14155550000 already exists"}"#
    );
    let (status, message, data) = e.envelope();
    assert_eq!((status, message.as_str()), (409, "number_exists"));
    assert_eq!(data, e.to_json());
}

#[test]
fn not_reconcilable_is_404() {
    let e = Error::NotReconcilable {
        number: "+141510010+15".into(),
    };
    assert_eq!(
        e.to_json(),
        json!({"cause": "+141510010+15", "code": 404, "error": "not_reconcilable", "message": "number +141510010+15 is not reconcilable"})
    );
    assert_eq!(e.envelope().1, "not_reconcilable");
}

#[test]
fn not_found_is_bad_identifier_in_the_envelope() {
    let e = Error::NotFound {
        number: "+14155550000".into(),
    };
    let (status, message, data) = e.envelope();
    assert_eq!(status, 404);
    assert_eq!(message, "bad_identifier");
    assert_eq!(
        compact(&data),
        r#"{"message":"bad identifier","not_found":"The number could not be found"}"#
    );
}

#[test]
fn no_change_required_has_no_cause() {
    let e = Error::NoChangeRequired {
        number: "+14155550000".into(),
    };
    assert_eq!(
        compact(&e.to_json()),
        r#"{"code":400,"error":"no_change_required","message":"no change required"}"#
    );
}

#[test]
fn carrier_faults_are_500_unspecified_fault() {
    let e = Error::by_carrier("+14155550000", "boom");
    assert_eq!(
        compact(&e.to_json()),
        r#"{"cause":"+14155550000","code":500,"error":"unspecified_fault","message":"fault by carrier"}"#
    );
    let e = Error::Unspecified {
        kind: UnspecifiedKind::MissingProviderUrl,
        cause: None,
    };
    assert_eq!(
        compact(&e.to_json()),
        r#"{"code":500,"error":"unspecified_fault","message":"missing_provider_url"}"#
    );
}

#[test]
fn forbidden_and_state_transition_causes() {
    let e = Error::forbidden("can not assign to self");
    assert_eq!(e.code(), 403);
    assert_eq!(e.to_json()["error"], "forbidden");
    assert_eq!(e.to_json()["cause"], "can not assign to self");
    let e = Error::InvalidStateTransition {
        from: Some(NumberState::Available),
        to: NumberState::Available,
    };
    assert_eq!(e.code(), 400);
    assert_eq!(e.to_json()["cause"], "from available to available");
    let e = Error::InvalidStateTransition {
        from: None,
        to: NumberState::InService,
    };
    assert_eq!(e.to_json()["cause"], "from (nothing) to in_service");
}

#[test]
fn e911_outcomes_match_the_seeds() {
    let address = json!({
        "postal_code": "94105",
        "street_address": "1 NOWHERE",
        "extended_address": "APT 1",
        "locality": "SAN FRANCISCO",
        "region": "CA"
    });
    let e = Error::E911Invalid {
        provider: "dash_e911".into(),
        address: Box::new(address.clone()),
        message: "Location is not geocoded".into(),
    };
    let (status, message, data) = e.envelope();
    assert_eq!((status, message.as_str()), (400, "invalid data"));
    assert_eq!(
        data,
        json!({"address": {"invalid": {"cause": address, "message": "Location is not geocoded", "provider": "dash_e911"}}})
    );
    let e = Error::MultipleChoice {
        provider: "dash_e911".into(),
        address: Box::new(address.clone()),
        details: vec![address.clone(), address.clone()],
        message: "more than one address found".into(),
    };
    let (status, message, data) = e.envelope();
    assert_eq!((status, message.as_str()), (400, "multiple_choice"));
    assert_eq!(
        data,
        json!({"multiple_choice": {"dash_e911": {"cause": address, "details": [address, address], "message": "more than one address found"}}})
    );
}

#[test]
fn validation_errors_group_by_field() {
    let e = Error::Validation {
        errors: vec![
            FieldError::new("numbers", "required", "list of numbers missing"),
            FieldError::new(
                "cnam.display_name",
                "maxLength",
                "String must not be more than 15 characters",
            ),
        ],
    };
    let (status, message, data) = e.envelope();
    assert_eq!((status, message.as_str()), (400, "validation error"));
    assert_eq!(
        data["numbers"]["required"]["message"],
        "list of numbers missing"
    );
    assert_eq!(
        data["cnam.display_name"]["maxLength"]["message"],
        "String must not be more than 15 characters"
    );
}

#[test]
fn init_failed_keeps_its_data() {
    let e = Error::InitFailed {
        data: Box::new(json!("Unable to acquire numbers missing carrier url")),
    };
    let (status, message, data) = e.envelope();
    assert_eq!((status, message.as_str()), (500, "init failed"));
    assert_eq!(data, json!("Unable to acquire numbers missing carrier url"));
}

#[test]
fn errors_round_trip_through_serde() {
    let all = vec![
        Error::NumberExists {
            number: "+1".into(),
        },
        Error::forbidden("x"),
        Error::InvalidStateTransition {
            from: Some(NumberState::Reserved),
            to: NumberState::InService,
        },
        Error::validation("f", "type", "m"),
        Error::NotIdentified {
            number: "+1".into(),
            reason: NotIdentifiedReason::Unassigned,
            account_id: None,
        },
    ];
    for e in all {
        let back: Error = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }
}

/// Stored idempotent results hold serialized errors: the forms written before
/// the variants had kinds still read, as the kinds their texts name.
#[test]
fn errors_stored_before_kinds_still_read() {
    let read = |v: serde_json::Value| -> Error { serde_json::from_value(v).unwrap() };
    for (reason, kind) in [
        ("concurrent writers won every retry", ConflictKind::RetriesExhausted),
        ("number is being changed by another operation", ConflictKind::Claimed),
        ("batch aborted", ConflictKind::BatchAborted),
        ("stale revision", ConflictKind::StaleRevision),
        ("record no longer exists", ConflictKind::RecordGone),
        ("number is not stored", ConflictKind::RecordGone),
        ("revision 3 expected, 4 stored", ConflictKind::StaleRevision),
        ("stored revision is 4, not 3", ConflictKind::StaleRevision),
        ("idempotency key reused with a different request", ConflictKind::KeyReused),
        ("a request with this idempotency key is still running", ConflictKind::KeyRunning),
        (
            "idempotency key was not begun (or was abandoned or purged)",
            ConflictKind::KeyNotBegun,
        ),
        (
            "an interrupted purchase of this number may have gone through; the carrier cannot tell now",
            ConflictKind::PurchaseUncertain,
        ),
        (
            "an interrupted purchase of this number went through and giving it back failed: fault by carrier for +14155550000: boom",
            ConflictKind::GiveBackFailed,
        ),
        (
            "an interrupted purchase of this number went through and its carrier acme is not configured",
            ConflictKind::GiveBackCarrierMissing,
        ),
        (
            "telnyx number order 42 is still pending; the purchase settles later",
            ConflictKind::CarrierOrderPending,
        ),
        (
            "bandwidth disconnect 7 is still RECEIVED; the number is in service until it completes",
            ConflictKind::CarrierOrderPending,
        ),
    ] {
        let e = read(json!({"kind": "conflict", "number": "+14155550000", "reason": reason}));
        let Error::Conflict { number, kind: k, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!((number.as_str(), *k), ("+14155550000", kind), "{reason}");
    }

    let e = read(json!({"kind": "unspecified", "message": "timeout", "cause": "+14155550000"}));
    assert_eq!(e, Error::timeout("+14155550000"));
    let e = read(json!({"kind": "unspecified", "message": "quota_exceeded", "cause": null}));
    assert_eq!(
        e,
        Error::Unspecified {
            kind: UnspecifiedKind::Other("quota_exceeded".into()),
            cause: None
        }
    );
    assert_eq!(e.to_json()["message"], "quota_exceeded");

    let e = read(json!({"kind": "by_carrier", "number": "+14155550000", "reason": "boom"}));
    assert_eq!(e, Error::by_carrier("+14155550000", "boom"));

    let e = read(json!({"kind": "database", "cause": "disk I/O error"}));
    assert_eq!(e, Error::database("disk I/O error"));

    for (text, reason) in [
        ("unassigned", NotIdentifiedReason::Unassigned),
        ("not_in_service", NotIdentifiedReason::NotInService),
        ("account_disabled", NotIdentifiedReason::AccountDisabled),
    ] {
        let e = read(json!({
            "kind": "not_identified", "number": "+14155550000", "reason": text, "account_id": "acc"
        }));
        assert_eq!(
            e,
            Error::NotIdentified {
                number: "+14155550000".into(),
                reason,
                account_id: Some("acc".into()),
            }
        );
    }
}

/// The kinds are written as the texts the old forms held, so an older reader
/// of a stored result finds the same fields.
#[test]
fn kinds_are_written_as_their_texts() {
    let e = Error::conflict("+14155550000", ConflictKind::Claimed);
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({"kind": "conflict", "number": "+14155550000", "reason": "number is being changed by another operation"})
    );
    let e = Error::timeout("+14155550000");
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({"kind": "unspecified", "message": "timeout", "cause": "+14155550000"})
    );
    let back: Error = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
    assert_eq!(back, e);
}

/// Backend errors stay reachable through `std::error::Error::source`, survive
/// clones, and are dropped (not compared) when an error is stored.
#[test]
fn backend_errors_are_the_source() {
    use std::error::Error as _;
    let io = || std::io::Error::new(std::io::ErrorKind::TimedOut, "read timed out");
    let e = Error::by_carrier_with("+14155550000", "acme: read timed out", io());
    let copy = e.clone();
    let source = copy.source().expect("a source");
    assert_eq!(
        source.downcast_ref::<std::io::Error>().map(|e| e.kind()),
        Some(std::io::ErrorKind::TimedOut)
    );
    assert!(e.is_retryable());
    // The API JSON is the same with or without the source.
    assert_eq!(
        e.to_json(),
        Error::by_carrier("+14155550000", "x").to_json()
    );

    let e = Error::database_with("sqlite: cannot read: read timed out", io());
    assert!(e.source().is_some());
    let stored = serde_json::to_value(&e).unwrap();
    assert_eq!(
        stored,
        json!({"kind": "database", "cause": "sqlite: cannot read: read timed out", "fault": "failed"})
    );
    let back: Error = serde_json::from_value(stored).unwrap();
    assert!(back.source().is_none());
    assert_eq!(back, e, "sources take no part in comparisons");
    assert_ne!(back, Error::database("another cause"));
    // Errors without a backend underneath have no source.
    assert!(Error::conflict("+1", ConflictKind::Claimed)
        .source()
        .is_none());
}
