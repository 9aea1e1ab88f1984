//! Crash safety of `SqliteStore` under a real process kill.
//!
//! Each test starts the `worker` example on a fresh SQLite file doing a long
//! bulk job (search 1,000 numbers, then five generations of collection writes
//! in chunks of 250, each writing about 4 KB of public fields per number: buy
//! them with `activate_many`, then `update_many`, `reserve_many`,
//! `activate_many`, `update_many`), kills it with SIGKILL at a chosen moment,
//! reopens the file and checks:
//!
//! - the file passes `PRAGMA integrity_check`, and every record decodes (a full
//!   listing over every state, and `get_many` of every number, agree);
//! - every number is either untouched by the step in flight or fully changed by
//!   it: it is exactly the record of some generation `g` (the public fields of
//!   generation `g` byte for byte, the state and owner that generation gives,
//!   no claim), or still the search's discovery entry (no owner, no public
//!   fields), possibly with a purchase claim;
//! - a chunk is all one generation (a collection's writes commit in one
//!   transaction), chunk generations never increase along the job's order and
//!   differ by at most one, so the file holds exactly the steps done so far:
//!   at least every step the worker reported done, at most one more;
//! - a purchase claim only remains on the chunk whose purchase was in flight,
//!   expires within the claim TTL of the kill, blocks other writers until then
//!   and not after;
//! - after the TTL, a fresh worker on the same file reruns the job to the end
//!   with no error, buys exactly the numbers the dead one had not committed,
//!   and leaves every number at the last generation. (Numbers the dead worker
//!   had bought from its carrier but not committed are bought again: the
//!   store only knows of the claim, and nothing reconciles it with the
//!   carrier. With the simulated carrier, whose sales live in the process,
//!   that goes through; a real carrier would charge twice or refuse.)
//!
//! The kill points (one test each): while the 600th purchase hangs (claims
//! written, purchases made, nothing committed; made deterministic by the
//! worker's `--stall-acquire-at`); right after the worker reports step 6 done;
//! half-way into step 11 and 90% into step 15 (measured by how long the step
//! before took, so the kill lands inside the step whatever the machine's
//! speed); and as soon as a reader sees step 17's writes in the file (usually
//! before the worker has reported them). None of the assertions depends on where exactly a
//! kill lands, only on what the worker had reported by then.
//!
//! Two more tests kill a worker serving one keyed 1,000-number `activate_many`
//! (its `keyed` job: while a purchase hangs, and as soon as the collection is
//! committed) and retry with the same idempotency key: after the key's lease
//! (seconds here), the retry gets the true outcome rather than 409 for a day.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use number_manager::account::{AccountId, MemoryAccounts};
use number_manager::carrier::{CarrierRegistry, SimulatedCarrier};
use number_manager::clock::ManualClock;
use number_manager::record::NumberRecord;
use number_manager::state::NumberState;
use number_manager::store::{ListQuery, SqliteOptions, SqliteStore, Store, StoreExt};
use number_manager::{Config, Error, NumberManager, Options, PhoneNumber};
use serde_json::{json, Map, Value};

mod worker_support;

use worker_support::Worker;

// ------------------------------------------------------------ the job

const COUNT: usize = 1000;
const GENERATIONS: u64 = 6;
const CHUNK: usize = 250;
const CHUNKS: usize = COUNT / CHUNK;
const FIELD_BYTES: usize = 4096;
const ACCOUNT: &str = "b00";
const SEED: u64 = 2600;
const CLAIM_TTL_SECS: i64 = 3;

fn job_args(db: &Path, stall_at: Option<usize>) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--store".into(),
        format!("sqlite:{}", db.display()),
        "--seed".into(),
        SEED.to_string(),
        "--claim-ttl-secs".into(),
        CLAIM_TTL_SECS.to_string(),
        "bulk".into(),
        "--account".into(),
        ACCOUNT.into(),
        "--count".into(),
        COUNT.to_string(),
        "--generations".into(),
        GENERATIONS.to_string(),
        "--chunk".into(),
        CHUNK.to_string(),
        "--field-bytes".into(),
        FIELD_BYTES.to_string(),
    ];
    if let Some(k) = stall_at {
        args.push("--stall-acquire-at".into());
        args.push(k.to_string());
    }
    args
}

/// What the worker writes in generation `gen` (its `generation_fields`).
fn generation_fields(gen: u64, bytes: usize) -> Map<String, Value> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut state = gen.wrapping_mul(0x1000_0000_01B3) ^ 0x5EED;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let payload: String = (0..bytes)
        .map(|_| char::from(ALPHABET[(next() % ALPHABET.len() as u64) as usize]))
        .collect();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in payload.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut m = Map::new();
    m.insert("nm_gen".into(), json!(gen));
    m.insert("nm_check".into(), json!(format!("{h:016x}")));
    m.insert(
        "nm_meta".into(),
        json!({"gen": gen, "label": format!("generation {gen}")}),
    );
    m.insert("nm_payload".into(), json!(payload));
    m
}

/// The state a number is in after generation `gen` (1: bought into service,
/// then update, reserve, activate, ... in turn).
fn state_after(gen: u64) -> NumberState {
    if gen >= 3 && gen.is_multiple_of(3) {
        NumberState::Reserved
    } else {
        NumberState::InService
    }
}

// ------------------------------------------------------------ checking a file

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "nm-crash-{tag}-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("numbers.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Every record, through a full listing of every state; `get_many` must agree.
async fn read_all(
    store: &SqliteStore,
    numbers: &[PhoneNumber],
) -> BTreeMap<PhoneNumber, NumberRecord> {
    let mut all = BTreeMap::new();
    let mut query = ListQuery::default()
        .with_states(NumberState::ALL.to_vec())
        .with_limit(300);
    loop {
        let page = store
            .list(&query)
            .await
            .expect("every listed record decodes");
        for r in page.records {
            assert!(all.insert(r.number, r).is_none(), "a number listed twice");
        }
        match page.next_start_key {
            Some(k) => query.start_key = Some(k),
            None => break,
        }
    }
    let got = store
        .get_many(numbers)
        .await
        .expect("every record reads back");
    for (n, r) in numbers.iter().zip(got) {
        assert_eq!(r.as_ref(), all.get(n), "get_many and list disagree on {n}");
    }
    all
}

/// Where one number is in the job: -1 absent, 0 the search's discovery entry,
/// `g` the record generation `g` wrote. Also whether it holds a purchase claim.
fn level_of(
    n: &PhoneNumber,
    record: Option<&NumberRecord>,
    claims_after: DateTime<Utc>,
    claims_until: DateTime<Utc>,
) -> (i64, bool) {
    let Some(r) = record else { return (-1, false) };
    assert_eq!(r.carrier, "simulated", "{n}: carrier");
    if r.state == NumberState::Discovery {
        assert!(
            r.assigned_to.is_none(),
            "{n}: a discovery entry has no owner"
        );
        assert!(
            r.public.is_empty(),
            "{n}: a discovery entry has no public fields"
        );
        assert!(!r.carrier_data.contains_key("order_id"), "{n}: not bought");
        let claimed = match &r.pending {
            None => false,
            Some(p) => {
                assert_eq!(p.operation, "activate", "{n}: the claim's operation");
                assert!(
                    p.until > claims_after && p.until <= claims_until,
                    "{n}: claim until {} is not within the TTL of the worker's life ({claims_after} .. {claims_until})",
                    p.until
                );
                true
            }
        };
        return (0, claimed);
    }
    assert!(
        r.pending.is_none(),
        "{n}: a committed record keeps no claim: {:?}",
        r.pending
    );
    assert_eq!(
        r.assigned_to.as_ref().map(|a| a.as_str()),
        Some(ACCOUNT),
        "{n}: owner"
    );
    assert!(
        r.reserve_history.iter().all(|a| a.as_str() == ACCOUNT),
        "{n}: reserve history {:?}",
        r.reserve_history
    );
    assert!(r.expires_at.is_none(), "{n}: no expiry once bought");
    assert!(
        r.carrier_data.get("order_id").is_some_and(Value::is_string),
        "{n}: bought numbers keep their order id"
    );
    let gen = r
        .public
        .get("nm_gen")
        .and_then(Value::as_u64)
        .unwrap_or_else(|| {
            panic!(
                "{n}: state {} without a generation: {:?}",
                r.state.as_str(),
                r.public.keys()
            )
        });
    assert!((1..GENERATIONS).contains(&gen), "{n}: generation {gen}");
    let want = generation_fields(gen, FIELD_BYTES);
    assert!(
        r.public == want,
        "{n}: public fields are not exactly generation {gen}'s"
    );
    assert_eq!(
        r.public.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{n}: public field order"
    );
    assert_eq!(
        r.state,
        state_after(gen),
        "{n}: state after generation {gen}"
    );
    (gen as i64, false)
}

/// What a file says about the job.
#[derive(Debug)]
struct Snapshot {
    /// The steps whose writes are in the file (the search is step 0).
    completed_steps: u64,
    /// The generation of each chunk.
    chunk_levels: Vec<i64>,
    /// The chunk holding purchase claims, if any.
    claimed_chunk: Option<usize>,
    /// The latest claim expiry.
    claims_expire: Option<DateTime<Utc>>,
    /// Numbers still discovery entries.
    unbought: BTreeSet<PhoneNumber>,
}

fn analyse(
    numbers: &[PhoneNumber],
    records: &BTreeMap<PhoneNumber, NumberRecord>,
    claims_after: DateTime<Utc>,
    claims_until: DateTime<Utc>,
) -> Snapshot {
    assert_eq!(
        records.len(),
        COUNT,
        "the file holds exactly the job's numbers"
    );
    let mut chunk_levels = Vec::new();
    let mut claimed_chunk = None;
    let mut unbought = BTreeSet::new();
    for (ci, chunk) in numbers.chunks(CHUNK).enumerate() {
        let levels: Vec<(i64, bool)> = chunk
            .iter()
            .map(|n| level_of(n, records.get(n), claims_after, claims_until))
            .collect();
        let (level, claimed) = levels[0];
        assert!(
            levels.iter().all(|l| *l == (level, claimed)),
            "chunk {ci} is torn: {:?}",
            levels.iter().collect::<BTreeSet<_>>()
        );
        assert!(level >= 0, "chunk {ci}: the search's entries are all there");
        if claimed {
            assert!(claimed_chunk.is_none(), "claims in two chunks");
            claimed_chunk = Some(ci);
        }
        if level == 0 {
            unbought.extend(chunk.iter().copied());
        }
        chunk_levels.push(level);
    }
    let max = *chunk_levels.iter().max().unwrap();
    let min = *chunk_levels.iter().min().unwrap();
    assert!(
        chunk_levels.windows(2).all(|w| w[0] >= w[1]) && max - min <= 1,
        "chunks were written out of the job's order: {chunk_levels:?}"
    );
    if let Some(c) = claimed_chunk {
        // Only the purchase in flight may hold claims: the first chunk not yet bought.
        assert_eq!(chunk_levels[c], 0);
        assert!(
            c == 0 || chunk_levels[c - 1] == 1,
            "claims on {c}: {chunk_levels:?}"
        );
    }
    let claims_expire = numbers
        .iter()
        .filter_map(|n| records.get(n)?.pending.as_ref().map(|p| p.until))
        .max();
    Snapshot {
        completed_steps: 1 + chunk_levels.iter().map(|l| *l as u64).sum::<u64>(),
        chunk_levels,
        claimed_chunk,
        claims_expire,
        unbought,
    }
}

fn outcomes(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|v| v["type"] == "outcome").collect()
}

fn searched_numbers(lines: &[Value]) -> Vec<PhoneNumber> {
    let numbers: Vec<PhoneNumber> = outcomes(lines)
        .into_iter()
        .filter(|v| v["op"] == "search")
        .map(|v| PhoneNumber::parse(v["number"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(numbers.len(), COUNT, "the worker found its numbers");
    numbers
}

fn purchased(lines: &[Value]) -> BTreeSet<PhoneNumber> {
    let p = lines
        .iter()
        .find(|v| v["type"] == "purchases")
        .expect("the worker printed its purchases");
    let list = p["purchases"].as_array().unwrap();
    let set: BTreeSet<PhoneNumber> = list
        .iter()
        .map(|x| PhoneNumber::parse(x["number"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(set.len(), list.len(), "the carrier sold a number twice");
    assert!(list.iter().all(|x| x["account"] == ACCOUNT));
    set
}

/// A manager over the file with a stopped clock, like the worker's otherwise.
fn manager_at(store: SqliteStore, now: DateTime<Utc>) -> NumberManager {
    let accounts = Arc::new(MemoryAccounts::new());
    let master = accounts.add("master", "Master", None).unwrap();
    accounts.set_master(&master, true);
    let b00 = accounts.add(ACCOUNT, "Buyer 0", Some(&master)).unwrap();
    accounts.set_allow_additions(&b00, true);
    NumberManager::builder()
        .store(Arc::new(store))
        .accounts(accounts)
        .carriers(CarrierRegistry::new().with(Arc::new(SimulatedCarrier::new(SEED))))
        .clock(Arc::new(ManualClock::new(now)))
        .config(Config::default().with_claim_ttl(Duration::from_secs(CLAIM_TTL_SECS as u64)))
        .build()
}

// ------------------------------------------------------------ the scenarios

#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// When the worker says its `n`-th purchase hangs.
    Stalled(usize),
    /// `delay_ms` after the worker reports step `step` done.
    AfterStep { step: u64, delay_ms: u64 },
    /// After the worker reports step `step` done, wait `percent`% of the time
    /// that step took (so the kill lands inside the next step wherever the
    /// machine's speed puts it).
    IntoNextStep { step: u64, percent: u32 },
    /// As soon as a reader sees step `step`'s writes committed in the file,
    /// before (or while) the worker reports it.
    WhenCommitted { step: u64 },
}

/// The generation and chunk a bulk step (from 1) writes.
fn step_position(step: u64) -> (u64, usize) {
    let s = step - 1;
    (1 + s / CHUNKS as u64, (s % CHUNKS as u64) as usize)
}

fn crash_and_recover(tag: &str, kill_at: KillAt) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(240);
    let dir = TempDir::new(tag);
    let db = dir.file();
    let rt = runtime();

    // 1. Run the job and kill it.
    let born = Utc::now();
    let stall = match kill_at {
        KillAt::Stalled(n) => Some(n),
        _ => None,
    };
    let mut worker = Worker::spawn(&job_args(&db, stall));
    let progress = |step: u64| move |v: &Value| v["type"] == "progress" && v["step"] == step;
    match kill_at {
        KillAt::Stalled(_) => {
            worker.wait_for(deadline, "the stall", |v| v["type"] == "stalled");
        }
        KillAt::AfterStep { step, delay_ms } => {
            worker.wait_for(deadline, "the progress line", progress(step));
            std::thread::sleep(Duration::from_millis(delay_ms));
        }
        KillAt::IntoNextStep { step, percent } => {
            worker.wait_for(deadline, "the progress line", progress(step - 1));
            let t = Instant::now();
            worker.wait_for(deadline, "the progress line", progress(step));
            std::thread::sleep(t.elapsed() * percent / 100);
        }
        KillAt::WhenCommitted { step } => {
            worker.wait_for(deadline, "the search", progress(0));
            let (gen, chunk) = step_position(step);
            let watched = searched_numbers(&worker.seen)[chunk * CHUNK + CHUNK - 1];
            rt.block_on(async {
                let reader =
                    SqliteStore::open_with(&db, SqliteOptions::default().with_read_only(true))
                        .await
                        .expect("a reader on the file");
                loop {
                    let r = reader.get(&watched).await.expect("the reader reads");
                    if r.is_some_and(|r| r.public.get("nm_gen") == Some(&json!(gen))) {
                        break;
                    }
                    assert!(Instant::now() < deadline, "step {step} never committed");
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                reader.close().await;
            });
        }
    }
    let status = worker.kill(deadline);
    let killed = Utc::now();
    assert!(
        !status.success(),
        "the worker was killed, not finished: {status:?}"
    );
    let lines = std::mem::take(&mut worker.seen);
    drop(worker);
    for o in outcomes(&lines) {
        assert_eq!(o["ok"], true, "the job's writes all succeed: {o}");
    }
    let reported = lines.iter().filter(|v| v["type"] == "progress").count() as u64;
    let numbers = searched_numbers(&lines);

    // 2. Reopen and check the file.
    let ttl = chrono::Duration::seconds(CLAIM_TTL_SECS);
    let snapshot = rt.block_on(async {
        let store = SqliteStore::open(&db).await.expect("the file reopens");
        store
            .integrity_check()
            .await
            .expect("the file passes the integrity check");
        let records = read_all(&store, &numbers).await;
        let snapshot = analyse(&numbers, &records, born + ttl, killed + ttl);
        store.close().await;
        snapshot
    });
    eprintln!(
        "{tag}: killed after {reported} reported steps; the file holds {} steps, chunk generations {:?}, claims on {:?}",
        snapshot.completed_steps, snapshot.chunk_levels, snapshot.claimed_chunk
    );
    assert!(
        snapshot.completed_steps == reported || snapshot.completed_steps == reported + 1,
        "the worker reported {reported} steps done; the file holds {}",
        snapshot.completed_steps
    );
    if let KillAt::Stalled(n) = kill_at {
        // Deterministic: the hung purchase's chunk is claimed, earlier ones bought.
        let chunk = (n - 1) / CHUNK;
        assert_eq!(snapshot.claimed_chunk, Some(chunk));
        assert_eq!(snapshot.completed_steps, 1 + chunk as u64);
        assert_eq!(snapshot.completed_steps, reported);
    }

    // 3. A live claim blocks other writers; a lapsed one does not.
    if let Some(until) = snapshot.claims_expire {
        let chunk = snapshot.claimed_chunk.expect("claims sit on one chunk");
        let claimed = numbers[chunk * CHUNK];
        rt.block_on(async {
            let b00 = AccountId::new(ACCOUNT).unwrap();
            let opts = Options::as_account(&b00).dry_run();
            let store = SqliteStore::open(&db).await.unwrap();
            let during = manager_at(store.clone(), until - chrono::Duration::seconds(1));
            let r = during
                .activate(&b00, claimed.as_str(), Map::new(), &opts)
                .await;
            assert!(
                matches!(r, Err(Error::Conflict { .. })),
                "a live claim blocks: {r:?}"
            );
            let after = manager_at(store.clone(), until + chrono::Duration::seconds(1));
            let r = after
                .activate(&b00, claimed.as_str(), Map::new(), &opts)
                .await
                .expect("a lapsed claim does not block");
            assert_eq!(r.record.state, NumberState::InService);
            store.close().await;
        });
        // The rerun below uses the system clock: wait (boundedly) until the claims lapse.
        assert!(until <= killed + ttl);
        while Utc::now() <= until {
            assert!(Instant::now() < deadline, "waiting for claims to lapse");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    // 4. A fresh worker carries on to the end.
    let mut rerun = Worker::spawn(&job_args(&db, None));
    let status = rerun.finish(deadline);
    assert!(
        status.success(),
        "the rerun finished: {status:?}\n{}",
        rerun.stderr()
    );
    let lines = std::mem::take(&mut rerun.seen);
    for o in outcomes(&lines) {
        assert_eq!(o["ok"], true, "the rerun's writes all succeed: {o}");
    }
    assert_eq!(searched_numbers(&lines), numbers, "the same numbers");
    assert!(lines.iter().any(|v| v["type"] == "done"));
    assert_eq!(
        purchased(&lines),
        snapshot.unbought,
        "the rerun buys exactly what the dead worker had not committed"
    );
    rt.block_on(async {
        let store = SqliteStore::open(&db).await.unwrap();
        store.integrity_check().await.unwrap();
        let records = read_all(&store, &numbers).await;
        let done = analyse(&numbers, &records, born, born);
        assert_eq!(done.chunk_levels, vec![GENERATIONS as i64 - 1; CHUNKS]);
        assert_eq!(done.claimed_chunk, None);
        assert_eq!(
            store.get(&numbers[0]).await.unwrap().unwrap().state,
            state_after(GENERATIONS - 1)
        );
        store.close().await;
    });
    eprintln!("{tag}: took {:?}", started.elapsed());
}

#[test]
fn killed_while_a_purchase_hangs_with_claims_written() {
    crash_and_recover("stall", KillAt::Stalled(600));
}

#[test]
fn killed_right_after_a_step_is_reported() {
    crash_and_recover(
        "step6",
        KillAt::AfterStep {
            step: 6,
            delay_ms: 0,
        },
    );
}

#[test]
fn killed_in_the_middle_of_a_step() {
    crash_and_recover(
        "step10",
        KillAt::IntoNextStep {
            step: 10,
            percent: 50,
        },
    );
}

#[test]
fn killed_near_the_end_of_a_step() {
    crash_and_recover(
        "step14",
        KillAt::IntoNextStep {
            step: 14,
            percent: 90,
        },
    );
}

#[test]
fn killed_as_soon_as_a_step_is_committed() {
    crash_and_recover("step17", KillAt::WhenCommitted { step: 17 });
}

/// `SqliteStore::integrity_check` passes a sound file and reports a damaged one.
#[test]
fn integrity_check_reports_a_damaged_file() {
    let dir = TempDir::new("damaged");
    let db = dir.file();
    let rt = runtime();
    rt.block_on(async {
        let store = SqliteStore::open(&db).await.unwrap();
        let now = Utc::now();
        for i in 0..2000u32 {
            let n = PhoneNumber::parse(&format!("+1415300{i:04}")).unwrap();
            let mut r = NumberRecord::new(n, NumberState::Reserved, "local", now);
            r.public.insert("pad".into(), json!("x".repeat(200)));
            store.insert(r).await.unwrap();
        }
        store.integrity_check().await.expect("a sound file passes");
        store.close().await;
    });
    // Overwrite the second half of the file (the WAL was checkpointed on close).
    let len = std::fs::metadata(&db).unwrap().len();
    let page = 4096;
    let from = (len / 2) / page * page;
    let mut bytes = std::fs::read(&db).unwrap();
    for (i, b) in bytes[from as usize..].iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    std::fs::write(&db, bytes).unwrap();
    rt.block_on(async {
        match SqliteStore::open(&db).await {
            Err(e) => assert!(matches!(e, Error::Database { .. }), "{e:?}"),
            Ok(store) => {
                let r = store.integrity_check().await;
                assert!(matches!(r, Err(Error::Database { .. })), "{r:?}");
                store.close().await;
            }
        }
    });
}

// ------------------------------------------------------------ a keyed request killed

/// How long a pending key is held without renewal by a worker with a
/// `CLAIM_TTL_SECS` claim life: the claim's life and a half.
const KEY_LEASE: Duration = Duration::from_millis(CLAIM_TTL_SECS as u64 * 1500);

fn keyed_args(db: &Path, numbers: &Path, stall_at: Option<usize>) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--store".into(),
        format!("sqlite:{}", db.display()),
        "--seed".into(),
        SEED.to_string(),
        "--claim-ttl-secs".into(),
        CLAIM_TTL_SECS.to_string(),
        "keyed".into(),
        "--numbers".into(),
        numbers.display().to_string(),
        "--account".into(),
        ACCOUNT.into(),
        "--key".into(),
        "order-1000".into(),
    ];
    if let Some(k) = stall_at {
        args.push("--stall-acquire-at".into());
        args.push(k.to_string());
    }
    args
}

/// A keyed worker run to its end: its `keyed` line and how many numbers it bought.
fn keyed_run(db: &Path, numbers: &Path, deadline: Instant) -> (Value, usize) {
    let mut w = Worker::spawn(&keyed_args(db, numbers, None));
    let status = w.finish(deadline);
    assert!(status.success(), "{status:?}\n{}", w.stderr());
    let line = w
        .seen
        .iter()
        .find(|v| v["type"] == "keyed")
        .cloned()
        .expect("the worker printed its answer");
    (line, purchased(&w.seen).len())
}

/// Whether a `keyed` line is the whole job done: every number in service.
fn all_in_service(line: &Value) -> bool {
    line["ok"] == true
        && line["success"] == COUNT
        && line["errors"] == 0
        && line["states"] == json!({"in_service": COUNT})
}

#[derive(Debug, Clone, Copy)]
enum KeyedKill {
    /// When the worker says its `n`-th purchase hangs: claims written, purchases
    /// made, nothing committed.
    Stalled(usize),
    /// As soon as a reader sees the collection's writes committed (before or
    /// after the worker recorded its answer under the key).
    Committed,
}

/// A client sends one 1,000-number `activate_many` with an idempotency key;
/// the process serving it is killed; the client retries with the same key.
/// Right away the key may still be held (409 "still running", or the job
/// done if the retry came late); once its lease lapsed (seconds, not the
/// key's 24 hours), the retry gets the true outcome, every number in service,
/// buying exactly the numbers the dead process had not committed; and a
/// further retry replays that answer, buying nothing.
fn keyed_request_killed(tag: &str, kill_at: KeyedKill) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(240);
    let dir = TempDir::new(tag);
    let db = dir.file();
    let list = dir.0.join("numbers.txt");
    let rt = runtime();

    let mut search = Worker::spawn(&[
        "--store".into(),
        format!("sqlite:{}", db.display()),
        "--seed".into(),
        SEED.to_string(),
        "search".into(),
        "--count".into(),
        COUNT.to_string(),
    ]);
    assert!(search.finish(deadline).success(), "{}", search.stderr());
    let numbers = searched_numbers(&search.seen);
    let text: Vec<&str> = numbers.iter().map(|n| n.as_str()).collect();
    std::fs::write(&list, text.join("\n")).expect("write the numbers");

    let stall = match kill_at {
        KeyedKill::Stalled(n) => Some(n),
        KeyedKill::Committed => None,
    };
    let mut first = Worker::spawn(&keyed_args(&db, &list, stall));
    match kill_at {
        KeyedKill::Stalled(_) => {
            first.wait_for(deadline, "the stall", |v| v["type"] == "stalled");
        }
        KeyedKill::Committed => rt.block_on(async {
            let reader = SqliteStore::open_with(&db, SqliteOptions::default().with_read_only(true))
                .await
                .expect("a reader on the file");
            let watched = numbers[COUNT - 1];
            loop {
                let r = reader.get(&watched).await.expect("the reader reads");
                if r.is_some_and(|r| r.state == NumberState::InService) {
                    break;
                }
                assert!(Instant::now() < deadline, "the collection never committed");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            reader.close().await;
        }),
    }
    let status = first.kill(deadline);
    let killed = Instant::now();
    assert!(!status.success(), "killed, not finished: {status:?}");
    let committed_before = rt.block_on(async {
        let store = SqliteStore::open(&db).await.expect("the file reopens");
        let n = store
            .count(
                &ListQuery::default()
                    .with_accounts(vec![AccountId::new(ACCOUNT).unwrap()])
                    .with_states(vec![NumberState::InService]),
            )
            .await
            .expect("count");
        store.close().await;
        n
    });
    match kill_at {
        KeyedKill::Stalled(_) => assert_eq!(committed_before, 0, "nothing committed"),
        KeyedKill::Committed => assert_eq!(committed_before, COUNT, "all committed"),
    }

    // Right away: still held, or (a late retry) the job done; nothing else.
    let (early, _) = keyed_run(&db, &list, deadline);
    let held = early["ok"] == false
        && early["error"] == "conflict"
        && early["message"]
            .as_str()
            .is_some_and(|m| m.contains("still running"));
    assert!(held || all_in_service(&early), "an early retry: {early}");
    let answered_early = !held;

    // Once the lease has lapsed: the true outcome.
    while killed.elapsed() <= KEY_LEASE + Duration::from_millis(500) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (retry, bought) = keyed_run(&db, &list, deadline);
    assert!(all_in_service(&retry), "the retry's answer: {retry}");
    let expected = if answered_early {
        0
    } else {
        COUNT - committed_before
    };
    assert_eq!(
        bought, expected,
        "the retry buys what the dead process had not committed"
    );
    let (again, bought) = keyed_run(&db, &list, deadline);
    assert_eq!(again, retry, "the answer is the key's answer now");
    assert_eq!(bought, 0, "a replay buys nothing");

    rt.block_on(async {
        let store = SqliteStore::open(&db).await.unwrap();
        let records = read_all(&store, &numbers).await;
        for n in &numbers {
            let r = &records[n];
            assert_eq!(r.state, NumberState::InService, "{n}");
            assert_eq!(r.assigned_to.as_ref().map(|a| a.as_str()), Some(ACCOUNT));
            assert!(r.pending.is_none(), "{n}: no claim left");
        }
        store.close().await;
    });
    eprintln!(
        "{tag}: {committed_before} committed at the kill, early retry {}, took {:?}",
        if held { "held" } else { "answered" },
        started.elapsed()
    );
}

#[test]
fn a_keyed_request_killed_mid_purchase_is_answered_on_retry() {
    keyed_request_killed("keyed-stall", KeyedKill::Stalled(600));
}

#[test]
fn a_keyed_request_killed_once_committed_is_answered_on_retry() {
    keyed_request_killed("keyed-committed", KeyedKill::Committed);
}
