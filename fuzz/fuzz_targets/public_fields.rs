//! Public-field validation: any JSON body is accepted or refused without a
//! panic, and what is accepted is stored and read back unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use number_manager::record::{merge_public, sanitize_public, validate_public, NumberRecord};
use number_manager::state::NumberState;
use number_manager::PhoneNumber;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(input)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // The API's body is `{"data": {...}}`; take the inner object when there is one.
    let fields = match input.get("data") {
        Some(Value::Object(inner)) => inner.clone(),
        _ => input,
    };
    let clean = sanitize_public(&fields);
    assert_eq!(
        sanitize_public(&clean),
        clean,
        "sanitizing twice changes it"
    );
    for key in clean.keys() {
        assert!(!key.starts_with('_') && !key.starts_with("pvt_"), "{key}");
    }
    if validate_public(&clean).is_ok() {
        round_trip(&clean);
    }
    // PATCH: merging the body into accepted fields never panics, and a merge
    // with nothing to change is the identity.
    let mut merged = clean.clone();
    merge_public(&mut merged, &Map::new());
    assert_eq!(merged, clean);
    merge_public(&mut merged, &fields);
    let _ = validate_public(&sanitize_public(&merged));
});

/// Accepted fields survive a store round trip (records are kept as JSON) and
/// show in the public view exactly as given.
fn round_trip(clean: &Map<String, Value>) {
    let number = PhoneNumber::from_e164("+14155550100").expect("a valid number");
    let mut record = NumberRecord::new(number, NumberState::Reserved, "local", Default::default());
    record.public = clean.clone();
    let stored = serde_json::to_string(&record).expect("records serialize");
    let back: NumberRecord = serde_json::from_str(&stored).expect("a stored record reads back");
    assert_eq!(back, record, "stored as {stored}");
    let view = record.to_public_json();
    for (key, value) in clean {
        assert_eq!(&view[key], value, "public view of {key}");
    }
}
