//! The guide reads the same on GitHub (plain markdown, from the README's links) as in mdBook,
//! its links resolve, its chapters are all in the book, and every Rust sample in it is checked.
//!
//! Code the guide shows from the repository's sources is a *copy* in the chapter, marked
//! `<!-- copy of PATH:ANCHOR -->` and checked here against the `ANCHOR: name` ... `ANCHOR_END:
//! name` region of PATH. An mdBook `{{#include}}` would keep one copy only, but it shows as a raw
//! directive when the chapter is read as markdown. After changing an anchored region, refresh the
//! copies with `GUIDE_BLESS=1 cargo test -p echo-server --test guide`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn guide_dir() -> PathBuf {
    root().join("guide/src")
}

/// `path` as the repository names it, for messages.
fn shown(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The chapters, by file name, in directory order.
fn chapters() -> Vec<(String, String)> {
    let mut chapters: Vec<(String, String)> = std::fs::read_dir(guide_dir())
        .expect("guide/src")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, read(&path))
        })
        .collect();
    chapters.sort();
    chapters
}

/// A fenced code block: the info string after the fence, its lines, and where they are.
struct Block {
    info: String,
    /// Index of the first line after the opening fence.
    start: usize,
    /// Index of the closing fence.
    end: usize,
}

fn code_blocks(lines: &[&str]) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, usize)> = None;
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        match &open {
            None if trimmed.starts_with("```") => {
                open = Some((trimmed.trim_start_matches('`').trim().to_string(), i + 1));
            }
            Some((info, start)) if trimmed == "```" => {
                blocks.push(Block {
                    info: info.clone(),
                    start: *start,
                    end: i,
                });
                open = None;
            }
            _ => {}
        }
    }
    assert!(open.is_none(), "a code block is not closed");
    blocks
}

/// The lines between `ANCHOR: name` and `ANCHOR_END: name` of `source`, without other anchor
/// markers, less their common indentation (what mdBook's `{{#include file:name}}` shows, minus
/// the indentation of a region inside an `impl`).
fn anchored_region(source: &str, anchor: &str) -> Option<Vec<String>> {
    let start = format!("ANCHOR: {anchor}");
    let end = format!("ANCHOR_END: {anchor}");
    let lines: Vec<&str> = source.lines().collect();
    let first = lines.iter().position(|l| l.trim_end().ends_with(&start))? + 1;
    let last = first
        + lines[first..]
            .iter()
            .position(|l| l.trim_end().ends_with(&end))?;
    let region: Vec<&str> = lines[first..last]
        .iter()
        .copied()
        .filter(|l| !l.contains("ANCHOR: ") && !l.contains("ANCHOR_END: "))
        .collect();
    let indent = region
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    Some(
        region
            .iter()
            .map(|l| l.get(indent..).unwrap_or("").to_string())
            .collect(),
    )
}

const COPY_MARKER: &str = "<!-- copy of ";

/// Every `<!-- copy of PATH:ANCHOR -->` block of a chapter is identical to its source region.
/// With `GUIDE_BLESS=1`, rewrites the copies instead of failing.
#[test]
fn copies_of_source_code_match_their_anchored_regions() {
    let bless = std::env::var_os("GUIDE_BLESS").is_some();
    let mut checked = 0;
    for (name, text) in chapters() {
        let lines: Vec<&str> = text.lines().collect();
        let blocks = code_blocks(&lines);
        let mut rewritten: Vec<String> = Vec::new();
        let mut copied_to = 0;
        for (i, line) in lines.iter().enumerate() {
            let Some(rest) = line.trim().strip_prefix(COPY_MARKER) else {
                continue;
            };
            let target = rest.split([' ', ';']).next().unwrap_or_default();
            let (file, anchor) = target
                .split_once(':')
                .unwrap_or_else(|| panic!("{name}:{}: `{COPY_MARKER}` needs PATH:ANCHOR", i + 1));
            let block = blocks.iter().find(|b| b.start == i + 2).unwrap_or_else(|| {
                panic!(
                    "{name}:{}: a code block must open on the line after `{COPY_MARKER}{target}`",
                    i + 1
                )
            });
            let source = read(&root().join(file));
            let expected = anchored_region(&source, anchor).unwrap_or_else(|| {
                panic!(
                    "{name}:{}: {file} has no region `ANCHOR: {anchor}` ... `ANCHOR_END: {anchor}`",
                    i + 1
                )
            });
            let actual: Vec<String> = lines[block.start..block.end]
                .iter()
                .map(|l| l.to_string())
                .collect();
            if bless {
                rewritten.extend(lines[copied_to..block.start].iter().map(|l| l.to_string()));
                rewritten.extend(expected);
                copied_to = block.end;
            } else {
                assert!(
                    actual == expected,
                    "{name}:{}: the copy of {file}:{anchor} differs from the source.\n\
                     Refresh it with `GUIDE_BLESS=1 cargo test -p echo-server --test guide`.\n\
                     --- in the guide:\n{}\n--- in {file}:\n{}",
                    i + 1,
                    actual.join("\n"),
                    expected.join("\n"),
                );
            }
            checked += 1;
        }
        if bless && copied_to > 0 {
            rewritten.extend(lines[copied_to..].iter().map(|l| l.to_string()));
            std::fs::write(guide_dir().join(&name), rewritten.join("\n") + "\n")
                .expect("rewrite the chapter");
        }
    }
    assert!(
        checked >= 4,
        "the quick start copies the real sync, config and finalize code, the finalizers chapter \
         the finalize code; found {checked} copies"
    );
}

/// mdBook directives (`{{#include ...}}`, `{{#rustdoc_include ...}}`, `{{#playground ...}}`)
/// show raw on GitHub, where the README links the chapters.
#[test]
fn no_chapter_shows_a_raw_mdbook_directive() {
    let mut files = chapters();
    files.push(("README.md".into(), read(&root().join("README.md"))));
    for (name, text) in files {
        for (i, line) in text.lines().enumerate() {
            assert!(
                !line.contains("{{#"),
                "{name}:{}: `{}` shows raw when the chapter is read as markdown; copy the code \
                 into the chapter under a `{COPY_MARKER}PATH:ANCHOR -->` line instead (see \
                 examples/echo-server/tests/guide.rs)",
                i + 1,
                line.trim()
            );
        }
    }
}

/// Markdown links `[text](target)` outside code blocks, with their line numbers.
fn links(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let in_code: BTreeSet<usize> = code_blocks(&lines)
        .iter()
        .flat_map(|b| b.start..b.end)
        .collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if in_code.contains(&i) {
            continue;
        }
        for piece in line.split("](").skip(1) {
            if let Some(end) = piece.find(')') {
                found.push((i + 1, piece[..end].to_string()));
            }
        }
    }
    found
}

/// Heading ids as mdBook and GitHub make them: lower case, spaces to dashes, other punctuation
/// dropped.
fn heading_ids(text: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = text.lines().collect();
    let in_code: BTreeSet<usize> = code_blocks(&lines)
        .iter()
        .flat_map(|b| b.start..b.end)
        .collect();
    lines
        .iter()
        .enumerate()
        .filter(|(i, l)| !in_code.contains(i) && l.starts_with('#'))
        .map(|(_, l)| {
            l.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

/// Relative links from the chapters and the README lead to files that exist (and to headings
/// that exist, for `chapter.md#heading`): on GitHub they are followed as they are.
#[test]
fn relative_links_resolve() {
    let mut files: Vec<(PathBuf, String)> = chapters()
        .into_iter()
        .map(|(name, text)| (guide_dir().join(name), text))
        .collect();
    files.push((root().join("README.md"), read(&root().join("README.md"))));
    let mut checked = 0;
    for (file, text) in &files {
        for (line, link) in links(text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            assert!(
                target.exists(),
                "{}:{line}: the link to `{link}` leads nowhere ({} does not exist)",
                shown(file),
                shown(&target)
            );
            if !anchor.is_empty() && target.extension().is_some_and(|e| e == "md") {
                assert!(
                    heading_ids(&read(&target)).contains(anchor),
                    "{}:{line}: `{link}`: {} has no heading `#{anchor}`",
                    shown(file),
                    shown(&target)
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} links found");
}

/// `SUMMARY.md` is the book's table of contents: every chapter is in it (mdBook leaves the others
/// out of the book without a word), and everything it lists exists.
#[test]
fn the_summary_lists_every_chapter_and_only_chapters_that_exist() {
    let summary = read(&guide_dir().join("SUMMARY.md"));
    let listed: BTreeSet<String> = links(&summary).into_iter().map(|(_, l)| l).collect();
    for chapter in &listed {
        assert!(
            guide_dir().join(chapter).is_file(),
            "SUMMARY.md lists {chapter}, which is not in guide/src"
        );
    }
    for (name, _) in chapters() {
        assert!(
            name == "SUMMARY.md" || listed.contains(&name),
            "guide/src/{name} is not in SUMMARY.md, so the book leaves it out"
        );
    }
}

/// Chapters whose Rust code blocks are checked by something other than doctests, and why.
const CHECKED_ELSEWHERE: &[(&str, &str)] = &[(
    "getting-started.md",
    "its Rust blocks are the files of a new crate (`src/lib.rs` needs the others): \
     .ci/getting-started builds that crate outside the workspace and runs its tests",
)];

/// The example crates whose `src/lib.rs` runs guide chapters as doctests: this one, and the
/// tenant operator for the chapters built on it (decorators, several controllers, its walk
/// through).
const DOCTEST_CRATES: [&str; 2] = ["examples/echo-server", "examples/tenant-operator"];

/// A chapter with ```rust samples is compiled as doctests of an example crate (its `src/lib.rs`
/// includes it), so that no sample goes unchecked.
#[test]
fn every_chapter_with_rust_samples_runs_as_doctests() {
    let libs: Vec<String> = DOCTEST_CRATES
        .iter()
        .map(|krate| read(&root().join(krate).join("src/lib.rs")))
        .collect();
    for (name, text) in chapters() {
        let lines: Vec<&str> = text.lines().collect();
        let has_rust = code_blocks(&lines)
            .iter()
            .any(|b| b.info.split([',', ' ']).any(|t| t == "rust"));
        if !has_rust || CHECKED_ELSEWHERE.iter().any(|(c, _)| *c == name) {
            continue;
        }
        let include = format!("include_str!(\"../../../guide/src/{name}\")");
        assert!(
            libs.iter().any(|lib| lib.contains(&include)),
            "guide/src/{name} has Rust samples, but no src/lib.rs of {DOCTEST_CRATES:?} runs \
             them as doctests: add `#[cfg(doctest)] #[doc = {include}] pub struct ...;` to one"
        );
    }
    let ci = read(&root().join(".ci/run"));
    assert!(
        ci.contains(".ci/getting-started"),
        ".ci/run must run .ci/getting-started, which checks {}",
        CHECKED_ELSEWHERE[0].0
    );
}

/// The version requirement of dependency `name` in a manifest's lines (`name = "1"` or
/// `name = { version = "1", ... }`).
fn requirement<'a>(manifest: &'a str, name: &str) -> Option<&'a str> {
    let line = manifest
        .lines()
        .find(|l| l.split('=').next().is_some_and(|k| k.trim() == name))?;
    let rest = line.split_once('=')?.1.trim();
    let rest = match rest.strip_prefix('"') {
        Some(quoted) => quoted,
        None => rest.split_once("version = \"")?.1,
    };
    rest.split('"').next()
}

/// What Cargo unifies on: the first non-zero component and everything before it ("5.0.0" and
/// "5" both give "5", "0.29.0" gives "0.29").
fn compatibility(requirement: &str) -> String {
    let parts: Vec<&str> = requirement.split('.').collect();
    let first_non_zero = parts
        .iter()
        .position(|p| *p != "0")
        .unwrap_or(parts.len() - 1);
    parts[..=first_non_zero].join(".")
}

/// The getting-started chapter tells readers to depend on this repository, with versions of kube,
/// k8s-openapi and the others that Cargo unifies with the workspace's, and the same k8s-openapi
/// version feature (two would stop the build).
#[test]
fn the_getting_started_dependencies_match_the_workspace() {
    let chapter = read(&guide_dir().join("getting-started.md"));
    let workspace = read(&root().join("Cargo.toml"));
    let lines: Vec<&str> = chapter.lines().collect();
    let caption = lines
        .iter()
        .position(|l| l.trim() == "**`Cargo.toml`**")
        .expect("getting-started.md has a **`Cargo.toml`** block");
    let block = code_blocks(&lines)
        .into_iter()
        .find(|b| b.start > caption)
        .expect("a code block after the caption");
    let dependencies = lines[block.start..block.end].join("\n");

    let repository = requirement(&workspace, "repository").expect("the workspace's repository");
    assert!(
        dependencies.contains(&format!("git = \"{repository}\"")),
        "getting-started.md must take roperator-core from {repository}:\n{dependencies}"
    );
    for name in [
        "kube",
        "k8s-openapi",
        "schemars",
        "serde",
        "serde_json",
        "tokio",
    ] {
        let ours = requirement(&workspace, name).expect("a workspace dependency");
        let theirs = requirement(&dependencies, name)
            .unwrap_or_else(|| panic!("getting-started.md's Cargo.toml lacks {name}"));
        assert_eq!(
            compatibility(theirs),
            compatibility(ours),
            "getting-started.md asks for {name} {theirs}, which Cargo does not unify with the \
             workspace's {ours}"
        );
    }
    let feature_line = |manifest: &str| {
        manifest
            .lines()
            .find(|l| l.starts_with("k8s-openapi"))
            .unwrap_or_default()
            .to_string()
    };
    let version_feature = ["latest", "earliest"]
        .into_iter()
        .map(str::to_string)
        .chain((20..100).map(|minor| format!("v1_{minor}")))
        .find(|f| feature_line(&workspace).contains(&format!("\"{f}\"")))
        .expect("the workspace chooses a k8s-openapi version feature");
    assert!(
        feature_line(&dependencies).contains(&format!("\"{version_feature}\"")),
        "getting-started.md must choose k8s-openapi's `{version_feature}` feature, as \
         roperator-core does"
    );
}

/// The README promises two commands; CI must run the very same test command.
#[test]
fn ci_runs_the_readme_test_command() {
    let readme = read(&root().join("README.md"));
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
    let ci = read(&root().join(".ci/run"));
    assert!(
        ci.lines().any(|line| line.trim() == commands[1]),
        ".ci/run must run the README's test command `{}`",
        commands[1]
    );
}
