//! The demo server's configuration (`examples/server/config.rs`, reached
//! through `examples/server.rs`, included once below): the annotated
//! `examples/server.toml` is the defaults and every field it shows is a real
//! one, partial files and environment overrides, unknown keys, and carriers
//! built from the file with their secrets from the environment.

#[path = "../examples/server.rs"]
#[allow(dead_code)]
mod server;

use std::collections::HashMap;
use std::time::Duration;

use number_manager::store::MemoryStore;
use number_manager::Config;
use server::config::{self, CarrierSpec, LogLevel, ServerSection};

fn example_path() -> String {
    format!("{}/examples/server.toml", env!("CARGO_MANIFEST_DIR"))
}

fn example() -> String {
    std::fs::read_to_string(example_path()).expect("examples/server.toml")
}

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = env(pairs).into_iter().collect();
    move |k| map.get(k).cloned()
}

fn names(specs: Option<&[CarrierSpec]>, vars: &[(&str, &str)]) -> Result<Vec<String>, String> {
    let store = std::sync::Arc::new(MemoryStore::new());
    config::carriers(specs, store, &lookup(vars)).map(|r| r.names().to_vec())
}

fn json(c: &Config) -> serde_json::Value {
    serde_json::to_value(c).expect("a Config serializes")
}

#[test]
fn the_annotated_example_is_the_defaults() {
    let c = config::parse(&example(), no_env()).expect("examples/server.toml parses");
    assert_eq!(c.server, ServerSection::default());
    assert_eq!(json(&c.manager), json(&Config::default()));
    let carriers = c.carriers.as_deref().expect("the example lists carriers");
    assert_eq!(
        carriers,
        [
            CarrierSpec::Local {},
            CarrierSpec::Simulated {
                name: None,
                seed: Some(server::CARRIER_SEED),
                latency: None,
            },
        ]
    );
    assert_eq!(
        names(Some(carriers), &[]).unwrap(),
        names(None, &[]).unwrap(),
        "the listed carriers are the ones loaded without a list"
    );
}

/// The example with every commented-out field and carrier switched on.
fn example_uncommented() -> String {
    example()
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if rest.starts_with("[[carriers]]")
                    || rest.split_once(" = ").is_some_and(|(k, _)| {
                        !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    }) =>
            {
                rest.to_string()
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_field_the_example_shows_is_a_real_one() {
    let text = example_uncommented();
    let c = config::parse(&text, no_env()).expect("the uncommented example parses");
    assert_eq!(c.server.accounts.as_deref(), Some("accounts.json"));
    assert_eq!(c.server.body_limit, Some(1_048_576));
    assert_eq!(
        c.manager.features.system.allow,
        Some(vec!["cnam".to_string(), "e911".to_string()])
    );
    assert_eq!(c.manager.features.system.deny, Some(vec![]));
    let carriers = c.carriers.expect("carriers");
    let kinds: Vec<&str> = carriers.iter().map(CarrierSpec::kind).collect();
    assert_eq!(
        kinds,
        ["local", "simulated", "telnyx", "twilio", "bandwidth"]
    );
    assert_eq!(
        carriers[2],
        CarrierSpec::Telnyx {
            name: Some("telnyx".into()),
            api_key_env: "TELNYX_API_KEY".into(),
            base_url: Some("https://api.telnyx.com/v2".into()),
            connection_id: Some("1293384261075731499".into()),
            features: Some(vec!["voice".into(), "sms".into()]),
        }
    );
    assert_eq!(
        carriers[1],
        CarrierSpec::Simulated {
            name: Some("simulated".into()),
            seed: Some(server::CARRIER_SEED),
            latency: Some(Duration::from_millis(250)),
        }
    );
    let vars = [
        ("TELNYX_API_KEY", "KEY0123"),
        ("TWILIO_AUTH_TOKEN", "token123"),
        ("BANDWIDTH_PASSWORD", "pw"),
    ];
    assert_eq!(
        names(Some(&carriers[..2]), &vars).unwrap(),
        ["local", "simulated"]
    );
    // Each real carrier on its own.
    let telnyx = cfg!(all(feature = "telnyx", feature = "reqwest"));
    let twilio = cfg!(all(feature = "twilio", feature = "reqwest"));
    let bandwidth = cfg!(all(feature = "bandwidth", feature = "reqwest"));
    for (upto, name, built) in [
        (3, "telnyx", telnyx),
        (4, "twilio", twilio),
        (5, "bandwidth", bandwidth),
    ] {
        let got = names(Some(&carriers[upto - 1..upto]), &vars);
        if built {
            let got = got.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(got.len(), 1, "{got:?}");
        } else {
            let err = got.expect_err(name);
            assert!(err.contains(&format!("type {name}")), "{err}");
            assert!(err.contains("needs the cargo features"), "{err}");
        }
    }
}

#[test]
fn a_partial_file_with_environment_overrides() {
    let text = r#"
        [server]
        listen = "127.0.0.1:9000"
        [manager]
        claim_ttl = "10m"
        [[carriers]]
        type = "telnyx"
        api_key_env = "TELNYX_KEY"
    "#;
    let c = config::parse(text, no_env()).unwrap();
    assert_eq!(c.server.listen.port(), 9000);
    assert_eq!(c.server.store, ServerSection::default().store);
    assert_eq!(c.manager.claim_ttl, Duration::from_secs(600));
    assert_eq!(c.manager.aging_period, Config::default().aging_period);

    let c = config::parse(
        text,
        env(&[
            ("NUMBER_MANAGER__MANAGER__CLAIM_TTL", "1h30m"),
            ("NUMBER_MANAGER__MANAGER__LIMITS__MAX_NUMBERS", "200"),
            ("NUMBER_MANAGER__MANAGER__STATE__SHOULD_AGE", "true"),
            ("number_manager__ignored", "x"),
            ("NUMBER_MANAGER__SERVER__LOG", "all"),
            ("NUMBER_MANAGER__SERVER__STORE", "memory"),
            (
                "NUMBER_MANAGER__CARRIERS__0__BASE_URL",
                "http://127.0.0.1:9/v2",
            ),
            ("PATH", "/usr/bin"),
        ]),
    )
    .unwrap();
    assert_eq!(c.manager.claim_ttl, Duration::from_secs(5400));
    assert_eq!(c.manager.limits.max_numbers, 200);
    assert!(c.manager.state.should_age);
    assert_eq!(c.server.log, LogLevel::All);
    assert_eq!(c.server.store, "memory");
    assert_eq!(c.server.listen.port(), 9000, "the file's value stays");
    match &c.carriers.as_deref().unwrap()[0] {
        CarrierSpec::Telnyx { base_url, .. } => {
            assert_eq!(base_url.as_deref(), Some("http://127.0.0.1:9/v2"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_keys_and_types_are_errors_naming_them() {
    for (text, vars, needle) in [
        (
            "[server]\nlistne = \"x\"",
            no_env(),
            "unknown field `listne`",
        ),
        (
            "[manager]\nclaim_tll = \"1m\"",
            no_env(),
            "unknown field `claim_tll`",
        ),
        (
            "[manager.limits]\nmax_number = 1",
            no_env(),
            "unknown field `max_number`",
        ),
        ("[servr]", no_env(), "unknown field `servr`"),
        (
            "[[carriers]]\ntype = \"telnyx\"\napi_key = \"KEY0123\"",
            no_env(),
            "unknown field `api_key`",
        ),
        (
            "[[carriers]]\ntype = \"vonage\"",
            no_env(),
            "unknown variant `vonage`",
        ),
        (
            "[[carriers]]\ntype = \"telnyx\"",
            no_env(),
            "missing field `api_key_env`",
        ),
        (
            "[manager]\nclaim_ttl = \"5 minutes\"",
            no_env(),
            "invalid duration",
        ),
        (
            "",
            env(&[("NUMBER_MANAGER__SERVER__NOPE", "1")]),
            "unknown field `nope`",
        ),
        (
            "[[carriers]]\ntype = \"local\"",
            env(&[("NUMBER_MANAGER__CARRIERS__3__BASE_URL", "x")]),
            "\"3\" is not a section",
        ),
    ] {
        let err = config::parse(text, vars).expect_err(text);
        assert!(err.contains(needle), "{text:?}: {err}");
        assert!(
            !err.contains("KEY0123") || needle.contains("api_key"),
            "{err}"
        );
    }
}

const STUB_TELNYX: &str = r#"
    [[carriers]]
    type = "simulated"
    [[carriers]]
    type = "telnyx"
    name = "telnyx-sandbox"
    api_key_env = "TELNYX_KEY"
    base_url = "http://127.0.0.1:9/v2"
"#;

#[test]
fn a_carrier_whose_variable_is_missing_is_a_clear_error() {
    let c = config::parse(STUB_TELNYX, no_env()).unwrap();
    let err = names(c.carriers.as_deref(), &[]).unwrap_err();
    if cfg!(all(feature = "telnyx", feature = "reqwest")) {
        assert_eq!(
            err,
            "carriers[1] (type telnyx): environment variable TELNYX_KEY (named by api_key_env) is not set"
        );
        let err = names(c.carriers.as_deref(), &[("TELNYX_KEY", "")]).unwrap_err();
        assert!(
            err.contains("TELNYX_KEY (named by api_key_env) is empty"),
            "{err}"
        );
    } else {
        assert!(
            err.contains("needs the cargo features telnyx,reqwest"),
            "{err}"
        );
    }
}

#[cfg(all(feature = "telnyx", feature = "reqwest"))]
#[test]
fn a_carrier_points_at_the_base_url_the_file_gives() {
    let c = config::parse(STUB_TELNYX, no_env()).unwrap();
    let store = std::sync::Arc::new(MemoryStore::new());
    let registry = config::carriers(
        c.carriers.as_deref(),
        store,
        &lookup(&[("TELNYX_KEY", "KEY0123")]),
    )
    .unwrap();
    assert_eq!(registry.names(), ["simulated", "telnyx-sandbox"]);
    let telnyx = registry.get("telnyx-sandbox").expect("loaded");
    let shown = format!("{telnyx:?}");
    assert!(shown.contains("http://127.0.0.1:9/v2"), "{shown}");
    assert!(!shown.contains("KEY0123"), "the key never shows: {shown}");
}

#[test]
fn two_carriers_of_one_name_are_refused() {
    let text = "[[carriers]]\ntype = \"simulated\"\n[[carriers]]\ntype = \"simulated\"\nseed = 1";
    let c = config::parse(text, no_env()).unwrap();
    let err = names(c.carriers.as_deref(), &[]).unwrap_err();
    assert!(err.starts_with("carriers[1] (type simulated)"), "{err}");
    assert!(err.contains("already loaded"), "{err}");
}

#[test]
fn flags_override_the_file_and_the_environment() {
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let path = example_path();
    let c = server::from_args(
        args(&[
            "--listen",
            "127.0.0.1:9999",
            "--config",
            &path,
            "--log",
            "off",
        ]),
        env(&[("NUMBER_MANAGER__SERVER__LISTEN", "127.0.0.1:7000")]),
    )
    .unwrap();
    assert_eq!(c.server.listen.port(), 9999);
    assert_eq!(c.server.log, LogLevel::Off);
    assert_eq!(c.server.idle_timeout, Duration::from_secs(30));
    let c = server::from_args(
        args(&[]),
        env(&[("NUMBER_MANAGER__SERVER__LISTEN", "127.0.0.1:7000")]),
    )
    .unwrap();
    assert_eq!(
        c.server.listen.port(),
        7000,
        "overrides apply without a file"
    );
    assert!(server::from_args(args(&["--config"]), no_env())
        .unwrap_err()
        .contains("--config needs a value"));
    assert!(
        server::from_args(args(&["--config", "/nonexistent.toml"]), no_env())
            .unwrap_err()
            .starts_with("/nonexistent.toml")
    );
}

#[test]
fn the_shutdown_timeout_comes_from_the_file_the_environment_or_the_flag() {
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        ServerSection::default().shutdown_timeout,
        server::DEFAULT_SHUTDOWN_TIMEOUT
    );
    let c = config::parse("[server]\nshutdown_timeout = \"45s\"", no_env()).unwrap();
    assert_eq!(c.server.shutdown_timeout, Duration::from_secs(45));
    let c = config::parse(
        "",
        env(&[("NUMBER_MANAGER__SERVER__SHUTDOWN_TIMEOUT", "2m")]),
    )
    .unwrap();
    assert_eq!(c.server.shutdown_timeout, Duration::from_secs(120));
    let c = server::from_args(args(&["--shutdown-timeout", "2.5"]), no_env()).unwrap();
    assert_eq!(c.server.shutdown_timeout, Duration::from_millis(2500));
    let err = server::from_args(args(&["--shutdown-timeout", "0"]), no_env()).unwrap_err();
    assert!(err.contains("positive number of seconds"), "{err}");
}

/// The `auth_token` of an answer of the API `config` describes.
async fn echoed(config: &config::ServerConfig) -> Option<serde_json::Value> {
    use number_manager::api::{ApiRequest, Method};
    let store = std::sync::Arc::new(MemoryStore::new());
    let api =
        server::configured_api(store, &server::demo_accounts(), config, &lookup(&[])).unwrap();
    let path = format!("/v2/accounts/{}/phone_numbers", server::CUSTOMER_ID);
    let req = ApiRequest::new(Method::Get, &path).token(server::CUSTOMER_TOKEN);
    let answer = api.handle(req).await;
    assert_eq!(answer.status, 200);
    let v = answer.json().unwrap();
    assert_eq!(
        api.echoes_auth_token(),
        v.get("auth_token").is_some(),
        "{v}"
    );
    v.get("auth_token").cloned()
}

#[tokio::test]
async fn the_auth_token_echo_is_on_by_default_and_switched_off_by_file_environment_or_flag() {
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let default = server::from_args(args(&[]), no_env()).unwrap();
    assert!(default.server.echo_auth_token);
    assert_eq!(
        echoed(&default).await,
        Some(serde_json::json!(server::CUSTOMER_TOKEN))
    );
    let file = config::parse("[server]\necho_auth_token = false", no_env()).unwrap();
    let environment = config::parse(
        "",
        env(&[("NUMBER_MANAGER__SERVER__ECHO_AUTH_TOKEN", "false")]),
    )
    .unwrap();
    let flag = server::from_args(args(&["--echo-auth-token", "off"]), no_env()).unwrap();
    for c in [&file, &environment, &flag] {
        assert!(!c.server.echo_auth_token);
        assert_eq!(echoed(c).await, None);
    }
    // The flag wins over the environment, both ways.
    let on = server::from_args(
        args(&["--echo-auth-token", "on"]),
        env(&[("NUMBER_MANAGER__SERVER__ECHO_AUTH_TOKEN", "false")]),
    )
    .unwrap();
    assert!(on.server.echo_auth_token);
    let err = server::from_args(args(&["--echo-auth-token", "maybe"]), no_env()).unwrap_err();
    assert!(err.contains("is not on or off"), "{err}");
}
