//! The Store conformance suite on every built-in backend: MemoryStore, SQLite
//! (a file in a temporary directory, and in memory) and PostgreSQL (each test
//! in its own fresh schema, dropped afterwards; skipped with a message unless
//! `NUMBER_MANAGER_PG_URL` names a server).
//!
//! The tests are made from the suite's registry (`conformance::CHECKS`): one
//! test per backend and check, named `BACKEND::SECTION::CHECK` (so
//! `cargo test --test store_conformance -- sqlite_file::listing` runs one
//! section on one backend), plus the tests of the registry itself. This file
//! lists no check by name: a check added to the registry runs here at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};
use number_manager::store::conformance::{self, Check, Section};
use number_manager::store::{MemoryStore, Store};

/// A fresh store for one test and what tears it down, or `None` to skip.
type Made = Option<(Arc<dyn Store>, Teardown)>;
type Teardown = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A backend: its name, and how to make one fresh store.
struct Backend {
    name: &'static str,
    make: fn() -> Pin<Box<dyn Future<Output = Made> + Send>>,
}

fn backends() -> Vec<Backend> {
    let mut all = vec![Backend {
        name: "memory",
        make: || {
            Box::pin(async {
                let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
                Some((store, no_teardown()))
            })
        },
    }];
    #[cfg(feature = "sqlite")]
    all.extend([
        Backend {
            name: "sqlite_file",
            make: || Box::pin(sqlite_support::file()),
        },
        Backend {
            name: "sqlite_memory",
            make: || Box::pin(sqlite_support::memory()),
        },
    ]);
    #[cfg(feature = "postgres")]
    all.push(Backend {
        name: "postgres",
        make: || Box::pin(postgres_support::connect()),
    });
    all
}

fn no_teardown() -> Teardown {
    Box::new(|| Box::pin(async {}))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// One check on one fresh store of `backend`, run in its own task so that a
/// failure still tears the store down.
fn run_check(make: fn() -> Pin<Box<dyn Future<Output = Made> + Send>>, check: &'static Check) {
    runtime().block_on(async move {
        let Some((store, teardown)) = make().await else {
            return;
        };
        let running = store.clone();
        let outcome = tokio::spawn(async move { check.run(&*running).await }).await;
        drop(store);
        teardown().await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    });
}

fn trials() -> Vec<Trial> {
    let mut trials = Vec::new();
    for backend in backends() {
        for check in conformance::CHECKS {
            let make = backend.make;
            let name = format!("{}::{}::{}", backend.name, check.section(), check.name());
            trials.push(Trial::test(name, move || {
                run_check(make, check);
                Ok(())
            }));
        }
        // `run_all` itself, with every check on its own fresh store.
        let make = backend.make;
        trials.push(Trial::test(
            format!("{}::run_all", backend.name),
            move || {
                run_all_on(make);
                Ok(())
            },
        ));
    }
    trials.extend(registry_trials());
    trials.extend(port_request_trials());
    trials
}

/// The port request contract on the stores that keep port requests
/// (PostgreSQL does not yet).
fn port_request_trials() -> Vec<Trial> {
    let mut trials = memory_port_request_trials();
    #[cfg(feature = "sqlite")]
    trials.extend(sqlite_support::port_request_trials());
    #[cfg(feature = "postgres")]
    trials.extend(postgres_support::port_request_trials());
    trials
}

fn memory_port_request_trials() -> Vec<Trial> {
    let mut trials: Vec<Trial> = conformance::PORT_REQUEST_CHECKS
        .iter()
        .map(|check| {
            Trial::test(
                format!("memory::port_requests::{}", check.name()),
                move || {
                    runtime().block_on(async move {
                        let store = MemoryStore::new();
                        check.run(&store).await;
                    });
                    Ok(())
                },
            )
        })
        .collect();
    trials.push(Trial::test("memory::port_requests::run_all", || {
        let report = runtime().block_on(conformance::run_port_requests(|| async {
            MemoryStore::new()
        }));
        check(
            report.passed().len() == conformance::PORT_REQUEST_CHECKS.len(),
            "every port request check ran and passed",
        )
    }));
    trials
}

/// `run_all` on fresh stores of a backend, every store torn down afterwards.
fn run_all_on(make: fn() -> Pin<Box<dyn Future<Output = Made> + Send>>) {
    runtime().block_on(async move {
        // A backend that cannot be had (no server) is skipped, as above.
        let Some((probe, teardown)) = make().await else {
            return;
        };
        drop(probe);
        teardown().await;
        // `run_all` runs one check at a time: the previous check's store is
        // torn down before the next one is made, so only one is open at once.
        let previous = Arc::new(tokio::sync::Mutex::new(None::<Teardown>));
        let outcome = tokio::spawn({
            let previous = previous.clone();
            async move {
                conformance::run_all(|| {
                    let previous = previous.clone();
                    async move {
                        let mut previous = previous.lock().await;
                        if let Some(teardown) = previous.take() {
                            teardown().await;
                        }
                        let (store, teardown) =
                            make().await.expect("the backend made a store before");
                        *previous = Some(teardown);
                        store
                    }
                })
                .await
            }
        })
        .await;
        if let Some(teardown) = previous.lock().await.take() {
            teardown().await;
        }
        match outcome {
            Ok(report) => assert_eq!(
                report.passed(),
                conformance::names().collect::<Vec<_>>(),
                "run_all runs every check, in the registry's order"
            ),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    });
}

/// The registry's own rules: unique names, every section's checks in the
/// section's file, every check function of those files registered, and the
/// check that purges every tombstone last.
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
        Trial::test("registry::every_check_function_is_registered", || {
            every_check_function_is_registered()
        }),
        Trial::test("registry::tombstone_purge_runs_last", || {
            let last = conformance::CHECKS.last().map(|c| c.name());
            check(
                last == Some("tombstone_purge"),
                &format!("the last check is {last:?}"),
            )
        }),
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

fn check(cond: bool, what: &str) -> Result<(), Failed> {
    if cond {
        Ok(())
    } else {
        Err(what.into())
    }
}

/// Reads the suite's source: every `async fn NAME(store: &dyn Store)` of a
/// section's file must be the registered check of that name and section, and
/// every registered check must be one of them.
fn every_check_function_is_registered() -> Result<(), Failed> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/conformance");
    let mut found: Vec<(String, String)> = Vec::new();
    for section in Section::ALL {
        let file = dir.join(format!("{}.rs", section.name()));
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("read {}: {e}", file.display()))?;
        for line in text.lines() {
            let Some(rest) = line.trim_start().strip_prefix("pub(super) async fn ") else {
                continue;
            };
            if let Some((name, args)) = rest.split_once('(') {
                if args.starts_with("store: &dyn Store)") {
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

fn main() {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, trials()).exit();
}

#[cfg(feature = "sqlite")]
mod sqlite_support {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use libtest_mimic::Trial;
    use number_manager::store::conformance;
    use number_manager::store::{SqliteStore, Store};

    use super::{runtime, Made, Teardown};

    /// Every port request check on a fresh file and a fresh in-memory database.
    pub fn port_request_trials() -> Vec<Trial> {
        let mut trials = Vec::new();
        for check in conformance::PORT_REQUEST_CHECKS {
            trials.push(Trial::test(
                format!("sqlite_file::port_requests::{}", check.name()),
                move || {
                    runtime().block_on(async move {
                        let dir = TempDir::new();
                        let store = SqliteStore::open(dir.0.join("ports.db"))
                            .await
                            .expect("open");
                        check.run(&store).await;
                        store.close().await;
                    });
                    Ok(())
                },
            ));
            trials.push(Trial::test(
                format!("sqlite_memory::port_requests::{}", check.name()),
                move || {
                    runtime().block_on(async move {
                        let store = SqliteStore::open_in_memory().await.expect("open");
                        check.run(&store).await;
                    });
                    Ok(())
                },
            ));
        }
        trials
    }

    /// A directory removed when dropped.
    pub struct TempDir(pub PathBuf);

    impl TempDir {
        pub fn new() -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let dir = std::env::temp_dir().join(format!(
                "nm-conformance-{}-{nanos}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            std::fs::create_dir_all(&dir).expect("create a temporary directory");
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Closes the store, then drops `guard` (the file's directory).
    fn close<G: Send + 'static>(store: Arc<SqliteStore>, guard: G) -> Teardown {
        Box::new(move || {
            Box::pin(async move {
                store.close().await;
                drop(guard);
            })
        })
    }

    pub async fn file() -> Made {
        let dir = TempDir::new();
        let store = Arc::new(
            SqliteStore::open(dir.0.join("numbers.db"))
                .await
                .expect("open a SQLite file"),
        );
        let dynamic: Arc<dyn Store> = store.clone();
        Some((dynamic, close(store, dir)))
    }

    pub async fn memory() -> Made {
        let store = Arc::new(
            SqliteStore::open_in_memory()
                .await
                .expect("open SQLite in memory"),
        );
        let dynamic: Arc<dyn Store> = store.clone();
        Some((dynamic, close(store, ())))
    }
}

#[cfg(feature = "postgres")]
mod postgres_support {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use number_manager::store::{PostgresStore, Store};

    use super::Made;

    pub const URL_VAR: &str = "NUMBER_MANAGER_PG_URL";

    /// The server to test against, or `None` (with a message) to skip.
    pub fn url() -> Option<String> {
        match std::env::var(URL_VAR) {
            Ok(url) if !url.is_empty() => Some(url),
            _ => {
                eprintln!(
                    "skipped: PostgreSQL tests need {URL_VAR} (e.g. postgres://postgres@127.0.0.1:5432/test); it is not set"
                );
                None
            }
        }
    }

    /// A schema name no other test uses.
    pub fn fresh_schema() -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let mut h = RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.write_usize(N.fetch_add(1, Ordering::SeqCst));
        format!("nm_test_{:016x}", h.finish())
    }

    /// Every port request check on a store in a fresh schema, dropped after.
    pub fn port_request_trials() -> Vec<libtest_mimic::Trial> {
        number_manager::store::conformance::PORT_REQUEST_CHECKS
            .iter()
            .map(|check| {
                libtest_mimic::Trial::test(
                    format!("postgres::port_requests::{}", check.name()),
                    move || {
                        super::runtime().block_on(async move {
                            let Some(url) = url() else { return };
                            let schema = fresh_schema();
                            let store = PostgresStore::connect_with_schema(&url, &schema)
                                .await
                                .expect("connect to PostgreSQL");
                            let running = tokio::spawn({
                                let store = store.clone();
                                async move { check.run(&store).await }
                            })
                            .await;
                            sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                                .execute(store.pool())
                                .await
                                .expect("drop the test schema");
                            store.close().await;
                            if let Err(e) = running {
                                std::panic::resume_unwind(e.into_panic());
                            }
                        });
                        Ok(())
                    },
                )
            })
            .collect()
    }

    /// A store in a fresh schema; its teardown drops the schema.
    pub async fn connect() -> Made {
        let url = url()?;
        let schema = fresh_schema();
        let store = Arc::new(
            PostgresStore::connect_with_schema(&url, &schema)
                .await
                .expect("connect to PostgreSQL"),
        );
        let dynamic: Arc<dyn Store> = store.clone();
        Some((
            dynamic,
            Box::new(move || {
                Box::pin(async move {
                    sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                        .execute(store.pool())
                        .await
                        .expect("drop the test schema");
                    store.close().await;
                })
            }),
        ))
    }
}
