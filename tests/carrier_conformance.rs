//! The carrier conformance suite on every built-in carrier (local, reserved,
//! inventory, simulated with and without `owned_numbers`) and on the testing
//! wrappers around one (`Counting`, `FaultyCarrier` with no fault), each with a
//! fixture where it offers numbers.
//!
//! The tests are made from the suite's registry (`conformance::CHECKS`): one
//! test per carrier and check that applies to it, named
//! `CARRIER::SECTION::CHECK`; a check whose needs the carrier does not declare
//! is not made into a test, as the suite's `run_all` skips it. Then
//! `CARRIER::run_all`, the registry's own rules, which carriers run which
//! checks, and carriers that break the contract on purpose, each caught by
//! the check about what it breaks.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use libtest_mimic::{Arguments, Failed, Trial};
use number_manager::account::AccountId;
use number_manager::carrier::conformance::{self, Fixture, Need, Section};
use number_manager::carrier::{
    Availability, Capabilities, Carrier, InventoryCarrier, LocalCarrier, NumberOrder, Ownership,
    ReservedCarrier, SearchRequest, SearchResult, SimulatedCarrier,
};
use number_manager::record::NumberRecord;
use number_manager::state::NumberState;
use number_manager::store::{MemoryStore, Store, StoreExt};
use number_manager::testing::{Counting, FaultPlan, FaultyCarrier};
use number_manager::{PhoneNumber, Result};
use serde_json::{Map, Value};

type MakeCarrier = fn() -> Pin<Box<dyn Future<Output = Arc<dyn Carrier>> + Send>>;

/// A carrier under test: a name for the tests, where it offers numbers, and
/// how to make a fresh one.
struct Subject {
    name: &'static str,
    fixture: fn() -> Fixture,
    make: MakeCarrier,
}

/// Twelve numbers, a hundred apart (so most numbers near each are not
/// offered): `+14155550000`, `+14155550100`, ... `+14155551100`.
fn pool() -> Vec<PhoneNumber> {
    (0..12)
        .map(|i| PhoneNumber::from_e164(&format!("+1415555{i:02}00")).expect("a number"))
        .collect()
}

fn fixture() -> Fixture {
    Fixture::new("+1415", "US")
}

fn owner() -> AccountId {
    AccountId::new("conformance-reserved").expect("an account id")
}

/// A memory store holding the pool in `state`, owned by `owner`.
async fn store_with(state: NumberState, owner: Option<AccountId>) -> Arc<dyn Store> {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    for n in pool() {
        let mut r = NumberRecord::new(n, state, "local", chrono::Utc::now());
        r.set_assigned_to(owner.clone());
        store.insert(r).await.expect("insert a pool number");
    }
    store
}

fn subjects() -> Vec<Subject> {
    vec![
        Subject {
            name: "local",
            fixture,
            make: || {
                Box::pin(async {
                    let store = store_with(NumberState::Available, None).await;
                    Arc::new(LocalCarrier::new(store)) as Arc<dyn Carrier>
                })
            },
        },
        Subject {
            name: "reserved",
            fixture: || fixture().with_account(owner()),
            make: || {
                Box::pin(async {
                    let store = store_with(NumberState::Reserved, Some(owner())).await;
                    Arc::new(ReservedCarrier::new(store)) as Arc<dyn Carrier>
                })
            },
        },
        Subject {
            name: "inventory",
            fixture,
            make: || {
                Box::pin(async {
                    let inventory = InventoryCarrier::new();
                    inventory.load(pool());
                    Arc::new(inventory) as Arc<dyn Carrier>
                })
            },
        },
        Subject {
            name: "simulated",
            fixture,
            make: || Box::pin(async { Arc::new(SimulatedCarrier::new(7)) as Arc<dyn Carrier> }),
        },
        Subject {
            name: "simulated_without_owned_numbers",
            fixture,
            make: || {
                Box::pin(async {
                    Arc::new(SimulatedCarrier::new(7).without_owned_numbers()) as Arc<dyn Carrier>
                })
            },
        },
        Subject {
            name: "counting_simulated",
            fixture,
            make: || {
                Box::pin(async {
                    Arc::new(Counting::new(SimulatedCarrier::new(11))) as Arc<dyn Carrier>
                })
            },
        },
        Subject {
            name: "faulty_simulated_without_faults",
            fixture,
            make: || {
                Box::pin(async {
                    let inner = SimulatedCarrier::new(13);
                    Arc::new(FaultyCarrier::new(inner, FaultPlan::none())) as Arc<dyn Carrier>
                })
            },
        },
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn capabilities(make: MakeCarrier) -> Capabilities {
    runtime().block_on(async { make().await.capabilities() })
}

fn trials() -> Vec<Trial> {
    let mut trials = Vec::new();
    for subject in subjects() {
        let caps = capabilities(subject.make);
        for check in conformance::applicable(&caps) {
            let (make, fixture) = (subject.make, subject.fixture);
            let name = format!("{}::{}::{}", subject.name, check.section(), check.name());
            trials.push(Trial::test(name, move || {
                runtime().block_on(async move {
                    let carrier = make().await;
                    let fixture = fixture();
                    check.run(carrier.as_ref(), &fixture).await;
                });
                Ok(())
            }));
        }
        let (make, fixture) = (subject.make, subject.fixture);
        trials.push(Trial::test(
            format!("{}::run_all", subject.name),
            move || {
                let report = runtime().block_on(conformance::run_all(&fixture(), make));
                let applies: Vec<&str> = conformance::applicable(&caps).map(|c| c.name()).collect();
                let rest: Vec<&str> = conformance::CHECKS
                    .iter()
                    .filter(|c| !c.applies_to(&caps))
                    .map(|c| c.name())
                    .collect();
                check(
                    report.passed() == applies && report.skipped() == rest,
                    &format!("run_all ran the checks that apply and skipped the others:\n{report}"),
                )
            },
        ));
    }
    trials.extend(registry_trials());
    trials.push(Trial::test(
        "gating::which_carriers_run_which_checks",
        gating,
    ));
    trials.extend(broken_trials());
    trials
}

fn check(cond: bool, what: &str) -> std::result::Result<(), Failed> {
    if cond {
        Ok(())
    } else {
        Err(what.into())
    }
}

/// The registry's own rules: unique names, every section with checks, every
/// check function of the section files registered, lookup by name.
fn registry_trials() -> Vec<Trial> {
    vec![
        Trial::test("registry::names_are_unique", || {
            let mut names: Vec<&str> = conformance::names().collect();
            let all = names.len();
            names.sort_unstable();
            names.dedup();
            check(names.len() == all, "a check name is registered twice")
        }),
        Trial::test("registry::every_section_has_checks", || {
            for section in Section::ALL {
                let n = conformance::CHECKS
                    .iter()
                    .filter(|c| c.section() == *section)
                    .count();
                check(n > 0, &format!("section {section} has no check"))?;
            }
            Ok(())
        }),
        Trial::test(
            "registry::every_check_function_is_registered",
            every_check_function_is_registered,
        ),
        Trial::test("registry::lookup_by_name", || {
            for c in conformance::CHECKS {
                let found = conformance::check(c.name()).map(|f| (f.name(), f.section()));
                check(
                    found == Some((c.name(), c.section())),
                    &format!("{} is not found by name", c.name()),
                )?;
            }
            check(
                conformance::check("no_such_check").is_none(),
                "an unknown name is found",
            )
        }),
    ]
}

/// Every `async fn NAME(carrier: &dyn Carrier, fixture: &Fixture)` of a
/// section's file is the registered check of that name and section, and every
/// registered check is one of them.
fn every_check_function_is_registered() -> std::result::Result<(), Failed> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/carrier/conformance");
    let mut found: Vec<(String, String)> = Vec::new();
    for section in Section::ALL {
        let file = dir.join(format!("{}.rs", section.name()));
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("read {}: {e}", file.display()))?;
        // rustfmt may break a long signature after the opening parenthesis.
        let text = text.replace(
            "(\n    carrier: &dyn Carrier,\n    fixture: &Fixture,\n)",
            "(carrier: &dyn Carrier, fixture: &Fixture)",
        );
        for line in text.lines() {
            let Some(rest) = line.trim_start().strip_prefix("pub(super) async fn ") else {
                continue;
            };
            if let Some((name, args)) = rest.split_once('(') {
                if args.starts_with("carrier: &dyn Carrier, fixture: &Fixture)") {
                    found.push((section.name().to_string(), name.to_string()));
                }
            }
        }
    }
    let registered: Vec<(String, String)> = conformance::CHECKS
        .iter()
        .map(|c| (c.section().name().to_string(), c.name().to_string()))
        .collect();
    let unregistered: Vec<_> = found.iter().filter(|f| !registered.contains(f)).collect();
    let missing: Vec<_> = registered.iter().filter(|r| !found.contains(r)).collect();
    check(
        unregistered.is_empty() && missing.is_empty() && found.len() == registered.len(),
        &format!(
            "check functions not in the registry: {unregistered:?}; registered checks not found in their section's file: {missing:?}"
        ),
    )
}

/// Which carriers run which checks: local carriers no check of selling,
/// carriers without `owned_numbers` none of it, the simulated carrier every
/// check but the local one's.
fn gating() -> std::result::Result<(), Failed> {
    let runs = |make: MakeCarrier| -> Vec<&'static str> {
        conformance::applicable(&capabilities(make))
            .map(|c| c.name())
            .collect()
    };
    let by_name: BTreeMap<&str, Vec<&str>> = subjects()
        .into_iter()
        .map(|s| (s.name, runs(s.make)))
        .collect();
    let needing = |need: Need| -> Vec<&'static str> {
        conformance::CHECKS
            .iter()
            .filter(|c| c.needs().contains(&need))
            .map(|c| c.name())
            .collect()
    };
    for local in ["local", "reserved"] {
        let runs = &by_name[local];
        check(
            needing(Need::Upstream).iter().all(|c| !runs.contains(c)),
            &format!("{local} runs a check for carriers that sell: {runs:?}"),
        )?;
        check(
            runs.contains(&"local_acquire_changes_nothing"),
            &format!("{local} does not run local_acquire_changes_nothing"),
        )?;
    }
    for without in [
        "inventory",
        "simulated_without_owned_numbers",
        "local",
        "reserved",
    ] {
        let runs = &by_name[without];
        check(
            needing(Need::OwnedNumbers)
                .iter()
                .all(|c| !runs.contains(c)),
            &format!("{without} runs an owned_numbers check: {runs:?}"),
        )?;
    }
    check(
        by_name["inventory"].contains(&"check_numbers_follows_offer"),
        "inventory does not run check_numbers_follows_offer",
    )?;
    for simulated in [
        "simulated",
        "counting_simulated",
        "faulty_simulated_without_faults",
    ] {
        let all_but_local: Vec<&str> = conformance::names()
            .filter(|n| *n != "local_acquire_changes_nothing")
            .collect();
        check(
            by_name[simulated] == all_but_local,
            &format!("{simulated} runs {:?}", by_name[simulated]),
        )?;
    }
    Ok(())
}

/// A simulated carrier with one thing broken on purpose.
#[derive(Debug, Clone, Copy)]
enum Broken {
    /// Answers every search from under `+1`, whatever the prefix.
    IgnoresPrefix,
    /// Sells a number as often as asked.
    SellsTwice,
    /// Declares `owned_numbers` but does not pass it on (the trait's default
    /// answers an error).
    ForgetsOwnedNumbers,
    /// Offers a number it sold.
    OffersSold,
}

#[derive(Debug)]
struct BrokenCarrier {
    inner: SimulatedCarrier,
    broken: Broken,
}

#[async_trait]
impl Carrier for BrokenCarrier {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn find_numbers(&self, request: &SearchRequest) -> Result<Vec<SearchResult>> {
        match self.broken {
            Broken::IgnoresPrefix => {
                let mut wide = request.clone();
                wide.prefix = "+1".into();
                self.inner.find_numbers(&wide).await
            }
            Broken::OffersSold => {
                let mut found = self.inner.find_numbers(request).await?;
                let sold = self.inner.purchases().into_iter().map(|p| p.number);
                for number in sold.filter(|n| n.as_str().starts_with(&request.prefix)) {
                    if found.len() < request.quantity.max(1) {
                        found.push(
                            SearchResult::new(number, NumberState::Discovery).with_data(Map::new()),
                        );
                    }
                }
                Ok(found)
            }
            _ => self.inner.find_numbers(request).await,
        }
    }
    async fn acquire(&self, order: &NumberOrder) -> Result<Map<String, Value>> {
        match self.broken {
            Broken::SellsTwice => match self.inner.acquire(order).await {
                Err(_) => Ok(order.carrier_data.clone()),
                ok => ok,
            },
            _ => self.inner.acquire(order).await,
        }
    }
    async fn disconnect(&self, order: &NumberOrder) -> Result<()> {
        self.inner.disconnect(order).await
    }
    async fn check_numbers(
        &self,
        numbers: &[PhoneNumber],
    ) -> Result<BTreeMap<PhoneNumber, Availability>> {
        self.inner.check_numbers(numbers).await
    }
    async fn owned_numbers(
        &self,
        numbers: &[PhoneNumber],
    ) -> Result<BTreeMap<PhoneNumber, Ownership>> {
        match self.broken {
            Broken::ForgetsOwnedNumbers => Err(number_manager::Error::Unspecified {
                kind: number_manager::UnspecifiedKind::NotImplemented,
                cause: None,
            }),
            _ => self.inner.owned_numbers(numbers).await,
        }
    }
}

/// Each broken carrier fails the check about what it breaks, and `run`
/// reports that check as failed by name.
fn broken_trials() -> Vec<Trial> {
    let cases: [(&str, Broken, &str); 4] = [
        (
            "ignores_prefix",
            Broken::IgnoresPrefix,
            "search_answers_the_prefix",
        ),
        ("sells_twice", Broken::SellsTwice, "acquire_sells_once"),
        (
            "forgets_owned_numbers",
            Broken::ForgetsOwnedNumbers,
            "owned_numbers_follows_purchases",
        ),
        (
            "offers_sold",
            Broken::OffersSold,
            "search_never_offers_held_numbers",
        ),
    ];
    cases
        .into_iter()
        .map(|(name, broken, caught_by)| {
            Trial::test(
                format!("broken::{name}_is_caught_by_{caught_by}"),
                move || {
                    let check_ = conformance::check(caught_by).ok_or("no such check")?;
                    // The panic is expected: keep the panic hook from printing it.
                    QUIET.with(|q| q.set(true));
                    let outcome = std::panic::catch_unwind(|| {
                        runtime().block_on(conformance::run([check_], &fixture(), || async move {
                            Arc::new(BrokenCarrier {
                                inner: SimulatedCarrier::new(7),
                                broken,
                            }) as Arc<dyn Carrier>
                        }))
                    });
                    QUIET.with(|q| q.set(false));
                    let message = match outcome {
                        Ok(report) => return Err(format!("not caught:\n{report}").into()),
                        Err(payload) => payload
                            .downcast_ref::<String>()
                            .cloned()
                            .unwrap_or_default(),
                    };
                    check(
                        message.contains(&format!(
                            "FAILED  {caught_by}: carrier conformance::{caught_by}:"
                        )),
                        &format!("the report names the failed check: {message}"),
                    )
                },
            )
        })
        .collect()
}

thread_local! {
    /// Set while a broken carrier's expected failure runs on this thread.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn main() {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !QUIET.with(|q| q.get()) {
            hook(info);
        }
    }));
    let args = Arguments::from_args();
    libtest_mimic::run(&args, trials()).exit();
}
