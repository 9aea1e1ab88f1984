//! The README's state diagram is generated from the transition table; this
//! test fails when they disagree. Regenerate with
//! `UPDATE_README=1 cargo test --test readme`.

use number_manager::state::table;

const BEGIN: &str = "<!-- state-diagram:begin (generated from state::table::mermaid; do not edit) -->\n```mermaid\n";
const END: &str = "\n```\n<!-- state-diagram:end -->";

#[test]
fn readme_state_diagram_matches_the_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let start = readme
        .find(BEGIN)
        .expect("README has the state-diagram begin marker")
        + BEGIN.len();
    let end = readme[start..]
        .find(END)
        .expect("README has the state-diagram end marker")
        + start;
    let generated = table::mermaid();
    if readme[start..end] != generated {
        if std::env::var_os("UPDATE_README").is_some() {
            let updated = format!("{}{}{}", &readme[..start], generated, &readme[end..]);
            std::fs::write(path, updated).expect("write README.md");
        } else {
            panic!(
                "README state diagram is stale; run `UPDATE_README=1 cargo test --test readme`.\nExpected:\n{generated}"
            );
        }
    }
}

#[test]
fn diagram_has_an_edge_per_table_row() {
    let diagram = table::mermaid();
    for t in table::TRANSITIONS {
        let from = format!("    {} --> ", t.from.as_str());
        assert!(
            diagram
                .lines()
                .any(|l| l.starts_with(&from) && l.contains(t.action.label())),
            "no edge for {:?} from {:?}",
            t.action,
            t.from
        );
    }
}
