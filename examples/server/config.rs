//! The demo server's configuration: a TOML file (`--config FILE`), then
//! environment overrides, then the command-line flags.
//!
//! The file has three parts, each optional (`examples/server.toml` shows every
//! field with its default):
//! - `[server]`: where to listen, the store, the accounts file, connection
//!   limits, logging, how often housekeeping runs, how long a stop may take to
//!   finish the requests in flight, whether answers echo the caller's token;
//! - `[manager]`: [`number_manager::Config`] itself (durations as `"30s"`,
//!   `"10m"`, `"24h"`, `"90d"`, `"1h30m"` or whole seconds);
//! - `[[carriers]]`: the carriers to load, in order; without any the server
//!   loads the local carrier and the simulated one.
//!
//! A key the server does not know is an error naming it. Secrets never sit in
//! the file: a carrier names the environment variable holding each one
//! (`api_key_env = "TELNYX_API_KEY"`), read at start.
//!
//! Environment overrides: `NUMBER_MANAGER__<SECTION>__<FIELD>=value` sets
//! `<field>` of `[<section>]` (names are case-insensitive; nested sections add
//! segments, `NUMBER_MANAGER__MANAGER__LIMITS__MAX_NUMBERS=200`; a carrier is
//! addressed by its index, `NUMBER_MANAGER__CARRIERS__0__BASE_URL=...`). The
//! value is read as a TOML value when it is one (`200`, `true`,
//! `["a", "b"]`) and as a string otherwise (`10m`, `sqlite:/var/lib/n.db`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use number_manager::carrier::{CarrierRegistry, LocalCarrier, SimulatedCarrier};
use number_manager::store::Store;
use serde::Deserialize;

use super::{Limits, Log, CARRIER_SEED, DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_STORE};

/// The prefix of the environment variables that override the file.
pub const ENV_PREFIX: &str = "NUMBER_MANAGER__";

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// The server itself.
    pub server: ServerSection,
    /// The manager's tunables.
    pub manager: number_manager::Config,
    /// The carriers, in order (`None`: the local and the simulated carrier).
    pub carriers: Option<Vec<CarrierSpec>>,
}

/// `[server]`: what the command-line flags of the same names also set.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on (`--listen`).
    pub listen: SocketAddr,
    /// The store (`--store`): `memory`, `sqlite:PATH`, `postgres://URL`.
    pub store: String,
    /// A JSON file of accounts (`--accounts`; none: the demo accounts).
    pub accounts: Option<String>,
    /// Largest request body in bytes (`--body-limit`; none: `manager.limits.max_body_bytes`).
    pub body_limit: Option<usize>,
    /// A request's headers must arrive within this (`--header-timeout`).
    #[serde(with = "number_manager::duration")]
    pub header_timeout: Duration,
    /// A connection quiet for this long is closed (`--idle-timeout`).
    #[serde(with = "number_manager::duration")]
    pub idle_timeout: Duration,
    /// Connections open at once (`--max-connections`).
    pub max_connections: usize,
    /// `off`, `errors` or `all` (`--log`).
    pub log: LogLevel,
    /// How often housekeeping (`purge_expired`) runs.
    #[serde(with = "number_manager::duration")]
    pub purge_every: Duration,
    /// On SIGTERM or SIGINT, how long requests in flight may take to finish
    /// before the server exits anyway (`--shutdown-timeout`).
    #[serde(with = "number_manager::duration")]
    pub shutdown_timeout: Duration,
    /// Whether answers echo the caller's token as `auth_token`, as the seeds
    /// do (`--echo-auth-token on|off`).
    pub echo_auth_token: bool,
}

impl Default for ServerSection {
    fn default() -> Self {
        let limits = Limits::default();
        ServerSection {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            store: DEFAULT_STORE.into(),
            accounts: None,
            body_limit: None,
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
            max_connections: limits.max_connections,
            log: LogLevel::Errors,
            purge_every: Duration::from_secs(60),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            echo_auth_token: true,
        }
    }
}

impl ServerSection {
    /// The connection limits this section sets.
    pub fn limits(&self) -> Limits {
        Limits {
            header_timeout: self.header_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections,
            log: match self.log {
                LogLevel::Off => Log::Off,
                LogLevel::Errors => Log::Errors,
                LogLevel::All => Log::All,
            },
        }
    }
}

/// [`Log`] as the file spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Nothing.
    Off,
    /// 5xx answers and failed accepts.
    Errors,
    /// Every request.
    All,
}

/// One `[[carriers]]` entry; `type` says which. Every type is known to every
/// build, so a type whose cargo feature is missing is a clear error at start
/// rather than an unknown variant.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum CarrierSpec {
    /// The simulated carrier: a seeded catalogue, no network.
    Simulated {
        /// The module name stored on its numbers (default `simulated`).
        name: Option<String>,
        /// The catalogue's seed (default 2600: the same numbers every run).
        seed: Option<u64>,
        /// How long every call waits first (default none): a slow carrier
        /// to try timeouts and shutdowns against.
        #[serde(default, deserialize_with = "some_duration")]
        latency: Option<Duration>,
    },
    /// The local carrier (numbers the host owns outright, module `local`).
    Local {},
    /// Telnyx API v2 (cargo features `telnyx` and `reqwest`).
    Telnyx {
        /// Module name (default `telnyx`).
        name: Option<String>,
        /// The environment variable holding the API key.
        api_key_env: String,
        /// The API's base URL (default `https://api.telnyx.com/v2`).
        base_url: Option<String>,
        /// The connection numbers are ordered onto.
        connection_id: Option<String>,
        /// Search only numbers with all these features (`voice`, `sms`, ...).
        features: Option<Vec<String>>,
    },
    /// Twilio's 2010-04-01 REST API (cargo features `twilio` and `reqwest`).
    Twilio {
        /// Module name (default `twilio`).
        name: Option<String>,
        /// The account SID (`AC...`; not a secret).
        account_sid: String,
        /// The environment variable holding the auth token.
        auth_token_env: String,
        /// The API's base URL (default `https://api.twilio.com`).
        base_url: Option<String>,
    },
    /// Bandwidth Numbers API v2 (cargo features `bandwidth` and `reqwest`).
    Bandwidth {
        /// Module name (default `bandwidth2`).
        name: Option<String>,
        /// The account id.
        account_id: String,
        /// The site (sub-account) numbers are ordered into.
        site_id: String,
        /// The SIP peer (location) numbers are ordered onto.
        peer_id: Option<String>,
        /// The API user.
        username: String,
        /// The environment variable holding the API user's password.
        password_env: String,
        /// The API's base URL (default Bandwidth's production API).
        base_url: Option<String>,
    },
}

impl CarrierSpec {
    /// The `type` of this entry, as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            CarrierSpec::Simulated { .. } => "simulated",
            CarrierSpec::Local {} => "local",
            CarrierSpec::Telnyx { .. } => "telnyx",
            CarrierSpec::Twilio { .. } => "twilio",
            CarrierSpec::Bandwidth { .. } => "bandwidth",
        }
    }
}

/// A duration as the file writes it, for a field that may be left out.
fn some_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    number_manager::duration::deserialize(d).map(Some)
}

/// Reads `path` with the process environment's overrides.
pub fn load(path: &str) -> Result<ServerConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    parse(&text, std::env::vars()).map_err(|e| format!("{path}: {e}"))
}

/// Parses a configuration text, then applies the `NUMBER_MANAGER__...`
/// variables among `env` (others are ignored).
pub fn parse(
    text: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<ServerConfig, String> {
    let overrides: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect();
    if overrides.is_empty() {
        // Straight from the text, so an error points at its line.
        return toml::from_str(text).map_err(|e| e.to_string());
    }
    let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut root = toml::Value::Table(table);
    for (key, value) in &overrides {
        apply(&mut root, key, value)?;
    }
    ServerConfig::deserialize(root)
        .map_err(|e| format!("{e} (after the {ENV_PREFIX}* environment overrides)"))
}

/// Sets the field `key` (`NUMBER_MANAGER__A__B`) names to `value`.
fn apply(table: &mut toml::Value, key: &str, value: &str) -> Result<(), String> {
    let path: Vec<String> = key[ENV_PREFIX.len()..]
        .split("__")
        .map(str::to_ascii_lowercase)
        .collect();
    if path.iter().any(String::is_empty) {
        return Err(format!("{key}: empty name segment"));
    }
    let Some((leaf, parents)) = path.split_last() else {
        return Err(format!("{key}: names no field"));
    };
    let mut at: &mut toml::Value = table;
    for segment in parents {
        at = child(at, segment).ok_or_else(|| {
            format!("{key}: {segment:?} is not a section (a value or an index out of range)")
        })?;
    }
    match at {
        toml::Value::Table(t) => {
            t.insert(leaf.clone(), env_value(value));
            Ok(())
        }
        _ => Err(format!("{key}: {leaf:?} is not a field of a section")),
    }
}

/// What `segment` names below `at`: in a section, its field (a section created
/// when missing); in an array of tables, the entry at that index.
fn child<'a>(at: &'a mut toml::Value, segment: &str) -> Option<&'a mut toml::Value> {
    match at {
        toml::Value::Table(t) => Some(
            t.entry(segment.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new())),
        ),
        toml::Value::Array(items) => items.get_mut(segment.parse::<usize>().ok()?),
        _ => None,
    }
}

/// An environment value as TOML when it is a TOML value, else a string.
fn env_value(value: &str) -> toml::Value {
    format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()))
}

/// The registry `specs` describe (`None`: the local and the simulated
/// carrier), secrets read through `env`. Every problem is an error naming the
/// entry: a type this build lacks the features for, a missing variable, two
/// carriers of one name.
pub fn carriers(
    specs: Option<&[CarrierSpec]>,
    store: Arc<dyn Store>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<CarrierRegistry, String> {
    let Some(specs) = specs else {
        return Ok(super::demo_carriers(store));
    };
    let mut registry = CarrierRegistry::new();
    let mut http = Http::default();
    for (i, spec) in specs.iter().enumerate() {
        let carrier = build(spec, &store, env, &mut http)
            .map_err(|e| format!("carriers[{i}] (type {}): {e}", spec.kind()))?;
        if registry.names().iter().any(|n| n == carrier.name()) {
            return Err(format!(
                "carriers[{i}] (type {}): a carrier named {:?} is already loaded; give one a `name`",
                spec.kind(),
                carrier.name()
            ));
        }
        registry = registry.with(carrier);
    }
    Ok(registry)
}

/// A secret from the variable `var` (`field` names the setting, for the error).
#[allow(unused)]
fn secret(env: &dyn Fn(&str) -> Option<String>, field: &str, var: &str) -> Result<String, String> {
    match env(var) {
        Some(v) if !v.is_empty() => Ok(v),
        Some(_) => Err(format!(
            "environment variable {var} (named by {field}) is empty"
        )),
        None => Err(format!(
            "environment variable {var} (named by {field}) is not set"
        )),
    }
}

/// The HTTP client the real carriers share, made on first need.
#[derive(Default)]
struct Http {
    #[cfg(feature = "reqwest")]
    client: Option<Arc<dyn number_manager::carrier::HttpClient>>,
}

impl Http {
    #[cfg(feature = "reqwest")]
    #[allow(unused)]
    fn client(&mut self) -> Result<Arc<dyn number_manager::carrier::HttpClient>, String> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let c: Arc<dyn number_manager::carrier::HttpClient> = Arc::new(
            number_manager::carrier::ReqwestClient::new()
                .map_err(|e| format!("HTTP client: {e}"))?,
        );
        self.client = Some(c.clone());
        Ok(c)
    }
}

/// What a build without `features` answers for a carrier type that needs them.
#[allow(unused)]
fn not_built(kind: &str, features: &str) -> String {
    format!(
        "this build has no {kind} carrier: it needs the cargo features {features} \
         (cargo run --features {features} --example server)"
    )
}

type Built = Result<Arc<dyn number_manager::carrier::Carrier>, String>;

/// One carrier. Each real carrier's arm exists only in builds with its
/// features; elsewhere the same entry is a clear error.
#[allow(unused_variables)]
fn build(
    spec: &CarrierSpec,
    store: &Arc<dyn Store>,
    env: &dyn Fn(&str) -> Option<String>,
    http: &mut Http,
) -> Built {
    match spec {
        CarrierSpec::Simulated {
            name,
            seed,
            latency,
        } => {
            let mut c = SimulatedCarrier::new(seed.unwrap_or(CARRIER_SEED));
            if let Some(name) = name {
                c = c.with_name(name);
            }
            if let Some(latency) = latency {
                c = c.with_latency(*latency);
            }
            Ok(Arc::new(c))
        }
        CarrierSpec::Local {} => Ok(Arc::new(LocalCarrier::new(store.clone()))),
        CarrierSpec::Telnyx { .. } => telnyx(spec, env, http),
        CarrierSpec::Twilio { .. } => twilio(spec, env, http),
        CarrierSpec::Bandwidth { .. } => bandwidth(spec, env, http),
    }
}

#[cfg(all(feature = "telnyx", feature = "reqwest"))]
fn telnyx(spec: &CarrierSpec, env: &dyn Fn(&str) -> Option<String>, http: &mut Http) -> Built {
    use number_manager::carrier::{TelnyxCarrier, TELNYX_API};
    let CarrierSpec::Telnyx {
        name,
        api_key_env,
        base_url,
        connection_id,
        features,
    } = spec
    else {
        return Err("not a telnyx entry".into());
    };
    let key = secret(env, "api_key_env", api_key_env)?;
    let mut c = TelnyxCarrier::new(
        http.client()?,
        key,
        base_url.as_deref().unwrap_or(TELNYX_API),
    );
    if let Some(name) = name {
        c = c.with_name(name);
    }
    if let Some(id) = connection_id {
        c = c.with_connection_id(id);
    }
    if let Some(features) = features {
        c = c.with_features(features.iter().cloned());
    }
    Ok(Arc::new(c))
}

#[cfg(not(all(feature = "telnyx", feature = "reqwest")))]
fn telnyx(_: &CarrierSpec, _: &dyn Fn(&str) -> Option<String>, _: &mut Http) -> Built {
    Err(not_built("telnyx", "telnyx,reqwest"))
}

#[cfg(all(feature = "twilio", feature = "reqwest"))]
fn twilio(spec: &CarrierSpec, env: &dyn Fn(&str) -> Option<String>, http: &mut Http) -> Built {
    use number_manager::carrier::{TwilioCarrier, TWILIO_API};
    let CarrierSpec::Twilio {
        name,
        account_sid,
        auth_token_env,
        base_url,
    } = spec
    else {
        return Err("not a twilio entry".into());
    };
    let token = secret(env, "auth_token_env", auth_token_env)?;
    let base = base_url.as_deref().unwrap_or(TWILIO_API);
    let mut c = TwilioCarrier::new(http.client()?, account_sid.clone(), token, base);
    if let Some(name) = name {
        c = c.with_name(name);
    }
    Ok(Arc::new(c))
}

#[cfg(not(all(feature = "twilio", feature = "reqwest")))]
fn twilio(_: &CarrierSpec, _: &dyn Fn(&str) -> Option<String>, _: &mut Http) -> Built {
    Err(not_built("twilio", "twilio,reqwest"))
}

#[cfg(all(feature = "bandwidth", feature = "reqwest"))]
fn bandwidth(spec: &CarrierSpec, env: &dyn Fn(&str) -> Option<String>, http: &mut Http) -> Built {
    use number_manager::carrier::{BandwidthCarrier, BANDWIDTH_API};
    let CarrierSpec::Bandwidth {
        name,
        account_id,
        site_id,
        peer_id,
        username,
        password_env,
        base_url,
    } = spec
    else {
        return Err("not a bandwidth entry".into());
    };
    let password = secret(env, "password_env", password_env)?;
    let base = base_url.as_deref().unwrap_or(BANDWIDTH_API);
    let mut c = BandwidthCarrier::new(
        http.client()?,
        account_id.clone(),
        site_id.clone(),
        username.clone(),
        password,
        base,
    );
    if let Some(name) = name {
        c = c.with_name(name);
    }
    if let Some(peer) = peer_id {
        c = c.with_peer_id(peer);
    }
    Ok(Arc::new(c))
}

#[cfg(not(all(feature = "bandwidth", feature = "reqwest")))]
fn bandwidth(_: &CarrierSpec, _: &dyn Fn(&str) -> Option<String>, _: &mut Http) -> Built {
    Err(not_built("bandwidth", "bandwidth,reqwest"))
}
