//! A scripted worker process: its own `NumberManager` over a store that other
//! processes may share, a seeded `SimulatedCarrier`, and a fixed account tree.
//!
//! The multi-instance test starts several of these over one PostgreSQL schema
//! and lets them race for the same numbers; the crash-safety test runs one over
//! a SQLite file and kills it in the middle of a long job. It is also a handy
//! way to poke at a store by hand.
//!
//! ```text
//! worker [OPTIONS] JOB [JOB OPTIONS]
//! worker [OPTIONS]                  (reads "JOB [JOB OPTIONS]" from the first line of stdin)
//!
//! options
//!   --store sqlite:PATH | postgres:URL#SCHEMA   the store (required)
//!   --seed S                 the simulated carrier's seed (default 2600)
//!   --buyers N               buyer accounts b00, b01, ... (default 8)
//!   --claim-ttl-secs T       how long a purchase claim lives (default: the library's)
//!   --carrier-latency-ms L   every carrier call waits L ms first (default 0)
//!   --wait-go                print a "ready" line, then wait for a line "go" on stdin
//!
//! jobs
//!   search --prefix P --count N
//!       searches the carrier until N numbers were found (they become discovery
//!       entries any instance may buy) and prints one outcome per number.
//!   race --numbers FILE --accounts A,B,.. [--ops activate,reserve] [--order-seed S]
//!        [--window W] [--concurrency C]
//!       walks the numbers of FILE (one a line) in an order shuffled by S (within
//!       windows of W numbers; 0: the whole list), and for each calls one of the
//!       ops for one of the accounts (both picked by S), C calls at a time.
//!   bulk --account A --count N --generations G [--chunk C] [--field-bytes B]
//!        [--prefix P] [--stall-acquire-at K]
//!       step 0 searches N numbers; then for each generation g in 1..G and each
//!       chunk of C numbers: g = 1 activate_many (buys them), then in turn
//!       update_many, reserve_many, activate_many, ..., each writing the public
//!       fields of generation g (see `generation_fields`). A progress line follows
//!       every step. With --stall-acquire-at K, the K-th carrier purchase prints
//!       a "stalled" line and never returns (so the job hangs with its claims
//!       written, for a test to kill it there).
//!   keyed --numbers FILE --account A --key K [--stall-acquire-at K]
//!       one `activate_many` of every number of FILE (one a line) for A, with
//!       idempotency key K, as a client retrying a request would send it; prints
//!       a `keyed` line. With --stall-acquire-at K, as for bulk.
//! ```
//!
//! Output: one JSON object a line, each with a `type`:
//! - `ready` (with --wait-go), `stalled` (see above);
//! - `outcome`: `number`, `op`, `account`, `ok`; when ok `state` and `owner`,
//!   otherwise `error` (the API error name), `kind` (the `Error` variant),
//!   `code` and `message`;
//! - `progress` (bulk): `step`, `gen`, `chunk`, `op`, `ok`, `errors`;
//! - `keyed`: `ok` (the call answered a result); then `success` and `errors`
//!   (how many numbers), `states` (how many numbers ended in each state) and
//!   `error_names` (how many errors of each name); otherwise `error`, `kind`,
//!   `code` and `message` of the call's error;
//! - `purchases`: the carrier's purchases (`number`, `account`, `order_id`, `sequence`);
//! - `done`: the job finished.
//!
//! Exit status 0 when the job ran (errors of single numbers are data), 1 when
//! it could not run (store unreachable, carrier out of numbers, ...), 2 on bad
//! usage.

use std::collections::VecDeque;
use std::io::{BufRead, BufWriter, Stdout, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use number_manager::account::{AccountId, MemoryAccounts};
use number_manager::async_trait;
use number_manager::carrier::{
    Availability, Capabilities, Carrier, CarrierRegistry, LocalCarrier, NumberOrder, Ownership,
    SearchRequest, SearchResult, SimulatedCarrier,
};
use number_manager::manager::SearchQuery;
use number_manager::store::{PostgresOptions, PostgresStore, SqliteStore, Store};
use number_manager::{BatchResult, Config, Error, NumberManager, Options, PhoneNumber};
use serde_json::{json, Map, Value};

const USAGE: &str =
    "usage: worker --store sqlite:PATH|postgres:URL#SCHEMA [--seed S] [--buyers N] \
[--claim-ttl-secs T] [--carrier-latency-ms L] [--wait-go] \
(search --prefix P --count N | race --numbers FILE --accounts A,B [--ops activate,reserve] \
[--order-seed S] [--window W] [--concurrency C] | bulk --account A --count N --generations G \
[--chunk C] [--field-bytes B] [--prefix P] [--stall-acquire-at K] | keyed --numbers FILE \
--account A --key K [--stall-acquire-at K])";

/// The master account's id.
const MASTER: &str = "master";

/// The id of buyer `i` (`b00`, `b01`, ...).
fn buyer_id(i: usize) -> String {
    format!("b{i:02}")
}

// ---------------------------------------------------------------- output

/// Where lines go: stdout, buffered, shared by the tasks of a job.
#[derive(Debug, Clone)]
struct Out(Arc<Mutex<BufWriter<Stdout>>>);

impl Out {
    fn new() -> Self {
        Out(Arc::new(Mutex::new(BufWriter::new(std::io::stdout()))))
    }

    fn emit(&self, line: Value) {
        let mut w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // A closed stdout (the reader went away) must not stop the job.
        let _ = writeln!(w, "{line}");
    }

    fn flush(&self) {
        let mut w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let _ = w.flush();
    }
}

fn outcome(
    number: &str,
    op: &str,
    account: &str,
    result: Result<(String, String), &Error>,
) -> Value {
    match result {
        Ok((state, owner)) => json!({
            "type": "outcome", "number": number, "op": op, "account": account,
            "ok": true, "state": state, "owner": owner,
        }),
        Err(e) => json!({
            "type": "outcome", "number": number, "op": op, "account": account,
            "ok": false, "error": e.name(), "kind": error_kind(e), "code": e.code(),
            "message": e.message(),
        }),
    }
}

/// The `Error` variant's name (its serde tag), e.g. `conflict`, `database`.
fn error_kind(e: &Error) -> String {
    serde_json::to_value(e)
        .ok()
        .and_then(|v| v.get("kind").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

// ---------------------------------------------------------------- arguments

#[derive(Debug, Clone)]
enum StoreSpec {
    Sqlite(String),
    Postgres { url: String, schema: String },
}

#[derive(Debug, Clone)]
struct Common {
    store: StoreSpec,
    seed: u64,
    buyers: usize,
    claim_ttl_secs: Option<u64>,
    latency_ms: u64,
    wait_go: bool,
}

#[derive(Debug, Clone)]
enum Job {
    Search {
        prefix: String,
        count: usize,
    },
    Race {
        numbers: String,
        accounts: Vec<String>,
        ops: Vec<RaceOp>,
        order_seed: u64,
        window: usize,
        concurrency: usize,
    },
    Bulk {
        account: String,
        count: usize,
        generations: u64,
        chunk: usize,
        field_bytes: usize,
        prefix: String,
        stall_at: Option<usize>,
    },
    Keyed {
        numbers: String,
        account: String,
        key: String,
        stall_at: Option<usize>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RaceOp {
    Activate,
    Reserve,
}

impl RaceOp {
    fn name(self) -> &'static str {
        match self {
            RaceOp::Activate => "activate",
            RaceOp::Reserve => "reserve",
        }
    }
}

/// Pops `--name value` pairs and flags off an argument list.
struct Args {
    rest: VecDeque<String>,
}

impl Args {
    fn next(&mut self) -> Option<String> {
        self.rest.pop_front()
    }

    fn value(&mut self, flag: &str) -> Result<String, String> {
        self.next().ok_or_else(|| format!("{flag} needs a value"))
    }

    fn number<T: std::str::FromStr>(&mut self, flag: &str) -> Result<T, String> {
        let v = self.value(flag)?;
        v.parse()
            .map_err(|_| format!("{flag}: {v:?} is not a valid number"))
    }
}

fn parse_store(spec: &str) -> Result<StoreSpec, String> {
    if let Some(path) = spec.strip_prefix("sqlite:") {
        if path.is_empty() {
            return Err("--store sqlite: needs a path".into());
        }
        return Ok(StoreSpec::Sqlite(path.to_string()));
    }
    if let Some(rest) = spec.strip_prefix("postgres:") {
        let (url, schema) = rest
            .rsplit_once('#')
            .ok_or("--store postgres:URL#SCHEMA needs a #SCHEMA")?;
        return Ok(StoreSpec::Postgres {
            url: url.to_string(),
            schema: schema.to_string(),
        });
    }
    Err(format!(
        "--store {spec:?}: expected sqlite:PATH or postgres:URL#SCHEMA"
    ))
}

fn parse_common(args: &mut Args) -> Result<(Common, Option<String>), String> {
    let mut store = None;
    let mut common = Common {
        store: StoreSpec::Sqlite(String::new()),
        seed: 2600,
        buyers: 8,
        claim_ttl_secs: None,
        latency_ms: 0,
        wait_go: false,
    };
    let job = loop {
        match args.next() {
            None => break None,
            Some(a) => match a.as_str() {
                "--store" => store = Some(parse_store(&args.value("--store")?)?),
                "--seed" => common.seed = args.number("--seed")?,
                "--buyers" => common.buyers = args.number("--buyers")?,
                "--claim-ttl-secs" => {
                    common.claim_ttl_secs = Some(args.number("--claim-ttl-secs")?)
                }
                "--carrier-latency-ms" => {
                    common.latency_ms = args.number("--carrier-latency-ms")?
                }
                "--wait-go" => common.wait_go = true,
                "-h" | "--help" => return Err(String::new()),
                other if other.starts_with("--") => return Err(format!("unknown option {other}")),
                job => break Some(job.to_string()),
            },
        }
    };
    common.store = store.ok_or("--store is required")?;
    Ok((common, job))
}

fn parse_job(name: &str, args: &mut Args) -> Result<Job, String> {
    match name {
        "search" => {
            let (mut prefix, mut count) = ("+1415".to_string(), None);
            while let Some(a) = args.next() {
                match a.as_str() {
                    "--prefix" => prefix = args.value("--prefix")?,
                    "--count" => count = Some(args.number("--count")?),
                    other => return Err(format!("search: unknown option {other}")),
                }
            }
            Ok(Job::Search {
                prefix,
                count: count.ok_or("search needs --count")?,
            })
        }
        "race" => {
            let mut numbers = None;
            let mut accounts = Vec::new();
            let mut ops = vec![RaceOp::Activate, RaceOp::Reserve];
            let (mut order_seed, mut window, mut concurrency) = (1u64, 0usize, 4usize);
            while let Some(a) = args.next() {
                match a.as_str() {
                    "--numbers" => numbers = Some(args.value("--numbers")?),
                    "--accounts" => {
                        accounts = args
                            .value("--accounts")?
                            .split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    }
                    "--ops" => {
                        ops = args
                            .value("--ops")?
                            .split(',')
                            .map(|o| match o {
                                "activate" => Ok(RaceOp::Activate),
                                "reserve" => Ok(RaceOp::Reserve),
                                other => Err(format!("race: unknown op {other:?}")),
                            })
                            .collect::<Result<_, _>>()?
                    }
                    "--order-seed" => order_seed = args.number("--order-seed")?,
                    "--window" => window = args.number("--window")?,
                    "--concurrency" => concurrency = args.number("--concurrency")?,
                    other => return Err(format!("race: unknown option {other}")),
                }
            }
            if accounts.is_empty() || ops.is_empty() {
                return Err("race needs --accounts and at least one op".into());
            }
            Ok(Job::Race {
                numbers: numbers.ok_or("race needs --numbers")?,
                accounts,
                ops,
                order_seed,
                window,
                concurrency: concurrency.max(1),
            })
        }
        "bulk" => {
            let (mut account, mut count, mut generations) = (None, None, None);
            let (mut chunk, mut field_bytes) = (250usize, 2048usize);
            let mut prefix = "+1415".to_string();
            let mut stall_at = None;
            while let Some(a) = args.next() {
                match a.as_str() {
                    "--account" => account = Some(args.value("--account")?),
                    "--count" => count = Some(args.number("--count")?),
                    "--generations" => generations = Some(args.number("--generations")?),
                    "--chunk" => chunk = args.number("--chunk")?,
                    "--field-bytes" => field_bytes = args.number("--field-bytes")?,
                    "--prefix" => prefix = args.value("--prefix")?,
                    "--stall-acquire-at" => stall_at = Some(args.number("--stall-acquire-at")?),
                    other => return Err(format!("bulk: unknown option {other}")),
                }
            }
            Ok(Job::Bulk {
                account: account.ok_or("bulk needs --account")?,
                count: count.ok_or("bulk needs --count")?,
                generations: generations.ok_or("bulk needs --generations")?,
                chunk: chunk.max(1),
                field_bytes,
                prefix,
                stall_at,
            })
        }
        "keyed" => {
            let (mut numbers, mut account, mut key, mut stall_at) = (None, None, None, None);
            while let Some(a) = args.next() {
                match a.as_str() {
                    "--numbers" => numbers = Some(args.value("--numbers")?),
                    "--account" => account = Some(args.value("--account")?),
                    "--key" => key = Some(args.value("--key")?),
                    "--stall-acquire-at" => stall_at = Some(args.number("--stall-acquire-at")?),
                    other => return Err(format!("keyed: unknown option {other}")),
                }
            }
            Ok(Job::Keyed {
                numbers: numbers.ok_or("keyed needs --numbers")?,
                account: account.ok_or("keyed needs --account")?,
                key: key.ok_or("keyed needs --key")?,
                stall_at,
            })
        }
        other => Err(format!("unknown job {other:?}")),
    }
}

// ---------------------------------------------------------------- the world

/// The same account tree in every worker: `master` (the master account) and
/// buyers `b00`.. under it, each allowed to add numbers.
fn accounts(buyers: usize) -> Result<Arc<MemoryAccounts>, Error> {
    let accounts = Arc::new(MemoryAccounts::new());
    let master = accounts.add(MASTER, "Master", None)?;
    accounts.set_master(&master, true);
    for i in 0..buyers {
        let id = accounts.add(&buyer_id(i), &format!("Buyer {i}"), Some(&master))?;
        accounts.set_allow_additions(&id, true);
    }
    Ok(accounts)
}

async fn open_store(spec: &StoreSpec) -> Result<Arc<dyn Store>, Error> {
    Ok(match spec {
        StoreSpec::Sqlite(path) => Arc::new(SqliteStore::open(path).await?),
        StoreSpec::Postgres { url, schema } => Arc::new(
            PostgresStore::connect_with(
                url,
                PostgresOptions::default()
                    .with_schema(schema.clone())
                    .with_max_connections(8)
                    .with_acquire_timeout(Duration::from_secs(30)),
            )
            .await?,
        ),
    })
}

/// Delegates to a `SimulatedCarrier`, except that the `at`-th purchase
/// announces itself and then never returns.
#[derive(Debug)]
struct Stalling {
    inner: Arc<SimulatedCarrier>,
    at: usize,
    calls: AtomicUsize,
    out: Out,
}

#[async_trait]
impl Carrier for Stalling {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn find_numbers(
        &self,
        request: &SearchRequest,
    ) -> number_manager::Result<Vec<SearchResult>> {
        self.inner.find_numbers(request).await
    }

    async fn acquire(&self, order: &NumberOrder) -> number_manager::Result<Map<String, Value>> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.at {
            self.out
                .emit(json!({"type": "stalled", "acquire": n, "number": order.number.as_str()}));
            self.out.flush();
            std::future::pending::<()>().await;
        }
        self.inner.acquire(order).await
    }

    async fn disconnect(&self, order: &NumberOrder) -> number_manager::Result<()> {
        self.inner.disconnect(order).await
    }

    async fn check_numbers(
        &self,
        numbers: &[PhoneNumber],
    ) -> number_manager::Result<std::collections::BTreeMap<PhoneNumber, Availability>> {
        self.inner.check_numbers(numbers).await
    }

    async fn owned_numbers(
        &self,
        numbers: &[PhoneNumber],
    ) -> number_manager::Result<std::collections::BTreeMap<PhoneNumber, Ownership>> {
        self.inner.owned_numbers(numbers).await
    }
}

struct World {
    manager: NumberManager,
    carrier: Arc<SimulatedCarrier>,
}

async fn build(common: &Common, job: &Job, out: &Out) -> Result<World, Error> {
    let store = open_store(&common.store).await?;
    let mut carrier = SimulatedCarrier::new(common.seed);
    if common.latency_ms > 0 {
        carrier = carrier.with_latency(Duration::from_millis(common.latency_ms));
    }
    let carrier = Arc::new(carrier);
    let simulated: Arc<dyn Carrier> = match job {
        Job::Bulk {
            stall_at: Some(at), ..
        }
        | Job::Keyed {
            stall_at: Some(at), ..
        } => Arc::new(Stalling {
            inner: carrier.clone(),
            at: *at,
            calls: AtomicUsize::new(0),
            out: out.clone(),
        }),
        _ => carrier.clone(),
    };
    let carriers = CarrierRegistry::new()
        .with(Arc::new(LocalCarrier::new(store.clone())))
        .with(simulated);
    let mut config = Config::default();
    if let Job::Search { count, .. } | Job::Bulk { count, .. } = job {
        config.max_search_quantity = config.max_search_quantity.max(*count);
        config.limits.max_numbers = config.limits.max_numbers.max(*count);
    }
    if let Some(secs) = common.claim_ttl_secs {
        config.claim_ttl = std::time::Duration::from_secs(secs);
    }
    let manager = NumberManager::builder()
        .store(store)
        .accounts(accounts(common.buyers)?)
        .carriers(carriers)
        .config(config)
        .build();
    Ok(World { manager, carrier })
}

// ---------------------------------------------------------------- jobs

/// splitmix64: a small, stable pseudo-random sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// FNV-1a, 64 bits, as 16 hex digits.
fn fnv64(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The public fields the bulk job writes in generation `gen`: `nm_gen`,
/// `nm_payload` (`bytes` pseudo-random letters and digits seeded by the
/// generation), `nm_check` (the FNV-1a of the payload) and `nm_meta`
/// (`{"gen", "label"}`). The tests rebuild them to check a record.
fn generation_fields(gen: u64, bytes: usize) -> Map<String, Value> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = Rng(gen.wrapping_mul(0x1000_0000_01B3) ^ 0x5EED);
    let payload: String = (0..bytes)
        .map(|_| char::from(ALPHABET[rng.below(ALPHABET.len())]))
        .collect();
    let mut m = Map::new();
    m.insert("nm_gen".into(), json!(gen));
    m.insert("nm_check".into(), json!(fnv64(payload.as_bytes())));
    m.insert(
        "nm_meta".into(),
        json!({"gen": gen, "label": format!("generation {gen}")}),
    );
    m.insert("nm_payload".into(), json!(payload));
    m
}

/// What the bulk job does in generation `gen` (from 1).
fn bulk_op(gen: u64) -> &'static str {
    match gen {
        0 => "search",
        1 => "activate",
        g => match (g - 2) % 3 {
            0 => "update",
            1 => "reserve",
            _ => "activate",
        },
    }
}

async fn search(w: &World, out: &Out, prefix: &str, count: usize) -> Result<Vec<String>, String> {
    let hits = w
        .manager
        .search(&SearchQuery::new(prefix, count), &Options::system())
        .await
        .map_err(|e| format!("search failed: {e}"))?;
    if hits.len() < count {
        return Err(format!(
            "the carrier offered {} numbers for {prefix}, {count} were wanted",
            hits.len()
        ));
    }
    let numbers: Vec<String> = hits
        .iter()
        .take(count)
        .map(|h| h.number.to_string())
        .collect();
    for n in &numbers {
        out.emit(outcome(
            n,
            "search",
            "",
            Ok(("discovery".into(), String::new())),
        ));
    }
    Ok(numbers)
}

fn account_id(id: &str) -> Result<AccountId, String> {
    AccountId::new(id).map_err(|e| format!("bad account id {id:?}: {e}"))
}

#[allow(clippy::too_many_arguments)]
async fn race(
    w: &World,
    out: &Out,
    numbers_file: &str,
    accounts: &[String],
    ops: &[RaceOp],
    order_seed: u64,
    window: usize,
    concurrency: usize,
) -> Result<(), String> {
    let text = std::fs::read_to_string(numbers_file)
        .map_err(|e| format!("cannot read {numbers_file}: {e}"))?;
    let mut numbers: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let mut rng = Rng(order_seed);
    if window == 0 {
        rng.shuffle(&mut numbers);
    } else {
        for block in numbers.chunks_mut(window) {
            rng.shuffle(block);
        }
    }
    let accounts: Vec<AccountId> = accounts
        .iter()
        .map(|a| account_id(a))
        .collect::<Result<_, _>>()?;
    let calls: VecDeque<(String, RaceOp, AccountId)> = numbers
        .into_iter()
        .map(|n| {
            let op = ops[rng.below(ops.len())];
            let account = accounts[rng.below(accounts.len())].clone();
            (n, op, account)
        })
        .collect();
    let queue = Arc::new(Mutex::new(calls));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let queue = queue.clone();
        let manager = w.manager.clone();
        let out = out.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some((number, op, account)) = next else {
                    break;
                };
                let opts = Options::as_account(&account);
                let result = match op {
                    RaceOp::Activate => {
                        manager.activate(&account, &number, Map::new(), &opts).await
                    }
                    RaceOp::Reserve => manager.reserve(&account, &number, Map::new(), &opts).await,
                };
                let r = result.as_ref().map(|o| {
                    (
                        o.record.state.as_str().to_string(),
                        o.record
                            .assigned_to
                            .as_ref()
                            .map(|a| a.to_string())
                            .unwrap_or_default(),
                    )
                });
                out.emit(outcome(&number, op.name(), account.as_str(), r));
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| format!("a task failed: {e}"))?;
    }
    Ok(())
}

/// Prints one outcome per number of a collection call, and returns (ok, errors).
fn report_batch(
    out: &Out,
    numbers: &[String],
    op: &str,
    account: &str,
    result: &Result<BatchResult, Error>,
) -> (usize, usize) {
    let (mut ok, mut errors) = (0, 0);
    for n in numbers {
        let r = match result {
            Err(e) => Err(e),
            Ok(batch) => match (batch.success.get(n), batch.errors.get(n)) {
                (Some(o), _) => Ok((
                    o.record.state.as_str().to_string(),
                    o.record
                        .assigned_to
                        .as_ref()
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                )),
                (None, Some(e)) => Err(e),
                (None, None) => {
                    out.emit(
                        json!({"type": "outcome", "number": n, "op": op, "account": account,
                        "ok": false, "error": "missing", "kind": "missing", "code": 0,
                        "message": "the collection result has no entry for this number"}),
                    );
                    errors += 1;
                    continue;
                }
            },
        };
        if r.is_ok() {
            ok += 1;
        } else {
            errors += 1;
        }
        out.emit(outcome(n, op, account, r));
    }
    (ok, errors)
}

#[allow(clippy::too_many_arguments)]
async fn bulk(
    w: &World,
    out: &Out,
    account: &str,
    count: usize,
    generations: u64,
    chunk: usize,
    field_bytes: usize,
    prefix: &str,
) -> Result<(), String> {
    let acct = account_id(account)?;
    let opts = Options::as_account(&acct);
    let numbers = search(w, out, prefix, count).await?;
    let mut step = 0u64;
    out.emit(
        json!({"type": "progress", "step": step, "gen": 0, "chunk": 0, "op": "search",
        "ok": numbers.len(), "errors": 0}),
    );
    out.flush();
    for gen in 1..generations {
        let op = bulk_op(gen);
        let fields = generation_fields(gen, field_bytes);
        for (ci, part) in numbers.chunks(chunk).enumerate() {
            let result = match op {
                "activate" => {
                    w.manager
                        .activate_many(&acct, part, fields.clone(), &opts)
                        .await
                }
                "reserve" => {
                    w.manager
                        .reserve_many(&acct, part, fields.clone(), &opts)
                        .await
                }
                _ => w.manager.update_many(part, fields.clone(), &opts).await,
            };
            let (ok, errors) = report_batch(out, part, op, account, &result);
            step += 1;
            out.emit(
                json!({"type": "progress", "step": step, "gen": gen, "chunk": ci, "op": op,
                "ok": ok, "errors": errors}),
            );
            out.flush();
        }
    }
    Ok(())
}

fn read_numbers(file: &str) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// One keyed `activate_many`, summed up in a `keyed` line.
async fn keyed(
    w: &World,
    out: &Out,
    numbers_file: &str,
    account: &str,
    key: &str,
) -> Result<(), String> {
    let numbers = read_numbers(numbers_file)?;
    let acct = account_id(account)?;
    let opts = Options::as_account(&acct).idempotency_key(key);
    let line = match w
        .manager
        .activate_many(&acct, &numbers, Map::new(), &opts)
        .await
    {
        Ok(batch) => {
            let mut states: std::collections::BTreeMap<&str, usize> = Default::default();
            for o in batch.success.values() {
                *states.entry(o.record.state.as_str()).or_default() += 1;
            }
            let mut names: std::collections::BTreeMap<String, usize> = Default::default();
            for e in batch.errors.values() {
                *names.entry(e.name().to_string()).or_default() += 1;
            }
            json!({"type": "keyed", "ok": true, "success": batch.success.len(),
                "errors": batch.errors.len(), "states": states, "error_names": names})
        }
        Err(e) => json!({"type": "keyed", "ok": false, "error": e.name(),
            "kind": error_kind(&e), "code": e.code(), "message": e.message()}),
    };
    out.emit(line);
    out.flush();
    Ok(())
}

fn purchases(w: &World) -> Value {
    let list: Vec<Value> = w
        .carrier
        .purchases()
        .iter()
        .map(|p| {
            json!({
                "number": p.number.as_str(),
                "account": p.account.as_ref().map(|a| a.as_str()),
                "order_id": p.order_id,
                "sequence": p.sequence,
            })
        })
        .collect();
    json!({"type": "purchases", "count": list.len(), "purchases": list})
}

// ---------------------------------------------------------------- main

fn read_line() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    Ok(line.trim().to_string())
}

fn main() -> ExitCode {
    let mut args = Args {
        rest: std::env::args().skip(1).collect(),
    };
    let parsed = parse_common(&mut args).and_then(|(common, job)| {
        let (name, mut job_args) = match job {
            Some(name) => (name, args),
            None => {
                let line = read_line()?;
                let mut words: VecDeque<String> =
                    line.split_whitespace().map(str::to_string).collect();
                let name = words.pop_front().ok_or("no job given")?;
                (name, Args { rest: words })
            }
        };
        Ok((common, parse_job(&name, &mut job_args)?))
    });
    let (common, job) = match parsed {
        Ok(p) => p,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("worker: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(common, job) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("worker: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(common: Common, job: Job) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let out = Out::new();
    let world = runtime
        .block_on(build(&common, &job, &out))
        .map_err(|e| format!("cannot set up: {e}"))?;
    if common.wait_go {
        out.emit(json!({"type": "ready", "pid": std::process::id()}));
        out.flush();
        let go = read_line()?;
        if go != "go" {
            return Err(format!("expected \"go\" on stdin, got {go:?}"));
        }
    }
    runtime.block_on(async {
        match &job {
            Job::Search { prefix, count } => search(&world, &out, prefix, *count).await.map(|_| ()),
            Job::Race {
                numbers,
                accounts,
                ops,
                order_seed,
                window,
                concurrency,
            } => {
                race(
                    &world,
                    &out,
                    numbers,
                    accounts,
                    ops,
                    *order_seed,
                    *window,
                    *concurrency,
                )
                .await
            }
            Job::Bulk {
                account,
                count,
                generations,
                chunk,
                field_bytes,
                prefix,
                ..
            } => {
                bulk(
                    &world,
                    &out,
                    account,
                    *count,
                    *generations,
                    *chunk,
                    *field_bytes,
                    prefix,
                )
                .await
            }
            Job::Keyed {
                numbers,
                account,
                key,
                ..
            } => keyed(&world, &out, numbers, account, key).await,
        }
    })?;
    out.emit(purchases(&world));
    out.emit(json!({"type": "done"}));
    out.flush();
    Ok(())
}
