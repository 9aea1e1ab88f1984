//! What the SQL stores share: how a record and its indexed columns are encoded,
//! how a [`ListQuery`] becomes a `WHERE` clause, and the listing loop that
//! makes a page exact whatever the SQL could express.
//!
//! Timestamps are kept as `BIGINT` nanoseconds since the Unix epoch, which
//! covers 1677-09-21 to 2262-04-11 exactly. An instant outside that range is
//! clamped to the nearest end in the indexed columns only: the record's JSON
//! keeps it exactly, listings stay exact (the SQL filter is a superset and every
//! row is checked again with [`matches_query`]), and only idempotency expiry
//! compares at the clamped value.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{matches_query, Committed, IdempotencyEntry, ListQuery, Page};
use crate::error::{ConflictKind, DatabaseFault, Error, Result, Source};
use crate::number::PhoneNumber;
use crate::record::{NumberRecord, Revision};
use crate::state::NumberState;

/// Rows fetched by one listing query at most, however large the page.
const MAX_FETCH: usize = 2_000;

/// Nanoseconds since the Unix epoch, clamped to `i64`.
pub(crate) fn to_ns(t: DateTime<Utc>) -> i64 {
    match t.timestamp_nanos_opt() {
        Some(n) => n,
        None if t.timestamp() < 0 => i64::MIN,
        None => i64::MAX,
    }
}

/// The instant of a stored nanosecond count.
pub(crate) fn from_ns(ns: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(ns)
}

/// The largest stored value that can be strictly before `t` (for `< t` as `<= x`).
fn ns_before(t: DateTime<Utc>) -> i64 {
    match t.timestamp_nanos_opt() {
        Some(n) => n.saturating_sub(1),
        None => to_ns(t),
    }
}

/// A revision as the SQL `BIGINT` it is stored in.
pub(crate) fn rev_to_sql(rev: Revision) -> Result<i64> {
    i64::try_from(rev.0)
        .map_err(|_| Error::database(format!("revision {} does not fit the database", rev.0)))
}

/// A stored `BIGINT` revision.
pub(crate) fn rev_from_sql(number: &str, rev: i64) -> Result<Revision> {
    u64::try_from(rev)
        .map(Revision)
        .map_err(|_| Error::database(format!("stored revision {rev} of {number} is negative")))
}

/// The columns of one stored record.
pub(crate) struct Row {
    pub number: String,
    pub revision: i64,
    pub state: &'static str,
    pub assigned_to: Option<String>,
    pub created_ns: i64,
    pub modified_ns: i64,
    pub expires_ns: Option<i64>,
    pub doc: String,
}

/// The layout of the stored record documents this library writes. A document
/// begins with its format (`{"format":2,...`); documents written before the
/// layout was versioned have none and are format 1, which format 2 reads
/// unchanged. A document of a newer format is refused rather than misread.
pub(crate) const RECORD_FORMAT: u64 = 2;

/// How a versioned document begins.
const FORMAT_PREFIX: &str = "{\"format\":";

/// Encodes a record as it will be stored at `revision` (without copying it
/// when it already carries that revision).
pub(crate) fn encode(record: &NumberRecord, revision: Revision) -> Result<Row> {
    if record.revision != revision {
        let mut at_revision = record.clone();
        at_revision.revision = revision;
        return encode(&at_revision, revision);
    }
    let doc = encode_doc(record)?;
    Ok(Row {
        number: record.number.as_str().to_string(),
        revision: rev_to_sql(revision)?,
        state: record.state.as_str(),
        assigned_to: record.assigned_to.as_ref().map(|a| a.as_str().to_string()),
        created_ns: to_ns(record.created),
        modified_ns: to_ns(record.modified),
        expires_ns: record.expires_at.map(to_ns),
        doc,
    })
}

/// The stored document of a record: `{"format":N,` then the record's own
/// fields, written into one buffer.
fn encode_doc(record: &NumberRecord) -> Result<String> {
    let mut doc = Vec::with_capacity(1024);
    doc.extend_from_slice(FORMAT_PREFIX.as_bytes());
    doc.extend_from_slice(RECORD_FORMAT.to_string().as_bytes());
    let at = doc.len();
    serde_json::to_writer(&mut doc, record).map_err(|e| {
        Error::database_with(format!("cannot encode record {}: {e}", record.number), e)
    })?;
    // The record's opening brace becomes the comma after the format.
    match doc.get_mut(at..at + 2) {
        Some([open @ b'{', next]) if *next != b'}' => *open = b',',
        _ => {
            return Err(Error::database(format!(
                "cannot encode record {}: not a JSON object with fields",
                record.number
            )))
        }
    }
    String::from_utf8(doc)
        .map_err(|e| Error::database(format!("cannot encode record {}: {e}", record.number)))
}

/// A record's JSON document cut around the value of its `revision`, for a
/// store that computes the revision of an insert in SQL: the document stored
/// at revision `r` is `head`, then `r` in decimal, then `tail`.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SplitDoc {
    pub head: String,
    pub tail: String,
}

/// Encodes a record whose revision is not known yet: its columns (with
/// `revision` 0 and an empty `doc`, neither to be stored) and its document cut
/// around the revision. Nothing else in a document depends on the revision,
/// so the documents at revisions 0 and 1 differ in exactly one byte, the
/// revision's digit.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn encode_split(record: &NumberRecord) -> Result<(Row, SplitDoc)> {
    let mut row = encode(record, Revision(0))?;
    let zero = std::mem::take(&mut row.doc);
    let one = encode(record, Revision(1))?.doc;
    let at = zero
        .bytes()
        .zip(one.bytes())
        .position(|(a, b)| a != b)
        .unwrap_or(zero.len());
    let split = zero.len() == one.len()
        && zero.as_bytes().get(at) == Some(&b'0')
        && one.as_bytes().get(at) == Some(&b'1')
        && zero.get(at + 1..) == one.get(at + 1..);
    match (split, zero.get(..at), zero.get(at + 1..)) {
        (true, Some(head), Some(tail)) => Ok((
            row,
            SplitDoc {
                head: head.to_string(),
                tail: tail.to_string(),
            },
        )),
        _ => Err(Error::database(format!(
            "cannot encode record {}: its revision cannot be located in its document",
            record.number
        ))),
    }
}

/// Decodes a stored record; the revision column wins over the document's.
pub(crate) fn decode(number: &str, revision: i64, doc: &str) -> Result<NumberRecord> {
    let format = record_format(doc);
    if format > RECORD_FORMAT {
        return Err(Error::database(format!(
            "stored record {number} has format {format}, newer than this library's ({RECORD_FORMAT})"
        )));
    }
    // Formats 1 and 2 share the record's fields; `format` itself is skipped.
    let mut record: NumberRecord = serde_json::from_str(doc).map_err(|e| {
        Error::database_with(format!("stored record {number} cannot be read: {e}"), e)
    })?;
    if record.number.as_str() != number {
        return Err(Error::database(format!(
            "stored record under {number} is for {}",
            record.number
        )));
    }
    record.revision = rev_from_sql(number, revision)?;
    Ok(record)
}

/// The format a stored document declares (1 when it declares none). A
/// declaration that is not a plain number reads as newer than any format,
/// so that it is refused.
fn record_format(doc: &str) -> u64 {
    let Some(rest) = doc.strip_prefix(FORMAT_PREFIX) else {
        return 1;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    match (rest.get(..digits), rest.as_bytes().get(digits)) {
        (Some(n), Some(b',')) => n.parse().unwrap_or(u64::MAX),
        _ => u64::MAX,
    }
}

/// Places records in the slots of `numbers` (a number asked twice fills both).
pub(crate) fn into_slots(
    numbers: &[PhoneNumber],
    records: Vec<NumberRecord>,
) -> Vec<Option<NumberRecord>> {
    let mut by_number: HashMap<PhoneNumber, NumberRecord> =
        records.into_iter().map(|r| (r.number, r)).collect();
    let mut remaining: HashMap<PhoneNumber, usize> = HashMap::new();
    for n in numbers {
        *remaining.entry(*n).or_default() += 1;
    }
    numbers
        .iter()
        .map(|n| {
            let left = remaining.get_mut(n)?;
            *left -= 1;
            if *left == 0 {
                by_number.remove(n)
            } else {
                by_number.get(n).cloned()
            }
        })
        .collect()
}

/// A driver error as the store's [`Error::Database`], the driver's error as its
/// source: [`DatabaseFault::Unavailable`] when the server or file could not be
/// reached or was busy (`busy` is the store's own verdict on the error's
/// code), else [`DatabaseFault::Failed`].
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn sqlx_error(cause: String, e: sqlx::Error, busy: bool) -> Error {
    let unavailable = busy || matches!(e, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut);
    Error::Database {
        cause,
        fault: if unavailable {
            DatabaseFault::Unavailable
        } else {
            DatabaseFault::Failed
        },
        source: Some(Source::new(e)),
    }
}

/// A store that did not answer in time ([`DatabaseFault::Unavailable`]).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn unavailable(cause: String) -> Error {
    Error::Database {
        cause,
        fault: DatabaseFault::Unavailable,
        source: None,
    }
}

/// The error of an update or delete whose compare-and-swap matched no row.
pub(crate) fn conflict(number: &str, expected: Revision, stored: Option<i64>) -> Error {
    match stored {
        None => Error::conflict(number, ConflictKind::RecordGone),
        Some(r) => Error::Conflict {
            number: number.to_string(),
            kind: ConflictKind::StaleRevision,
            detail: Some(format!("stored revision is {r}, not {}", expected.0)),
        },
    }
}

/// The error of an insert of a stored number.
pub(crate) fn exists(number: &str) -> Error {
    Error::NumberExists {
        number: number.to_string(),
    }
}

/// Turns the results of a refused atomic batch into what the trait promises.
pub(crate) fn abort(results: Vec<Result<Revision>>, numbers: &[String]) -> Vec<Result<Revision>> {
    results
        .into_iter()
        .zip(numbers)
        .map(|(r, n)| match r {
            Ok(_) => Err(Error::conflict(n.clone(), ConflictKind::BatchAborted)),
            e => e,
        })
        .collect()
}

/// An idempotency entry without its response, owner, lease and progress (kept
/// in their own columns and table), as stored in the `entry` column.
pub(crate) fn encode_entry(entry: &IdempotencyEntry) -> Result<String> {
    let head = IdempotencyEntry {
        response: None,
        owner: String::new(),
        lease_until: None,
        progress: Default::default(),
        ..entry.clone()
    };
    serde_json::to_string(&head)
        .map_err(|e| Error::database_with(format!("cannot encode idempotency entry: {e}"), e))
}

/// The columns of an `nm_idempotency` row and its progress rows
/// (`number`, `revision`, `outcome`).
pub(crate) struct EntryRow<'a> {
    pub entry: &'a str,
    pub response: Option<&'a str>,
    pub owner: String,
    pub lease_ns: Option<i64>,
    pub progress: Vec<(String, i64, String)>,
}

/// A stored idempotency entry, its response and its progress.
pub(crate) fn decode_entry(key: &str, row: EntryRow<'_>) -> Result<IdempotencyEntry> {
    let mut e: IdempotencyEntry = serde_json::from_str(row.entry).map_err(|err| {
        Error::database_with(
            format!("stored idempotency entry {key:?} cannot be read: {err}"),
            err,
        )
    })?;
    e.response = match row.response {
        None => None,
        Some(text) => Some(serde_json::from_str::<Value>(text).map_err(|err| {
            Error::database_with(
                format!("stored response of {key:?} cannot be read: {err}"),
                err,
            )
        })?),
    };
    e.owner = row.owner;
    e.lease_until = row.lease_ns.map(from_ns);
    for (number, revision, outcome) in row.progress {
        let outcome = serde_json::from_str::<Value>(&outcome).map_err(|err| {
            Error::database_with(
                format!("stored progress of {key:?} for {number} cannot be read: {err}"),
                err,
            )
        })?;
        let revision = Revision(u64::try_from(revision).unwrap_or(0));
        e.progress.insert(number, Committed { revision, outcome });
    }
    Ok(e)
}

/// A JSON value as stored text.
pub(crate) fn encode_value(v: &Value) -> Result<String> {
    serde_json::to_string(v)
        .map_err(|e| Error::database_with(format!("cannot encode response: {e}"), e))
}

/// The error of a `finish_idempotency` that matched nothing.
pub(crate) fn finish_conflict(key: &str, stored: bool) -> Error {
    Error::conflict(key, super::finish_refused(stored))
}

/// The progress rows a journaled batch records: `(number, revision, outcome)`
/// for each successful write with an outcome.
pub(crate) fn journal_rows(
    writes: &[super::Write],
    results: &[Result<Revision>],
    journal: &super::Journal,
) -> Result<Vec<(String, i64, String)>> {
    let mut rows = Vec::new();
    for (i, (w, r)) in writes.iter().zip(results).enumerate() {
        if let (Ok(rev), Some(Some(outcome))) = (r, journal.outcomes.get(i)) {
            let revision = i64::try_from(rev.0).unwrap_or(i64::MAX);
            rows.push((
                w.number().as_str().to_string(),
                revision,
                encode_value(outcome)?,
            ));
        }
    }
    Ok(rows)
}

/// SQL placeholder style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(all(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) enum Dialect {
    /// `?`, lists as a JSON array read with `json_each`.
    Sqlite,
    /// `$n`, lists as arrays with `= ANY`.
    Postgres,
}

/// One bound value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
    Texts(Vec<String>),
}

/// A statement and its arguments, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

struct Builder {
    dialect: Dialect,
    conditions: Vec<String>,
    args: Vec<Arg>,
}

impl Builder {
    fn placeholder(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        match self.dialect {
            Dialect::Sqlite => "?".to_string(),
            Dialect::Postgres => format!("${}", self.args.len()),
        }
    }

    fn cond(&mut self, column: &str, op: &str, arg: Arg) {
        let p = self.placeholder(arg);
        self.conditions.push(format!("{column} {op} {p}"));
    }

    fn in_list(&mut self, column: &str, mut values: Vec<String>) {
        // One value: a plain equality, so an index on (column, number) also
        // gives number order and a page costs its own size, not the account's.
        if values.len() == 1 {
            if let Some(v) = values.pop() {
                self.cond(column, "=", Arg::Text(v));
            }
            return;
        }
        match self.dialect {
            Dialect::Sqlite => {
                let json = Value::from(values).to_string();
                let p = self.placeholder(Arg::Text(json));
                self.conditions
                    .push(format!("{column} IN (SELECT value FROM json_each({p}))"));
            }
            Dialect::Postgres => {
                let p = self.placeholder(Arg::Texts(values));
                self.conditions.push(format!("{column} = ANY({p})"));
            }
        }
    }
}

/// The smallest string greater than every string starting with `prefix`, if any.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(n) = next {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Where a listing query starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lower {
    /// From the first number.
    Start,
    /// At this number or after.
    From(String),
    /// Strictly after this number.
    After(String),
}

/// The `WHERE` conditions of `query` from `lower`. They are exact for every
/// instant the columns hold exactly, and a superset otherwise.
fn filter(dialect: Dialect, query: &ListQuery, lower: &Lower) -> Builder {
    let mut b = scan_filter(dialect, query, lower);
    rest_filter(&mut b, query);
    b
}

/// The conditions that choose which records a listing examines (see
/// [`ListQuery::scan_limit`]): `lower`, the prefix and the owners.
fn scan_filter(dialect: Dialect, query: &ListQuery, lower: &Lower) -> Builder {
    let mut b = Builder {
        dialect,
        conditions: Vec::new(),
        args: Vec::new(),
    };
    match lower {
        Lower::Start => {}
        Lower::From(n) => b.cond("number", ">=", Arg::Text(n.clone())),
        Lower::After(n) => b.cond("number", ">", Arg::Text(n.clone())),
    }
    if let Some(p) = &query.prefix {
        b.cond("number", ">=", Arg::Text(p.clone()));
        if let Some(end) = prefix_end(p) {
            b.cond("number", "<", Arg::Text(end));
        }
    }
    if !query.accounts.is_empty() {
        let accounts = query
            .accounts
            .iter()
            .map(|a| a.as_str().to_string())
            .collect();
        b.in_list("assigned_to", accounts);
    }
    b
}

/// The other conditions of `query`, those checked on the examined records.
fn rest_filter(b: &mut Builder, query: &ListQuery) {
    if query.states.is_empty() {
        b.cond(
            "state",
            "<>",
            Arg::Text(NumberState::Discovery.as_str().to_string()),
        );
    } else {
        b.in_list(
            "state",
            query
                .states
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
        );
    }
    if let Some(t) = query.created_from {
        b.cond("created_ns", ">=", Arg::Int(to_ns(t)));
    }
    if let Some(t) = query.created_to {
        b.cond("created_ns", "<=", Arg::Int(to_ns(t)));
    }
    if let Some(t) = query.modified_before {
        b.cond("modified_ns", "<=", Arg::Int(ns_before(t)));
    }
    if let Some(t) = query.expires_before {
        b.cond("expires_ns", "<=", Arg::Int(to_ns(t)));
    }
}

/// The listing statement for `query` from `lower`, below `upper` (exclusive)
/// when given, at most `limit` rows:
/// `SELECT number, revision, doc FROM <table> WHERE ... ORDER BY number LIMIT n`.
pub(crate) fn list_sql(
    dialect: Dialect,
    table: &str,
    query: &ListQuery,
    lower: &Lower,
    upper: Option<&str>,
    limit: usize,
) -> Sql {
    let mut b = filter(dialect, query, lower);
    if let Some(u) = upper {
        b.cond("number", "<", Arg::Text(u.to_string()));
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let lp = b.placeholder(Arg::Int(limit));
    let doc = match dialect {
        Dialect::Sqlite => "doc",
        Dialect::Postgres => "doc::text AS doc",
    };
    let mut text = format!("SELECT number, revision, {doc} FROM {table}");
    if !b.conditions.is_empty() {
        text.push_str(" WHERE ");
        text.push_str(&b.conditions.join(" AND "));
    }
    text.push_str(" ORDER BY number LIMIT ");
    text.push_str(&lp);
    Sql { text, args: b.args }
}

/// Whether an instant is held exactly by the columns, strictly inside the
/// clamped range (so comparing it with a clamped value is exact too).
fn exact(t: Option<DateTime<Utc>>) -> bool {
    t.is_none_or(|t| {
        t.timestamp_nanos_opt()
            .is_some_and(|n| n != i64::MIN && n != i64::MAX)
    })
}

/// `SELECT count(*) ...` for `query` (ignoring `start_key` and `limit`), or
/// `None` when a time bound of the query is outside what the columns hold
/// exactly (then only a listing, checked row by row, is exact).
pub(crate) fn count_sql(dialect: Dialect, table: &str, query: &ListQuery) -> Option<Sql> {
    let bounds = [
        query.created_from,
        query.created_to,
        query.modified_before,
        query.expires_before,
    ];
    if !bounds.into_iter().all(exact) {
        return None;
    }
    let b = filter(dialect, query, &Lower::Start);
    let mut text = format!("SELECT count(*) FROM {table}");
    if !b.conditions.is_empty() {
        text.push_str(" WHERE ");
        text.push_str(&b.conditions.join(" AND "));
    }
    Some(Sql { text, args: b.args })
}

/// The first number the scan of a listing must not examine: the record after
/// the first `k` examined ones, from `lower`.
fn boundary_sql(dialect: Dialect, table: &str, query: &ListQuery, lower: &Lower, k: usize) -> Sql {
    let mut b = scan_filter(dialect, query, lower);
    let offset = b.placeholder(Arg::Int(i64::try_from(k).unwrap_or(i64::MAX)));
    Sql {
        text: format!(
            "SELECT number FROM {table}{} ORDER BY number LIMIT 1 OFFSET {offset}",
            where_clause(&b)
        ),
        args: b.args,
    }
}

/// How many records the scan of a listing examined from `lower` up to
/// `upto` (inclusive; to the end when `None`).
fn scanned_sql(
    dialect: Dialect,
    table: &str,
    query: &ListQuery,
    lower: &Lower,
    upto: Option<&str>,
) -> Sql {
    let mut b = scan_filter(dialect, query, lower);
    if let Some(u) = upto {
        b.cond("number", "<=", Arg::Text(u.to_string()));
    }
    Sql {
        text: format!("SELECT count(*) FROM {table}{}", where_clause(&b)),
        args: b.args,
    }
}

fn where_clause(b: &Builder) -> String {
    if b.conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", b.conditions.join(" AND "))
    }
}

/// What a SQL store runs for a listing.
#[async_trait::async_trait]
pub(crate) trait ListDb: Sync {
    /// The decoded rows of a `SELECT number, revision, doc ...`.
    async fn rows(&self, sql: Sql) -> Result<Vec<NumberRecord>>;
    /// The first column of the first row of a `SELECT number ...`, if any.
    async fn first_number(&self, sql: Sql) -> Result<Option<String>>;
    /// The answer of a `SELECT count(*) ...`.
    async fn row_count(&self, sql: Sql) -> Result<i64>;
}

/// Lists one page: runs listing statements until the page and the first
/// number of the next one are known, checking every row with
/// [`matches_query`] so the page is exact. With a
/// [`ListQuery::scan_limit`], one statement first finds the first record
/// past the bound, and the page stops there.
pub(crate) async fn list_page<D: ListDb + ?Sized>(
    dialect: Dialect,
    table: &str,
    query: &ListQuery,
    db: &D,
) -> Result<Page> {
    let limit = query.limit.max(1);
    let want = limit.saturating_add(1);
    let start = match &query.start_key {
        Some(k) => Lower::From(k.as_str().to_string()),
        None => Lower::Start,
    };
    let scan_limit = query.scan_limit.map(|s| s.max(1));
    let boundary = match scan_limit {
        Some(k) => {
            db.first_number(boundary_sql(dialect, table, query, &start, k))
                .await?
        }
        None => None,
    };
    let mut lower = start.clone();
    let mut out: Vec<NumberRecord> = Vec::new();
    let mut fetched = 0usize;
    loop {
        let ask = (want - out.len()).min(MAX_FETCH);
        let sql = list_sql(dialect, table, query, &lower, boundary.as_deref(), ask);
        let rows = db.rows(sql).await?;
        let got = rows.len();
        fetched = fetched.saturating_add(got);
        for r in rows {
            lower = Lower::After(r.number.as_str().to_string());
            let after_start = !matches!(query.start_key, Some(s) if r.number < s);
            if after_start && matches_query(&r, query) {
                out.push(r);
                if out.len() == want {
                    break;
                }
            }
        }
        if out.len() >= want || got < ask {
            break;
        }
    }
    let next = out.get(limit).map(|r| r.number);
    out.truncate(limit);
    let (next_start_key, scanned) = match (scan_limit, next, boundary) {
        (None, next, _) => (next, fetched),
        (Some(k), None, Some(b)) => (Some(PhoneNumber::from_e164(&b)?), k),
        (Some(_), next, _) => {
            let upto = next.map(|n| n.as_str().to_string());
            let sql = scanned_sql(dialect, table, query, &start, upto.as_deref());
            let n = db.row_count(sql).await?;
            (next, usize::try_from(n).unwrap_or(0))
        }
    };
    Ok(Page {
        records: out,
        next_start_key,
        scanned,
    })
}

/// The SQL stores run on tokio (through sqlx), which panics when used outside
/// a tokio runtime: refuse to open a store there instead.
pub(crate) fn require_tokio(backend: &str) -> Result<()> {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => Ok(()),
        Err(_) => Err(Error::database(format!(
            "{backend}: the store must be opened and used inside a tokio runtime"
        ))),
    }
}

/// Quotes an SQL identifier (a PostgreSQL schema name).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn quote_ident(name: &str) -> Result<String> {
    if name.is_empty() || name.len() > 63 || name.contains('\0') {
        return Err(Error::Invalid {
            cause: format!("invalid schema name {name:?} (1 to 63 bytes, no NUL)"),
        });
    }
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn prefix_end_is_the_next_string() {
        assert_eq!(prefix_end("+1415").as_deref(), Some("+1416"));
        assert_eq!(prefix_end("+1419").as_deref(), Some("+141:"));
        assert_eq!(prefix_end("").as_deref(), None);
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{D7FF}").as_deref(), Some("\u{E000}"));
    }

    #[test]
    fn times_clamp_and_order() {
        let t = Utc.timestamp_opt(1, 5).single().unwrap_or_default();
        assert_eq!(to_ns(t), 1_000_000_005);
        assert_eq!(ns_before(t), 1_000_000_004);
        let far = Utc
            .with_ymd_and_hms(3000, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        assert_eq!(to_ns(far), i64::MAX);
        assert_eq!(ns_before(far), i64::MAX);
        let early = Utc
            .with_ymd_and_hms(1000, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        assert_eq!(to_ns(early), i64::MIN);
    }

    #[test]
    fn slots_follow_the_request() {
        let (Ok(a), Ok(b)) = (
            PhoneNumber::from_e164("+14155550001"),
            PhoneNumber::from_e164("+14155550002"),
        ) else {
            panic!("test numbers");
        };
        let now = Utc::now();
        let ra = NumberRecord::new(a, NumberState::Reserved, "local", now);
        let slots = into_slots(&[b, a, a], vec![ra.clone()]);
        assert_eq!(slots, vec![None, Some(ra.clone()), Some(ra)]);
    }

    #[test]
    fn a_split_document_is_the_document_at_any_revision() {
        let Ok(n) = PhoneNumber::from_e164("+14155550001") else {
            panic!("test number");
        };
        let mut r = NumberRecord::new(n, NumberState::Reserved, "local", Utc::now());
        r.revision = Revision(7);
        // Look-alikes of the revision elsewhere in the document do not confuse it.
        r.carrier_data
            .insert("revision".into(), serde_json::json!(0));
        r.public.insert("revision".into(), serde_json::json!("0"));
        let Ok((row, split)) = encode_split(&r) else {
            panic!("split");
        };
        assert_eq!((row.revision, row.doc.as_str()), (0, ""));
        for rev in [1, 10, 12_345, i64::MAX as u64] {
            let Ok(row) = encode(&r, Revision(rev)) else {
                panic!("encode");
            };
            assert_eq!(format!("{}{rev}{}", split.head, split.tail), row.doc);
        }
    }

    #[test]
    fn documents_declare_their_format_and_newer_ones_are_refused() {
        let Ok(n) = PhoneNumber::from_e164("+14155550001") else {
            panic!("test number");
        };
        let r = NumberRecord::new(n, NumberState::Reserved, "local", Utc::now());
        let Ok(row) = encode(&r, Revision(3)) else {
            panic!("encode");
        };
        assert!(
            row.doc.starts_with("{\"format\":2,\"number\":"),
            "{}",
            row.doc
        );
        assert_eq!(record_format(&row.doc), 2);
        let Ok(back) = decode("+14155550001", 3, &row.doc) else {
            panic!("decode");
        };
        let mut expected = r.clone();
        expected.revision = Revision(3);
        assert_eq!(back, expected);
        // A document from before formats (no declaration) is format 1 and reads.
        let legacy = row.doc.replacen("\"format\":2,", "", 1);
        assert_eq!(record_format(&legacy), 1);
        assert!(decode("+14155550001", 3, &legacy).is_ok());
        for newer in [
            "{\"format\":3,",
            "{\"format\":\"2\",",
            "{\"format\":2}",
            "{\"format\":-1,",
        ] {
            let doc = row.doc.replacen("{\"format\":2,", newer, 1);
            assert!(record_format(&doc) > RECORD_FORMAT, "{doc}");
            let Err(Error::Database { cause, .. }) = decode("+14155550001", 3, &doc) else {
                panic!("{doc} was read");
            };
            assert!(cause.contains("newer"), "{cause}");
        }
    }

    #[test]
    fn schema_names_are_quoted() {
        assert_eq!(quote_ident("nm").ok().as_deref(), Some("\"nm\""));
        assert_eq!(quote_ident("a\"b").ok().as_deref(), Some("\"a\"\"b\""));
        assert!(quote_ident("").is_err());
    }
}
