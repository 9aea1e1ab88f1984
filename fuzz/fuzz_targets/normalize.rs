//! Normalization and parsing: never a panic, and what parses is a stable
//! E.164 value (it re-parses, re-normalizes and deserializes to itself).
#![no_main]

use libfuzzer_sys::fuzz_target;
use number_manager::number::{DialPlan, Normalizer};
use number_manager::{is_reconcilable, normalize, PhoneNumber};
use number_manager_fuzz::big_repeat;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let normalized = normalize(raw);
    let parsed = PhoneNumber::parse(raw);
    assert_eq!(is_reconcilable(raw), parsed.is_ok(), "{raw:?}");
    if let Ok(n) = parsed {
        check_number(raw, &normalized, n);
    }
    // Host rules from JSON (converters, dial plans): any input is a clean error or usable.
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(raw) {
        user_rules(&value);
    }
});

fn check_number(raw: &str, normalized: &str, n: PhoneNumber) {
    let s = n.as_str();
    assert_eq!(s, normalized, "parse and normalize disagree on {raw:?}");
    assert!(s.starts_with('+') && s[1..].bytes().all(|b| b.is_ascii_digit()));
    assert!((9..=16).contains(&s.len()), "{s}");
    assert_eq!(PhoneNumber::from_e164(s).ok(), Some(n));
    assert_eq!(PhoneNumber::parse(s).ok(), Some(n), "{s} does not re-parse");
    assert_eq!(normalize(s), s);
    assert_eq!(n.to_string(), s);
    let json = serde_json::to_string(&n).unwrap();
    assert_eq!(serde_json::from_str::<PhoneNumber>(&json).ok(), Some(n));
    if n.is_nanp() {
        assert_eq!(n.to_npan().len(), 10);
        assert_eq!(n.to_1npan(), format!("1{}", n.to_npan()));
    }
    let _ = (n.calling_code(), n.country(), n.strip_plus());
}

/// The reconcile rule host normalizers are built with.
const RECONCILE: &str = r"^\+\d{8,15}$";

/// A JSON rule set read both ways the library reads one: as a host's
/// converters (`Normalizer::from_json`) and as an account dial plan. Both
/// readers take the same `{regex: {prefix, suffix}}` shape and compile the same
/// rules (`DialPlan::from_json` is `DialPlan::new` over those converters), so
/// the rules are compiled once, by `Normalizer::from_json`, and the dial plan
/// is made of the very same converters: a set the normalizer refuses is no
/// dial plan either.
fn user_rules(value: &serde_json::Value) {
    if costly(value) {
        return;
    }
    const PROBES: [&str; 4] = ["4155551234", "011442071234567", "911", "+1 415 555 1234"];
    let Ok(normalizer) = Normalizer::from_json(value, RECONCILE) else {
        return;
    };
    let plan = DialPlan::new(normalizer.converters().to_vec());
    for probe in PROBES {
        let out = Normalizer::kazoo_default().normalize_with_dial_plan(probe, &plan);
        let parsed = Normalizer::kazoo_default().parse_with_dial_plan(probe, &plan);
        if let Ok(n) = parsed {
            assert_eq!(n.as_str(), out);
        }
        let out = normalizer.normalize(probe);
        assert_eq!(
            normalizer.is_reconcilable(probe),
            normalizer.parse(probe).is_ok()
        );
        if let Ok(n) = normalizer.parse(probe) {
            assert_eq!(n.as_str(), out);
        }
    }
}

/// Longest rule pattern tried (Kazoo's longest default rule is 147 bytes).
const MAX_PATTERN_BYTES: usize = 160;
/// Largest count in a `{n}`, `{n,}` or `{n,m}` repetition of a rule tried.
const MAX_REPEAT: u32 = 20;

/// A rule set with a pattern over the bounds above: skipped, as the
/// classify_rules target skips such lists (what a rule compiles to does not
/// change how the normalizer applies it; an input whose rules take seconds to
/// compile measures only the regex compiler).
fn costly(value: &serde_json::Value) -> bool {
    value.as_object().is_some_and(|rules| {
        rules
            .keys()
            .any(|p| p.len() > MAX_PATTERN_BYTES || big_repeat(p, MAX_REPEAT))
    })
}
