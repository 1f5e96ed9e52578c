//! The feature table of the crate documentation (the `//!` block of
//! src/lib.rs, section "Features") names exactly the features of
//! Cargo.toml, and its "default" column says which are on by default.

use std::collections::BTreeMap;

const MANIFEST: &str = include_str!("../Cargo.toml");
const LIB: &str = include_str!("../src/lib.rs");

/// The `[features]` table of Cargo.toml: name → members (one-line arrays, as
/// Cargo writes them and as this manifest keeps them).
fn manifest_features() -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut inside = false;
    for line in MANIFEST.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            inside = t == "[features]";
            continue;
        }
        if !inside || t.is_empty() || t.starts_with('#') {
            continue;
        }
        let (name, value) = t.split_once('=').unwrap_or_else(|| panic!("a [features] line without '=': {line}"));
        let value = value.trim();
        assert!(value.starts_with('[') && value.ends_with(']'), "feature '{}' is not a one-line array: {value}", name.trim());
        let members = value[1..value.len() - 1]
            .split(',')
            .map(|m| m.trim().trim_matches('"').to_string())
            .filter(|m| !m.is_empty())
            .collect();
        out.insert(name.trim().trim_matches('"').to_string(), members);
    }
    out
}

/// The rows of the table under "## Features" in the crate docs: name → default ("yes"/"no").
fn documented_features() -> BTreeMap<String, String> {
    let doc: Vec<&str> = LIB.lines().take_while(|l| l.starts_with("//!")).map(|l| l.trim_start_matches("//!").trim()).collect();
    let start = doc.iter().position(|l| *l == "## Features").expect("the crate docs have a '## Features' section");
    let mut out = BTreeMap::new();
    for l in doc[start + 1..].iter().skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
        if cells[0] == "feature" || cells[0].starts_with("---") {
            continue;
        }
        assert!(cells.len() >= 3, "a feature row needs name, default, description: {l}");
        let name = cells[0].trim_matches('`').to_string();
        assert!(!out.contains_key(&name), "feature '{name}' is listed twice");
        out.insert(name, cells[1].to_string());
    }
    out
}

#[test]
fn the_feature_table_matches_cargo_toml() {
    let manifest = manifest_features();
    let documented = documented_features();
    let defaults = manifest.get("default").cloned().unwrap_or_default();
    assert!(!documented.is_empty(), "the feature table of src/lib.rs is empty");
    for name in manifest.keys().filter(|n| *n != "default") {
        assert!(documented.contains_key(name), "Cargo.toml has feature '{name}', the crate docs' feature table (src/lib.rs) does not");
    }
    for (name, default) in &documented {
        assert!(manifest.contains_key(name), "the crate docs list feature '{name}', Cargo.toml has no such feature");
        let on = defaults.contains(name);
        let says = match default.as_str() {
            "yes" => true,
            "no" => false,
            other => panic!("feature '{name}': the default column says '{other}', expected yes or no"),
        };
        assert_eq!(says, on, "feature '{name}': the docs say default = {default}, Cargo.toml's default list is {defaults:?}");
    }
}

#[test]
fn the_parsers_see_something() {
    let m = manifest_features();
    assert!(m.contains_key("default"), "Cargo.toml has a default feature list");
    assert!(m.contains_key("faer"));
}
