//! The dependency rule of docs/architecture.md, checked on the source: each top-level
//! module of `src/` imports only modules of a lower layer (or itself), `AppState` is
//! named only by `app.rs` and `http/`, and nothing outside `http/` and `app.rs`
//! imports from `http`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may import modules of earlier layers only.
const LAYERS: &[&[&str]] = &[
    // Leaf types and plumbing.
    &["types", "ids", "clock", "config", "shutdown", "validation", "cpu"],
    // The dashboard's activity sampler, kept beside the metrics it reads.
    &["activity"],
    &["metrics", "events", "tasks", "telemetry"],
    &["store"],
    // Pure cores and their rules (room and matching hold their pure cores too).
    &["auth", "profile"],
    &["room"],
    &["matching"],
    // Services.
    &["accounts", "moderation"],
    &["realtime"],
    &["http"],
    &["app"],
    // The binary's `duet demo` (declared in main.rs; it uses the library as `duet::`).
    &["demo"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's code without its comments (line comments and doc comments), so prose
/// may name any module.
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::name` the code mentions.
fn crate_paths(code: &str) -> Vec<String> {
    code.match_indices("crate::")
        .map(|(i, _)| code[i + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect())
        .collect()
}

#[test]
fn lower_layers_never_import_higher_ones() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut broken: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
        let module = top.trim_end_matches(".rs").to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let own =
            layer_of(&module).unwrap_or_else(|| panic!("module `{module}` is in no layer of this test"));
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        for dep in crate_paths(&code) {
            if dep == module {
                continue;
            }
            let theirs = layer_of(&dep).unwrap_or_else(|| panic!("`crate::{dep}` is in no layer"));
            if theirs >= own {
                broken.entry(relative.display().to_string()).or_default().push(dep);
            }
        }
        let edge = module == "http" || module == "app";
        if !edge && code.contains("AppState") {
            broken.entry(relative.display().to_string()).or_default().push("AppState".into());
        }
    }
    assert!(broken.is_empty(), "imports against the layers (file: modules): {broken:#?}");
}

#[test]
fn the_check_sees_a_violation() {
    let code = code_of("use crate::http::error::ApiError; // crate::app in a comment\n/// crate::app\n");
    assert_eq!(crate_paths(&code), ["http"]);
}
