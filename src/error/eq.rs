//! `PartialEq` for [`Error`]: every field but the sources.
//!
//! Written out because a derived comparison would tell an error with a
//! [`Source`](super::Source) from the same error read back from storage,
//! which has none.

use super::Error;

impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        use Error as E;
        match (self, other) {
            (E::NumberExists { number: a }, E::NumberExists { number: b })
            | (E::NotFound { number: a }, E::NotFound { number: b })
            | (E::NotReconcilable { number: a }, E::NotReconcilable { number: b })
            | (E::NoChangeRequired { number: a }, E::NoChangeRequired { number: b })
            | (E::NumberIsPorting { number: a }, E::NumberIsPorting { number: b }) => a == b,
            (E::Unauthorized { cause: a }, E::Unauthorized { cause: b }) => a == b,
            (
                E::InvalidStateTransition { from: f1, to: t1 },
                E::InvalidStateTransition { from: f2, to: t2 },
            ) => (f1, t1) == (f2, t2),
            (E::InvalidMdnTransition { to: a }, E::InvalidMdnTransition { to: b }) => a == b,
            (
                E::InvalidPortTransition { from: f1, to: t1 },
                E::InvalidPortTransition { from: f2, to: t2 },
            ) => (f1, t1) == (f2, t2),
            (E::UserNotAllowed { cause: a }, E::UserNotAllowed { cause: b }) => a == b,
            (
                E::AttachmentTooLarge {
                    name: n1,
                    size: s1,
                    limit: l1,
                },
                E::AttachmentTooLarge {
                    name: n2,
                    size: s2,
                    limit: l2,
                },
            ) => (n1, s1, l1) == (n2, s2, l2),
            (E::AssignFailure { cause: a }, E::AssignFailure { cause: b })
            | (E::Invalid { cause: a }, E::Invalid { cause: b })
            | (E::Internal { cause: a }, E::Internal { cause: b }) => a == b,
            (
                E::Broker {
                    broker: b1,
                    cause: c1,
                    ..
                },
                E::Broker {
                    broker: b2,
                    cause: c2,
                    ..
                },
            ) => (b1, c1) == (b2, c2),
            (
                E::E911Invalid {
                    provider: p1,
                    address: a1,
                    message: m1,
                },
                E::E911Invalid {
                    provider: p2,
                    address: a2,
                    message: m2,
                },
            ) => (p1, a1, m1) == (p2, a2, m2),
            (
                E::MultipleChoice {
                    provider: p1,
                    address: a1,
                    details: d1,
                    message: m1,
                },
                E::MultipleChoice {
                    provider: p2,
                    address: a2,
                    details: d2,
                    message: m2,
                },
            ) => (p1, a1, d1, m1) == (p2, a2, d2, m2),
            (
                E::ByCarrier {
                    number: n1,
                    reason: r1,
                    fault: f1,
                    source: _,
                },
                E::ByCarrier {
                    number: n2,
                    reason: r2,
                    fault: f2,
                    source: _,
                },
            ) => (n1, r1, f1) == (n2, r2, f2),
            (
                E::Unspecified {
                    kind: k1,
                    cause: c1,
                },
                E::Unspecified {
                    kind: k2,
                    cause: c2,
                },
            ) => (k1, c1) == (k2, c2),
            (
                E::NotEnoughCredit {
                    account: a1,
                    reason: r1,
                },
                E::NotEnoughCredit {
                    account: a2,
                    reason: r2,
                },
            ) => (a1, r1) == (a2, r2),
            (
                E::Conflict {
                    number: n1,
                    kind: k1,
                    detail: d1,
                },
                E::Conflict {
                    number: n2,
                    kind: k2,
                    detail: d2,
                },
            ) => (n1, k1, d1) == (n2, k2, d2),
            (E::Validation { errors: a }, E::Validation { errors: b }) => a == b,
            (E::InitFailed { data: a }, E::InitFailed { data: b }) => a == b,
            (
                E::CityNotFound {
                    country: c1,
                    city: t1,
                },
                E::CityNotFound {
                    country: c2,
                    city: t2,
                },
            ) => (c1, t1) == (c2, t2),
            (
                E::Database {
                    cause: c1,
                    fault: f1,
                    source: _,
                },
                E::Database {
                    cause: c2,
                    fault: f2,
                    source: _,
                },
            ) => (c1, f1) == (c2, f2),
            (
                E::NotIdentified {
                    number: n1,
                    reason: r1,
                    account_id: a1,
                },
                E::NotIdentified {
                    number: n2,
                    reason: r2,
                    account_id: a2,
                },
            ) => (n1, r1, a1) == (n2, r2, a2),
            // Different variants. Listed, not `_`, so that a new variant
            // without its arm above is a compile error.
            (E::NumberExists { .. }, _)
            | (E::NotFound { .. }, _)
            | (E::NotReconcilable { .. }, _)
            | (E::Unauthorized { .. }, _)
            | (E::NoChangeRequired { .. }, _)
            | (E::InvalidStateTransition { .. }, _)
            | (E::InvalidMdnTransition { .. }, _)
            | (E::InvalidPortTransition { .. }, _)
            | (E::UserNotAllowed { .. }, _)
            | (E::AttachmentTooLarge { .. }, _)
            | (E::AssignFailure { .. }, _)
            | (E::NumberIsPorting { .. }, _)
            | (E::Invalid { .. }, _)
            | (E::E911Invalid { .. }, _)
            | (E::MultipleChoice { .. }, _)
            | (E::ByCarrier { .. }, _)
            | (E::Unspecified { .. }, _)
            | (E::NotEnoughCredit { .. }, _)
            | (E::Conflict { .. }, _)
            | (E::Validation { .. }, _)
            | (E::InitFailed { .. }, _)
            | (E::CityNotFound { .. }, _)
            | (E::Database { .. }, _)
            | (E::NotIdentified { .. }, _)
            | (E::Broker { .. }, _)
            | (E::Internal { .. }, _) => false,
        }
    }
}
