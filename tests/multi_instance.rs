//! Several OS processes, each with its own `NumberManager`, share one
//! PostgreSQL schema and race to buy the same 1,000 numbers.
//!
//! Needs `NUMBER_MANAGER_PG_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`);
//! without it the test says it was skipped and returns. It works in a fresh
//! schema and drops it at the end, pass or fail.
//!
//! One `worker` process searches 1,000 numbers (they become discovery entries
//! in the store). Then four workers, each with its own simulated carrier (same
//! seed, so the same catalogue, but its own record of sales: nothing but the
//! store keeps two of them from selling a number twice), two buyer accounts
//! each, wait at a barrier, and then each walks all 1,000 numbers in its own
//! shuffled order (shuffled within windows of 25, so the workers meet on the
//! same numbers at the same time), calling `activate` or `reserve` for one of
//! its accounts, four calls at a time, with a 2 ms carrier latency so purchase
//! claims stay up long enough to be run into.
//!
//! Then, for every number: it has exactly one owner, one of the buyers, in
//! state `in_service` or `reserved` with no claim left; exactly one call
//! succeeded on it, by that owner, with the operation that gives that state;
//! the union of the four carriers' purchases has it exactly once, bought for
//! the owner, with the order id the record keeps. Every losing call got a
//! clean error, among `conflict`, `not_found`, `forbidden` and the carrier's
//! `number_not_available`; never a database or internal error.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use number_manager::record::NumberRecord;
use number_manager::state::NumberState;
use number_manager::store::{ListQuery, PostgresStore, Store};
use number_manager::PhoneNumber;
use serde_json::Value;

const URL_VAR: &str = "NUMBER_MANAGER_PG_URL";
const COUNT: usize = 1000;
const WORKERS: usize = 4;
const ACCOUNTS_PER_WORKER: usize = 2;
const SEED: u64 = 2600;

mod worker_support;

use worker_support::Worker;

// ------------------------------------------------------------ the schema

fn url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped: the multi-instance test needs {URL_VAR} (e.g. postgres://postgres@127.0.0.1:5432/test); it is not set");
            None
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A fresh schema name, dropped (with everything in it) when this is dropped.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    fn fresh(url: &str) -> Schema {
        let mut h = RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        Schema {
            url: url.to_string(),
            name: format!("nm_test_multi_{:016x}", h.finish()),
        }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // On a thread of its own: this may run while a panic unwinds anywhere.
        let dropped = std::thread::spawn(move || {
            runtime().block_on(async {
                let pool = sqlx::PgPool::connect(&url).await?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                    .execute(&pool)
                    .await?;
                pool.close().await;
                Ok::<(), sqlx::Error>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop schema {}: {dropped:?}", self.name);
        }
    }
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("nm-multi-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ------------------------------------------------------------ the race

fn common_args(url: &str, schema: &str) -> Vec<String> {
    vec![
        "--store".into(),
        format!("postgres:{url}#{schema}"),
        "--seed".into(),
        SEED.to_string(),
        "--buyers".into(),
        (WORKERS * ACCOUNTS_PER_WORKER).to_string(),
    ]
}

fn buyer(i: usize) -> String {
    format!("b{i:02}")
}

/// The error a losing call may get, as `name` or `name/message` for the
/// carrier's `unspecified_fault`s.
fn error_label(v: &Value) -> String {
    let name = v["error"].as_str().unwrap_or("?");
    if name == "unspecified_fault" {
        format!("{name}/{}", v["message"].as_str().unwrap_or("?"))
    } else {
        name.to_string()
    }
}

const EXPECTED_ERRORS: &[&str] = &[
    "conflict",
    "not_found",
    "forbidden",
    "unspecified_fault/number_not_available",
];

#[test]
fn four_processes_race_for_the_same_thousand_numbers() {
    let Some(url) = url() else { return };
    let started = Instant::now();
    let deadline = started + Duration::from_secs(300);
    let schema = Schema::fresh(&url);
    let dir = TempDir::new();

    // 1. One worker searches: 1,000 discovery entries in the store.
    let mut args = common_args(&url, &schema.name);
    args.extend(["search", "--prefix", "+1415", "--count"].map(String::from));
    args.push(COUNT.to_string());
    let mut search = Worker::spawn(&args);
    let status = search.finish(deadline);
    assert!(
        status.success(),
        "the search ran: {status:?}\n{}",
        search.stderr()
    );
    let numbers: Vec<String> = search
        .seen
        .iter()
        .filter(|v| v["type"] == "outcome")
        .map(|v| v["number"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(numbers.len(), COUNT);
    assert_eq!(numbers.iter().collect::<BTreeSet<_>>().len(), COUNT);
    let numbers_file = dir.0.join("numbers.txt");
    std::fs::write(&numbers_file, numbers.join("\n")).unwrap();
    let searched = started.elapsed();

    // 2. Four racers, released together.
    let mut racers: Vec<Worker> = (0..WORKERS)
        .map(|w| {
            let accounts: Vec<String> = (0..ACCOUNTS_PER_WORKER)
                .map(|a| buyer(w * ACCOUNTS_PER_WORKER + a))
                .collect();
            let mut args = common_args(&url, &schema.name);
            args.extend(["--carrier-latency-ms", "2", "--wait-go", "race"].map(String::from));
            args.extend([
                "--numbers".to_string(),
                numbers_file.display().to_string(),
                "--accounts".into(),
                accounts.join(","),
                "--ops".into(),
                "activate,reserve".into(),
                "--order-seed".into(),
                (1000 + w).to_string(),
                "--window".into(),
                "25".into(),
                "--concurrency".into(),
                "4".into(),
            ]);
            Worker::spawn(&args)
        })
        .collect();
    for r in &mut racers {
        r.wait_for(deadline, "ready", |v| v["type"] == "ready");
    }
    let go = Instant::now();
    for r in &mut racers {
        r.send("go");
    }
    let mut outcomes: Vec<Value> = Vec::new();
    let mut purchases: Vec<Value> = Vec::new();
    for (w, r) in racers.iter_mut().enumerate() {
        let status = r.finish(deadline);
        assert!(
            status.success(),
            "racer {w} ran its job: {status:?}\n{}",
            r.stderr()
        );
        let mine: Vec<&Value> = r.seen.iter().filter(|v| v["type"] == "outcome").collect();
        assert_eq!(mine.len(), COUNT, "racer {w} made one call per number");
        assert_eq!(
            mine.iter()
                .map(|v| v["number"].as_str().unwrap())
                .collect::<BTreeSet<_>>()
                .len(),
            COUNT,
            "racer {w} called every number once"
        );
        outcomes.extend(mine.into_iter().cloned());
        let p = r
            .seen
            .iter()
            .find(|v| v["type"] == "purchases")
            .expect("each racer reports its purchases");
        purchases.extend(p["purchases"].as_array().unwrap().iter().cloned());
        assert!(r.seen.iter().any(|v| v["type"] == "done"));
    }
    let raced = go.elapsed();

    // 3. The store: every number has exactly one owner and no claim.
    let records: BTreeMap<String, NumberRecord> = runtime().block_on(async {
        let store = PostgresStore::connect_with_schema(&url, &schema.name)
            .await
            .expect("connect to the race's schema");
        let mut all = BTreeMap::new();
        let mut query = ListQuery::default()
            .with_states(NumberState::ALL.to_vec())
            .with_limit(500);
        loop {
            let page = store.list(&query).await.expect("list the schema");
            for r in page.records {
                all.insert(r.number.to_string(), r);
            }
            match page.next_start_key {
                Some(k) => query.start_key = Some(k),
                None => break,
            }
        }
        let parsed: Vec<PhoneNumber> = numbers
            .iter()
            .map(|n| PhoneNumber::parse(n).unwrap())
            .collect();
        let got = store.get_many(&parsed).await.expect("read every number");
        for (n, r) in parsed.iter().zip(got) {
            assert_eq!(
                r.as_ref(),
                all.get(n.as_str()),
                "get_many and list agree on {n}"
            );
        }
        store.close().await;
        all
    });
    assert_eq!(
        records.keys().collect::<Vec<_>>(),
        numbers
            .iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>(),
        "the schema holds exactly the searched numbers"
    );
    let buyers: BTreeSet<String> = (0..WORKERS * ACCOUNTS_PER_WORKER).map(buyer).collect();
    for (n, r) in &records {
        assert!(
            matches!(r.state, NumberState::InService | NumberState::Reserved),
            "{n} ended {}",
            r.state.as_str()
        );
        let owner = r
            .assigned_to
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_default();
        assert!(buyers.contains(&owner), "{n} is owned by {owner:?}");
        assert!(r.pending.is_none(), "{n} keeps a claim: {:?}", r.pending);
        assert_eq!(r.carrier, "simulated");
    }

    // 4. Exactly one winning call per number: the owner's.
    let mut winners: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    let mut conflict_reasons: BTreeMap<String, usize> = BTreeMap::new();
    for o in &outcomes {
        let n = o["number"].as_str().unwrap();
        if o["ok"] == true {
            winners.entry(n).or_default().push(o);
        } else {
            *errors.entry(error_label(o)).or_default() += 1;
            if o["error"] == "conflict" {
                *conflict_reasons
                    .entry(o["message"].as_str().unwrap_or("?").to_string())
                    .or_default() += 1;
            }
            assert!(
                !matches!(o["kind"].as_str(), Some("database" | "internal")),
                "a losing call hit a database or internal error: {o}"
            );
        }
    }
    for (n, r) in &records {
        let won = winners.get(n.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        assert_eq!(won.len(), 1, "{n}: exactly one call wins, not {won:?}");
        let w = won[0];
        let owner = r.assigned_to.as_ref().unwrap().to_string();
        assert_eq!(w["account"], owner.as_str(), "{n}: the winner owns it");
        assert_eq!(w["owner"], owner.as_str(), "{n}");
        assert_eq!(
            w["state"],
            r.state.as_str(),
            "{n}: the winner's state is the stored one"
        );
        let op_state = match w["op"].as_str() {
            Some("activate") => "in_service",
            Some("reserve") => "reserved",
            other => panic!("{n}: unexpected op {other:?}"),
        };
        assert_eq!(
            r.state.as_str(),
            op_state,
            "{n}: the state comes from the winning op"
        );
    }

    // 5. The carriers, together, sold every number once, to its owner.
    let mut sold: BTreeMap<String, &Value> = BTreeMap::new();
    for p in &purchases {
        let n = p["number"].as_str().unwrap().to_string();
        if let Some(first) = sold.insert(n.clone(), p) {
            panic!("{n} was bought twice: {first} and {p}");
        }
    }
    assert_eq!(sold.len(), COUNT, "one purchase per owned number");
    for (n, r) in &records {
        let p = sold
            .get(n)
            .unwrap_or_else(|| panic!("{n} is owned but was never bought"));
        assert_eq!(
            p["account"],
            r.assigned_to.as_ref().unwrap().as_str(),
            "{n}: bought for its owner"
        );
        assert_eq!(
            Some(&p["order_id"]),
            r.carrier_data.get("order_id"),
            "{n}: the record keeps the purchase's order id"
        );
    }

    // 6. Losers lost cleanly.
    let unexpected: Vec<&String> = errors
        .keys()
        .filter(|e| !EXPECTED_ERRORS.contains(&e.as_str()))
        .collect();
    let total_errors: usize = errors.values().sum();
    eprintln!(
        "search {searched:?}, race {raced:?}; {} calls, {} won, errors {errors:?}, conflicts {conflict_reasons:?}; in service {}, reserved {}",
        outcomes.len(),
        outcomes.len() - total_errors,
        records.values().filter(|r| r.state == NumberState::InService).count(),
        records.values().filter(|r| r.state == NumberState::Reserved).count(),
    );
    assert!(
        unexpected.is_empty(),
        "unexpected errors {unexpected:?} (all: {errors:?})"
    );
    assert_eq!(
        total_errors,
        WORKERS * COUNT - COUNT,
        "every other call lost"
    );
    drop(schema);
}
