//! The HTML report as a browser and an attacker see it: hostile scenario
//! output stays inert text, and in headless Chromium (loaded from disk, no
//! server) the filters and search hide and show rows. The browser test
//! saves a screenshot under target/ (`PARITY_UPDATE_SCREENSHOT=1` also
//! refreshes `docs/report-screenshot.png`, the README's copy). It is skipped where Chromium is not
//! installed, except in CI (`CI=true`), where that is a failure.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use parity::judge::compare::Verdict;
use parity::report::fixture;
use parity::report::{Source, html, write_reports};
use serde_json::{Value, json};

const OUR_TAGS: &[&str] = &[
    "!doctype", "html", "head", "meta", "title", "style", "body", "header", "main", "footer",
    "section", "div", "p", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td",
    "colgroup", "col", "h2", "h3", "h4", "h5", "dl", "dt", "dd", "code", "form", "label", "select",
    "option", "input", "span", "a", "b", "details", "summary", "pre", "mark", "script",
];

/// (tag name, attribute names) of every start tag in `html`.
fn start_tags(html: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        if rest.starts_with('/') {
            continue;
        }
        let end = rest.find('>').expect("every tag closes");
        let inner = &rest[..end];
        // Attribute values are quoted and cannot hold `"` or `>` (escaped).
        let mut names = Vec::new();
        let mut unquoted = String::new();
        for (n, part) in inner.split('"').enumerate() {
            if n % 2 == 0 {
                unquoted.push_str(part);
                unquoted.push(' ');
            }
        }
        let mut words = unquoted.split_whitespace();
        let tag = words.next().unwrap_or("").to_ascii_lowercase();
        for w in words {
            names.push(w.trim_end_matches('=').to_ascii_lowercase());
        }
        out.push((tag, names));
        // Skip the raw text of our own style and script elements.
        for raw in ["style", "script"] {
            if out.last().unwrap().0 == raw {
                let close = format!("</{raw}>");
                rest = &rest[rest.find(&close).expect("raw text element closes")..];
            }
        }
    }
    out
}

#[test]
fn hostile_output_is_inert_and_the_page_still_renders() {
    let doc = fixture::sample();
    let page = html::index_html(&[Source::from_doc(doc.clone())]).unwrap();

    let tags = start_tags(&page);
    let names: BTreeSet<&str> = tags.iter().map(|(t, _)| t.as_str()).collect();
    let foreign: Vec<&&str> = names.iter().filter(|t| !OUR_TAGS.contains(t)).collect();
    assert!(
        foreign.is_empty(),
        "tags not from our templates: {foreign:?}"
    );
    assert_eq!(
        tags.iter().filter(|(t, _)| t == "script").count(),
        1,
        "only our own script"
    );
    assert!(!tags.iter().any(|(t, _)| t == "img"));
    for (tag, attrs) in &tags {
        assert!(
            !attrs.iter().any(|a| a.starts_with("on")),
            "event handler attribute on <{tag}>: {attrs:?}"
        );
    }
    assert!(
        !page.contains("href=\"javascript"),
        "javascript: links are not linked"
    );

    // Control characters never reach the page; they are shown as symbols.
    assert!(!page.contains('\0'), "NUL in the page");
    let controls: Vec<char> = page
        .chars()
        .filter(|c| c.is_control() && *c != '\n' && *c != '\t')
        .collect();
    assert!(controls.is_empty(), "raw control characters: {controls:?}");
    assert!(page.contains("\u{241b}[31mred"), "ESC is shown as ␛");
    assert!(page.contains("\u{2400}nul"), "NUL is shown as ␀");

    // The hostile text is there, as text.
    assert!(page.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
    assert!(page.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    assert!(
        page.contains("data-id=\"hostile&#x2f;output\""),
        "the hostile scenario's row is present"
    );

    // Well-formed enough: the structure balances and every row is there.
    for el in ["table", "tbody", "tr", "details", "pre", "section"] {
        let open = tags.iter().filter(|(t, _)| t == el).count();
        let close = page.matches(&format!("</{el}>")).count();
        assert_eq!(open, close, "<{el}> opened {open} times, closed {close}");
    }
    let ids: BTreeSet<&str> = doc.results.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(page.matches("<tbody class=\"scenario\"").count(), ids.len());
    // Without scripts every row shows; the filter form appears only with them.
    assert!(page.contains("<form id=\"filters\" hidden>"));
    assert!(!page.contains("<tbody class=\"scenario\" hidden"));
}

#[test]
fn signoff_block_names_the_run() {
    let page = html::index_html(&[Source::from_doc(fixture::sample())]).unwrap();
    let top = &page[..page.find("<main>").unwrap()];
    assert!(top.contains(">NOT READY<"));
    assert!(top.contains("sysbox-runc: not covered (skipped: sysbox-runc is not installed"));
    assert!(
        page.contains("runc 1.2.5"),
        "runtime versions from the engines"
    );
    assert!(
        page.contains("0123456789abcdef0123456789abcdef01234567"),
        "git commit"
    );
    assert!(page.contains("works in production (runc), breaks under userns-remap"));
    assert!(page.contains("works only under userns-remap: will break in production"));
    assert!(page.contains("device nodes cannot be created in a user namespace"));
    assert!(page.contains("href=\"https:&#x2f;&#x2f;docs.docker.com&#x2f;engine&#x2f;security&#x2f;userns-remap&#x2f;\""));
    assert!(
        page.contains("up <mark>12.02</mark>"),
        "word-level highlight of the changed word"
    );
}

#[test]
fn an_unavailable_candidate_is_never_ready() {
    let mut skip = fixture::result("a", "sysbox-runc", Verdict::Skipped);
    skip.skip = Some(parity::event::SkipCause::Unavailable);
    skip.reason = Some("sysbox-runc unavailable: no runtime \"sysbox-runc\" registered".into());
    let doc = fixture::doc_with(
        &["userns-remap", "sysbox-runc"],
        vec![fixture::result("a", "userns-remap", Verdict::Parity), skip],
    );
    let page = html::index_html(&[Source::from_doc(doc)]).unwrap();
    let top = &page[..page.find("<table class=\"totals\">").unwrap()];
    assert!(top.contains("class=\"signoff incomplete\""), "{top}");
    assert!(top.contains(">INCOMPLETE<"), "{top}");
    assert!(!page.contains(">READY<"));
    assert!(top.contains("id=\"not-covered\""), "{top}");
    assert!(
        top.contains("sysbox-runc: not covered (skipped: sysbox-runc unavailable"),
        "{top}"
    );
    assert!(
        page.contains(".signoff.incomplete"),
        "its own colour in the stylesheet"
    );
}

// ---- headless Chromium over the DevTools protocol ----

fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

struct Browser {
    child: Child,
    ws: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
    session: String,
    next_id: u64,
    dialogs: Vec<Value>,
    profile: PathBuf,
}

impl Browser {
    fn launch(bin: &Path, profile: &Path) -> Browser {
        let mut child = Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(i) = line.find("ws://") {
                    let _ = tx.send(line[i..].trim().to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("chromium prints its DevTools address");
        let (mut ws, _) = tungstenite::connect(url.as_str()).expect("DevTools websocket");
        if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_mut() {
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        }
        let mut b = Browser {
            child,
            ws,
            session: String::new(),
            next_id: 0,
            dialogs: Vec::new(),
            profile: profile.to_path_buf(),
        };
        let target = b.call("Target.createTarget", json!({ "url": "about:blank" }));
        let target_id = target["targetId"].as_str().unwrap().to_string();
        let attached = b.call(
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        );
        b.session = attached["sessionId"].as_str().unwrap().to_string();
        b.call("Page.enable", json!({}));
        b
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            msg["sessionId"] = self.session.clone().into();
        }
        self.ws
            .send(tungstenite::Message::Text(msg.to_string().into()))
            .unwrap();
        loop {
            let m = self.ws.read().expect("DevTools answers");
            let Ok(text) = m.to_text() else { continue };
            let v: Value = serde_json::from_str(text).unwrap();
            if v["method"] == "Page.javascriptDialogOpening" {
                self.dialogs.push(v["params"].clone());
            }
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expr, "returnByValue": true }),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    fn visible_ids(&mut self) -> Vec<String> {
        let v = self.eval(
            "Array.from(document.querySelectorAll('tbody.scenario')).filter(r => !r.hidden && r.offsetParent !== null).map(r => r.dataset.id)",
        );
        serde_json::from_value(v).unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

#[test]
fn filters_work_in_a_real_browser() {
    let Some(bin) = find_chromium() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but Chromium is not installed (apt-get install -y chromium)");
        }
        eprintln!(
            "SKIPPED filters_work_in_a_real_browser: Chromium is not installed (apt-get install -y chromium)"
        );
        return;
    };
    let tmp = std::env::temp_dir().join(format!("parity-browser-{}", std::process::id()));
    let dir = tmp.join("report");
    write_reports(&dir, &fixture::sample()).unwrap();
    let url = format!("file://{}", dir.join("index.html").display());

    let mut b = Browser::launch(&bin, &tmp.join("profile"));
    b.call(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": false }),
    );
    b.call("Page.navigate", json!({ "url": url }));
    let deadline = Instant::now() + Duration::from_secs(30);
    while b.eval("document.readyState") != "complete" || b.eval("location.protocol") != "file:" {
        assert!(Instant::now() < deadline, "the report did not load");
        std::thread::sleep(Duration::from_millis(100));
    }

    let sample = fixture::sample();
    let rows: BTreeSet<&str> = sample.results.iter().map(|r| r.id.as_str()).collect();
    let all = b.visible_ids();
    assert_eq!(all.len(), rows.len(), "{all:?}");
    assert_eq!(
        b.eval("document.getElementById('filters').hidden"),
        false,
        "the script shows the filters"
    );

    // Select "divergence" as a user would: focus the select and pick it.
    b.eval("document.getElementById('f-verdict').focus()");
    b.eval("(s => { s.value = 'divergence'; s.dispatchEvent(new Event('change', {bubbles: true})); })(document.getElementById('f-verdict'))");
    let shown = b.visible_ids();
    assert_eq!(
        shown,
        [
            "devices/mknod_undeclared",
            "hostile/output",
            "mounts/tmpfs_with_sys_admin",
            "security/only_in_candidate"
        ]
    );
    assert!(
        !shown.contains(&"basics/hello".to_string()),
        "parity rows are hidden"
    );
    assert_eq!(b.eval("location.hash"), "#verdict=divergence");

    // Type into the search box with real key input.
    b.eval("document.getElementById('f-q').focus()");
    b.call("Input.insertText", json!({ "text": "tmpfs" }));
    assert_eq!(b.visible_ids(), ["mounts/tmpfs_with_sys_admin"]);

    // Tag filter, and reset.
    b.eval("(s => { s.value = ''; s.dispatchEvent(new Event('change')); })(document.getElementById('f-verdict'))");
    b.eval("(q => { q.value = ''; q.dispatchEvent(new Event('input')); })(document.getElementById('f-q'))");
    b.eval("(s => { s.value = 'caps'; s.dispatchEvent(new Event('change')); })(document.getElementById('f-tag'))");
    assert_eq!(
        b.visible_ids(),
        ["mounts/tmpfs_with_sys_admin", "net/raw_socket"]
    );
    b.eval("(s => { s.value = ''; s.dispatchEvent(new Event('change')); })(document.getElementById('f-tag'))");
    assert_eq!(b.visible_ids().len(), rows.len());

    // Hash parameters apply filters on load.
    b.call(
        "Page.navigate",
        json!({ "url": format!("{url}#verdict=failure&q=proc") }),
    );
    std::thread::sleep(Duration::from_millis(300));
    while b.eval("document.readyState") != "complete" {
        std::thread::sleep(Duration::from_millis(100));
    }
    b.call("Page.reload", json!({}));
    std::thread::sleep(Duration::from_millis(500));
    while b.eval("document.readyState") != "complete" {
        std::thread::sleep(Duration::from_millis(100));
    }
    let state = b.eval("[location.hash, document.getElementById('f-verdict').value, document.getElementById('f-q').value, document.getElementById('f-count').textContent]");
    assert_eq!(b.visible_ids(), ["proc/uptime"], "{state}");

    // Hostile output stayed inert.
    assert_eq!(b.eval("document.querySelectorAll('img').length"), 0);
    assert_eq!(b.eval("document.scripts.length"), 1);
    assert!(b.dialogs.is_empty(), "a dialog opened: {:?}", b.dialogs);

    // The screenshot for the README: the sign-off, the table and one open divergence.
    b.eval("(s => { s.value = ''; s.dispatchEvent(new Event('change')); })(document.getElementById('f-verdict'))");
    b.eval("(q => { q.value = ''; q.dispatchEvent(new Event('input')); })(document.getElementById('f-q'))");
    b.eval("location.hash = 'r4-c1'");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        b.eval("document.getElementById('r4-c1').open"),
        true,
        "a result named by the hash opens"
    );
    assert_eq!(b.visible_ids().len(), rows.len());
    b.call(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 1280, "height": 1900, "deviceScaleFactor": 1, "mobile": false }),
    );
    b.eval("window.scrollTo(0, 0)");
    let shot = b.call("Page.captureScreenshot", json!({ "format": "png" }));
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    // Generated output goes under target/; `PARITY_UPDATE_SCREENSHOT=1`
    // also refreshes the README's copy in docs/.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    std::fs::write(&out, &png).unwrap();
    if std::env::var_os("PARITY_UPDATE_SCREENSHOT").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report-screenshot.png");
        std::fs::write(&docs, &png).unwrap();
    }
    drop(b);
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn likely_causes_show_with_their_result() {
    let page = html::index_html(&[Source::from_doc(fixture::sample())]).unwrap();
    let at = page
        .find("id=\"devices&#x2f;mknod_undeclared")
        .or_else(|| page.find("devices&#x2f;mknod_undeclared"))
        .expect("the mknod result is there");
    let rest = &page[at..];
    let cause = rest
        .find("<div class=\"cause\"><b>Likely cause</b>")
        .expect("a cause");
    let text = &rest[cause..cause + 600];
    assert!(
        text.contains("mknodat &#x2f;tmp&#x2f;n: EPERM under userns-remap"),
        "{text}"
    );
    assert!(text.contains("user namespace"), "{text}");
    assert!(text.contains("(catalog S9)"), "{text}");
    assert!(
        text.contains("href=\"https:&#x2f;&#x2f;docs.docker.com"),
        "the rule's link is linked: {text}"
    );
}

#[test]
fn the_page_leads_with_what_failed() {
    let doc = fixture::sample();
    let page = html::index_html(&[Source::from_doc(doc.clone())]).unwrap();
    let word = page.find("id=\"signoff-word\"").unwrap();
    let list = page.find("id=\"failures\"").expect("a list of failures");
    let totals = page.find("<table class=\"totals\">").unwrap();
    assert!(
        word < list && list < totals,
        "the failures come right under the word"
    );
    let failed = doc
        .results
        .iter()
        .filter(|r| r.verdict.is_failure())
        .count();
    let section = &page[list..page[list..].find("</section>").unwrap() + list];
    assert_eq!(section.matches("<li>").count(), failed, "{section}");
    assert!(section.contains(&format!("Failures ({failed})")));
    // Each names its scenario, candidate, first differing field and cause,
    // and links to its row's details, which exist.
    assert!(
        section.contains("<code>devices&#x2f;mknod_undeclared</code></a> under <b>userns-remap</b>: first differs in <code>exit_code</code>"),
        "{section}"
    );
    assert!(section.contains("likely cause: mknodat &#x2f;tmp&#x2f;n: EPERM under userns-remap"));
    for anchor in section.split("href=\"#").skip(1) {
        let anchor = &anchor[..anchor.find('"').unwrap()];
        assert!(
            page.contains(&format!("id=\"{anchor}\"")),
            "{anchor} has a row"
        );
    }
    // Each not-covered reason is said once.
    let reason = "sysbox-runc is not installed";
    assert_eq!(page.matches(reason).count(), 1, "said once");
}

#[test]
fn host_facts_and_host_limited_expectations_are_shown() {
    let page = html::index_html(&[Source::from_doc(fixture::sample())]).unwrap();
    let top = &page[..page.find("<main>").unwrap()];
    assert!(top.contains("id=\"host-facts\""), "{top}");
    assert!(top.contains("cgroup v2, AppArmor on, SELinux off"), "{top}");
    assert!(
        top.contains("device node &#x2f;dev&#x2f;fuse: mode 0600, owner 0:0"),
        "{top}"
    );
    let row = &page[page.find("data-id=\"sysfs&#x2f;cgroup_mkdir\"").unwrap()..];
    let row = &row[..row.find("</tbody>").unwrap()];
    assert!(
        row.contains("<div class=\"host-note\">an expectation does not apply on this host</div>"),
        "beside the verdict: {row}"
    );
    assert!(row.contains(
        "in stdout (declared for cgroup v1) does not apply here: cgroup v2 (runc, userns-remap)"
    ));
    assert!(row.contains("in exit_code, stderr is declared for cgroup v2: it applies here"));
}
