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
