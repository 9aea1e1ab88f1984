//! The demo server run as a service, as its binary: it answers `/healthz`,
//! `/readyz` and `/metrics`; SIGTERM during a collection purchase lets the
//! purchase finish with its full answer, refuses new connections, exits 0
//! within the shutdown timeout and leaves no claim behind in the SQLite file;
//! demo accounts and tokens exist only in demo mode.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use number_manager::store::{SqliteStore, Store};
use number_manager::PhoneNumber;
use serde_json::{json, Value};

const CUSTOMER: &str = "009afc511c97b2ae693c6cc4920988e8";
const CUSTOMER_TOKEN: &str = "demo-customer-token";

/// Each call of the slow simulated carrier waits this long.
const LATENCY: Duration = Duration::from_millis(1500);
/// The server's `--shutdown-timeout`.
const GRACE: Duration = Duration::from_secs(20);

fn server_binary() -> PathBuf {
    // target/debug/deps/server_shutdown-<hash> -> target/debug/examples/server
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let bin = dir.join("server");
    if !bin.exists() {
        // `cargo test --test server_shutdown` alone does not build examples.
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", "server", "--features", "api,sqlite"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success());
    }
    bin
}

struct Running {
    child: Child,
    addr: String,
    banner: Vec<String>,
    stderr: PathBuf,
}

impl Running {
    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits for the process to exit, at most `within`.
    fn exit_within(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server in `cwd` with `args` (its default store is then
/// `cwd/numbers.db`), reading the banner up to the last account line.
fn start(cwd: &Path, args: &[&str], accounts: usize) -> Running {
    let stderr = cwd.join(format!("stderr-{}.txt", std::process::id()));
    let mut child = Command::new(server_binary())
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    // The listen line, the table's header and one line per account.
    let banner: Vec<String> = lines
        .by_ref()
        .take(2 + accounts)
        .map(|l| l.unwrap())
        .collect();
    let addr = banner
        .first()
        .and_then(|l| l.split("http://").nth(1))
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no listen address in {banner:?}"))
        .to_string();
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Running {
        child,
        addr,
        banner,
        stderr,
    }
}

fn connect(addr: &str) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match TcpStream::connect(addr) {
            Ok(s) => return s,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("server not reachable: {e}"),
        }
    }
}

/// Writes one request (`Connection: close`) on `stream`.
fn send(stream: &mut TcpStream, method: &str, path: &str, token: Option<&str>, body: &str) {
    let auth = token
        .map(|t| format!("X-Auth-Token: {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).unwrap();
}

/// Reads the answer to the end: status, the head, and the body.
fn receive(mut stream: TcpStream) -> (u16, String, String) {
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {raw:?}"));
    (status, head.to_string(), body.to_string())
}

fn request(addr: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let mut stream = connect(addr);
    send(&mut stream, method, path, token, body);
    let (status, _, body) = receive(stream);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nm-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A configuration with a slow simulated carrier.
fn slow_config(dir: &Path) -> PathBuf {
    let path = dir.join("slow.toml");
    let text = format!(
        "[server]\nshutdown_timeout = \"{}s\"\n\n[[carriers]]\ntype = \"local\"\n\n\
         [[carriers]]\ntype = \"simulated\"\nlatency = \"{}ms\"\n",
        GRACE.as_secs(),
        LATENCY.as_millis()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn sigterm_during_a_purchase_finishes_it_refuses_new_connections_and_exits_0() {
    let dir = temp_dir("shutdown");
    let config = slow_config(&dir);
    let mut server = start(&dir, &["--config", config.to_str().unwrap()], 3);
    let addr = server.addr.clone();

    // The operations endpoints answer.
    assert_eq!(request(&addr, "GET", "/healthz", None, "").0, 200);
    let (status, ready) = request(&addr, "GET", "/readyz", None, "");
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["checks"]["store"]["status"], "ok", "{ready}");

    let (status, found) = request(
        &addr,
        "GET",
        "/v2/phone_numbers?prefix=415&quantity=4",
        None,
        "",
    );
    assert_eq!(status, 200, "{found}");
    let numbers: Vec<String> = found["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["number"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(numbers.len(), 4, "{found}");

    let mut metrics = connect(&addr);
    send(&mut metrics, "GET", "/metrics", None, "");
    let (status, head, text) = receive(metrics);
    assert_eq!(status, 200, "{text}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(
        text.contains("http_requests_total{status=\"200\"}"),
        "{text}"
    );

    // The purchase: every carrier call takes LATENCY.
    let mut purchase = connect(&addr);
    let body = json!({"data": {"numbers": numbers}}).to_string();
    let path = format!("/v2/accounts/{CUSTOMER}/phone_numbers/collection/activate");
    send(&mut purchase, "PUT", &path, Some(CUSTOMER_TOKEN), &body);
    let sent = Instant::now();
    let answer = std::thread::spawn(move || {
        let got = receive(purchase);
        (got, Instant::now())
    });
    std::thread::sleep(LATENCY / 3);
    let term = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let signalled = Instant::now();

    // New connections are refused while the purchase is still being answered.
    let refused = loop {
        if TcpStream::connect(&addr).is_err() {
            break Instant::now();
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "still accepting 5 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    };

    let ((status, _, body), answered) = answer.join().unwrap();
    assert!(
        refused < answered,
        "connections were refused only after the purchase was answered"
    );
    assert!(
        answered - sent >= LATENCY,
        "the purchase was answered before the carrier finished"
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    for n in &numbers {
        assert_eq!(v["data"]["success"][n]["state"], "in_service", "{v}");
    }
    assert!(v["data"].get("error").is_none(), "{v}");

    let exited = server
        .exit_within(GRACE + Duration::from_secs(5))
        .expect("the server did not exit after SIGTERM");
    assert!(exited.success(), "{exited:?}; stderr: {}", server.stderr());
    assert!(server.stderr().contains("SIGTERM"), "{}", server.stderr());

    // The file holds every bought number in service and no claim.
    let db = dir.join("numbers.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let records = rt.block_on(async {
        let store = SqliteStore::open(&db).await.unwrap();
        let parsed: Vec<PhoneNumber> = numbers
            .iter()
            .map(|n| PhoneNumber::parse(n).unwrap())
            .collect();
        let got = store.get_many(&parsed).await.unwrap();
        store.close().await;
        got
    });
    for (n, record) in numbers.iter().zip(records) {
        let record = record.unwrap_or_else(|| panic!("{n} is not in the file"));
        assert_eq!(record.state.as_str(), "in_service", "{n}");
        assert!(record.pending.is_none(), "{n} has a claim: {record:?}");
    }

    // A restart on the same file serves them.
    let second = start(&dir, &[], 3);
    let (status, got) = request(
        &second.addr,
        "GET",
        &format!(
            "/v2/accounts/{CUSTOMER}/phone_numbers/{}",
            numbers[0].replace('+', "%2B")
        ),
        Some(CUSTOMER_TOKEN),
        "",
    );
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["data"]["state"], "in_service", "{got}");
    drop(second);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_request_still_running_at_the_shutdown_timeout_is_abandoned_and_the_exit_is_1() {
    let dir = temp_dir("deadline");
    let config = dir.join("stuck.toml");
    std::fs::write(
        &config,
        "[server]\nshutdown_timeout = \"1s\"\n\n[[carriers]]\ntype = \"simulated\"\nlatency = \"30s\"\n",
    )
    .unwrap();
    let mut server = start(
        &dir,
        &["--store", "memory", "--config", config.to_str().unwrap()],
        3,
    );
    // A search waits for the carrier far longer than the server may take to stop.
    let mut search = connect(&server.addr);
    send(
        &mut search,
        "GET",
        "/v2/phone_numbers?prefix=415&quantity=1",
        None,
        "",
    );
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    let term = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let exited = server
        .exit_within(Duration::from_secs(15))
        .expect("the server outlived its shutdown timeout");
    let took = signalled.elapsed();
    assert_eq!(exited.code(), Some(1), "{}", server.stderr());
    assert!(
        took >= Duration::from_secs(1),
        "it did not wait for the request: {took:?}"
    );
    assert!(
        server.stderr().contains("still answering"),
        "{}",
        server.stderr()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_idle_server_stops_at_once_on_sigint() {
    let dir = temp_dir("sigint");
    let mut server = start(&dir, &["--store", "memory"], 3);
    // An idle keep-alive connection does not hold the stop up.
    let mut idle = connect(&server.addr);
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let int = Command::new("kill")
        .args(["-INT", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(int.success());
    let exited = server
        .exit_within(Duration::from_secs(10))
        .expect("an idle server did not stop within 10 s of SIGINT");
    assert!(exited.success(), "{exited:?}; {}", server.stderr());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn demo_accounts_and_tokens_exist_only_in_demo_mode() {
    let dir = temp_dir("demo");
    let demo = start(&dir, &["--store", "memory"], 3);
    assert!(
        demo.banner
            .iter()
            .any(|l| l.contains("demo-customer-token")),
        "{:?}",
        demo.banner
    );
    let (status, _) = request(
        &demo.addr,
        "GET",
        &format!("/v2/accounts/{CUSTOMER}/phone_numbers"),
        Some(CUSTOMER_TOKEN),
        "",
    );
    assert_eq!(status, 200);
    // The notice is written before the banner, so it is there by now.
    assert!(demo.stderr().contains("demo mode"), "{}", demo.stderr());
    drop(demo);

    let accounts = dir.join("accounts.json");
    let master = "0123456789abcdef0123456789abcdef";
    std::fs::write(
        &accounts,
        json!([{"id": master, "name": "Ops", "is_master": true, "token": "real-secret-token"}])
            .to_string(),
    )
    .unwrap();
    let real = start(
        &dir,
        &[
            "--store",
            "memory",
            "--accounts",
            accounts.to_str().unwrap(),
        ],
        1,
    );
    let banner = real.banner.join("\n");
    assert!(banner.contains(master), "{banner}");
    assert!(!banner.contains("demo"), "{banner}");
    assert!(
        !banner.contains("real-secret-token"),
        "a real token is printed: {banner}"
    );
    for token in [
        "demo-master-token",
        "demo-reseller-token",
        "demo-customer-token",
    ] {
        let (status, v) = request(
            &real.addr,
            "GET",
            &format!("/v2/accounts/{master}/phone_numbers"),
            Some(token),
            "",
        );
        assert_eq!(status, 401, "{token}: {v}");
    }
    let (status, v) = request(
        &real.addr,
        "GET",
        &format!("/v2/accounts/{master}/phone_numbers"),
        Some("real-secret-token"),
        "",
    );
    assert_eq!(status, 200, "{v}");
    assert!(!real.stderr().contains("demo mode"), "{}", real.stderr());
    drop(real);
    let _ = std::fs::remove_dir_all(&dir);
}
