//! The pictures: `repro run --svg`, `repro report` (checked by a real XML
//! parser: every link lands, every cell has its record, nothing is fetched
//! from elsewhere), both drawn by headless Chromium and looked at (size, not
//! blank, the matrix's colours there), and every Mermaid diagram in the
//! tree rendered by mermaid-cli (`ci/diagrams.sh`; a broken one fails).
//!
//! Chromium and mermaid-cli come from `make setup` (ci/browser.sh). Where
//! they could not be installed (not root, no apt), the browser tests say so
//! and skip; under CI=true they must be there. Both browser tests are
//! ignored in a plain `cargo test` (seconds of CPU each); `make test` runs
//! them.

use crate::util::{Ran, repro};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Parses a page or picture we wrote (well-formed XML by design; the
/// doctype line is HTML's, not XML's).
fn parse(text: &str) -> roxmltree::Document<'_> {
    let body = text.strip_prefix("<!DOCTYPE html>\n").unwrap_or(text);
    roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("not well-formed: {e}"))
}

#[test]
fn run_svg_draws_each_case() {
    // The book ran every case with --svg.
    let book = crate::book::book();
    for runtime in ["rust", "python", "embedded"] {
        let file = book
            .svg
            .join(format!("fork-held-lock.{runtime}.broken.svg"));
        let view = book.view("fork-held-lock", runtime, "broken");
        assert!(
            view.contains(&format!("picture: {}", file.display())),
            "{view}"
        );
        let svg = std::fs::read_to_string(&file).unwrap();
        let doc = parse(&svg);
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        for want in [
            "parent",
            "child",
            "locking",
            "✗ misbehaved: child-deadlock (as expected)",
        ] {
            assert!(
                texts.iter().any(|t| t.contains(want)),
                "{runtime}: {want:?} not in the picture: {texts:?}"
            );
        }
        // The step that shows the bug (scenario.toml's [[trace]]) stands out.
        assert!(
            doc.descendants()
                .any(|n| n.attribute("font-weight") == Some("bold")
                    && n.text().is_some_and(|t| t.contains("locking"))),
            "{runtime}: the child's locking step is not drawn bold"
        );
    }
}

/// `repro report` on the suite's small canary (crate::canary::small: one
/// drift cell), into `dir`, and nothing else: with an empty project root
/// (REPRO_ROOT), so that a kernel canary's or a bench's report left in
/// target/ by an earlier `make canary-kernels` or `make bench` is not
/// drawn too. Returns the page's path.
fn report_of_the_small_canary(dir: &Path) -> PathBuf {
    let canary = &crate::canary::small().out;
    let page = dir.join("report").join("index.html");
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let ran = crate::util::repro_env(
        &[
            "report",
            "--canary",
            canary.join("matrix.json").to_str().unwrap(),
            "--out",
            page.to_str().unwrap(),
        ],
        &[("REPRO_ROOT", root.to_str().unwrap())],
    );
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
    assert!(ran.stdout().contains("1 drift"), "{}", ran.show());
    page
}

#[test]
fn the_report_links_every_cell_to_its_record_and_fetches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let page = report_of_the_small_canary(dir.path());
    let html = std::fs::read_to_string(&page).unwrap();
    let doc = parse(&html);
    let matrix: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate::canary::small().out.join("matrix.json")).unwrap(),
    )
    .unwrap();
    let cells = matrix["cells"].as_array().unwrap().len();
    assert!(cells >= 2, "{matrix}");

    let ids: HashSet<&str> = doc
        .descendants()
        .filter_map(|n| n.attribute("id"))
        .collect();
    let mut links = 0;
    for n in doc.descendants() {
        for attr in ["href", "src", "xlink:href"] {
            let Some(v) = n.attribute(attr) else { continue };
            let target = v.strip_prefix('#').unwrap_or_else(|| {
                panic!("<{}> {attr}={v:?}: only in-page links", n.tag_name().name())
            });
            assert!(ids.contains(target), "broken link {v:?}");
            links += 1;
        }
    }
    assert!(
        !html.contains("url(http") && !html.contains("@import"),
        "nothing fetched by CSS"
    );

    // One linked cell per record, one record per cell of matrix.json.
    let cell_links: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class").is_some_and(|c| c.starts_with("cell ")))
        .filter_map(|td| td.first_element_child().and_then(|a| a.attribute("href")))
        .collect();
    let records: Vec<roxmltree::Node<'_, '_>> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("record"))
        .collect();
    assert_eq!(cell_links.len(), cells);
    assert_eq!(records.len(), cells);
    assert!(links >= 2 * cells, "cells and their ↑ links: {links}");
    // The drift is shown as such, in words too, and its record says why;
    // every record with a timeline carries its picture.
    let drift_cells = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("cell drift"))
        .count();
    assert_eq!(drift_cells, 1);
    assert!(html.contains("✗ drift"));
    assert!(html.contains("DRIFT: "));
    let pictures = records
        .iter()
        .filter(|r| r.descendants().any(|n| n.tag_name().name() == "svg"))
        .count();
    assert_eq!(
        pictures, cells,
        "every python case of fork-stdio-duplicate has a timeline"
    );
}

#[test]
fn report_without_a_canary_says_how_to_get_one() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("matrix.json");
    let ran = repro(&["report", "--canary", missing.to_str().unwrap()]);
    assert_eq!(ran.code(), Some(2), "{}", ran.show());
    assert!(ran.stderr().contains("matrix.json"), "{}", ran.show());
}

/// Debian's chromium, or None with the reason printed (never under CI).
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("chromium"))
            .find(|c| c.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").is_err(),
            "CI=true but no chromium: make setup (ci/browser.sh) installs it"
        );
        eprintln!("SKIPPED: no chromium on PATH (ci/browser.sh installs it, as root)");
    }
    found
}

/// A screenshot of `url` at `w`x`h` in headless Chromium: the decoded RGBA
/// pixels, and how long Chromium took.
fn screenshot(chromium: &Path, url: &str, w: u32, h: u32) -> (png::OutputInfo, Vec<u8>, f64) {
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("shot.png");
    let start = Instant::now();
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--window-size={w},{h}"))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(url)
        .output()
        .unwrap();
    let took = start.elapsed().as_secs_f64();
    assert!(
        shot.is_file(),
        "chromium wrote no screenshot: {}",
        Ran {
            cmd: format!("chromium {url}"),
            output: out
        }
        .show()
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info, buf, took)
}

/// Pixels as RGB triples, whatever the PNG's colour type.
fn rgb(info: &png::OutputInfo, buf: &[u8]) -> Vec<[u8; 3]> {
    let n = info.color_type.samples();
    buf.chunks(n).map(|p| [p[0], p[1 % n], p[2 % n]]).collect()
}

fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 12)
}

#[test]
#[ignore = "starts headless Chromium twice (seconds of CPU); make test runs it"]
fn chromium_shows_the_report_and_a_timeline() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let page = report_of_the_small_canary(dir.path());

    let (info, buf, took) = screenshot(&chromium, &format!("file://{}", page.display()), 1280, 900);
    assert_eq!((info.width, info.height), (1280, 900));
    let px = rgb(&info, &buf);
    let white = px.iter().filter(|p| near(**p, [255, 255, 255])).count();
    let green = px.iter().filter(|p| near(**p, [0x2e, 0x7d, 0x32])).count();
    let red = px.iter().filter(|p| near(**p, [0xc6, 0x28, 0x28])).count();
    assert!(
        white < px.len() * 98 / 100,
        "blank: {white} of {} white",
        px.len()
    );
    assert!(
        green > 500 && red > 500,
        "the matrix's cells: {green} green, {red} red pixels"
    );
    eprintln!("report: 1280x900 screenshot in {took:.2} s; {green} green, {red} red pixels");

    // One timeline, alone: drawn, with its red verdict banner.
    let svg = dir.path().join("pictures");
    let ran = repro(&[
        "run",
        "shared-epoll",
        "--runtime",
        "rust",
        "--variant",
        "broken",
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
    let file = svg.join("shared-epoll.rust.broken.svg");
    let (info, buf, took) = screenshot(&chromium, &format!("file://{}", file.display()), 800, 600);
    assert_eq!((info.width, info.height), (800, 600));
    let px = rgb(&info, &buf);
    let dark = px.iter().filter(|p| p.iter().all(|c| *c < 80)).count();
    let red = px.iter().filter(|p| near(**p, [0xc6, 0x28, 0x28])).count();
    assert!(dark > 1000 && red > 1000, "text {dark} px, banner {red} px");
    eprintln!("timeline: 800x600 screenshot in {took:.2} s");
}

/// The ```mermaid blocks in the tree's Markdown (tracked files).
fn mermaid_blocks() -> Vec<(PathBuf, usize)> {
    let out = Command::new("git")
        .args(["ls-files", "*.md"])
        .current_dir(root())
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|f| root().join(f))
        .filter_map(|f| {
            let n = std::fs::read_to_string(&f)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.trim_end() == "```mermaid")
                .count();
            (n > 0).then_some((f, n))
        })
        .collect()
}

fn diagrams(out: &Path, files: &[&Path]) -> Ran {
    let mut cmd = Command::new(root().join("ci/diagrams.sh"));
    cmd.arg("--out").arg(out).args(files);
    Ran {
        cmd: format!("{cmd:?}"),
        output: cmd.output().unwrap(),
    }
}

/// Ignored in a plain `cargo test` (a browser start per file, about 2 s
/// each); `make test` runs it.
#[test]
#[ignore = "slow: make test runs it"]
fn every_mermaid_diagram_in_the_tree_renders_and_a_broken_one_fails() {
    if chromium().is_none() {
        return;
    }
    let blocks = mermaid_blocks();
    let want: usize = blocks.iter().map(|b| b.1).sum();
    assert!(want >= 6, "every lesson has a diagram: {blocks:?}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("all");
    let files: Vec<&Path> = blocks.iter().map(|b| b.0.as_path()).collect();
    let ran = diagrams(&out, &files);
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
    let svgs: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .collect();
    assert_eq!(svgs.len(), want, "one SVG per block: {}", ran.show());
    for svg in &svgs {
        let text = std::fs::read_to_string(svg).unwrap();
        let doc =
            roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", svg.display()));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(
            doc.descendants()
                .filter(|n| n.tag_name().name() == "text")
                .count()
                > 3,
            "{}: no text drawn",
            svg.display()
        );
    }

    // A diagram that does not parse fails the run, naming its file.
    let bad = dir.path().join("bad.md");
    std::fs::write(
        &bad,
        "# bad\n\n```mermaid\nsequenceDiagram\n    P->>P: close(w); poll(r)\n```\n",
    )
    .unwrap();
    let ran = diagrams(&dir.path().join("bad"), &[&bad]);
    assert_eq!(ran.code(), Some(1), "{}", ran.show());
    assert!(
        ran.stderr()
            .contains(&format!("{} does not render", bad.display())),
        "{}",
        ran.show()
    );
}
