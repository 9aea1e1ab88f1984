//! Classification and pretty printing through the public API (reference §3,
//! DECISIONS 3-4, the seeds' classifier listings and responses).

use std::sync::OnceLock;

use number_manager::classify::{
    classify, pretty_print, pretty_print_number, Classification, Classifier, Classifiers,
    MISSING_REGEX, NANP_FALLBACK_TEMPLATE,
};
use number_manager::normalize;
use number_manager::number::{compile_rule, DialPlan, Normalizer};
use proptest::prelude::*;
use regex::Regex;
use serde_json::{json, Value};

const NANP: &str = "SS(###) ### - ####";

/// Seed 001's `GET …/classifiers` data, verbatim: the older list, keys sorted
/// alphabetically (the "ordering hazard" of reference §3.1).
const SEED_001_LISTING: &str = r#"{
    "caribbean": {
        "friendly_name": "Caribbean",
        "pretty_print": "SS(###) ### - ####",
        "regex": "^\\+?1((?:684|264|268|242|246|441|284|345|767|809|829|849|473|671|876|664|670|787|939|869|758|784|721|868|649|340)\\d{7})$"
    },
    "did_us": {
        "friendly_name": "US DID",
        "pretty_print": "SS(###) ### - ####",
        "regex": "^\\+?1?([2-9][0-9]{2}[2-9][0-9]{6})$"
    },
    "emergency": {
        "friendly_name": "Emergency Dispatcher",
        "regex": "^(911)$"
    },
    "international": {
        "friendly_name": "International",
        "regex": "^(011\\d*)$|^(00\\d*)$"
    },
    "toll_us": {
        "friendly_name": "US Toll",
        "pretty_print": "SS(###) ### - ####",
        "regex": "^\\+1(900\\d{7})$"
    },
    "tollfree_us": {
        "friendly_name": "US TollFree",
        "pretty_print": "SS(###) ### - ####",
        "regex": "^\\+1((?:800|888|877|866|855)\\d{7})$"
    },
    "unknown": {
        "friendly_name": "Unknown",
        "regex": "^(.*)$"
    }
}"#;

/// Seed 002's listing of the same older list, in Kazoo's code order, as its
/// markdown shows it: every backslash doubled once more than JSON needs.
const SEED_002_LISTING_MARKDOWN: &str = r#"{
        "tollfree_us": {
            "regex": "^\\\\+1((?:800|888|877|866|855)\\\\d{7})$",
            "friendly_name": "US TollFree",
            "pretty_print": "SS(###) ### - ####"
        },
        "toll_us": {
            "regex": "^\\\\+1(900\\\\d{7})$",
            "friendly_name": "US Toll",
            "pretty_print": "SS(###) ### - ####"
        },
        "emergency": {
            "regex": "^(911)$",
            "friendly_name": "Emergency Dispatcher"
        },
        "caribbean": {
            "regex": "^\\\\+?1((?:684|264|268|242|246|441|284|345|767|809|829|849|473|671|876|664|670|787|939|869|758|784|721|868|649|340)\\\\d{7})$",
            "friendly_name": "Caribbean",
            "pretty_print": "SS(###) ### - ####"
        },
        "did_us": {
            "regex": "^\\\\+?1?([2-9][0-9]{2}[2-9][0-9]{6})$",
            "friendly_name": "US DID",
            "pretty_print": "SS(###) ### - ####"
        },
        "international": {
            "regex": "^(011\\\\d*)$|^(00\\\\d*)$",
            "friendly_name": "International"
        },
        "unknown": {
            "regex": "^(.*)$",
            "friendly_name": "Unknown"
        }
    }"#;

fn seed_001_json() -> Value {
    serde_json::from_str(SEED_001_LISTING).unwrap()
}

/// Seed 002's listing with the markdown's extra escaping undone: the older list
/// in code order.
fn seed_002_json() -> Value {
    serde_json::from_str(&SEED_002_LISTING_MARKDOWN.replace(r"\\\\", r"\\")).unwrap()
}

fn old_code_order() -> &'static Classifiers {
    static LIST: OnceLock<Classifiers> = OnceLock::new();
    LIST.get_or_init(|| Classifiers::from_json(&seed_002_json()).unwrap())
}

fn old_sorted() -> &'static Classifiers {
    static LIST: OnceLock<Classifiers> = OnceLock::new();
    LIST.get_or_init(|| Classifiers::from_json(&seed_001_json()).unwrap())
}

fn name_of(list: &Classifiers, raw: &str) -> Option<String> {
    list.classify(raw).map(|c| c.name.into_owned())
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

// ---- the default list (DECISIONS 4) ----

#[test]
fn default_list_is_kazoos_current_list_in_code_order() {
    let d = Classifiers::kazoo_default();
    let names: Vec<&str> = d.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "tollfree_us",
            "toll_us",
            "emergency",
            "caribbean",
            "did_us",
            "international",
            "unknown"
        ]
    );
    assert_eq!(d.len(), 7);
    assert!(!d.is_empty());
    assert_eq!(
        d.to_json(),
        json!({
            "tollfree_us": {
                "regex": "^\\+1((?:800|88\\d|877|866|855|844|833|822)\\d{7})$",
                "friendly_name": "US TollFree",
                "pretty_print": "SS(###) ### - ####"
            },
            "toll_us": {
                "regex": "^\\+1(900\\d{7})$",
                "friendly_name": "US Toll",
                "pretty_print": "SS(###) ### - ####"
            },
            "emergency": {
                "regex": "^(911|922|933|833|811|711|999)$",
                "friendly_name": "Emergency Dispatcher",
                "emergency": true
            },
            "caribbean": {
                "regex": "^\\+?1((?:684|264|268|242|246|441|284|345|767|809|829|849|473|671|876|664|670|787|939|869|758|784|721|868|649|340)\\d{7})$",
                "friendly_name": "Caribbean",
                "pretty_print": "SS(###) ### - ####"
            },
            "did_us": {
                "regex": "^(\\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$",
                "friendly_name": "US DID",
                "pretty_print": "SS(###) ### - ####"
            },
            "international": {"regex": "^\\+([2-9]\\d{7,})$", "friendly_name": "International"},
            "unknown": {"regex": "^(.*)$", "friendly_name": "Unknown"}
        })
    );
    assert_eq!(keys(&d.to_json()), names);
    let emergency = d.get("emergency").unwrap();
    assert!(emergency.emergency);
    assert_eq!(
        keys(&emergency.to_json()),
        ["regex", "friendly_name", "emergency"]
    );
    assert_eq!(
        keys(&d.get("did_us").unwrap().to_json()),
        ["regex", "friendly_name", "pretty_print"]
    );
    assert!(d.get("nope").is_none());
    assert_eq!(Classifiers::default().list(), d.list());
    assert_eq!((&Classifiers::default()).into_iter().count(), 7);
}

#[test]
fn seed_000_did_us() {
    let c = classify("4158867900").unwrap();
    assert_eq!(c.name, "did_us");
    assert_eq!(c.friendly_name, "US DID");
    assert_eq!(c.number, "4158867900");
    assert_eq!(c.e164, "+14158867900");
    assert_eq!(c.pretty_print.as_deref(), Some(NANP));
    assert!(!c.emergency);
    let j = c.to_json();
    assert_eq!(
        keys(&j),
        [
            "e164",
            "friendly_name",
            "name",
            "number",
            "pretty_print",
            "regex"
        ]
    );
    assert_eq!(
        j,
        json!({
            "e164": "+14158867900",
            "friendly_name": "US DID",
            "name": "did_us",
            "number": "4158867900",
            "pretty_print": "SS(###) ### - ####",
            "regex": "^(\\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$"
        })
    );
}

#[test]
fn emergency_numbers() {
    for n in ["911", "922", "933", "833", "811", "711", "999", " 911 "] {
        let c = classify(n).unwrap();
        assert_eq!(c.name, "emergency", "{n}");
        assert!(c.emergency);
        assert_eq!(c.pretty_print, None);
    }
    let j = classify("911").unwrap().to_json();
    assert_eq!(
        keys(&j),
        [
            "e164",
            "emergency",
            "friendly_name",
            "name",
            "number",
            "regex"
        ]
    );
    assert_eq!(j["emergency"], json!(true));
    assert_eq!(
        name_of(Classifiers::kazoo_default(), "912").unwrap(),
        "unknown"
    );
}

#[test]
fn default_classes() {
    let d = Classifiers::kazoo_default();
    let cases = [
        ("+18005551212", "tollfree_us"),
        ("8005551212", "tollfree_us"),
        ("1-888-555-1212", "tollfree_us"),
        ("+18835551234", "tollfree_us"),
        ("+18445551234", "tollfree_us"),
        ("+18335551234", "tollfree_us"),
        ("+18225551234", "tollfree_us"),
        ("9005551234", "toll_us"),
        ("+19005551234", "toll_us"),
        ("8765551234", "caribbean"),
        ("1 (787) 555-1234", "caribbean"),
        ("+13405551234", "caribbean"),
        ("(415) 555-1234", "did_us"),
        ("4123456789", "did_us"),
        ("12125551234", "did_us"),
        ("+14158867900", "did_us"),
        ("+442071234567", "international"),
        ("011442071234567", "international"),
        ("0041446681800", "international"),
        ("41234567", "international"),
        ("2120551234", "international"),
        ("1000", "unknown"),
        ("12345", "unknown"),
        ("*97", "unknown"),
        ("+141510010+15", "unknown"),
        ("+12345678", "unknown"),
        ("", "unknown"),
        ("٤١٥٥٥٥١٢٣٤", "unknown"),
        ("john.doe@example.com", "unknown"),
    ];
    for (raw, want) in cases {
        assert_eq!(name_of(d, raw).as_deref(), Some(want), "{raw}");
        assert_eq!(classify(raw).unwrap().name, want, "{raw}");
    }
    let c = classify("+141510010+15").unwrap();
    assert_eq!(c.e164, "+141510010+15");
    assert_eq!(c.number, "+141510010+15");
    let c = classify("(415) 555-1234").unwrap();
    assert_eq!(
        (c.number.as_ref(), c.e164.as_ref()),
        ("(415) 555-1234", "+14155551234")
    );
}

#[test]
fn line_breaks_match_nothing() {
    // `$` does not match before a newline, and `.` does not match one.
    assert!(classify("911\n5").is_none());
    assert!(Classifiers::kazoo_default().first_match("911\n").is_none());
    assert!(Classifiers::kazoo_default()
        .first_match("+14155551234\n")
        .is_none());
    // Surrounding whitespace (newlines included) is trimmed by normalization.
    assert_eq!(classify("911\n").unwrap().name, "emergency");
}

// ---- the seeds' older list (seed 001 sorted, seed 002 in code order) ----

#[test]
fn seed_listings_are_the_same_list_in_two_orders() {
    let sorted = seed_001_json();
    let code = seed_002_json();
    // Same classifiers (object equality ignores order) ...
    assert_eq!(sorted, code);
    // ... in different orders.
    assert_eq!(
        keys(&code),
        [
            "tollfree_us",
            "toll_us",
            "emergency",
            "caribbean",
            "did_us",
            "international",
            "unknown"
        ]
    );
    assert_eq!(
        keys(&sorted),
        [
            "caribbean",
            "did_us",
            "emergency",
            "international",
            "toll_us",
            "tollfree_us",
            "unknown"
        ]
    );
    assert_eq!(
        code["tollfree_us"]["regex"],
        r"^\+1((?:800|888|877|866|855)\d{7})$"
    );
}

#[test]
fn old_list_in_code_order_classifies_in_order() {
    let old = old_code_order();
    let names: Vec<&str> = old.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "tollfree_us",
            "toll_us",
            "emergency",
            "caribbean",
            "did_us",
            "international",
            "unknown"
        ]
    );
    let cases = [
        ("8005551212", "tollfree_us"),
        ("+18885551212", "tollfree_us"),
        // Not toll-free in the older list.
        ("+18445551212", "did_us"),
        ("+18835551212", "did_us"),
        ("9005551234", "toll_us"),
        ("911", "emergency"),
        ("922", "unknown"),
        ("8765551234", "caribbean"),
        ("4158867900", "did_us"),
        ("4158551292", "did_us"),
        // Normalization turns 011/00 into `+`, so the old international rule only
        // sees what is too short to convert.
        ("0114", "international"),
        ("00", "international"),
        ("011442071234567", "unknown"),
        ("+442071234567", "unknown"),
        ("1000", "unknown"),
    ];
    for (raw, want) in cases {
        assert_eq!(name_of(old, raw).as_deref(), Some(want), "{raw}");
    }
}

#[test]
fn old_list_sorted_keeps_its_order_too() {
    // Reference §3.1's hazard, reproduced faithfully: the loader never reorders.
    let sorted = old_sorted();
    assert_eq!(name_of(sorted, "+18005551234").as_deref(), Some("did_us"));
    assert_eq!(name_of(sorted, "9005551234").as_deref(), Some("did_us"));
    assert_eq!(name_of(sorted, "8765551234").as_deref(), Some("caribbean"));
    assert_eq!(name_of(sorted, "911").as_deref(), Some("emergency"));
    assert_eq!(
        name_of(old_code_order(), "+18005551234").as_deref(),
        Some("tollfree_us")
    );
}

#[test]
fn seed_classify_responses() {
    // Seed 001 (`e164` "+1{PHONE_NUMBER}") and seed 002, with the older list.
    let c = old_code_order().classify("4158551292").unwrap();
    assert_eq!(
        c.to_json(),
        json!({
            "regex": "^\\+?1?([2-9][0-9]{2}[2-9][0-9]{6})$",
            "friendly_name": "US DID",
            "pretty_print": "SS(###) ### - ####",
            "e164": "+14158551292",
            "number": "4158551292",
            "name": "did_us"
        })
    );
    // Seed 000 (its pretty_print reads "SS(###) ##### - ####", which no listing has).
    let j = old_sorted().classify("4158867900").unwrap().to_json();
    assert_eq!(
        keys(&j),
        [
            "e164",
            "friendly_name",
            "name",
            "number",
            "pretty_print",
            "regex"
        ]
    );
    assert_eq!(j["e164"], "+14158867900");
    assert_eq!(j["friendly_name"], "US DID");
    assert_eq!(j["name"], "did_us");
    assert_eq!(j["number"], "4158867900");
    assert_eq!(j["regex"], "^\\+?1?([2-9][0-9]{2}[2-9][0-9]{6})$");
}

#[test]
fn to_json_round_trips() {
    for (list, source) in [
        (old_sorted(), seed_001_json()),
        (old_code_order(), seed_002_json()),
    ] {
        let out = list.to_json();
        assert_eq!(out, source);
        assert_eq!(keys(&out), keys(&source));
        let again = Classifiers::from_json(&out).unwrap();
        assert_eq!(again.list(), list.list());
        assert_eq!(keys(&again.to_json()), keys(&source));
    }
    let d = Classifiers::kazoo_default();
    let again = Classifiers::from_json(&d.to_json()).unwrap();
    assert_eq!(again.list(), d.list());
    assert_eq!(again.to_json(), d.to_json());
    // Serde of the plain structs.
    let c = classify("911").unwrap();
    let back: Classification = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
    assert_eq!(back, c);
    let k: Classifier =
        serde_json::from_value(serde_json::to_value(&d.list()[0]).unwrap()).unwrap();
    assert_eq!(&k, &d.list()[0]);
}

// ---- loading rules (reference §3.1) ----

#[test]
fn from_json_repairs_and_defaults() {
    let list = Classifiers::from_json(&json!({
        "legacy": "^(5\\d{2})$",
        "no_name": {"regex": "^(6\\d{2})$"},
        "no_regex": {"friendly_name": "Nothing"},
        "flagged": {"regex": "^(112)$", "emergency": "true", "pretty_print": null},
        "off": {"regex": "^(7\\d{2})$", "emergency": false}
    }))
    .unwrap();
    assert_eq!(
        list.list(),
        [
            Classifier::new("legacy", "^(5\\d{2})$", "legacy"),
            Classifier::new("no_name", "^(6\\d{2})$", "no_name"),
            Classifier::new("no_regex", MISSING_REGEX, "Nothing"),
            Classifier::new("flagged", "^(112)$", "flagged").with_emergency(true),
            Classifier::new("off", "^(7\\d{2})$", "off"),
        ]
    );
    assert_eq!(name_of(&list, "555").as_deref(), Some("legacy"));
    assert_eq!(name_of(&list, "655").as_deref(), Some("no_name"));
    assert_eq!(name_of(&list, "").as_deref(), Some("no_regex"));
    assert_eq!(name_of(&list, "  ").as_deref(), Some("no_regex"));
    assert!(list.classify("112").unwrap().emergency);
    assert!(list.classify("999").is_none());
    assert_eq!(
        list.to_json()["legacy"],
        json!({"regex": "^(5\\d{2})$", "friendly_name": "legacy"})
    );
}

#[test]
fn from_json_errors() {
    assert!(Classifiers::from_json(&json!([])).is_err());
    assert!(Classifiers::from_json(&json!("^$")).is_err());
    assert!(Classifiers::from_json(&json!({"a": 5})).is_err());
    assert!(Classifiers::from_json(&json!({"a": null})).is_err());
    assert!(Classifiers::from_json(&json!({"a": {"regex": 5}})).is_err());
    assert!(Classifiers::from_json(&json!({"a": {"regex": "^1$", "friendly_name": []}})).is_err());
    assert!(Classifiers::from_json(&json!({"a": {"regex": "^1$", "emergency": 1}})).is_err());
    let err = Classifiers::from_json(&json!({"ok": "^1$", "bad": {"regex": "(("}})).unwrap_err();
    assert!(
        format!("{err:?}").contains("classifiers.bad.regex"),
        "{err:?}"
    );
    let dup = Classifiers::new(vec![
        Classifier::new("a", "^1$", "A"),
        Classifier::new("a", "^2$", "A2"),
    ]);
    assert!(dup.is_err());
}

#[test]
fn a_rule_too_large_to_compile_is_refused_by_name() {
    // Parses fine, but its automaton is far past the compiled-size limit.
    let huge = "^(\\d{1000}){1000}$";
    for listing in [
        json!({"ok": "^1$", "huge": huge}),
        json!({"huge": huge, "unanchored": "[0-9]+"}),
    ] {
        let err = Classifiers::from_json(&listing).unwrap_err();
        assert!(
            format!("{err:?}").contains("classifiers.huge.regex"),
            "{err:?}"
        );
    }
    assert!(compile_rule(huge).is_err());
    // Each mode still chosen per pattern: `.` needs Unicode mode (it matches
    // `é`), `\d` stays ASCII in both.
    let list = Classifiers::from_json(&json!({"digits": "^\\d+$", "any": "^(.)$"})).unwrap();
    assert_eq!(list.first_match("é").unwrap().name, "any");
    assert_eq!(list.first_match("12").unwrap().name, "digits");
    assert!(list.first_match("\u{0664}\u{0665}").is_none());
}

#[test]
fn empty_list_classifies_nothing() {
    let none = Classifiers::from_json(&json!({})).unwrap();
    assert!(none.is_empty());
    assert!(none.classify("911").is_none());
    assert_eq!(none.to_json(), json!({}));
    // No classifier, but +1: the fallback template.
    assert_eq!(none.pretty_print_number("4155551234"), "(415) 555 - 1234");
    assert_eq!(none.pretty_print_number("911"), "911");
}

#[test]
fn ascii_digits_only_in_classifiers() {
    let list = Classifiers::new(vec![
        Classifier::new("digits", r"^\d+$", "Digits"),
        Classifier::new("any", r"^.+$", "Any"),
    ])
    .unwrap();
    assert_eq!(list.first_match("12345").unwrap().name, "digits");
    assert_eq!(list.first_match("١٢٣٤٥").unwrap().name, "any");
    assert_eq!(list.first_match("１２３").unwrap().name, "any");
    assert!(list.first_match("").is_none());
}

#[test]
fn custom_normalizer_applies() {
    let local = Normalizer::from_json(
        &json!({
            "^(\\d{7})$": {"prefix": "+1415"},
            "^(\\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$": {"prefix": "+1"}
        }),
        r"^\+1\d{10}$",
    )
    .unwrap();
    let d = Classifiers::kazoo_default();
    assert_eq!(name_of(d, "5551234").as_deref(), Some("unknown"));
    let with_local = d.clone().with_normalizer(local.clone());
    let c = with_local.classify("555-1234").unwrap();
    assert_eq!(
        (c.name.as_ref(), c.e164.as_ref(), c.number.as_ref()),
        ("did_us", "+14155551234", "555-1234")
    );
    assert_eq!(with_local.normalizer().normalize("5551234"), "+14155551234");
    assert_eq!(d.classify_with(&local, "5551234").unwrap().name, "did_us");
    assert_eq!(
        with_local.pretty_print_number("5551234"),
        "(415) 555 - 1234"
    );
    // The original is untouched.
    assert_eq!(name_of(d, "5551234").as_deref(), Some("unknown"));
    // Normalized elsewhere (an account dial plan).
    let plan = DialPlan::from_json(&json!({"^(\\d{7})$": {"prefix": "+1876"}})).unwrap();
    let e164 = Normalizer::kazoo_default().normalize_with_dial_plan("555-1234", &plan);
    let c = d.classify_normalized("555-1234", e164).unwrap();
    assert_eq!(
        (c.name.as_ref(), c.e164.as_ref()),
        ("caribbean", "+18765551234")
    );
}

// ---- pretty print (reference §3.3) ----

#[test]
fn pretty_print_language() {
    assert_eq!(pretty_print("+14155551234", NANP), "(415) 555 - 1234");
    assert_eq!(NANP_FALLBACK_TEMPLATE, NANP);
    // Number used up: S, # and * output nothing, literals still do.
    assert_eq!(pretty_print("+1415", NANP), "(415)  - ");
    assert_eq!(pretty_print("", NANP), "()  - ");
    assert_eq!(pretty_print("+1", "SSS#*#"), "");
    // Escapes.
    assert_eq!(pretty_print("+14155551234", r"\S\#\*"), "S#*");
    assert_eq!(pretty_print("+14155551234", r"S\##"), "#1");
    assert_eq!(pretty_print("+14155551234", r"\a\\"), r"a\");
    assert_eq!(pretty_print("+14155551234", "#\\"), "+\\");
    // The rest.
    assert_eq!(pretty_print("+442071234567", "S*"), "442071234567");
    assert_eq!(pretty_print("+442071234567", "S## *"), "44 2071234567");
    assert_eq!(
        pretty_print("+442071234567", "+## (#) *!"),
        "++4 (4) 2071234567!"
    );
    assert_eq!(pretty_print("+4420", "**#S"), "+4420");
    assert_eq!(pretty_print("+4420", "*-*"), "+4420-");
    // Literals of any kind; numbers of any kind.
    assert_eq!(pretty_print("+4420", "S##\u{a0}##"), "44\u{a0}20");
    assert_eq!(pretty_print("٤١٥٥", "##-##"), "٤١-٥٥");
    assert_eq!(pretty_print("+14155551234", ""), "");
    assert_eq!(pretty_print("12", "s#S"), "s1");
}

#[test]
fn pretty_print_number_chooses_the_template() {
    assert_eq!(pretty_print_number("4155551234"), "(415) 555 - 1234");
    assert_eq!(pretty_print_number("+18005551212"), "(800) 555 - 1212");
    assert_eq!(pretty_print_number("8765551234"), "(876) 555 - 1234");
    // international/unknown have no template, and these are not +1: unchanged.
    assert_eq!(pretty_print_number("+442071234567"), "+442071234567");
    assert_eq!(
        pretty_print_number("011 44 20 7123 4567"),
        "011 44 20 7123 4567"
    );
    assert_eq!(pretty_print_number(" 1-000 "), " 1-000 ");
    assert_eq!(pretty_print_number("911"), "911");
    // `unknown` has none, but +1: the fallback.
    assert_eq!(pretty_print_number("+1415555"), "(415) 555 - ");
    let d = Classifiers::kazoo_default();
    assert_eq!(d.template_for("+14155551234"), Some(NANP));
    assert_eq!(d.template_for("+1415"), Some(NANP_FALLBACK_TEMPLATE));
    assert_eq!(d.template_for("+44"), None);
    // A custom template on a non-+1 class is used.
    let uk = Classifiers::new(vec![
        Classifier::new("uk", r"^\+44(\d{10})$", "UK").with_pretty_print("SSS0## #### ####"),
        Classifier::new("plain_us", r"^\+1\d{10}$", "US"),
    ])
    .unwrap();
    assert_eq!(uk.pretty_print_number("+442071234567"), "020 7123 4567");
    assert_eq!(uk.pretty_print_number("4155551234"), "(415) 555 - 1234");
}

// ---- properties ----

/// The naive reference: every regex compiled on its own, tried in order.
struct Naive {
    rules: Vec<(String, Regex, Option<String>)>,
}

impl Naive {
    fn new(list: &Classifiers) -> Self {
        let rules = list
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    compile_rule(&c.regex).unwrap(),
                    c.pretty_print.clone(),
                )
            })
            .collect();
        Naive { rules }
    }

    fn first(&self, normalized: &str) -> Option<&str> {
        self.rules
            .iter()
            .find(|(_, re, _)| re.is_match(normalized))
            .map(|(n, _, _)| n.as_str())
    }

    fn pretty(&self, raw: &str) -> String {
        let normalized = normalize(raw);
        let template = match self
            .rules
            .iter()
            .find(|(_, re, _)| re.is_match(&normalized))
        {
            Some((_, _, Some(t))) => Some(t.as_str()),
            _ if normalized.starts_with("+1") => Some(NANP),
            _ => None,
        };
        template.map_or_else(|| raw.to_string(), |t| pretty_print(&normalized, t))
    }
}

fn naive_default() -> &'static Naive {
    static N: OnceLock<Naive> = OnceLock::new();
    N.get_or_init(|| Naive::new(Classifiers::kazoo_default()))
}

fn naive_old_code_order() -> &'static Naive {
    static N: OnceLock<Naive> = OnceLock::new();
    N.get_or_init(|| Naive::new(old_code_order()))
}

fn naive_old_sorted() -> &'static Naive {
    static N: OnceLock<Naive> = OnceLock::new();
    N.get_or_init(|| Naive::new(old_sorted()))
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(any::<char>(), 0..10_000).prop_map(String::from_iter),
        "[0-9]{9000,10000}",
        "[+]?[0-9٠-٩０-９]{0,20}",
        Just("٤١٥٥٥٥١٢٣٤".to_string()),
    ]
}

/// Digit strings with the prefixes that decide between classes, and the
/// area codes and short codes the classifiers name, so that inputs sit on the
/// boundaries between several classifiers.
fn adversarial() -> impl Strategy<Value = String> {
    let prefix = prop_oneof![
        Just(""),
        Just("+"),
        Just("1"),
        Just("+1"),
        Just("011"),
        Just("00"),
        Just("+0"),
        Just("++")
    ];
    let lead = prop_oneof![
        Just(""),
        Just("800"),
        Just("888"),
        Just("884"),
        Just("844"),
        Just("833"),
        Just("822"),
        Just("900"),
        Just("911"),
        Just("999"),
        Just("876"),
        Just("787"),
        Just("340"),
        Just("415"),
        Just("212"),
        Just("555"),
        Just("100"),
        Just("44"),
        Just("0"),
    ];
    let tail = "[0-9]{0,20}";
    let junk = prop_oneof![
        8 => Just(""),
        1 => Just("\n"),
        1 => Just(" "),
        1 => Just("-"),
        1 => Just("x"),
        1 => Just("٣"),
        1 => Just("\t"),
        1 => Just("/"),
        1 => Just("tel:"),
        1 => Just("TEL:+"),
        1 => Just(";ext=9"),
    ];
    (prefix, lead, tail, junk, any::<bool>()).prop_map(|(p, l, t, j, junk_first)| {
        if junk_first {
            format!("{j}{p}{l}{t}")
        } else {
            format!("{p}{l}{t}{j}")
        }
    })
}

fn inputs() -> impl Strategy<Value = String> {
    prop_oneof![3 => adversarial(), 1 => any_text()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn nothing_panics(raw in any_text(), template in any::<String>()) {
        let d = Classifiers::kazoo_default();
        if let Some(c) = classify(&raw) {
            prop_assert_eq!(&c.number, &raw);
            let _ = c.to_json();
        }
        let _ = old_code_order().classify(&raw);
        let _ = d.first_match(&raw);
        let _ = pretty_print_number(&raw);
        let _ = pretty_print(&raw, &template);
        let _ = pretty_print(&normalize(&raw), &raw);
    }

    #[test]
    fn pretty_print_outputs_at_most_template_literals_plus_number(
        number in any::<String>(),
        template in "[S#*\\\\a-]{0,30}",
    ) {
        let out = pretty_print(&number, &template);
        prop_assert!(out.chars().count() <= number.chars().count() + template.chars().count());
        // Without escapes or literals, the output is a subsequence of the number.
        if template.chars().all(|c| matches!(c, 'S' | '#' | '*')) {
            let mut rest = number.chars();
            prop_assert!(out.chars().all(|c| rest.any(|n| n == c)));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn regex_set_equals_in_order_first_match(raw in inputs()) {
        let normalized = normalize(&raw);
        let lists = [
            (Classifiers::kazoo_default(), naive_default()),
            (old_code_order(), naive_old_code_order()),
            (old_sorted(), naive_old_sorted()),
        ];
        for (list, naive) in lists {
            let want = naive.first(&normalized);
            prop_assert_eq!(list.first_match(&normalized).map(|c| c.name.as_str()), want);
            // Raw input too: first_match does not normalize.
            prop_assert_eq!(list.first_match(&raw).map(|c| c.name.as_str()), naive.first(&raw));
            let got = list.classify(&raw);
            prop_assert_eq!(got.as_ref().map(|c| c.name.as_ref()), want);
            if let Some(c) = got {
                prop_assert_eq!(&c.e164, &normalized);
                prop_assert_eq!(&c.number, &raw);
            }
            prop_assert_eq!(list.pretty_print_number(&raw), naive.pretty(&raw));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_order_of_the_defaults_is_respected(
        order in Just((0..7).collect::<Vec<usize>>()).prop_shuffle(),
        samples in proptest::collection::vec(adversarial(), 16),
    ) {
        let d = Classifiers::kazoo_default().list();
        let shuffled = Classifiers::new(order.iter().map(|&i| d[i].clone()).collect()).unwrap();
        let naive = Naive::new(&shuffled);
        for raw in samples {
            let normalized = normalize(&raw);
            prop_assert_eq!(shuffled.first_match(&normalized).map(|c| c.name.as_str()), naive.first(&normalized));
        }
    }
}

/// Patterns for custom lists: start-anchored ones (which the one-pass
/// leftmost-first search serves), ones that can match further in (which need
/// the set), overlapping prefixes of different lengths, an end-only anchor, a
/// multi-line `^`, and catch-alls.
const POOL: &[&str] = &[
    r"^\+1",
    r"^\+14155551234$",
    r"^\+1415",
    r"^(\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$",
    r"^(911|999)$",
    r"^\+([2-9]\d{7,})$",
    r"^(?:\+44|0044)",
    r"^$",
    r"^(.*)$",
    r"^.",
    r"555",
    r"1234$",
    r"\d{3}-",
    r"(?m)^\+",
    r"(^\+1800|9)",
    r"[2-9]\d{6}$",
    r"^\+|^0",
    r".*",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn custom_lists_keep_in_order_first_match(
        picks in proptest::collection::vec(0..POOL.len(), 1..8).prop_map(|mut v| { v.dedup(); v }),
        samples in proptest::collection::vec(inputs(), 8),
    ) {
        let list: Vec<Classifier> = picks
            .iter()
            .enumerate()
            .filter(|(i, p)| !picks[..*i].contains(p))
            .map(|(i, &p)| Classifier::new(format!("c{i}"), POOL[p], "Custom"))
            .collect();
        let compiled = Classifiers::new(list).unwrap();
        let naive = Naive::new(&compiled);
        for raw in samples {
            for s in [raw.clone(), normalize(&raw).into_owned()] {
                prop_assert_eq!(
                    compiled.first_match(&s).map(|c| c.name.as_str()),
                    naive.first(&s),
                    "list {:?} on {:?}", compiled.iter().map(|c| &c.regex).collect::<Vec<_>>(), s
                );
            }
        }
    }
}

// ---- the one-pass path (normalize + first classifier, decided by hand) ----

/// The in-order reference for normalizing: the default converters run by the
/// regex engine (a reconcile rule other than the default keeps them off the
/// hand-written path; normalizing never consults it).
fn regex_normalizer() -> &'static Normalizer {
    static N: OnceLock<Normalizer> = OnceLock::new();
    N.get_or_init(|| {
        Normalizer::from_json(
            &Normalizer::kazoo_default().converters_to_json(),
            r"^\+\d{8,15}$",
        )
        .unwrap()
    })
}

/// Dialled strings in the formats people paste: separators of every kind
/// (space, tab, `-`, `.`, `/`, parentheses) between NANP and international
/// groups, `tel:` URIs with parameters, and surrounding whitespace.
fn formatted() -> impl Strategy<Value = String> {
    let sep = prop_oneof![
        Just(""),
        Just(" "),
        Just("\t"),
        Just("-"),
        Just("."),
        Just("/"),
        Just(") "),
        Just("-("),
    ];
    let head = prop_oneof![
        Just(""),
        Just("+1"),
        Just("1"),
        Just("("),
        Just("tel:+"),
        Just("tel:+1-"),
        Just("Tel:"),
        Just("011"),
        Just("00"),
        Just("+44"),
        Just(" \t"),
    ];
    let tail = prop_oneof![
        Just(""),
        Just(";ext=12"),
        Just(" "),
        Just("\n"),
        Just("\t/")
    ];
    (
        head,
        "[0-9]{3}",
        sep.clone(),
        "[0-9]{3}",
        sep,
        "[0-9]{1,6}",
        tail,
    )
        .prop_map(|(h, a, s1, b, s2, c, t)| format!("{h}{a}{s1}{b}{s2}{c}{t}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn one_pass_equals_the_in_order_regexes(
        raw in prop_oneof![2 => adversarial(), 2 => formatted(), 1 => any_text()]
    ) {
        let reference = regex_normalizer().normalize(&raw);
        prop_assert_eq!(&normalize(&raw), &reference);
        let lists = [
            (Classifiers::kazoo_default(), naive_default()),
            (old_code_order(), naive_old_code_order()),
            (old_sorted(), naive_old_sorted()),
        ];
        for (list, naive) in lists {
            prop_assert!(list.is_decided_by_hand());
            let want = naive.first(&reference);
            prop_assert_eq!(list.first_for(&raw).map(|c| c.name.as_str()), want);
            prop_assert_eq!(
                list.first_for_with(regex_normalizer(), &raw).map(|c| c.name.as_str()),
                want
            );
            prop_assert_eq!(list.first_match(&raw).map(|c| c.name.as_str()), naive.first(&raw));
            let got = list.classify(&raw);
            prop_assert_eq!(got.as_ref().map(|c| c.name.as_ref()), want);
            if let Some(c) = got {
                prop_assert_eq!(&c.e164, &reference);
            }
        }
    }
}

#[test]
fn only_lists_of_recognized_patterns_are_decided_by_hand() {
    assert!(Classifiers::kazoo_default().is_decided_by_hand());
    assert!(old_code_order().is_decided_by_hand());
    assert!(old_sorted().is_decided_by_hand());
    // Reordered and renamed, the default patterns are still recognized, and
    // the order still decides.
    let mut reversed: Vec<Classifier> = Classifiers::kazoo_default().iter().cloned().collect();
    reversed.reverse();
    let reversed = Classifiers::new(reversed).unwrap();
    assert!(reversed.is_decided_by_hand());
    assert_eq!(reversed.first_for("911").unwrap().name, "unknown");
    // One pattern that differs by a byte sends the whole list to the automaton,
    // with the same answers.
    let mut edited: Vec<Classifier> = Classifiers::kazoo_default().iter().cloned().collect();
    edited[0].regex = edited[0].regex.replace("800", "801");
    let edited = Classifiers::new(edited).unwrap();
    assert!(!edited.is_decided_by_hand());
    assert_eq!(
        edited.first_for("+18015551212").unwrap().name,
        "tollfree_us"
    );
    assert_eq!(edited.first_for("+18005551212").unwrap().name, "did_us");
    assert_eq!(
        Classifiers::kazoo_default()
            .first_for("+18005551212")
            .unwrap()
            .name,
        "tollfree_us"
    );
}

#[test]
fn one_pass_takes_tabs_slashes_and_tel_uris() {
    let d = Classifiers::kazoo_default();
    let cases = [
        ("415\t555\t1234", "did_us"),
        ("415/555/1234", "did_us"),
        ("tel:+1-800-555-1212;ext=3", "tollfree_us"),
        ("TEL:+44-20-7123-4567", "international"),
        ("tel:911", "unknown"),
        ("\t911 ", "emergency"),
        ("1 (876) 555-1234", "caribbean"),
        ("+1 900 555 1234", "toll_us"),
        ("011/44/20/7123/4567", "international"),
        ("4155551234\n", "did_us"),
        ("415555\n1234", "unknown"),
    ];
    for (raw, want) in cases {
        let c = d.classify(raw);
        let c_name = c.as_ref().map(|c| c.name.as_ref());
        assert_eq!(d.first_for(raw).map(|c| c.name.as_str()), c_name, "{raw:?}");
        if want == "unknown" && raw.contains('\n') {
            assert_eq!(c_name, None, "{raw:?}");
        } else {
            assert_eq!(c_name, Some(want), "{raw:?}");
        }
    }
}

#[test]
fn a_classification_borrows_until_it_is_made_owned() {
    use std::borrow::Cow;
    let d = Classifiers::kazoo_default();
    let c = d.classify("+18005551212").unwrap();
    assert!(matches!(c.name, Cow::Borrowed("tollfree_us")));
    assert!(matches!(c.e164, Cow::Borrowed("+18005551212")));
    assert!(matches!(c.number, Cow::Borrowed("+18005551212")));
    let converted = d.classify("800 555 1212").unwrap();
    assert_eq!(converted.e164, "+18005551212");
    let owned: Classification<'static> = converted.clone().into_owned();
    assert_eq!(owned, converted);
    assert!(matches!(owned.name, Cow::Owned(_)));
}
