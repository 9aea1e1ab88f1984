//! `Api::handle` on a memory-backed manager: any request script gets
//! well-formed envelopes with documented statuses, never a panic, and no 5xx
//! except a scripted carrier or E911 fault. See `src/api.rs` for the script.
#![no_main]

use libfuzzer_sys::fuzz_target;
use number_manager_fuzz::api::{check, run, World};

fuzz_target!(|data: &[u8]| {
    let script = String::from_utf8_lossy(data);
    let mut world = World::new();
    for (head, request, answer) in run(&script, &mut world) {
        if let Err(why) = check(&request, &answer, world.faulted) {
            panic!("{head}: {why}\n{}", String::from_utf8_lossy(&answer.body));
        }
    }
});
