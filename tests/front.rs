//! The front of the `dspgd` program: `demo` and `bias` write their SVG,
//! JSON and CSV records, the SVG is well-formed XML naming every series,
//! and the implicit-bias experiment shows what SPEC §4 says it must.
#![cfg(feature = "cli")]

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_dspgd");


fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("the dspgd binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "stdout:\n{}\nstderr:\n{}", text(&out.stdout), text(&out.stderr));
}

// ------------------------------------------------ a small XML checker

/// What a well-formed document holds: the root element's name, and the
/// text of every `<text>` element (entities decoded, whitespace trimmed).
#[derive(Debug)]
struct Xml {
    root: String,
    texts: Vec<String>,
}

fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_alphabetic() || f == '_' || f == ':') && c.all(|ch| ch.is_alphanumeric() || "_:-.".contains(ch))
}

/// Decodes the five predefined entities and numeric references; an `&`
/// that starts none of them is an error.
fn decode(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let j = rest[i..].find(';').ok_or_else(|| format!("unterminated entity in {s:?}"))?;
        let ent = &rest[i + 1..i + j];
        out.push(match ent {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ if ent.starts_with("#x") => u32::from_str_radix(&ent[2..], 16).ok().and_then(char::from_u32).ok_or(format!("bad reference &{ent};"))?,
            _ if ent.starts_with('#') => ent[1..].parse::<u32>().ok().and_then(char::from_u32).ok_or(format!("bad reference &{ent};"))?,
            _ => return Err(format!("unknown entity &{ent};")),
        });
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Checks the attributes of a start tag: `name="value"` or `name='value'`,
/// separated by whitespace, names unique, values free of `<`.
fn check_attrs(s: &str) -> Result<(), String> {
    let mut seen = vec![];
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or_else(|| format!("attribute without '=' in {s:?}"))?;
        let name = rest[..eq].trim();
        if !is_name(name) {
            return Err(format!("bad attribute name {name:?}"));
        }
        if seen.contains(&name) {
            return Err(format!("attribute {name} twice"));
        }
        seen.push(name);
        let after = rest[eq + 1..].trim_start();
        let q = after.chars().next().ok_or("attribute without a value")?;
        if q != '"' && q != '\'' {
            return Err(format!("unquoted value of {name}"));
        }
        let end = after[1..].find(q).ok_or_else(|| format!("unterminated value of {name}"))?;
        let value = &after[1..1 + end];
        if value.contains('<') {
            return Err(format!("'<' in the value of {name}"));
        }
        decode(value)?;
        rest = &after[end + 2..];
        if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
            return Err(format!("no space after the value of {name}"));
        }
        rest = rest.trim_start();
    }
    Ok(())
}

/// A well-formedness check of an XML document (enough of XML 1.0 for SVG:
/// an optional declaration, comments, elements, attributes, text, the
/// predefined entities; no DTD, CDATA or processing instructions past the
/// declaration).
fn parse_xml(doc: &str) -> Result<Xml, String> {
    let mut rest = doc;
    if let Some(r) = rest.strip_prefix("<?xml") {
        let end = r.find("?>").ok_or("unterminated XML declaration")?;
        if !r[..end].contains("version=") {
            return Err("the XML declaration has no version".into());
        }
        rest = &r[end + 2..];
    } else if doc.contains("<?xml") {
        return Err("an XML declaration that is not at the very start".into());
    }
    let mut stack: Vec<String> = vec![];
    let mut root: Option<String> = None;
    let mut texts = vec![];
    let mut current_text: Option<String> = None;
    loop {
        let lt = rest.find('<');
        let chunk = &rest[..lt.unwrap_or(rest.len())];
        if chunk.contains('>') && stack.is_empty() {
            return Err("stray '>' outside the root".into());
        }
        let decoded = decode(chunk)?;
        if stack.is_empty() && !decoded.trim().is_empty() {
            return Err(format!("text outside the root element: {:?}", decoded.trim()));
        }
        if let Some(t) = current_text.as_mut() {
            t.push_str(&decoded);
        }
        let Some(lt) = lt else { break };
        rest = &rest[lt..];
        if let Some(r) = rest.strip_prefix("<!--") {
            let end = r.find("-->").ok_or("unterminated comment")?;
            rest = &r[end + 3..];
            continue;
        }
        let gt = rest.find('>').ok_or("unterminated tag")?;
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if tag.contains('<') {
            return Err(format!("'<' inside the tag <{tag}>"));
        }
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim_end();
            let open = stack.pop().ok_or_else(|| format!("</{name}> closes nothing"))?;
            if open != name {
                return Err(format!("</{name}> closes <{open}>"));
            }
            if name == "text" {
                texts.push(current_text.take().unwrap_or_default().trim().to_string());
            }
            continue;
        }
        let (body, self_closing) = match tag.strip_suffix('/') {
            Some(b) => (b, true),
            None => (tag, false),
        };
        let name_end = body.find(char::is_whitespace).unwrap_or(body.len());
        let name = &body[..name_end];
        if !is_name(name) {
            return Err(format!("bad element name {name:?}"));
        }
        check_attrs(&body[name_end..])?;
        if stack.is_empty() {
            if root.is_some() {
                return Err(format!("a second root element <{name}>"));
            }
            root = Some(name.to_string());
        }
        if !self_closing {
            if name == "text" {
                current_text = Some(String::new());
            }
            stack.push(name.to_string());
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!("<{open}> is never closed"));
    }
    Ok(Xml { root: root.ok_or("no root element")?, texts })
}

#[test]
fn the_xml_checker_catches_what_it_should() {
    let good = "<?xml version=\"1.0\"?>\n<svg a=\"1\" b='x &amp; y'><!-- c --><g><text x=\"0\">\n  hi &lt;3\n</text></g><path d=\"M0 0\"/></svg>\n";
    let x = parse_xml(good).unwrap();
    assert_eq!(x.root, "svg");
    assert_eq!(x.texts, vec!["hi <3"]);
    for bad in [
        "<svg><g></svg>",
        "<svg></g></svg>",
        "<svg a=1></svg>",
        "<svg a=\"1\" a=\"2\"></svg>",
        "<svg>&nbsp;</svg>",
        "<svg></svg><svg></svg>",
        "text<svg></svg>",
        "<svg><g>",
        " <?xml version=\"1.0\"?><svg/>",
        "<svg a=\"<\"></svg>",
    ] {
        assert!(parse_xml(bad).is_err(), "accepted {bad:?}");
    }
}

/// Reads an SVG, checks it is a well-formed standalone document with an
/// `<svg>` root, and returns its text labels.
fn svg_texts(path: &Path) -> Vec<String> {
    let doc = std::fs::read_to_string(path).unwrap();
    assert!(doc.starts_with("<?xml version=\"1.0\""), "{} has no XML declaration", path.display());
    let xml = parse_xml(&doc).unwrap_or_else(|e| panic!("{} is not well-formed XML: {e}", path.display()));
    assert_eq!(xml.root, "svg");
    assert!(doc.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    xml.texts
}

fn has_label(texts: &[String], name: &str) -> bool {
    // A legend entry is the series name, possibly followed by a note such as " (ρ=1.000)".
    texts.iter().any(|t| t == name || t.starts_with(&format!("{name} (")))
}

// ------------------------------------------------------------------ demo

const DEMO_K: [&str; 7] = ["gd", "clip:1", "ngd:1e-2", "spectral:1e-2", "sign", "adam:1e-2", "eclip:0.05"];

#[test]
fn demo_writes_a_plot_and_a_record() {
    let dir = TempDir::new("demo");
    let d = dir.0.to_str().unwrap();
    let out = run(&["demo", "--n", "30", "--d", "150", "--k", "2", "--seed", "3", "--out-dir", d]);
    ok(&out);
    assert_eq!(dir.files(), vec!["demo.json", "demo.svg"], "only the two outputs, no temporary files");
    let stdout = text(&out.stdout);
    for col in ["K", "class", "step rule", "iters", "rel.res", "‖W−W_GD‖", "ρ", "seconds", "iters/s", "backend/path"] {
        assert!(stdout.contains(col), "the table has no column {col}:\n{stdout}");
    }
    assert!(stdout.contains("land on W_GD") && stdout.contains("land on another interpolator"), "{stdout}");

    let texts = svg_texts(&dir.path("demo.svg"));
    for k in DEMO_K {
        assert!(has_label(&texts, k), "no legend entry for {k} in {texts:?}");
    }
    assert!(texts.iter().any(|t| t == "iteration"), "no x axis label in {texts:?}");
    assert!(texts.iter().any(|t| t.starts_with("relative residual")), "no y axis label in {texts:?}");

    let json: Value = serde_json::from_str(&std::fs::read_to_string(dir.path("demo.json")).unwrap()).unwrap();
    assert_eq!(json["problem"]["n"], 30);
    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.iter().map(|r| r["precond"].as_str().unwrap()).collect::<Vec<_>>(), DEMO_K);
    for r in runs {
        let its = r["history"]["iteration"].as_array().unwrap();
        let res = r["history"]["rel_residual"].as_array().unwrap();
        assert!(its.len() >= 2 && its.len() == res.len(), "{r}");
        assert_eq!(its.last().unwrap().as_u64().unwrap(), r["iterations"].as_u64().unwrap(), "the history ends at the last iteration");
        assert_eq!(r["stop_reason"], "converged", "{r}");
        let rho = r["rho"].as_f64().unwrap();
        match r["class"].as_str().unwrap() {
            "isotropic" | "right-invariant" => assert!((rho - 1.0).abs() < 1e-6, "{r}"),
            _ => assert!(rho > 1.0 + 1e-6, "{r}"),
        }
    }
}

#[test]
fn demo_rejects_an_underparameterized_problem() {
    let out = run(&["demo", "--n", "50", "--d", "20"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("n ≤ d"), "{}", text(&out.stderr));
}

// ------------------------------------------------------------------ bias

const BIAS_COLUMNS: &str =
    "precond,class,role,eta,eta_fraction,eta_bound,iterations,stop_reason,rel_residual,rho,dist_to_wgd,dist_to_eta_min,row_space_residual,seconds";

#[test]
fn bias_writes_csv_json_and_plot_and_shows_the_implicit_bias() {
    let dir = TempDir::new("bias");
    let d = dir.0.to_str().unwrap();
    let out = run(&["bias", "--n", "30", "--d", "150", "--k", "2", "--fracs", "0.1,0.3,0.9", "--out-dir", d]);
    ok(&out);
    assert_eq!(dir.files(), vec!["bias.csv", "bias.json", "bias.svg"]);

    // CSV: the header, then 3 step sizes for each of the two K.
    let csv = std::fs::read_to_string(dir.path("bias.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), BIAS_COLUMNS);
    let cols: Vec<&str> = BIAS_COLUMNS.split(',').collect();
    let col = |name: &str| cols.iter().position(|c| *c == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 6, "{csv}");
    for r in &rows {
        assert_eq!(r.len(), cols.len(), "{r:?}");
        assert_eq!(r[col("stop_reason")], "converged", "{r:?}");
    }
    let num = |r: &Vec<&str>, c: &str| r[col(c)].parse::<f64>().unwrap_or_else(|_| panic!("{c} = {:?}", r[col(c)]));
    let studied: Vec<&Vec<&str>> = rows.iter().filter(|r| r[col("role")] == "studied").collect();
    let control: Vec<&Vec<&str>> = rows.iter().filter(|r| r[col("role")] == "control").collect();
    assert_eq!((studied.len(), control.len()), (3, 3));
    for r in &studied {
        assert_eq!((r[col("precond")], r[col("class")]), ("adam:0.1", "separable"));
        assert!(num(r, "rho") > 1.0 + 1e-6, "a separable K lands farther than W_GD: {r:?}");
        assert!(num(r, "dist_to_wgd") > 1e-3, "{r:?}");
    }
    for r in &control {
        assert_eq!((r[col("precond")], r[col("class")]), ("gd", "isotropic"));
        assert!((num(r, "rho") - 1.0).abs() <= 1e-6, "the isotropic control lands on W_GD: {r:?}");
        assert!(num(r, "dist_to_wgd") <= 1e-6, "{r:?}");
        assert!(num(r, "dist_to_eta_min") <= 1e-6, "{r:?}");
    }
    // The grid: fractions of each K's bound, in increasing order; η_min's own distance is 0.
    for group in [&studied, &control] {
        let fr: Vec<f64> = group.iter().map(|r| num(r, "eta_fraction")).collect();
        for (f, want) in fr.iter().zip([0.1, 0.3, 0.9]) {
            assert!((f - want).abs() < 1e-12, "{fr:?}");
        }
        assert_eq!(num(group[0], "dist_to_eta_min"), 0.0);
        let bound = num(group[0], "eta_bound");
        assert!((num(group[2], "eta") - 0.9 * bound).abs() <= 1e-12 * bound);
    }
    // The separable limit moves with η.
    assert!(num(studied[2], "dist_to_eta_min") > 1e-6, "{:?}", studied[2]);

    let json: Value = serde_json::from_str(&std::fs::read_to_string(dir.path("bias.json")).unwrap()).unwrap();
    assert_eq!(json["runs"].as_array().unwrap().len(), 6);
    assert_eq!(json["grid"]["kind"], "fraction_of_bound");
    assert_eq!(json["preconds"][1]["role"], "control");

    let texts = svg_texts(&dir.path("bias.svg"));
    for name in ["adam:0.1", "gd (control)"] {
        assert_eq!(texts.iter().filter(|t| *t == name).count(), 2, "one legend entry for {name} in each panel: {texts:?}");
    }
    assert!(texts.iter().any(|t| t == "step size η"), "{texts:?}");

    let stdout = text(&out.stdout);
    assert!(stdout.contains("moves with the step") && stdout.contains("the limit is W_GD whatever the step"), "{stdout}");
}

#[test]
fn bias_takes_absolute_step_sizes_and_another_control() {
    let dir = TempDir::new("bias-lrs");
    let d = dir.0.to_str().unwrap();
    let out = run(&[
        "bias", "--n", "20", "--d", "80", "--k", "1", "--precond", "eclip:0.02", "--control", "clip:1", "--lrs", "0.2,0.1", "--out-dir", d,
    ]);
    ok(&out);
    let csv = std::fs::read_to_string(dir.path("bias.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 4);
    // Sorted ascending, the same absolute η for both K.
    assert!(rows[0].starts_with("eclip:0.02,separable,studied,1e-1,"), "{csv}");
    assert!(rows[3].starts_with("clip:1,isotropic,control,2e-1,"), "{csv}");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(dir.path("bias.json")).unwrap()).unwrap();
    assert_eq!(json["grid"]["kind"], "absolute");
}

#[test]
fn bias_refuses_what_it_cannot_run() {
    // A non-smooth K has no stability bound and does not converge with a constant step.
    let out = run(&["bias", "--precond", "sign"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--precond") && text(&out.stderr).contains("not smooth"), "{}", text(&out.stderr));
    // Unknown specs, bad lists, both kinds of grid at once.
    for args in [
        vec!["bias", "--precond", "adam"],
        vec!["bias", "--fracs", "0.1,x"],
        vec!["bias", "--lrs", "-1"],
        vec!["bias", "--lrs", "0.1", "--fracs", "0.2"],
        vec!["bias", "--n", "10", "--d", "5"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
    }
    // An unwritable --out-dir is refused before any solve, and nothing is written.
    let dir = TempDir::new("bias-missing");
    let missing = dir.path("no/such/folder");
    let out = run(&["bias", "--n", "10", "--d", "40", "--out-dir", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(dir.files().is_empty());
}

#[test]
fn without_a_terminal_there_is_no_progress_bar() {
    // stderr is a pipe here: no bar, no control characters.
    let dir = TempDir::new("quiet");
    let out = run(&["bias", "--n", "20", "--d", "80", "--k", "1", "--fracs", "0.5", "--out-dir", dir.0.to_str().unwrap()]);
    ok(&out);
    assert!(!text(&out.stderr).contains('\x1b') && !text(&out.stderr).contains('\r'), "{:?}", text(&out.stderr));
}
