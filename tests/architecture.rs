//! Invariants of docs/architecture.md that a test can hold.

use std::path::Path;

fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).expect("source"),
            ));
        }
    }
    out
}

#[test]
fn the_engine_imports_no_database_mail_typst_or_http_crate_and_reads_no_clock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = sources(&root.join("src/engine"));
    assert!(files.len() >= 5, "the engine's files were found");
    for (path, text) in files {
        for forbidden in [
            "sqlx::",
            "lettre::",
            "typst::",
            "typst_",
            "axum::",
            "tokio::",
            "::now()",
            "SystemTime",
        ] {
            assert!(!text.contains(forbidden), "{path} mentions `{forbidden}`");
        }
    }
}

#[test]
fn the_language_does_no_io() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, text) in sources(&root.join("src/dsl")) {
        for forbidden in ["std::fs", "std::net", "File::open", "read_to_string"] {
            assert!(!text.contains(forbidden), "{path} mentions `{forbidden}`");
        }
    }
}

/// Files under `src/` outside the given folders (relative to `src/`).
fn sources_outside(excluded: &[&str]) -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    sources(&src)
        .into_iter()
        .filter(|(path, _)| {
            let relative = Path::new(path).strip_prefix(&src).expect("under src");
            !excluded.iter().any(|folder| relative.starts_with(folder))
        })
        .collect()
}

#[test]
fn only_the_store_names_sqlx() {
    let files = sources_outside(&["store"]);
    assert!(files.len() >= 20, "the other modules were found");
    for (path, text) in files {
        assert!(!text.contains("sqlx"), "{path} mentions sqlx");
    }
}

#[test]
fn only_the_web_names_axum() {
    for (path, text) in sources_outside(&["web"]) {
        assert!(!text.contains("axum"), "{path} mentions axum");
    }
}

#[test]
fn the_engine_and_the_language_start_no_process_and_touch_no_disk() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for folder in ["src/engine", "src/dsl"] {
        for (path, text) in sources(&root.join(folder)) {
            for forbidden in [
                "std::fs",
                "std::process",
                "std::net",
                "Command::new",
                "std::env",
            ] {
                assert!(!text.contains(forbidden), "{path} mentions `{forbidden}`");
            }
        }
    }
}

#[test]
fn front_ends_go_through_the_application_layer() {
    // The command line reaches the store and the engine only through `app`
    // (the benches and the load generator drive the store on purpose).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cli = std::fs::read_to_string(root.join("src/cli.rs")).expect("cli");
    let web = sources(&root.join("src/web"));
    assert!(!web.is_empty(), "the web's files were found");
    let front_ends = web.into_iter().chain([("src/cli.rs".to_string(), cli)]);
    for (path, text) in front_ends {
        for forbidden in ["store::", "Store::", "engine::transition", ".apply("] {
            assert!(!text.contains(forbidden), "{path} mentions `{forbidden}`");
        }
        // Only the command line's load generator drives the store itself.
        let loads = path == "src/cli.rs" && text.contains("bench::load::load(app.store()");
        let reaches = text.matches(".store()").count() > usize::from(loads);
        assert!(!reaches, "{path} reaches the store");
    }
    let main = std::fs::read_to_string(root.join("src/main.rs")).expect("main");
    let code = main
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with("//"))
        .count();
    assert!(code <= 3, "main.rs stays a shim");
}

#[test]
fn library_code_logs_instead_of_printing() {
    // Only the command line and the benches print; the rest logs with tracing.
    for (path, text) in sources_outside(&["cli.rs", "bench"]) {
        for forbidden in ["println!", "eprintln!", "print!("] {
            assert!(!text.contains(forbidden), "{path} uses `{forbidden}`");
        }
    }
}

/// 谁审批谁监管 in the shipped procedures: every two deciding departments
/// are declared independent or joined, each part has one legal form, and
/// every decision document is issued by a department whose part ends in it.
#[test]
fn each_department_decides_and_issues_its_own_part() {
    use onewindow::dsl::ir::Event;
    use onewindow::project::{self, Paths};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = project::load(&Paths {
        flows: vec![root.join("workflows")],
        templates: root.join("templates"),
    })
    .expect("definitions");
    assert!(!loaded.checked.has_errors());
    assert_eq!(loaded.checked.workflows.len(), 7);
    for workflow in &loaded.checked.workflows {
        let deciding = workflow.deciding_departments();
        for (position, first) in deciding.iter().enumerate() {
            for second in &deciding[position + 1..] {
                let declared = workflow.independent.iter().any(|group| {
                    group.iter().any(|d| d == first) && group.iter().any(|d| d == second)
                }) || workflow
                    .joined(first)
                    .is_some_and(|group| group.departments.iter().any(|d| d == second));
                assert!(declared, "{}: {first} and {second}", workflow.id);
            }
            let forms: std::collections::BTreeSet<_> = workflow
                .part_steps(first)
                .map(|step| workflow.steps[step].legal_form())
                .collect();
            assert_eq!(forms.len(), 1, "{}: {first} {forms:?}", workflow.id);
        }
        for outcome in &workflow.outcomes {
            if !matches!(
                outcome.event,
                Event::Approved | Event::Rejected | Event::Filed
            ) {
                continue;
            }
            let form = workflow.part_form(&outcome.issued_by).unwrap_or_else(|| {
                panic!("{}: {} decides no part", workflow.id, outcome.issued_by)
            });
            assert!(
                form.events().contains(&outcome.event),
                "{}: {} issued by {} whose part is a {form:?}",
                workflow.id,
                outcome.title,
                outcome.issued_by
            );
        }
    }
}

#[test]
fn every_form_a_page_posts_carries_its_token() {
    // A handler a browser posts to takes `Posted<…>` (the token checked
    // before the fields are read) or a `Multipart` read by
    // `read_multipart`, which refuses a form whose first field is not the
    // token. The JSON API takes bearer tokens and no cookie.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut handlers = 0;
    for (path, text) in sources(&root.join("src/web")) {
        if path.ends_with("api.rs") {
            continue;
        }
        for piece in text.split("Route::post(").skip(1) {
            // Route::post("/path", AUDIENCE, handler)
            let call = &piece[..piece.find(')').unwrap()];
            let name = call.rsplit(", ").next().unwrap().trim().to_string();
            let start = text
                .find(&format!("async fn {name}("))
                .unwrap_or_else(|| panic!("{path}: handler `{name}`"));
            // Up to its return type: its parameters may destructure `{ … }`.
            let signature = &text[start..start + text[start..].find(") ->").unwrap()];
            assert!(
                signature.contains("Posted<") || signature.contains("Multipart"),
                "{path}: `{name}` takes no form token"
            );
            handlers += 1;
        }
    }
    assert!(handlers >= 8, "the posted handlers were found ({handlers})");
    let apply = std::fs::read_to_string(root.join("src/web/apply.rs")).unwrap();
    assert!(
        apply.contains("if name != \"csrf\""),
        "multipart reads the token first"
    );
}

#[test]
fn which_role_may_use_a_route_has_one_home() {
    // The route table says who may use each route and its door admits
    // them (src/web/routes.rs); the router is built from the table alone,
    // so no handler checks roles and no route is added beside it.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, text) in sources(&root.join("src/web")) {
        if path.ends_with("routes.rs") || path.ends_with("error.rs") {
            continue;
        }
        // (A page may show each role its own buttons; refusing is the door's.)
        for check in ["with_role", "roles.contains", "WebError::Forbidden("] {
            assert!(
                !text.contains(check),
                "{path} refuses roles itself: `{check}`"
            );
        }
        let routes = text.matches(".route(").count();
        // mod.rs: the table's routes, and the API's catch-all.
        let allowed = if path.ends_with("web/mod.rs") { 2 } else { 0 };
        assert!(
            routes <= allowed,
            "{path} adds routes beside the table ({routes})"
        );
    }
}

#[test]
fn who_may_see_what_has_one_home() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, text) in sources(&root.join("src")) {
        if text.contains("fn may_see") {
            assert!(path.ends_with("app/access.rs"), "{path} decides visibility");
        }
    }
    for (path, text) in sources(&root.join("src/web")) {
        assert!(
            !text.contains("applicant_email"),
            "{path} compares owners itself instead of asking app::access"
        );
    }
}

#[test]
fn secrets_are_stored_only_as_hashes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for backend in ["sqlite", "postgres"] {
        let schema =
            std::fs::read_to_string(root.join(format!("migrations/{backend}/0004_accounts.sql")))
                .unwrap();
        for line in schema.lines().map(str::trim) {
            let column = line.split_whitespace().next().unwrap_or_default();
            if column.contains("password") || column.contains("token") {
                assert!(
                    column.ends_with("_hash"),
                    "{backend}: `{column}` is stored in clear"
                );
            }
        }
    }
}

#[test]
fn the_only_script_is_the_editors_own_file() {
    // Pages forbid every script (CSP); the policy staff's editor alone
    // loads one, the product's own file, never inline, and only its
    // handler marks its answer as allowed to run it.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut scripts = 0;
    for entry in std::fs::read_dir(root.join("web/templates")).unwrap() {
        let path = entry.unwrap().path().display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        for (at, _) in text.match_indices("<script") {
            scripts += 1;
            assert!(path.ends_with("editor.html"), "{path} has a script");
            assert!(
                text[at..].starts_with("<script src=\"/static/editor.js\" defer></script>"),
                "{path}: a script that is not the editor's file"
            );
        }
    }
    assert_eq!(scripts, 1, "the editor's one script tag");
    let marked: Vec<String> = sources(&root.join("src/web"))
        .into_iter()
        .filter(|(_, text)| text.contains("insert(super::OwnScript)"))
        .map(|(path, _)| path)
        .collect();
    assert_eq!(marked.len(), 1, "{marked:?}");
    assert!(marked[0].ends_with("policy.rs"), "{marked:?}");
}

/// The ways Rust code can read the wall clock (a monotonic `Instant` for a
/// latency is not one: it tells no day).
const WALL_CLOCK: [&str; 6] = [
    "Timestamp::now",
    "Zoned::now",
    "SystemTime::now",
    "Local::now",
    "Utc::now",
    "local_now",
];

#[test]
fn only_the_clock_reads_the_wall_clock() {
    for (path, text) in sources_outside(&["app/clock.rs"]) {
        for forbidden in WALL_CLOCK {
            assert!(
                !text.contains(forbidden),
                "{path} reads the wall clock (`{forbidden}`): take the time from the app's Clock"
            );
        }
    }
}

/// A test that reads the wall clock passes until the day it does not (two
/// calendar tests broke every submission on 7 December): tests set the day
/// they mean, and run the binary through `common::onewindow()`, which
/// starts its clock on a named day.
#[test]
fn no_test_reads_the_wall_clock() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let files = sources(&tests);
    assert!(files.len() >= 15, "the tests were found");
    for (path, text) in files {
        if path.ends_with("architecture.rs") {
            continue;
        }
        for forbidden in WALL_CLOCK.iter().chain(&["Clock::system"]) {
            assert!(
                !text.contains(forbidden),
                "{path} reads the wall clock (`{forbidden}`)"
            );
        }
        let runs_the_binary = text.contains("CARGO_BIN_EXE_onewindow");
        assert!(
            !runs_the_binary || path.ends_with("common/mod.rs"),
            "{path} runs the binary itself: use common::onewindow(), which sets its day"
        );
    }
}

/// The web parses, calls `app`, renders. The files that still name the
/// engine or the checked definition's types are listed here and may only
/// become fewer (issue 19: each use case's decisions belong in `app`). No
/// web file names the engine's commands or a filing's state: actions are
/// `app::actions::ActionRequest`, carried out by `App::carry_out`.
#[test]
fn the_web_names_the_engine_only_where_listed() {
    const ALLOWED: [&str; 1] = [
        // dsl::ir field types and engine::submission: the form generated
        // from a definition's fields (its types, options and limits)
        "src/web/apply.rs",
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let web = sources(&root.join("src/web"));
    assert!(web.len() >= 10, "the web's files were found");
    for (path, text) in web {
        let relative = path
            .strip_prefix(&format!("{}/", root.display()))
            .unwrap_or(&path)
            .to_string();
        for forbidden in [
            "crate::engine::Command",
            "crate::engine::state",
            "engine::transition",
        ] {
            assert!(!text.contains(forbidden), "{relative} names `{forbidden}`");
        }
        let names = text.contains("crate::engine") || text.contains("crate::dsl::ir");
        assert!(
            !names || ALLOWED.contains(&relative.as_str()),
            "{relative} names the engine or dsl::ir: go through app"
        );
    }
}
