//! The guide's `{{#include file:anchor}}` directives point at code that exists, so that the guide
//! shows the real, compiled source.

use std::path::{Path, PathBuf};

fn guide_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guide/src")
}

#[test]
fn every_include_directive_resolves_to_an_anchored_region() {
    let mut checked = 0;
    for entry in std::fs::read_dir(guide_dir()).expect("guide/src") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a chapter");
        for directive in text.split("{{#include ").skip(1) {
            let target = directive
                .split("}}")
                .next()
                .expect("a closed directive")
                .trim();
            let (file, anchor) = target.split_once(':').unwrap_or((target, ""));
            let source = guide_dir().join(file);
            let code = std::fs::read_to_string(&source).unwrap_or_else(|e| {
                panic!(
                    "{}: includes {}, which cannot be read: {e}",
                    path.display(),
                    source.display()
                )
            });
            if !anchor.is_empty() {
                for marker in [format!("ANCHOR: {anchor}"), format!("ANCHOR_END: {anchor}")] {
                    assert!(
                        code.contains(&marker),
                        "{}: includes {file}:{anchor}, but {file} has no `{marker}`",
                        path.display()
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "the quick start includes the real sync, config and finalize code"
    );
}

/// The README promises two commands; CI must run the very same test command.
#[test]
fn ci_runs_the_readme_test_command() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let commands: Vec<&str> = readme
        .split("```sh\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .map(str::trim)
        .collect();
    assert_eq!(
        commands,
        [
            "cargo run -p echo-server",
            "cargo test --workspace --all-features"
        ],
        "the README shows exactly the run and the test command"
    );
    let ci = std::fs::read_to_string(root.join(".ci/run")).expect(".ci/run");
    assert!(
        ci.lines().any(|line| line.trim() == commands[1]),
        ".ci/run must run the README's test command `{}`",
        commands[1]
    );
}
