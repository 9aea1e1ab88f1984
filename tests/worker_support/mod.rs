//! The `worker` example as a child process, shared by the tests that race
//! several instances (`multi_instance`) and kill one mid-batch (`crash_safety`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

// ------------------------------------------------------------ the worker process

/// The `worker` example, built once per test binary with this build's features
/// (`NUMBER_MANAGER_WORKER` may name a prebuilt one).
pub fn worker_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(p) = std::env::var("NUMBER_MANAGER_WORKER") {
            if !p.is_empty() {
                return PathBuf::from(p);
            }
        }
        let mut features = vec!["sqlite", "postgres"];
        if cfg!(feature = "testing") {
            features.push("testing");
        }
        if cfg!(feature = "api") {
            features.push("api");
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "--example",
            "worker",
            "--message-format=json-render-diagnostics",
            "--manifest-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
            "--features",
            &features.join(","),
        ]);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let out = cmd
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo to build the worker example");
        assert!(out.status.success(), "building the worker failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["reason"] == "compiler-artifact" && v["target"]["name"] == "worker")
            .find_map(|v| v["executable"].as_str().map(PathBuf::from))
            .expect("cargo named the worker's executable")
    })
}

/// One line of the worker's output.
enum Line {
    /// A line with its newline.
    Whole(String),
    /// The output ended in the middle of a line.
    Cut(String),
}

/// A running worker: its output lines arrive on a channel, read by a thread,
/// so every wait has a deadline. Dropping it kills the process.
pub struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    stderr: Arc<Mutex<String>>,
    /// Every JSON line the worker printed so far.
    pub seen: Vec<Value>,
    /// The half-written last line of a killed worker, if the kill cut one.
    pub cut: Option<String>,
    killed: bool,
    eof: bool,
}

impl Worker {
    pub fn spawn(args: &[String]) -> Worker {
        let mut child = Command::new(worker_binary())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the worker");
        let stdout = child.stdout.take().expect("worker stdout");
        let stderr = child.stderr.take().expect("worker stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut buf = Vec::new();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let line = String::from_utf8_lossy(&buf).into_owned();
                // Without its newline, this is the last line and the process
                // died while writing it (a SIGKILL lands between any two
                // bytes the worker writes).
                let line = match line.strip_suffix('\n') {
                    Some(whole) => Line::Whole(whole.to_string()),
                    None => Line::Cut(line),
                };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let err_text = Arc::new(Mutex::new(String::new()));
        let sink = err_text.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Worker {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr: err_text,
            seen: Vec::new(),
            cut: None,
            killed: false,
            eof: false,
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The next line, `None` at the end of the output; panics at the deadline.
    pub fn next(&mut self, deadline: Instant) -> Option<Value> {
        if self.eof {
            return None;
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(wait) {
            Ok(Line::Whole(line)) => {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("worker printed a non-JSON line {line:?}: {e}"));
                self.seen.push(v.clone());
                Some(v)
            }
            Ok(Line::Cut(line)) => {
                // Only a kill may cut a line; a worker that ends on its own
                // must have finished every line it started.
                assert!(
                    self.killed,
                    "the worker's output ended mid-line {line:?}; stderr:\n{}",
                    self.stderr()
                );
                self.cut = Some(line);
                self.eof = true;
                None
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.eof = true;
                None
            }
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                panic!(
                    "the worker printed nothing more before the deadline; stderr:\n{}",
                    self.stderr()
                )
            }
        }
    }

    /// Reads until a line matches; panics if the output ends first.
    pub fn wait_for(
        &mut self,
        deadline: Instant,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        loop {
            match self.next(deadline) {
                Some(v) if pred(&v) => return v,
                Some(_) => {}
                None => panic!(
                    "the worker ended before {what}; status {:?}; stderr:\n{}",
                    self.child.try_wait(),
                    self.stderr()
                ),
            }
        }
    }

    /// Sends a line to the worker's stdin.
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("worker stdin");
        writeln!(stdin, "{line}").expect("write to the worker");
        stdin.flush().expect("flush the worker's stdin");
    }

    /// Reads the rest of the output and waits for the process to end.
    pub fn finish(&mut self, deadline: Instant) -> ExitStatus {
        while self.next(deadline).is_some() {}
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the worker") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the worker did not exit before the deadline");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    /// SIGKILL, then collect what it had printed.
    pub fn kill(&mut self, deadline: Instant) -> ExitStatus {
        self.killed = true;
        self.child.kill().expect("kill the worker");
        self.finish(deadline)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
