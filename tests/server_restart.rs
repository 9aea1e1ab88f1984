//! The demo server keeps its numbers across a restart with its default store
//! (a SQLite file): start the real `server` example, create a number over HTTP,
//! kill the process (SIGKILL, no goodbye), start it again on the same file and
//! read the number back. This is the README's walk-through, run by a test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CUSTOMER: &str = "009afc511c97b2ae693c6cc4920988e8";
const TOKEN: &str = "demo-customer-token";

fn server_binary() -> PathBuf {
    // target/debug/deps/server_restart-<hash> -> target/debug/examples/server
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let bin = dir.join("server");
    if !bin.exists() {
        // `cargo test --test server_restart` alone does not build examples.
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
}

fn start(db: &std::path::Path, cwd: &std::path::Path) -> Running {
    let mut child = Command::new(server_binary())
        .args(["--listen", "127.0.0.1:0"])
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("server printed nothing").unwrap();
    assert!(
        first.contains("store: sqlite:numbers.db"),
        "default store: {first}"
    );
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect("listen address")
        .to_string();
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    assert!(db.parent().is_some());
    Running { child, addr }
}

fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut stream = loop {
        match TcpStream::connect(addr) {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("server not reachable: {e}"),
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let status: u16 = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
    let json = raw.split("\r\n\r\n").nth(1).unwrap_or("");
    (
        status,
        serde_json::from_str(json).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn a_restarted_server_still_has_its_numbers() {
    let dir = std::env::temp_dir().join(format!("nm-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("numbers.db");
    let path = format!("/v2/accounts/{CUSTOMER}/phone_numbers/%2B14155550142");

    let mut first = start(&db, &dir);
    let (status, created) = request(
        &first.addr,
        "PUT",
        &path,
        r#"{"data":{"my_own_field":{"kept":true}}}"#,
    );
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["data"]["state"], "reserved");
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    assert!(db.exists(), "the default store is the file numbers.db");

    let mut second = start(&db, &dir);
    let (status, got) = request(&second.addr, "GET", &path, "");
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["data"]["id"], "+14155550142");
    assert_eq!(got["data"]["state"], "reserved");
    assert_eq!(
        got["data"]["my_own_field"],
        serde_json::json!({"kept": true})
    );
    assert_eq!(
        got["data"]["_read_only"]["created"],
        created["data"]["_read_only"]["created"]
    );
    second.child.kill().unwrap();
    second.child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
