//! Normalization, reconcilability and the PhoneNumber newtype, through the public API
//! (reference §2, DECISIONS 1-3, the seeds' examples).

use number_manager::number::{
    compile_rule, Converter, DialPlan, Normalizer, DEFAULT_RECONCILE_REGEX,
};
use number_manager::{is_reconcilable, normalize, Error, PhoneNumber};
use proptest::prelude::*;
use serde_json::json;

fn parsed(raw: &str) -> String {
    PhoneNumber::parse(raw).unwrap().to_string()
}

fn assert_not_reconcilable(raw: &str) {
    match PhoneNumber::parse(raw) {
        Err(Error::NotReconcilable { number }) => assert_eq!(number, raw),
        other => panic!("{raw:?} should be not_reconcilable, got {other:?}"),
    }
    assert!(!is_reconcilable(raw), "{raw:?}");
}

// ---- reference §2.1 and the seeds' examples ----

#[test]
fn built_in_rules_compile() {
    let d = Normalizer::kazoo_default();
    assert_eq!(d.converters().len(), 3);
    assert_eq!(d.reconcile_regex(), DEFAULT_RECONCILE_REGEX);
    assert!(d.is_reconcilable("4155551234"));
}

#[test]
fn documented_examples() {
    assert_eq!(normalize("4123456789"), "+14123456789");
    assert_eq!(normalize("41234567"), "+41234567");
    assert_eq!(normalize("2120551234"), "+2120551234");
    assert_eq!(normalize("1234567890"), "1234567890");
    assert_eq!(normalize("12345"), "12345");
    assert_eq!(normalize("12125551234"), "+12125551234");
    assert_eq!(normalize("4158867900"), "+14158867900");
    assert_eq!(normalize("+141510010+15"), "+141510010+15");
}

#[test]
fn documented_examples_parse() {
    assert_eq!(parsed("4123456789"), "+14123456789");
    assert_eq!(parsed("41234567"), "+41234567");
    assert_eq!(parsed("2120551234"), "+2120551234");
    assert_eq!(parsed("12125551234"), "+12125551234");
    assert_eq!(parsed("4158867900"), "+14158867900");
    assert_eq!(parsed("(415) 555-1234"), "+14155551234");
}

#[test]
fn seeds_not_reconcilable() {
    assert_not_reconcilable("+141510010+15");
    assert_not_reconcilable("1000");
    assert_not_reconcilable("12345");
    // Kazoo's lax reconcile regex admits these; DECISIONS 1 does not.
    assert_not_reconcilable("1234567890");
    assert_not_reconcilable("1005551234");
    assert_not_reconcilable("0114");
    assert_not_reconcilable("");
    assert_not_reconcilable("   ");
    assert_not_reconcilable("+");
}

#[test]
fn not_reconcilable_error_shape() {
    let err = PhoneNumber::parse("+141510010+15").unwrap_err();
    assert_eq!(err.to_string(), "number +141510010+15 is not reconcilable");
}

#[test]
fn rule_order_nanp_before_international_before_eight_digits() {
    assert_eq!(normalize("14155551234"), "+14155551234");
    assert_eq!(normalize("+14155551234"), "+14155551234");
    assert_eq!(normalize("011442071234567"), "+442071234567");
    assert_eq!(normalize("00442071234567"), "+442071234567");
    assert_eq!(normalize("01144123"), "+44123");
    assert_eq!(normalize("0044123"), "+44123");
    // Fewer than five digits after the international prefix: no rule.
    assert_eq!(normalize("0114412"), "0114412");
    assert_eq!(normalize("004412"), "004412");
    assert_eq!(normalize("23456789"), "+23456789");
    assert_eq!(normalize("2345678"), "2345678");
    assert_eq!(normalize("1234567"), "1234567");
    assert_eq!(normalize("911"), "911");
}

// ---- DECISIONS 2: cleaning ----

#[test]
fn separators_and_whitespace() {
    assert_eq!(normalize("(415) 555-1234"), "+14155551234");
    assert_eq!(normalize("415.555.1234"), "+14155551234");
    assert_eq!(normalize("  4155551234\t\n"), "+14155551234");
    assert_eq!(normalize("+1 (415) 555-1234"), "+14155551234");
    assert_eq!(normalize("1-415-555-1234"), "+14155551234");
    assert_eq!(normalize("011 44 20 7123 4567"), "+442071234567");
    assert_eq!(parsed(" +44 20 7123 4567 "), "+442071234567");
}

#[test]
fn tab_and_slash_are_separators() {
    assert_eq!(parsed("415/555/1234"), "+14155551234");
    assert_eq!(parsed("415\t555\t1234"), "+14155551234");
    assert_eq!(parsed("\t+44\t20/7123 4567\t"), "+442071234567");
    assert_eq!(parsed("011/44/20/7123/4567"), "+442071234567");
    // Unmatched input still comes back as given, separators kept.
    assert_eq!(normalize("*97/1"), "*97/1");
}

#[test]
fn tel_uris_with_a_global_number_parse_to_it() {
    assert_eq!(parsed("tel:+1-415-555-0100"), "+14155550100");
    assert_eq!(parsed("TEL:+1-415-555-0100"), "+14155550100");
    assert_eq!(
        parsed(" tel:+44.20.7123.4567;ext=12;isub=3 "),
        "+442071234567"
    );
    assert_eq!(
        normalize("tel:+1(415)555-0100;phone-context=x"),
        "+14155550100"
    );
    // A local number needs its context: not a number on its own.
    assert_not_reconcilable("tel:4155550100;phone-context=example.com");
    assert_not_reconcilable("tel:4155550100");
    assert_not_reconcilable("tel:+1415555010x");
    assert_not_reconcilable("tel:");
    assert_not_reconcilable("tel:;+14155550100");
    assert_not_reconcilable("sip:+14155550100");
}

#[test]
fn unmatched_input_comes_back_trimmed_but_otherwise_as_given() {
    assert_eq!(normalize("  *97 "), "*97");
    assert_eq!(normalize("john.doe"), "john.doe");
    assert_eq!(normalize("1-000"), "1-000");
    assert_eq!(normalize(""), "");
}

#[test]
fn letters_and_other_characters_are_not_reconcilable() {
    assert_not_reconcilable("415555CALL");
    assert_not_reconcilable("4155551234x");
    // Space and tab are separators, not other whitespace inside the number.
    assert_not_reconcilable("+1415555\n1234");
    assert_not_reconcilable("415\r555\r1234");
    assert_not_reconcilable("415\\555\\1234");
}

#[test]
fn non_ascii_digits_are_not_digits() {
    for raw in [
        "٤١٥٥٥٥١٢٣٤",           // Arabic-Indic
        "+١٤١٥٥٥٥١٢٣٤",         // Arabic-Indic with +
        "４１５５５５１２３４", // fullwidth
        "०४१५५५५१२३४",          // Devanagari
        "41555512٣٤",           // mixed
    ] {
        assert_eq!(normalize(raw), raw, "{raw}");
        assert_not_reconcilable(raw);
    }
}

#[test]
fn dollar_never_matches_before_a_newline() {
    let c = Converter::new(r"^(\d{10})$", "+1", "").unwrap();
    assert_eq!(c.apply("4155551234").as_deref(), Some("+14155551234"));
    assert_eq!(c.apply("4155551234\n"), None);
    for (pattern, _) in number_manager::number::DEFAULT_CONVERTERS {
        let re = compile_rule(pattern).unwrap();
        assert!(!re.is_match("4155551234\n"), "{pattern}");
        assert!(!re.is_match("0114412345\n"), "{pattern}");
    }
    let reconcile = compile_rule(DEFAULT_RECONCILE_REGEX).unwrap();
    assert!(reconcile.is_match("+14155551234"));
    assert!(!reconcile.is_match("+14155551234\n"));
    // A newline inside the input is never trimmed away, so nothing matches.
    assert_eq!(normalize("4155551234\n5"), "4155551234\n5");
}

// ---- compile_rule: the ASCII-only rule semantics ----

#[test]
fn perl_classes_are_ascii_in_every_mode() {
    let digit = compile_rule(r"^\d+$").unwrap();
    assert!(digit.is_match("0123456789"));
    assert!(!digit.is_match("٤١٥"));
    // `.` forces Unicode mode; `\d` must stay ASCII there too.
    let dot = compile_rule(r"^.\d$").unwrap();
    assert!(dot.is_match("é5"));
    assert!(!dot.is_match("é٥"));
    // An explicit (?u) does not bring Unicode digits back.
    assert!(!compile_rule(r"(?u)^\d$").unwrap().is_match("٥"));
    // Negated and nested forms.
    let not_digit = compile_rule(r"^\D$").unwrap();
    assert!(not_digit.is_match("٥"));
    assert!(!not_digit.is_match("5"));
    let class = compile_rule(r"^[^\d]$").unwrap();
    assert!(class.is_match("a"));
    assert!(!class.is_match("5"));
    let union = compile_rule(r"^[+\d]+$").unwrap();
    assert!(union.is_match("+15"));
    assert!(!union.is_match("+1٥"));
    let word = compile_rule(r"^\w+$").unwrap();
    assert!(word.is_match("a_9"));
    assert!(!word.is_match("é"));
    let space = compile_rule(r"^a\sb$").unwrap();
    assert!(space.is_match("a b"));
    assert!(!space.is_match("a\u{a0}b"));
    let verbose_space = compile_rule(r"(?x) ^ a \s b $").unwrap();
    assert!(verbose_space.is_match("a b"));
    let boundary = compile_rule(r"\b911\b").unwrap();
    assert!(boundary.is_match("call 911 now"));
    assert!(!boundary.is_match("x911"));
    // The same in Unicode mode (forced by `.`), where digits of other scripts
    // are not word characters either.
    let unicode_boundary = compile_rule(r"^.*\b911\b.*$").unwrap();
    assert!(unicode_boundary.is_match("call 911 now"));
    assert!(unicode_boundary.is_match("é911"));
    assert!(!unicode_boundary.is_match("x911"));
    assert!(unicode_boundary.is_match("٣911"));
    // An escaped backslash followed by d is a literal backslash and d.
    let literal = compile_rule(r"^\\d$").unwrap();
    assert!(literal.is_match(r"\d"));
    assert!(!literal.is_match("5"));
    // Non-ASCII literals are allowed.
    assert!(compile_rule("^é$").unwrap().is_match("é"));
}

#[test]
fn invalid_rules_are_errors() {
    for bad in ["(", "[", r"\", "a{2,1}", "*"] {
        assert!(compile_rule(bad).is_err(), "{bad}");
        assert!(Converter::new(bad, "+", "").is_err(), "{bad}");
    }
}

// ---- PhoneNumber ----

#[test]
fn e164_shape() {
    assert!(PhoneNumber::from_e164("+12345678").is_ok());
    assert!(PhoneNumber::from_e164("+123456789012345").is_ok());
    assert!(PhoneNumber::from_e164("+1234567890123456").is_err());
    assert!(PhoneNumber::from_e164("+1234567").is_err());
    assert!(PhoneNumber::from_e164("+01234567").is_err());
    assert!(PhoneNumber::from_e164("12345678").is_err());
    assert!(PhoneNumber::from_e164("+1415555123a").is_err());
    assert!(PhoneNumber::from_e164("+14155551234\n").is_err());
    assert!(PhoneNumber::from_e164("+١٤١٥٥٥٥١٢٣٤").is_err());
    assert!(matches!(
        PhoneNumber::from_e164("nope"),
        Err(Error::NotReconcilable { number }) if number == "nope"
    ));
}

#[test]
fn parse_lengths() {
    assert_eq!(parsed("+23456789"), "+23456789"); // 8 digits
    assert_not_reconcilable("+2345678"); // 7 digits
    assert_eq!(parsed("+234567890123456"), "+234567890123456"); // 15 digits
    assert_not_reconcilable("+2345678901234567"); // 16 digits
    assert_not_reconcilable("23456789012345678"); // rule 3 makes 17 digits

    // +1 numbers must be NANP length (the reconcile rule).
    assert_not_reconcilable("+12345678");
    assert_not_reconcilable("+1415555123");
    assert_not_reconcilable("+141555512345");
    assert_eq!(parsed("+10005551234"), "+10005551234");
}

#[test]
fn phone_number_traits() {
    let a: PhoneNumber = "(415) 555-1234".parse().unwrap();
    let b = a; // Copy
    assert_eq!(a, b);
    assert_eq!(a.to_string(), "+14155551234");
    assert_eq!(format!("{a:?}"), "PhoneNumber(+14155551234)");
    assert_eq!(a.as_str(), "+14155551234");
    assert_eq!(a.strip_plus(), "14155551234");
    assert_eq!(a.to_npan(), "4155551234");
    assert_eq!(a.to_1npan(), "14155551234");
    assert!(a.is_nanp());
    assert_eq!(a.calling_code(), Some(1));

    let intl = PhoneNumber::parse("41234567").unwrap();
    assert!(!intl.is_nanp());
    assert_eq!(intl.to_npan(), "+41234567");
    assert_eq!(intl.to_1npan(), "+41234567");
    assert_eq!(intl.calling_code(), Some(41));
    assert_eq!(
        PhoneNumber::parse("+2120551234").unwrap().calling_code(),
        Some(212)
    );

    // Ord is the string order, not numeric order.
    let mut v: Vec<PhoneNumber> = ["+9123456789", "+14155551234", "+442071234567", "+23456789"]
        .iter()
        .map(|s| PhoneNumber::from_e164(s).unwrap())
        .collect();
    v.sort();
    let sorted: Vec<&str> = v.iter().map(PhoneNumber::as_str).collect();
    assert_eq!(
        sorted,
        ["+14155551234", "+23456789", "+442071234567", "+9123456789"]
    );
    assert!("+1".parse::<PhoneNumber>().is_err());
}

#[test]
fn phone_number_serde_is_the_string() {
    let n = PhoneNumber::parse("4155551234").unwrap();
    assert_eq!(serde_json::to_value(n).unwrap(), json!("+14155551234"));
    let back: PhoneNumber = serde_json::from_value(json!("+14155551234")).unwrap();
    assert_eq!(back, n);
    // Deserializing does not normalize: stored ids are already E.164.
    assert!(serde_json::from_value::<PhoneNumber>(json!("4155551234")).is_err());
    assert!(serde_json::from_value::<PhoneNumber>(json!(14155551234u64)).is_err());
}

#[test]
fn country_from_metadata() {
    let country = |s: &str| PhoneNumber::from_e164(s).unwrap().country();
    assert_eq!(country("+14155551234"), Some("US"));
    assert_eq!(country("+16132345678"), Some("CA"));
    assert_eq!(country("+18762345678"), Some("JM"));
    assert_eq!(country("+442071234567"), Some("GB"));
    assert_eq!(country("+41446681800"), Some("CH"));
    assert_eq!(country("+33142685300"), Some("FR"));
    assert_eq!(country("+4930123456"), Some("DE"));
    assert_eq!(country("+79161234567"), Some("RU"));
    // Non-geographic and unassigned codes.
    assert_eq!(country("+80012345678"), None);
    assert_eq!(country("+88213012345"), None);
    assert_eq!(country("+99912345678"), None);
    // Cached answers are the same answers.
    for _ in 0..3 {
        assert_eq!(country("+14155551234"), Some("US"));
        assert_eq!(country("+18762345678"), Some("JM"));
    }
}

// ---- DECISIONS 3: rules are data, order kept ----

#[test]
fn custom_converters_keep_json_order() {
    let seven_first = json!({
        "^(\\d{7})$": {"prefix": "+1415"},
        "^(\\d{7,})$": {"prefix": "+"}
    });
    let n = Normalizer::from_json(&seven_first, DEFAULT_RECONCILE_REGEX).unwrap();
    assert_eq!(n.normalize("5551234"), "+14155551234");
    let patterns: Vec<&str> = n.converters().iter().map(Converter::pattern).collect();
    assert_eq!(patterns, ["^(\\d{7})$", "^(\\d{7,})$"]);

    let general_first = json!({
        "^(\\d{7,})$": {"prefix": "+"},
        "^(\\d{7})$": {"prefix": "+1415"}
    });
    let n = Normalizer::from_json(&general_first, DEFAULT_RECONCILE_REGEX).unwrap();
    assert_eq!(n.normalize("5551234"), "+5551234");
}

#[test]
fn converter_prefix_suffix_and_last_group() {
    let n = Normalizer::from_json(
        &json!({"^9(\\d+)$": {"prefix": "+44", "suffix": "0"}}),
        r"^\+\d+$",
    )
    .unwrap();
    assert_eq!(n.normalize("92071234567"), "+4420712345670");
    assert_eq!(n.converters()[0].prefix(), "+44");
    assert_eq!(n.converters()[0].suffix(), "0");
    assert_eq!(n.reconcile_regex(), r"^\+\d+$");
    // No groups: the whole match.
    let whole = Converter::new(r"^\d{8}$", "+", "").unwrap();
    assert_eq!(whole.apply("23456789").as_deref(), Some("+23456789"));
    // Alternation: whichever group took part.
    let alt = Converter::new(r"^011(\d{5,})$|^00(\d{5,})$", "+", "").unwrap();
    assert_eq!(alt.apply("01141446681800").as_deref(), Some("+41446681800"));
    assert_eq!(alt.apply("0041446681800").as_deref(), Some("+41446681800"));
}

#[test]
fn custom_reconcile_rule_gates_parse() {
    let nanp_only = Normalizer::from_json(
        &Normalizer::kazoo_default().converters_to_json(),
        r"^\+1\d{10}$",
    )
    .unwrap();
    assert!(nanp_only.parse("4155551234").is_ok());
    assert!(nanp_only.is_reconcilable("4155551234"));
    assert!(matches!(
        nanp_only.parse("+442071234567"),
        Err(Error::NotReconcilable { number }) if number == "+442071234567"
    ));
    assert!(!nanp_only.is_reconcilable("+442071234567"));
}

#[test]
fn converters_json_round_trip() {
    let d = Normalizer::kazoo_default();
    let j = d.converters_to_json();
    assert_eq!(
        j,
        json!({
            "^(\\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$": {"prefix": "+1"},
            "^011(\\d{5,})$|^00(\\d{5,})$": {"prefix": "+"},
            "^[2-9]\\d{7,}$": {"prefix": "+"}
        })
    );
    let keys: Vec<&String> = j.as_object().unwrap().keys().collect();
    assert_eq!(keys[0], "^(\\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$");
    let again = Normalizer::from_json(&j, d.reconcile_regex()).unwrap();
    for raw in [
        "4155551234",
        "0041446681800",
        "23456789",
        "1000",
        "(415) 555-1234",
    ] {
        assert_eq!(again.normalize(raw), d.normalize(raw));
    }
    assert_eq!(again.converters_to_json(), j);
    assert_eq!(
        Normalizer::default().normalize("4155551234"),
        "+14155551234"
    );
}

#[test]
fn bad_rule_json_is_an_error() {
    assert!(Normalizer::from_json(&json!([]), DEFAULT_RECONCILE_REGEX).is_err());
    assert!(
        Normalizer::from_json(&json!({"(": {"prefix": "+"}}), DEFAULT_RECONCILE_REGEX).is_err()
    );
    assert!(
        Normalizer::from_json(&json!({"^1$": {"prefix": 1}}), DEFAULT_RECONCILE_REGEX).is_err()
    );
    assert!(Normalizer::from_json(&json!({"^1$": "+"}), DEFAULT_RECONCILE_REGEX).is_err());
    assert!(Normalizer::from_json(&json!({}), "(").is_err());
    assert!(DialPlan::from_json(&json!("^1$")).is_err());
    // Null prefix/suffix read as empty.
    let n = Normalizer::from_json(&json!({"^(1)$": {"prefix": null}}), "^$").unwrap();
    assert_eq!(n.normalize("1"), "1");
}

#[test]
fn dial_plan_runs_first() {
    let plan = DialPlan::from_json(&json!({
        "^(\\d{7})$": {"prefix": "+1415"},
        "^0(\\d{9,})$": {"prefix": "+44"}
    }))
    .unwrap();
    assert_eq!(plan.rules().len(), 2);
    let n = Normalizer::kazoo_default();
    assert_eq!(
        n.normalize_with_dial_plan("555-1234", &plan),
        "+14155551234"
    );
    assert_eq!(
        n.normalize_with_dial_plan("02071234567", &plan),
        "+442071234567"
    );
    // Plan does not match: plain converters.
    assert_eq!(
        n.normalize_with_dial_plan("4155551234", &plan),
        "+14155551234"
    );
    assert_eq!(n.normalize_with_dial_plan(" *97 ", &plan), "*97");
    // `+` input is never rewritten.
    assert_eq!(
        n.normalize_with_dial_plan("+1 415 555 1234", &plan),
        "+14155551234"
    );
    assert_eq!(
        n.parse_with_dial_plan("555-1234", &plan).unwrap().as_str(),
        "+14155551234"
    );
    assert!(n.parse_with_dial_plan("1234", &plan).is_err());
    // Without the plan, seven digits are not a number.
    assert_eq!(normalize("5551234"), "5551234");
    assert_eq!(
        n.normalize_with_dial_plan("5551234", &DialPlan::default()),
        "5551234"
    );
}

// ---- properties ----

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9+() .\\-]{0,24}",
        "[+]?[0-9٠-٩０-９]{0,20}",
        proptest::collection::vec(any::<char>(), 0..10_000).prop_map(String::from_iter),
        "[0-9]{5000,10000}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn nothing_panics(raw in any_text()) {
        let normalized = normalize(&raw);
        let reconcilable = is_reconcilable(&raw);
        let parsed = PhoneNumber::parse(&raw);
        prop_assert_eq!(reconcilable, parsed.is_ok());
        let _ = PhoneNumber::from_e164(&raw);
        let _ = raw.parse::<PhoneNumber>();
        if let Ok(n) = parsed {
            prop_assert_eq!(n.as_str(), &*normalized);
            let _ = (n.to_npan(), n.to_1npan(), n.calling_code(), n.is_nanp());
        }
    }

    #[test]
    fn normalize_is_idempotent_and_parse_round_trips(raw in any_text()) {
        let once = normalize(&raw);
        prop_assert_eq!(normalize(&once), once.clone());
        if let Ok(n) = PhoneNumber::parse(&raw) {
            prop_assert_eq!(PhoneNumber::parse(n.as_str()).unwrap(), n);
            prop_assert_eq!(PhoneNumber::from_e164(n.as_str()).unwrap(), n);
            let json = serde_json::to_string(&n).unwrap();
            prop_assert_eq!(serde_json::from_str::<PhoneNumber>(&json).unwrap(), n);
        }
    }

    #[test]
    fn parsed_numbers_are_ascii_e164(raw in "[+]?(1|011|00)?[0-9٠-٩]{0,16}") {
        if let Ok(n) = PhoneNumber::parse(&raw) {
            let s = n.as_str();
            prop_assert!(s.starts_with('+'));
            prop_assert!((9..=16).contains(&s.len()));
            prop_assert!(s[1..].bytes().all(|b| b.is_ascii_digit()));
            prop_assert!(!s.starts_with("+0"));
        }
        if raw.chars().any(|c| ('٠'..='٩').contains(&c)) {
            prop_assert!(PhoneNumber::parse(&raw).is_err());
        }
    }

    #[test]
    fn ordering_is_string_ordering(a in "[1-9][0-9]{7,14}", b in "[1-9][0-9]{7,14}") {
        let (sa, sb) = (format!("+{a}"), format!("+{b}"));
        let (na, nb) = (PhoneNumber::from_e164(&sa).unwrap(), PhoneNumber::from_e164(&sb).unwrap());
        prop_assert_eq!(na.cmp(&nb), sa.cmp(&sb));
        prop_assert_eq!(na == nb, sa == sb);
    }

    #[test]
    fn hashing_is_string_hashing(a in "[1-9][0-9]{7,14}") {
        use std::hash::{BuildHasher, Hash, Hasher};
        let s = format!("+{a}");
        let n = PhoneNumber::from_e164(&s).unwrap();
        let state = std::collections::hash_map::RandomState::new();
        let hash = |v: &dyn Fn(&mut std::collections::hash_map::DefaultHasher)| {
            let mut h = state.build_hasher();
            v(&mut h);
            h.finish()
        };
        prop_assert_eq!(hash(&|h| n.hash(h)), hash(&|h| s.as_str().hash(h)));
        // A map keyed by numbers is found by the string (`Borrow<str>`).
        let map: std::collections::HashMap<PhoneNumber, u8> = [(n, 1)].into();
        prop_assert_eq!(map.get(s.as_str()), Some(&1));
        let tree: std::collections::BTreeMap<PhoneNumber, u8> = [(n, 1)].into();
        prop_assert_eq!(tree.get(s.as_str()), Some(&1));
    }
}

proptest! {
    // country() parses shared-code numbers with the slow third-party parser.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn country_never_panics(digits in "[1-9][0-9]{7,14}") {
        let n = PhoneNumber::from_e164(&format!("+{digits}")).unwrap();
        if let Some(region) = n.country() {
            prop_assert_eq!(region.len(), 2);
            prop_assert!(region.bytes().all(|b| b.is_ascii_uppercase()));
        }
    }
}

#[test]
fn a_dial_plan_built_from_converters_matches_the_same_plan_read_from_json() {
    let rules = json!({
        "^(\\d{7})$": {"prefix": "+1415"},
        "^0(\\d{9,})$": {"prefix": "+44", "suffix": ""},
    });
    let read = DialPlan::from_json(&rules).unwrap();
    let built = DialPlan::new(read.rules().to_vec());
    let n = Normalizer::kazoo_default();
    for raw in ["555-1234", "02071234567", "4155551234", "911", ""] {
        assert_eq!(
            n.normalize_with_dial_plan(raw, &built),
            n.normalize_with_dial_plan(raw, &read),
            "{raw}"
        );
    }
    assert_eq!(
        n.normalize_with_dial_plan("555-1234", &built),
        "+14155551234"
    );
    assert_eq!(
        n.normalize_with_dial_plan("02071234567", &built),
        "+442071234567"
    );
    assert!(DialPlan::new(Vec::new()).rules().is_empty());
}
