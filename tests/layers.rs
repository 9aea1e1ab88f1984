//! The value modules depend downward only (README, "Layers"): each module's
//! source names, through `crate::`, only the modules below it. Doc comments
//! may link anywhere; code may not.

use std::collections::BTreeSet;
use std::path::Path;

/// Each value module and the modules its code may use.
const LAYERS: &[(&str, &[&str])] = &[
    ("state", &[]),
    ("clock", &[]),
    ("error", &["state"]),
    ("number", &["error"]),
    ("fields", &["error"]),
    ("limits", &["error"]),
    ("account", &["error"]),
    ("duration", &["error"]),
    (
        "record",
        &["account", "error", "fields", "limits", "number", "state"],
    ),
    (
        "features",
        &["account", "error", "fields", "number", "record", "state"],
    ),
    (
        "lifecycle",
        &["account", "error", "number", "record", "state"],
    ),
];

/// The `.rs` files of module `name`: `src/name.rs` and everything under `src/name/`.
fn files_of(name: &str) -> Vec<std::path::PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let file = src.join(format!("{name}.rs"));
    if file.exists() {
        out.push(file);
    }
    let mut dirs = vec![src.join(name)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    assert!(!out.is_empty(), "module {name} has no source file");
    out
}

/// The crate modules named by `crate::NAME` outside comments in `text`.
fn uses(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

#[test]
fn value_modules_depend_downward_only() {
    let mut upward = Vec::new();
    for (module, allowed) in LAYERS {
        for file in files_of(module) {
            let text = std::fs::read_to_string(&file).unwrap();
            for used in uses(&text) {
                // `crate::util` holds the setter macro and async helpers, below everything.
                if used == *module || used == "util" || allowed.contains(&used.as_str()) {
                    continue;
                }
                upward.push(format!("{} uses crate::{used}", file.display()));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "upward or unlisted uses:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_scan_sees_a_use_and_ignores_comments() {
    let found =
        uses("use crate::error::Error;\n/// see [`x`](crate::manager)\nlet a = 1; // crate::api\n");
    assert_eq!(found, BTreeSet::from(["error".to_string()]));
}
