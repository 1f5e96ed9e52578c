//! Every `unsafe` block and `unsafe impl` in the workspace carries a
//! `// SAFETY:` comment (STYLE.md practice 12; issue 6, item 6): the comment
//! must open within the 20 lines before it (the long ones list several
//! conditions) or on the same line.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&p, out);
            }
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_unsafe_block_has_a_safety_comment() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    for dir in ["src", "backends", "tests", "benches", "examples"] {
        if root.join(dir).is_dir() {
            rust_files(&root.join(dir), &mut files);
        }
    }
    let this = Path::new(file!()).file_name().unwrap();
    let (mut seen, mut missing) = (0, vec![]);
    for f in files.iter().filter(|f| f.file_name() != Some(this)) {
        let text = std::fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let is_block = code.contains("unsafe {") || code.trim_end().ends_with("unsafe") || code.contains("unsafe impl");
            if !is_block {
                continue;
            }
            seen += 1;
            if !lines[i.saturating_sub(20)..=i].iter().any(|l| l.contains("SAFETY:")) {
                missing.push(format!("{}:{}: {}", f.strip_prefix(root).unwrap().display(), i + 1, line.trim()));
            }
        }
    }
    assert!(seen >= 10, "found only {seen} unsafe blocks: is the scan looking in the right place?");
    assert!(missing.is_empty(), "unsafe without a // SAFETY: comment:\n{}", missing.join("\n"));
    eprintln!("{seen} unsafe blocks and impls, all with a SAFETY comment");
}
