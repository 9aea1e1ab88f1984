//! The outbox: events written with the batch that commits them, read in
//! `seq` order, acknowledged up to a `seq`.

use super::support::{account, expect_eq, num, ok, record, t0};
use crate::account::Actor;
use crate::events::Event;
use crate::number::PhoneNumber;
use crate::outbox::Message;
use crate::record::Revision;
use crate::state::{NumberState, Operation};
use crate::store::{BatchMode, IdempotencyEntry, Journal, Store, StoreExt, Write};

fn event(number: PhoneNumber, operation: Operation, tag: &str) -> Event {
    let mut e = Event::new(
        number,
        operation,
        None,
        NumberState::Reserved,
        Actor::System,
        (None, None),
        t0(),
        (Revision::NEW, Revision::NEW),
    );
    e.request_id = Some(tag.to_string());
    e
}

/// The pending entries of this check's numbers (other checks may share the store).
async fn mine(store: &dyn Store, after: u64) -> Vec<Message> {
    const C: &str = "outbox";
    let prefix = super::support::prefix(40);
    let all = ok(
        C,
        "outbox_pending",
        store.outbox_pending(after, 10_000).await,
    );
    let seqs: Vec<u64> = all.iter().map(|m| m.seq).collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    expect_eq(
        C,
        "outbox_pending is in strictly increasing seq order",
        seqs,
        sorted,
    );
    if let Some(first) = all.first() {
        assert!(
            first.seq > after,
            "conformance::outbox: outbox_pending({after}) returned seq {}",
            first.seq
        );
    }
    all.into_iter()
        .filter(|m| m.number.as_str().starts_with(&prefix))
        .collect()
}

/// What the entries say: (number, request id, `after` revision), in order.
fn facts(messages: &[Message]) -> Vec<(PhoneNumber, String, Revision)> {
    messages
        .iter()
        .map(|m| {
            let e: Event = serde_json::from_slice(&m.body)
                .unwrap_or_else(|e| panic!("conformance::outbox: a body is not an Event: {e}"));
            assert_eq!(
                e.number, m.number,
                "conformance::outbox: body and number differ"
            );
            assert_eq!(
                m.routing_key,
                crate::outbox::routing_key(&e),
                "conformance::outbox: routing key"
            );
            (e.number, e.request_id.unwrap_or_default(), e.after)
        })
        .collect()
}

/// Only writes that commit leave an entry, at the write's new revision, in
/// write order and commit order (per item, atomic, journaled, and events that
/// go with no write); pending entries page by `after_seq` and `limit`, and an
/// acknowledgement removes exactly the entries up to its `seq`.
pub(super) async fn outbox(store: &dyn Store) {
    const C: &str = "outbox";
    // A store without an outbox says so with the trait's own refusal, and
    // has nothing to check here.
    if let Err(e) = store.outbox_pending(0, 1).await {
        if e == crate::store::no_outbox() {
            return;
        }
        panic!("conformance::outbox: outbox_pending failed: {e:?}");
    }
    let a = account(40, "a");
    let (n1, n2, n3, n4, n5) = (num(40, 1), num(40, 2), num(40, 3), num(40, 4), num(40, 5));
    let start = mine(store, 0).await.last().map_or(0, |m| m.seq);
    ok(
        C,
        "setup insert",
        store
            .insert(record(n2, NumberState::Reserved, Some(&a), t0()))
            .await,
    );

    // Per item: n1 inserted, n2 updated, n3 refused (not stored); n4 has no event.
    let writes = vec![
        Write::Insert(record(n1, NumberState::Reserved, Some(&a), t0())),
        Write::Update {
            record: record(n2, NumberState::InService, Some(&a), t0()),
            expected: Revision(1),
        },
        Write::Update {
            record: record(n3, NumberState::InService, Some(&a), t0()),
            expected: Revision(1),
        },
        Write::Insert(record(n4, NumberState::Reserved, Some(&a), t0())),
    ];
    let events = vec![
        Some(event(n1, Operation::Create, "b1")),
        Some(event(n2, Operation::Activate, "b1")),
        Some(event(n3, Operation::Activate, "b1")),
    ];
    let results = ok(
        C,
        "write_batch_outboxed",
        store
            .write_batch_outboxed(writes, BatchMode::PerItem, None, &events)
            .await,
    );
    expect_eq(
        C,
        "results",
        results.iter().map(|r| r.is_ok()).collect::<Vec<_>>(),
        vec![true, true, false, true],
    );

    // A refused atomic batch leaves nothing, not even for its good write.
    let refused = vec![
        Write::Insert(record(n5, NumberState::Reserved, Some(&a), t0())),
        Write::Insert(record(n1, NumberState::Reserved, Some(&a), t0())),
    ];
    let events = vec![
        Some(event(n5, Operation::Create, "b2")),
        Some(event(n1, Operation::Create, "b2")),
    ];
    let results = ok(
        C,
        "write_batch_outboxed (atomic)",
        store
            .write_batch_outboxed(refused, BatchMode::Atomic, None, &events)
            .await,
    );
    assert!(
        results.iter().all(|r| r.is_err()),
        "conformance::outbox: the atomic batch was refused"
    );

    // Journaled: the progress and the entry commit together.
    let key = "conformance-040/account/key";
    let entry = IdempotencyEntry {
        key: key.into(),
        fingerprint: "fp".into(),
        response: None,
        created: t0(),
        expires_at: t0() + chrono::Duration::hours(1),
        owner: "owner".into(),
        lease_until: Some(t0() + chrono::Duration::hours(1)),
        progress: Default::default(),
    };
    ok(C, "begin_idempotency", store.begin_idempotency(entry).await);
    let journal = Journal {
        key: key.into(),
        outcomes: vec![Some(serde_json::json!(5))],
    };
    let events = vec![Some(event(n5, Operation::Create, "b3"))];
    let writes = vec![Write::Insert(record(
        n5,
        NumberState::Reserved,
        Some(&a),
        t0(),
    ))];
    ok(
        C,
        "write_batch_outboxed (journaled)",
        store
            .write_batch_outboxed(writes, BatchMode::PerItem, Some(&journal), &events)
            .await,
    );
    let progress = ok(C, "get_idempotency", store.get_idempotency(key).await)
        .map(|e| e.progress.contains_key(n5.as_str()));
    expect_eq(C, "the journaled write's progress", progress, Some(true));

    // An event with no write.
    ok(
        C,
        "outbox_append",
        store
            .outbox_append(&[event(n3, Operation::UndoPurchaseFailed, "b4")])
            .await,
    );

    let pending = mine(store, start).await;
    expect_eq(
        C,
        "entries (number, request id, after)",
        facts(&pending),
        vec![
            (n1, "b1".to_string(), Revision(1)),
            (n2, "b1".to_string(), Revision(2)),
            (n5, "b3".to_string(), Revision(1)),
            (n3, "b4".to_string(), Revision::NEW),
        ],
    );

    // Paging: `limit` and `after_seq`.
    let first_two = ok(
        C,
        "outbox_pending (limit 2)",
        store.outbox_pending(start, 2).await,
    );
    expect_eq(C, "limit", first_two.len(), 2);
    let Some(second) = pending.get(1).map(|m| m.seq) else {
        panic!("conformance::outbox: fewer entries than written");
    };
    let rest = mine(store, second).await;
    expect_eq(C, "after_seq", facts(&rest), facts(&pending[2..]));

    // Acknowledging up to the second entry removes the first two only, and
    // again is not an error; the next entry keeps its seq.
    ok(C, "outbox_ack", store.outbox_ack(second).await);
    ok(C, "outbox_ack again", store.outbox_ack(second).await);
    expect_eq(C, "after the ack", mine(store, 0).await, rest.clone());
    let Some(last) = rest.last().map(|m| m.seq) else {
        panic!("conformance::outbox: no entry left");
    };
    ok(C, "outbox_ack all", store.outbox_ack(last).await);
    expect_eq(
        C,
        "after acknowledging all",
        mine(store, 0).await,
        Vec::new(),
    );

    // A seq is never reused after an acknowledgement.
    ok(
        C,
        "outbox_append",
        store
            .outbox_append(&[event(n4, Operation::Update, "b5")])
            .await,
    );
    let after = mine(store, 0).await;
    assert!(
        after.len() == 1 && after.iter().all(|m| m.seq > last),
        "conformance::outbox: a new entry after acknowledging {last} has seq {:?}",
        after.iter().map(|m| m.seq).collect::<Vec<_>>()
    );
}
