//! The demo server (`examples/server.rs`, included below) bounds its
//! connections: slow or idle clients are closed after their timeouts, and past
//! the connection cap new clients are turned away while the server keeps
//! answering the connections it holds.

#[path = "../examples/server.rs"]
#[allow(dead_code)]
mod server;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use server::{Limits, Log};

/// Longer than any timeout here by far: only a server that never closes
/// makes a test wait this long (and fail).
const GUARD: Duration = Duration::from_secs(20);

async fn start(limits: Limits) -> SocketAddr {
    let store = server::open_store("memory").await.unwrap();
    let api = server::demo_api(store, &server::demo_accounts()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server::serve_with(listener, api, limits));
    addr
}

/// Reads until the server closes the connection; returns what it sent, or
/// `None` if it was still open after `GUARD`.
async fn read_to_close(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    tokio::time::timeout(GUARD, async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| got)
}

/// A keep-alive client connection.
async fn client(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

async fn search(sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>) -> u16 {
    let req = Request::builder()
        .uri("/v2/phone_numbers?prefix=415&quantity=1")
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    let status = res.status().as_u16();
    res.into_body().collect().await.unwrap();
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_closed_after_their_timeouts() {
    let addr = start(Limits {
        header_timeout: Duration::from_millis(600),
        idle_timeout: Duration::from_millis(600),
        max_connections: 100,
        log: Log::Off,
    })
    .await;
    // Headers trickled one line at a time, never finished (slowloris): the
    // trickle keeps the connection busy, the header timeout still ends it.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /v2/phone_numbers?prefix=415&quantity=1 HTTP/1.1\r\n")
        .await
        .unwrap();
    let (mut reader, mut writer) = slow.into_split();
    let trickle = tokio::spawn(async move {
        for i in 0..200 {
            if writer
                .write_all(format!("x-slow-{i}: 1\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let closed = tokio::time::timeout(GUARD, async {
        let mut buf = [0u8; 256];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a slowloris client was kept open");
    trickle.abort();
    // A client that connects and sends nothing.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert!(
        read_to_close(&mut silent).await.is_some(),
        "a silent client was kept open"
    );
    // A keep-alive connection that answered a request and then stays idle.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /v2/phone_numbers?prefix=415&quantity=1 HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let got = read_to_close(&mut idle)
        .await
        .expect("an idle keep-alive connection was kept open");
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_cap_new_connections_are_turned_away_and_held_ones_answered() {
    let addr = start(Limits {
        header_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        max_connections: 3,
        log: Log::Off,
    })
    .await;
    let mut held = client(addr).await;
    assert_eq!(search(&mut held).await, 200);
    let mut hogs = Vec::new();
    for _ in 0..2 {
        hogs.push(TcpStream::connect(addr).await.unwrap());
    }
    // The fourth connection is answered 503 and closed at once.
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let got = read_to_close(&mut extra)
        .await
        .expect("a connection past the cap was kept open");
    assert!(
        got.starts_with(b"HTTP/1.1 503"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    // The server still answers the connections it holds.
    assert_eq!(search(&mut held).await, 200);
    // A freed slot takes a new client again.
    drop(hogs.pop());
    let answered = tokio::time::timeout(GUARD, async {
        loop {
            let stream = TcpStream::connect(addr).await.unwrap();
            if let Ok((mut sender, conn)) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
            {
                tokio::spawn(conn);
                let req = Request::builder()
                    .uri("/v2/phone_numbers?prefix=415&quantity=1")
                    .header("host", "localhost")
                    .body(Full::new(Bytes::new()))
                    .unwrap();
                if let Ok(res) = sender.send_request(req).await {
                    if res.status() == 200 {
                        return;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        answered.is_ok(),
        "a freed slot was never given to a new client"
    );
}
