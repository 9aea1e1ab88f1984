//! Locality backends through the public API: the seeds' per-number shape for
//! US, Canadian, Caribbean and UK numbers, city prefixes, and failures.

use number_manager::locality::{Locality, OfflineLocality, SimulatedLocality};
use number_manager::{Error, PhoneNumber};
use serde_json::{json, Value};

fn n(s: &str) -> PhoneNumber {
    PhoneNumber::parse(s).unwrap()
}

async fn one(locality: &dyn Locality, number: &str) -> Value {
    let number = n(number);
    let mut answer = locality.locality(&[number]).await.unwrap();
    assert_eq!(answer.len(), 1);
    answer.remove(&number).unwrap()
}

fn assert_not_found(e: Error) {
    assert!(matches!(e, Error::CityNotFound { .. }), "{e:?}");
    let (status, message, data) = e.envelope();
    assert_eq!(status, 404);
    assert_eq!(message, "Not Found");
    assert_eq!(
        data,
        json!({"data": {}, "error": 404, "message": "Not Found", "status": "error"})
    );
}

#[tokio::test]
async fn us_number_has_country_state_and_geocode() {
    let v = one(&OfflineLocality::new(), "+14155550100").await;
    assert_eq!(
        v,
        json!({
            "country": "US",
            "number": "+14155550100",
            "e164_number": "+14155550100",
            "geocode": {"locality": "California"},
            "locality": {"province": "CA"},
            "status": "success"
        })
    );
    // Key order follows the seeds.
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "country",
            "number",
            "e164_number",
            "geocode",
            "locality",
            "status"
        ]
    );
}

#[tokio::test]
async fn canadian_and_caribbean_numbers() {
    let locality = OfflineLocality::new();
    let toronto = one(&locality, "+14165550100").await;
    assert_eq!(toronto["country"], "CA");
    assert_eq!(toronto["locality"]["province"], "ON");
    assert_eq!(toronto["geocode"]["locality"], "Ontario");

    // 902 serves two provinces: no province, a place name for both.
    let halifax = one(&locality, "+19025550100").await;
    assert_eq!(halifax["country"], "CA");
    assert!(halifax.get("locality").is_none());
    assert_eq!(
        halifax["geocode"]["locality"],
        "Nova Scotia and Prince Edward Island"
    );

    let kingston = one(&locality, "+18765550100").await;
    assert_eq!(kingston["country"], "JM");
    assert_eq!(kingston["geocode"]["locality"], "Jamaica");
    assert_eq!(kingston["status"], "success");

    let san_juan = one(&locality, "+17875550100").await;
    assert_eq!(san_juan["country"], "PR");
    assert_eq!(san_juan["locality"]["province"], "PR");
}

#[tokio::test]
async fn non_geographic_nanp_numbers() {
    let locality = OfflineLocality::new();
    let free = one(&locality, "+18005550100").await;
    assert_eq!(free["country"], "US");
    assert_eq!(free["locality"], json!({"type": "TOLLFREE"}));
    assert!(free.get("geocode").is_none());
    assert_eq!(
        one(&locality, "+19005550100").await["locality"]["type"],
        "PREMIUM"
    );
}

#[tokio::test]
async fn uk_numbers_carry_their_type() {
    let locality = OfflineLocality::new();
    let mobile = one(&locality, "+447812345678").await;
    assert_eq!(mobile["country"], "GB");
    assert_eq!(mobile["locality"], json!({"type": "WIRELESS"}));
    assert_eq!(mobile["status"], "success");
    assert!(mobile.get("geocode").is_none());

    let london = one(&locality, "+442079460000").await;
    assert_eq!(london["country"], "GB");
    assert_eq!(london["locality"]["type"], "LANDLINE");

    let free = one(&locality, "+448001111111").await;
    assert_eq!(free["locality"]["type"], "TOLLFREE");

    // +44 7911 is Guernsey's, not Great Britain's: the metadata knows.
    assert_eq!(one(&locality, "+447911123456").await["country"], "GG");
}

#[tokio::test]
async fn unknown_numbers_are_errors_not_failures() {
    let locality = OfflineLocality::new();
    // 374 is not an area code; a 1XX central office code is not NANP.
    for raw in [
        "+13745550100",
        "+14151550100",
        "+4412345678",
        "+99912345678",
    ] {
        let v = one(&locality, raw).await;
        assert_eq!(v["status"], "error", "{raw}: {v}");
        assert_eq!(v["number"], raw);
        assert_eq!(v["e164_number"], raw);
    }
}

#[tokio::test]
async fn many_numbers_at_once_and_cached_answers_agree() {
    let locality = OfflineLocality::new();
    let numbers = [
        n("+14155550100"),
        n("+447812345678"),
        n("+13745550100"),
        n("+33612345678"),
    ];
    let first = locality.locality(&numbers).await.unwrap();
    let second = locality.locality(&numbers).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(first.len(), 4);
    assert_eq!(first[&numbers[3]]["country"], "FR");
    assert_eq!(first[&numbers[3]]["locality"]["type"], "WIRELESS");
}

#[tokio::test]
async fn never_panics_on_any_country_code() {
    let locality = OfflineLocality::new();
    // Every calling code 1..=999 with a few national lengths.
    let mut numbers = std::collections::BTreeSet::new();
    for cc in 1..=999u32 {
        for national in ["2345678", "712345678", "20123456789"] {
            if let Ok(p) = PhoneNumber::from_e164(&format!("+{cc}{national}")) {
                numbers.insert(p);
            }
        }
    }
    let numbers: Vec<PhoneNumber> = numbers.into_iter().collect();
    let answers = locality.locality(&numbers).await.unwrap();
    assert_eq!(answers.len(), numbers.len());
    for v in answers.values() {
        assert!(v["status"] == "success" || v["status"] == "error", "{v}");
    }
}

#[tokio::test]
async fn city_prefixes_offline() {
    let locality = OfflineLocality::new();
    assert_eq!(
        locality.city_prefixes("US", "San Francisco").await.unwrap(),
        json!({"San Francisco": ["415", "628"]})
    );
    assert_eq!(
        locality
            .city_prefixes("us", "  san   FRANCISCO ")
            .await
            .unwrap(),
        json!({"San Francisco": ["415", "628"]})
    );
    let san = locality.city_prefixes("US", "san").await.unwrap();
    let names: Vec<&String> = san.as_object().unwrap().keys().collect();
    assert_eq!(names, ["San Diego", "San Francisco", "San Jose"]);
    assert_eq!(
        locality.city_prefixes("CA", "Toronto").await.unwrap(),
        json!({"Toronto": ["416", "437", "647", "942"]})
    );
}

#[tokio::test]
async fn city_not_found_is_a_404_with_the_seeds_data() {
    let locality = OfflineLocality::new();
    assert_not_found(locality.city_prefixes("US", "Atlantis").await.unwrap_err());
    assert_not_found(locality.city_prefixes("US", "").await.unwrap_err());
    assert_not_found(locality.city_prefixes("GB", "London").await.unwrap_err());
    // Toronto is in Canada, not the US.
    assert_not_found(locality.city_prefixes("US", "Toronto").await.unwrap_err());
}

#[tokio::test]
async fn simulated_answers_what_it_is_told() {
    let locality = SimulatedLocality::new();
    let belvedere = json!({
        "carrier": {"company": "T-Mobile USA Inc", "dba": "T-Mobile USA Inc", "id": "6529", "type": "WIRELESS"},
        "country": "US",
        "e164_number": "+14155550100",
        "geocode": {"locality": "California"},
        "locality": {"locality": "Belvedere", "postal_code": "94920", "province": "CA", "type": "WIRELESS"},
        "number": "+14155550100",
        "status": "success"
    });
    locality.insert(n("+14155550100"), belvedere.clone());
    let answers = locality
        .locality(&[n("+14155550100"), n("+12125550100")])
        .await
        .unwrap();
    assert_eq!(answers[&n("+14155550100")], belvedere);
    // Not configured: the generated answer.
    let ny = &answers[&n("+12125550100")];
    assert_eq!(ny["country"], "US");
    assert_eq!(ny["locality"]["province"], "NY");
    assert_eq!(locality.locality_calls(), 1);

    locality.remove(&n("+14155550100"));
    assert_eq!(
        one(&locality, "+14155550100").await["locality"],
        json!({"province": "CA"})
    );
}

#[tokio::test]
async fn simulated_cities() {
    let locality = SimulatedLocality::new();
    assert_not_found(
        locality
            .city_prefixes("US", "Springfield")
            .await
            .unwrap_err(),
    );
    locality.insert_city("US", "Springfield", ["217", "447"]);
    assert_eq!(
        locality.city_prefixes("us", "SPRINGFIELD").await.unwrap(),
        json!({"Springfield": ["217", "447"]})
    );
    assert_not_found(
        locality
            .city_prefixes("CA", "Springfield")
            .await
            .unwrap_err(),
    );
    assert_eq!(locality.city_calls(), 3);
}

#[tokio::test]
async fn simulated_failures() {
    let locality = SimulatedLocality::new();
    locality.insert_city("US", "Springfield", ["217"]);
    locality.fail_not_set_up();
    let e = locality.locality(&[n("+14155550100")]).await.unwrap_err();
    let (status, message, data) = e.envelope();
    assert_eq!((status, message.as_str()), (500, "init failed"));
    assert_eq!(data, json!("Unable to acquire numbers missing carrier url"));
    assert!(matches!(
        locality.city_prefixes("US", "Springfield").await,
        Err(Error::InitFailed { .. })
    ));

    locality.fail_with(json!({"unknown error": "econnrefused"}));
    let Err(Error::InitFailed { data }) = locality.locality(&[]).await else {
        panic!("expected init failed")
    };
    assert_eq!(*data, json!({"unknown error": "econnrefused"}));

    locality.recover();
    assert!(locality.locality(&[n("+14155550100")]).await.is_ok());
    assert!(locality.city_prefixes("US", "Springfield").await.is_ok());
}

#[test]
fn backends_are_shareable() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<OfflineLocality>();
    shareable::<SimulatedLocality>();
}
