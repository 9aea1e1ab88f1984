//! Port requests over HTTP, through the `Api`: the README's curl walk-through
//! replayed (the block is parsed from README.md, so the two cannot drift),
//! every allowed move, every disallowed move and actor with its error,
//! attachments over the limit, private comments hidden, and the numbers'
//! `port_in` view.

#[path = "../examples/server.rs"]
#[allow(dead_code)]
mod server;

use std::collections::HashMap;
use std::sync::Arc;

use number_manager::account::MemoryAccounts;
use number_manager::api::{Api, ApiRequest, ApiResponse, Method};
use number_manager::porting::{PortState, MOVES};
use number_manager::{Config, Limits, NumberManager};
use serde_json::{json, Value};

use PortState::*;

// ---------- the README walk-through ----------

/// One curl command of the walk-through, and the status its comment expects.
#[derive(Debug)]
struct Step {
    /// `P` for `P=$(curl ...)`: the answer's `data.id` goes into `$P`.
    capture: Option<String>,
    words: Vec<String>,
    expect: u16,
}

/// Splits a shell line into words: single quotes literal, double quotes and
/// bare words with `$NAME` expanded.
fn words(line: &str, vars: &HashMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let expand = |chars: &mut std::iter::Peekable<std::str::Chars>, cur: &mut String| {
        let mut name = String::new();
        while let Some(c) = chars
            .peek()
            .copied()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            name.push(c);
            chars.next();
        }
        cur.push_str(vars.get(&name).map(String::as_str).unwrap_or(""));
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '$' => expand(&mut chars, &mut cur),
                        c => cur.push(c),
                    }
                }
            }
            '$' => {
                in_word = true;
                expand(&mut chars, &mut cur);
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// The README's walk-through block: its logical lines (continuations joined).
fn readme_block() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("<!-- port-walk-through -->")
        .expect("README has the walk-through");
    let block = &readme[start..];
    let body = &block[block.find("```sh\n").unwrap() + 6..];
    let body = &body[..body.find("```").unwrap()];
    let mut lines = Vec::new();
    let mut cur = String::new();
    for line in body.lines() {
        match line.trim_end().strip_suffix('\\') {
            Some(head) => cur.push_str(head),
            None => {
                cur.push_str(line);
                lines.push(std::mem::take(&mut cur));
            }
        }
    }
    lines
}

/// Runs the walk-through through `api`; the answers, in order.
async fn replay(api: &Api) -> (HashMap<String, String>, Vec<(Vec<String>, ApiResponse)>) {
    let mut vars: HashMap<String, String> = HashMap::new();
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let mut expect = 0;
    let mut answers = Vec::new();
    for line in readme_block() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if let Some((_, status)) = comment.rsplit_once("-> ") {
                expect = status.trim().parse().unwrap();
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("echo ") {
            let (text, file) = rest.split_once(" > ").unwrap();
            let text = words(text, &vars).join(" ");
            files.insert(file.trim().to_string(), format!("{text}\n").into_bytes());
            continue;
        }
        let (capture, command) = match line.split_once("=$(") {
            Some((name, rest)) => (Some(name.to_string()), rest.split(" | ").next().unwrap()),
            None => (None, line),
        };
        if !command.starts_with("curl") {
            // `S=...; A=...`: the variables.
            for assignment in line.split(';') {
                let (k, v) = assignment.trim().split_once('=').unwrap();
                vars.insert(k.to_string(), v.to_string());
            }
            continue;
        }
        let step = Step {
            capture,
            words: words(command, &vars),
            expect,
        };
        let answer = api.handle(request_of(&step, &files)).await;
        assert_eq!(
            answer.status,
            step.expect,
            "{:?}: {}",
            step.words,
            String::from_utf8_lossy(&answer.body)
        );
        if let Some(name) = &step.capture {
            let id = answer.json().unwrap()["data"]["id"]
                .as_str()
                .unwrap()
                .to_string();
            vars.insert(name.clone(), id);
        }
        answers.push((step.words, answer));
    }
    (vars, answers)
}

/// The `ApiRequest` a curl command makes.
fn request_of(step: &Step, files: &HashMap<String, Vec<u8>>) -> ApiRequest {
    let mut method = Method::Get;
    let mut url = String::new();
    let mut headers = Vec::new();
    let mut body = Vec::new();
    let mut it = step.words.iter().skip(1);
    while let Some(w) = it.next() {
        match w.as_str() {
            "-s" => {}
            "-X" => method = Method::from(it.next().unwrap().as_str()),
            "-H" => {
                let (k, v) = it.next().unwrap().split_once(':').unwrap();
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
            "-d" => body = it.next().unwrap().clone().into_bytes(),
            "--data-binary" => {
                let arg = it.next().unwrap();
                body = match arg.strip_prefix('@') {
                    Some(file) => files[file].clone(),
                    None => arg.clone().into_bytes(),
                };
            }
            other if other.starts_with("http") => url = other.to_string(),
            other => panic!("curl option the replay does not know: {other}"),
        }
    }
    let target = url.strip_prefix("http://127.0.0.1:8000").unwrap();
    let mut req = ApiRequest::new(method, target).body(body);
    for (k, v) in headers {
        req = req.header(&k, &v);
    }
    req
}

fn answer_to<'a>(
    answers: &'a [(Vec<String>, ApiResponse)],
    method: &str,
    suffix: &str,
) -> Vec<&'a ApiResponse> {
    answers
        .iter()
        .filter(|(w, _)| {
            let m = w
                .iter()
                .position(|x| x == "-X")
                .map(|i| w[i + 1].as_str())
                .unwrap_or("GET");
            m == method
                && w.iter()
                    .any(|x| x.starts_with("http") && x.ends_with(suffix))
        })
        .map(|(_, a)| a)
        .collect()
}

#[tokio::test]
async fn the_readme_walk_through_replays() {
    let api = server::demo_api(
        server::open_store("memory").await.unwrap(),
        &server::demo_accounts(),
    )
    .unwrap();
    let (vars, answers) = replay(&api).await;
    let id = &vars["P"];
    assert_eq!(id.len(), 32, "{id}");
    assert_eq!(answers.len(), 12);

    // While submitted, the number shows as port_in with the request.
    let seen = answer_to(&answers, "GET", "/phone_numbers/%2B14155550300")[0]
        .json()
        .unwrap();
    assert_eq!(seen["data"]["state"], "port_in");
    assert_eq!(seen["data"]["port_id"], id.as_str());
    assert_eq!(seen["data"]["port_state"], "submitted");

    // The authority got the bill's bytes with their content type.
    let bill = answer_to(&answers, "GET", "/attachments/bill.pdf")[0];
    assert_eq!(bill.body, b"PDF-1.4 the last bill\n");
    assert_eq!(bill.header("content-type"), Some("application/pdf"));

    // Completion: both numbers created, each with its result.
    let done = answer_to(&answers, "PATCH", "/completed")[0]
        .json()
        .unwrap();
    assert_eq!(done["data"]["state"], "completed");
    let success = done["data"]["completion"]["success"].as_object().unwrap();
    assert_eq!(success.len(), 2);

    // The listing has them in service, ported in, with port_id.
    let list = answer_to(&answers, "GET", "/phone_numbers")
        .last()
        .unwrap()
        .json()
        .unwrap();
    for n in ["+14155550300", "+14155550301"] {
        let entry = &list["data"]["numbers"][n];
        assert_eq!(entry["state"], "in_service", "{list}");
    }
    let number = api
        .handle(
            ApiRequest::new(
                Method::Get,
                &format!(
                    "/v2/accounts/{}/phone_numbers/%2B14155550301",
                    server::CUSTOMER_ID
                ),
            )
            .token(server::CUSTOMER_TOKEN),
        )
        .await
        .json()
        .unwrap();
    assert_eq!(number["data"]["port_id"], id.as_str(), "{number}");
    assert_eq!(number["data"]["state"], "in_service");

    // The customer's read has no private note; the authority's has it.
    let read = answers.last().unwrap().1.json().unwrap();
    assert_eq!(read["data"]["comments"], json!([]));
    assert_eq!(read["data"]["timeline"].as_array().unwrap().len(), 4);
    let by_master = api
        .handle(
            ApiRequest::new(
                Method::Get,
                &format!("/v2/accounts/{}/port_requests/{id}", server::CUSTOMER_ID),
            )
            .token(server::MASTER_TOKEN),
        )
        .await
        .json()
        .unwrap();
    assert_eq!(by_master["data"]["comments"][0]["text"], "LOA checked");
    assert_eq!(by_master["data"]["comments"][0]["visibility"], "private");
}

// ---------- a world of our own ----------

const MASTER: &str = "t-master";
const RESELLER: &str = "t-reseller";
const CUSTOMER: &str = "t-customer";
const SUB: &str = "t-sub";
const OTHER: &str = "t-other";

struct World {
    api: Api,
    next: std::sync::atomic::AtomicU32,
}

fn world_with(config: Config) -> World {
    let accounts = Arc::new(MemoryAccounts::new());
    let master = accounts.add("master", "Master", None).unwrap();
    accounts.set_master(&master, true);
    let reseller = accounts.add("reseller", "Reseller", Some(&master)).unwrap();
    let customer = accounts
        .add("customer", "Customer", Some(&reseller))
        .unwrap();
    let sub = accounts.add("sub", "Sub", Some(&customer)).unwrap();
    let other = accounts.add("other", "Other", Some(&master)).unwrap();
    for (id, token) in [
        (&master, MASTER),
        (&reseller, RESELLER),
        (&customer, CUSTOMER),
        (&sub, SUB),
        (&other, OTHER),
    ] {
        accounts.set_token(id, token);
    }
    let manager = NumberManager::builder()
        .accounts(accounts.clone())
        .config(config)
        .build();
    World {
        api: Api::new(manager, accounts),
        next: std::sync::atomic::AtomicU32::new(0),
    }
}

fn world() -> World {
    world_with(Config::default())
}

const BASE: &str = "/v2/accounts/customer/port_requests";

/// Where a caller addresses the customer's requests: under its own account
/// (the customer's, or a sub-account's) or under the customer's (ancestors).
fn base_of(token: &str) -> &'static str {
    match token {
        SUB => "/v2/accounts/sub/port_requests",
        _ => BASE,
    }
}

impl World {
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = ApiRequest::new(method, path).token(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = self.api.handle(req).await;
        (res.status, res.json().expect("a JSON answer"))
    }

    /// A fresh number for each request.
    fn number(&self) -> String {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("+1415555{:04}", 2000 + n)
    }

    /// A new request of the customer's; its id.
    async fn open(&self) -> String {
        let body = json!({"data": {"name": "port", "numbers": [self.number()]}});
        let (status, v) = self.send(Method::Put, BASE, CUSTOMER, Some(body)).await;
        assert_eq!(status, 201, "{v}");
        assert_eq!(v["data"]["state"], "unconfirmed");
        v["data"]["id"].as_str().unwrap().to_string()
    }

    async fn move_to(&self, id: &str, to: PortState, token: &str) -> (u16, Value) {
        let body = json!({"data": {"schedule_on": "2027-02-01T10:00:00Z", "reason": "test"}});
        self.send(
            Method::Patch,
            &format!("{}/{id}/{to}", base_of(token)),
            token,
            Some(body),
        )
        .await
    }

    /// A request in `state`, reached by allowed moves.
    async fn request_in(&self, state: PortState) -> String {
        let id = self.open().await;
        let path: &[PortState] = match state {
            Unconfirmed => &[],
            Submitted => &[Submitted],
            Pending => &[Submitted, Pending],
            Scheduled => &[Submitted, Pending, Scheduled],
            Completed => &[Submitted, Pending, Completed],
            Rejected => &[Submitted, Rejected],
            Canceled => &[Canceled],
        };
        for to in path {
            let (status, v) = self.move_to(&id, *to, MASTER).await;
            assert_eq!(status, 200, "to {to}: {v}");
        }
        id
    }
}

// ---------- moves ----------

#[tokio::test]
async fn every_allowed_move_is_made_over_http() {
    let w = world_with({
        let mut c = Config::default();
        c.porting.schedule_from_submitted = true;
        c
    });
    for m in MOVES {
        let id = w.request_in(m.from).await;
        // The customer may submit; the authority (master) makes the rest.
        let token = if m.to == Submitted { CUSTOMER } else { MASTER };
        let (status, v) = w.move_to(&id, m.to, token).await;
        assert_eq!(status, 200, "{} -> {}: {v}", m.from, m.to);
        assert_eq!(v["data"]["state"], m.to.as_str());
        let last = v["data"]["timeline"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(last["previous"], m.from.as_str());
        assert_eq!(last["new"], m.to.as_str());
        assert_eq!(last["reason"], "test");
    }
}

#[tokio::test]
async fn every_disallowed_move_is_invalid_state_transition() {
    let w = world();
    for from in PortState::ALL {
        // There is no route to `unconfirmed` (Kazoo has none): a request
        // only starts there.
        for to in PortState::ALL.into_iter().filter(|s| *s != Unconfirmed) {
            if MOVES
                .iter()
                .any(|m| m.from == from && m.to == to && !m.configurable)
            {
                continue;
            }
            let id = w.request_in(from).await;
            let (status, v) = w.move_to(&id, to, MASTER).await;
            assert_eq!(status, 400, "{from} -> {to}: {v}");
            assert_eq!(v["message"], "invalid_state_transition", "{from} -> {to}");
            assert_eq!(v["data"]["cause"], format!("from {from} to {to}"));
        }
    }
}

#[tokio::test]
async fn actors_who_may_not_move_get_user_not_allowed() {
    let w = world();
    for m in MOVES.iter().filter(|m| !m.configurable) {
        for token in [CUSTOMER, RESELLER, SUB] {
            let tree_may =
                m.to == Submitted || (m.from == Unconfirmed && m.to == Canceled && token != SUB);
            if tree_may {
                continue;
            }
            let id = w.request_in(m.from).await;
            let (status, v) = w.move_to(&id, m.to, token).await;
            assert_eq!(status, 403, "{token}: {} -> {}: {v}", m.from, m.to);
            assert_eq!(v["message"], "user_not_allowed");
        }
    }
}

#[tokio::test]
async fn the_tree_submits_and_its_account_cancels_while_unconfirmed() {
    let w = world();
    // A descendant may submit, the request's own account may cancel while
    // unconfirmed, and a descendant may not.
    let id = w.request_in(Unconfirmed).await;
    assert_eq!(w.move_to(&id, Submitted, SUB).await.0, 200);
    let id = w.request_in(Unconfirmed).await;
    assert_eq!(w.move_to(&id, Canceled, SUB).await.0, 403);
    assert_eq!(w.move_to(&id, Canceled, CUSTOMER).await.0, 200);
    // Outside the tree the customer's account cannot even be addressed.
    let id = w.request_in(Unconfirmed).await;
    assert_eq!(w.move_to(&id, Submitted, OTHER).await.0, 403);
}

#[tokio::test]
async fn scheduled_needs_a_date() {
    let w = world();
    // These moves set no date.
    let id = w.open().await;
    for to in ["submitted", "pending"] {
        let path = format!("{BASE}/{id}/{to}");
        assert_eq!(w.send(Method::Patch, &path, MASTER, None).await.0, 200);
    }
    let (status, v) = w
        .send(
            Method::Patch,
            &format!("{BASE}/{id}/scheduled"),
            MASTER,
            None,
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(v["data"]["schedule_on"]["required"].is_object(), "{v}");
}

#[tokio::test]
async fn delete_cancels_and_keeps_the_request() {
    let w = world();
    let id = w.request_in(Submitted).await;
    let path = format!("{BASE}/{id}");
    let (status, v) = w
        .send(
            Method::Delete,
            &path,
            MASTER,
            Some(json!({"data": {"reason": "customer left"}})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["state"], "canceled");
    let (status, v) = w.send(Method::Get, &path, CUSTOMER, None).await;
    assert_eq!(status, 200);
    assert_eq!(v["data"]["timeline"][1]["reason"], "customer left");
    // Canceled is final.
    assert_eq!(w.send(Method::Delete, &path, MASTER, None).await.0, 400);
}

// ---------- fields, comments, attachments ----------

#[tokio::test]
async fn the_tree_edits_while_unconfirmed_the_authority_while_open() {
    let w = world();
    let id = w.open().await;
    let path = format!("{BASE}/{id}");
    let (status, v) = w
        .send(
            Method::Patch,
            &path,
            CUSTOMER,
            Some(json!({"data": {"losing_carrier": "Acme", "bill": {"pin": "1234"}}})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["losing_carrier"], "Acme");
    assert_eq!(v["data"]["billing"]["pin"], "1234");
    assert_eq!(
        v["data"]["name"], "port",
        "PATCH keeps what it does not name"
    );
    // POST replaces: what it leaves out is cleared.
    let n = w.number();
    let (status, v) = w
        .send(
            Method::Post,
            &path,
            CUSTOMER,
            Some(json!({"data": {"name": "again", "numbers": [n]}})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["losing_carrier"], Value::Null);
    assert_eq!(v["data"]["numbers"], json!([n]));
    // Unknown keys and bad types are validation errors.
    let (status, v) = w
        .send(
            Method::Patch,
            &path,
            CUSTOMER,
            Some(json!({"data": {"colour": "red"}})),
        )
        .await;
    assert_eq!(
        (status, v["message"].as_str()),
        (400, Some("validation error"))
    );
    let (status, _) = w
        .send(
            Method::Patch,
            &path,
            CUSTOMER,
            Some(json!({"data": {"desired_date": "soon"}})),
        )
        .await;
    assert_eq!(status, 400);
    // Once submitted, only the authority.
    assert_eq!(w.move_to(&id, Submitted, CUSTOMER).await.0, 200);
    let (status, v) = w
        .send(
            Method::Patch,
            &path,
            CUSTOMER,
            Some(json!({"data": {"name": "x"}})),
        )
        .await;
    assert_eq!(
        (status, v["message"].as_str()),
        (403, Some("user_not_allowed"))
    );
    assert_eq!(
        w.send(
            Method::Patch,
            &path,
            MASTER,
            Some(json!({"data": {"name": "x"}}))
        )
        .await
        .0,
        200
    );
    // A request under another account's URL is not found there.
    let (status, _) = w
        .send(
            Method::Get,
            &format!("/v2/accounts/other/port_requests/{id}"),
            MASTER,
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = w
        .send(
            Method::Get,
            &format!("{BASE}/no_such_request"),
            MASTER,
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn private_comments_are_hidden_from_everyone_but_the_authority() {
    let w = world();
    let id = w.open().await;
    let comments = format!("{BASE}/{id}/comments");
    let (status, v) = w
        .send(
            Method::Put,
            &comments,
            MASTER,
            Some(json!({"data": {"text": "internal", "private": true}})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, _) = w
        .send(
            Method::Put,
            &comments,
            CUSTOMER,
            Some(json!({"data": {"content": "hello"}})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, v) = w
        .send(
            Method::Put,
            &comments,
            CUSTOMER,
            Some(json!({"data": {"text": "sneaky", "superduper_comment": true}})),
        )
        .await;
    assert_eq!(
        (status, v["message"].as_str()),
        (403, Some("user_not_allowed"))
    );
    for token in [CUSTOMER, RESELLER, SUB] {
        let path = format!("{}/{id}", base_of(token));
        let (_, v) = w.send(Method::Get, &path, token, None).await;
        assert_eq!(
            v["data"]["comments"].as_array().unwrap().len(),
            1,
            "{token}: {v}"
        );
        assert_eq!(v["data"]["comments"][0]["text"], "hello");
        let (_, list) = w.send(Method::Get, base_of(token), token, None).await;
        assert!(!list.to_string().contains("internal"), "{token}: {list}");
    }
    let (_, list) = w.send(Method::Get, BASE, CUSTOMER, None).await;
    assert_eq!(list["data"][0]["comments"].as_array().unwrap().len(), 1);
    let (_, v) = w
        .send(Method::Get, &format!("{BASE}/{id}"), MASTER, None)
        .await;
    let texts: Vec<&str> = v["data"]["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["internal", "hello"]);
}

#[tokio::test]
async fn attachments_keep_their_bytes_and_content_type_within_the_limit() {
    let w =
        world_with(Config::default().with_limits(Limits::default().with_max_attachment_bytes(16)));
    let id = w.open().await;
    let at = |name: &str| format!("{BASE}/{id}/attachments/{name}");
    let put = |name: &str, bytes: &[u8]| {
        ApiRequest::new(Method::Put, &at(name))
            .token(CUSTOMER)
            .header("Content-Type", "image/png")
            .body(bytes.to_vec())
    };
    let res = w.api.handle(put("scan.png", &[0u8; 16])).await;
    assert_eq!(res.status, 200, "{:?}", res.json());
    let res = w.api.handle(put("big.png", &[1u8; 17])).await;
    assert_eq!(res.status, 413);
    assert_eq!(res.json().unwrap()["message"], "payload_too_large");
    let (status, list) = w
        .send(
            Method::Get,
            &format!("{BASE}/{id}/attachments"),
            CUSTOMER,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        list["data"],
        json!({"scan.png": {"content_type": "image/png", "length": 16}})
    );
    let got = w
        .api
        .handle(ApiRequest::new(Method::Get, &at("scan.png")).token(RESELLER))
        .await;
    assert_eq!(
        (got.status, got.header("content-type")),
        (200, Some("image/png"))
    );
    assert_eq!(got.body, vec![0u8; 16]);
    assert_eq!(
        w.api
            .handle(ApiRequest::new(Method::Get, &at("big.png")).token(CUSTOMER))
            .await
            .status,
        404
    );
    // A name that cannot be one is a validation error.
    assert_eq!(w.api.handle(put("%01", b"x")).await.status, 400);
    let (status, v) = w
        .send(Method::Delete, &at("scan.png"), CUSTOMER, None)
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["attachments"], json!([]));
    assert_eq!(
        w.api
            .handle(ApiRequest::new(Method::Get, &at("scan.png")).token(CUSTOMER))
            .await
            .status,
        404
    );
    // Not while the authority works on it.
    assert_eq!(w.move_to(&id, Submitted, CUSTOMER).await.0, 200);
    assert_eq!(w.api.handle(put("late.png", b"x")).await.status, 403);
}

// ---------- numbers ----------

#[tokio::test]
async fn numbers_in_open_requests_show_as_port_in_and_are_porting() {
    let w = world();
    let id = w.open().await;
    let (_, v) = w
        .send(Method::Get, &format!("{BASE}/{id}"), CUSTOMER, None)
        .await;
    let n = v["data"]["numbers"][0].as_str().unwrap().to_string();
    let enc = n.replace('+', "%2B");
    let number = format!("/v2/accounts/customer/phone_numbers/{enc}");
    let (status, v) = w.send(Method::Get, &number, CUSTOMER, None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["state"], "port_in");
    assert_eq!(v["data"]["port_id"], id.as_str());
    assert_eq!(v["data"]["port_state"], "unconfirmed");
    let (_, list) = w
        .send(
            Method::Get,
            "/v2/accounts/customer/phone_numbers",
            CUSTOMER,
            None,
        )
        .await;
    assert_eq!(
        list["data"]["numbers"][&n]["port_id"],
        id.as_str(),
        "{list}"
    );
    // Outside the tree it does not exist.
    let (status, _) = w
        .send(
            Method::Get,
            &format!("/v2/accounts/other/phone_numbers/{enc}"),
            OTHER,
            None,
        )
        .await;
    assert_eq!(status, 404);
    // Once submitted, creating it is number_is_porting.
    assert_eq!(w.move_to(&id, Submitted, CUSTOMER).await.0, 200);
    let (status, v) = w.send(Method::Put, &number, MASTER, Some(json!({}))).await;
    assert_eq!(
        (status, v["message"].as_str()),
        (400, Some("number_is_porting")),
        "{v}"
    );
    // A second request for it is refused too.
    let body = json!({"data": {"name": "again", "numbers": [n]}});
    let (status, v) = w.send(Method::Put, BASE, CUSTOMER, Some(body)).await;
    assert_eq!(
        (status, v["message"].as_str()),
        (400, Some("number_is_porting")),
        "{v}"
    );
    // Canceled frees it: no port_in view any more.
    assert_eq!(w.move_to(&id, Canceled, MASTER).await.0, 200);
    assert_eq!(w.send(Method::Get, &number, CUSTOMER, None).await.0, 404);
}

#[tokio::test]
async fn port_routes_have_no_dry_run_and_bad_bodies_are_400() {
    let w = world();
    let (status, _) = w
        .send(
            Method::Put,
            &format!("{BASE}?dry_run=true"),
            CUSTOMER,
            Some(json!({"data": {"name": "x", "numbers": ["+14155550999"]}})),
        )
        .await;
    assert_eq!(status, 400);
    for body in [
        json!({"data": {"name": "x"}}),
        json!({"data": {"numbers": []}}),
        json!({"data": {"name": 5, "numbers": ["+14155550999"]}}),
        json!({"data": {"name": "x", "numbers": ["12"]}}),
    ] {
        let (status, v) = w
            .send(Method::Put, BASE, CUSTOMER, Some(body.clone()))
            .await;
        assert!(status == 400 || status == 404, "{body}: {status} {v}");
    }
    let (status, v) = w.send(Method::Get, BASE, CUSTOMER, None).await;
    assert_eq!((status, v["data"].clone()), (200, json!([])));
}
