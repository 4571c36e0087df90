//! The `onewindow` command line, run as a user runs it.

use std::path::Path;
use std::process::Output;

mod common;

use onewindow::project::{self, Paths};

fn onewindow(args: &[&str]) -> Output {
    common::onewindow()
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("utf-8")
}

#[test]
fn check_passes_on_the_shipped_workflows() {
    let output = onewindow(&["check"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "检查通过：共7个事项\n");
}

#[test]
fn check_fails_with_located_diagnostics() {
    let output = onewindow(&[
        "check",
        "tests/diagnostics/prelude",
        "tests/diagnostics/unknown_department.flow",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.contains("tests/diagnostics/unknown_department.flow:19:15: error: 未知部门`helth`"),
        "{text}"
    );
    assert!(text.contains("= 提示：是否想写`health`？"), "{text}");
    assert!(text.ends_with("发现2个错误\n"), "{text}");
}

#[test]
fn check_names_an_unreadable_path() {
    let output = onewindow(&["check", "no/such/folder"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no/such/folder"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn notice_of_the_new_combined_institution() {
    let output = onewindow(&["notice", "new_combined"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for expected in [
        "新建医养结合机构一次性告知书",
        "芒政办发〔2017〕192号 五（二）",
        "医养结合机构应同时提供养老床位",
        "消防验收或备案证明（必须提交；可容缺受理，受理后补交；格式：PDF、JPG、PNG）",
        // Materials that depend on the applicant's form, with their conditions.
        "举办者营业执照或民办非企业单位登记证书（举办性质为社会办时必须提交",
        "合资合作合同或港澳台投资者资格证明（投资方式不为内资时必须提交",
        "并联办理（同时进行，互不等待）",
        "茂名市卫生健康局、茂名市民政局并联办理，互不作为前置条件",
        "法定时限20个工作日，承诺时限20个工作日",
        "可以延长10个工作日",
        // Each department's part, in its legal form (谁审批谁监管).
        "各自作出决定、各自负责（谁审批谁监管）；一个部门不予办理的，不影响其他部门的办理",
        "茂名市卫生健康局（行政许可）：准予行政许可的，准予行政许可决定书（茂名市卫生健康局出具）",
        "茂名市民政局（备案）：予以备案的，养老机构备案回执（茂名市民政局出具）",
        "5个工作日内一次性告知需要补正的全部内容",
        "医疗机构执业许可证（茂名市卫生健康局出具，适用于医疗机构级别不超过2且投资方式为内资）",
        "设置医疗机构批准书（茂名市卫生健康局出具，适用于不满足（医疗机构级别不超过2且投资方式为内资））",
        // What the policies promise the applicant (issue: the notices left it out).
        // Where to go: the jurisdiction's departments and their addresses.
        "受理地点：茂名市政务服务中心一楼综合受理窗口",
        "茂名市卫生健康局（地址：",
        "九、申请人须知",
        "区域总量不作规划限制",
        "非禁即入",
        "首接责任制",
        "建设补贴、运营补贴",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn notices_tell_what_each_procedure_promises() {
    for (workflow, promise) in [
        ("insurance_designation", "不支付生活照护等养老服务费用"),
        (
            "eldercare_clinic",
            "100张床位以上的护理型、助养型养老机构应单独设置护理站（医务室）",
        ),
        ("medical_eldercare", "享受养老机构相关建设补贴、运营补贴"),
    ] {
        let output = onewindow(&["notice", workflow]);
        assert!(output.status.success(), "{}", stderr(&output));
        let text = stdout(&output);
        assert!(text.contains("申请人须知"), "{workflow}: {text}");
        assert!(text.contains(promise), "{workflow}: {promise:?} in {text}");
    }
}

#[test]
fn every_notice_lists_every_material_and_citation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::set_current_dir(root).expect("root");
    let loaded = project::load(&Paths::default()).expect("definitions");
    for workflow in &loaded.checked.workflows {
        let text = onewindow::dsl::notice::one_time_notice(workflow);
        for material in &workflow.materials {
            assert!(
                text.contains(&material.label),
                "{}: {}",
                workflow.id,
                material.label
            );
        }
        for basis in &workflow.basis {
            assert!(text.contains(basis), "{}: {basis}", workflow.id);
        }
        assert!(text.contains(&format!("法定时限{}个工作日", workflow.legal_limit)));
    }
}

#[test]
fn notice_of_an_unknown_workflow_lists_the_known_ones() {
    let output = onewindow(&["notice", "new_combine"]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(text.contains("unknown workflow `new_combine`"), "{text}");
    assert!(text.contains("new_combined"), "{text}");
}

#[test]
fn graph_fans_out_and_joins_parallel_reviews() {
    let output = onewindow(&["graph", "new_combined"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let dot = stdout(&output);
    assert!(dot.starts_with("digraph \"new_combined\""), "{dot}");
    for edge in [
        "submit -> intake;",
        "intake -> step0;",
        "intake -> step1;",
        "step0 -> done;",
        "step1 -> done;",
    ] {
        assert!(dot.contains(edge), "missing {edge} in\n{dot}");
    }
    assert!(
        !dot.contains("step0 -> step1"),
        "parallel steps must not wait on each other"
    );

    let output = onewindow(&["graph", "eldercare_clinic", "--format", "mermaid"]);
    let mermaid = stdout(&output);
    assert!(mermaid.starts_with("flowchart TD\n"), "{mermaid}");
    assert!(
        mermaid.contains("适用于"),
        "conditional steps show their condition:\n{mermaid}"
    );
}

#[test]
fn graph_as_svg_through_graphviz() {
    let output = onewindow(&["graph", "cooperation_agreement", "--format", "svg"]);
    assert!(
        output.status.success(),
        "`dot` must be installed (./run test installs graphviz): {}",
        stderr(&output)
    );
    let svg = stdout(&output);
    assert!(svg.contains("<svg"), "{svg}");
    assert!(svg.contains("甲乙双方签订协议"), "labels reach the drawing");
}

#[test]
fn commands_that_only_read_never_create_a_database() {
    let data = std::env::temp_dir().join(format!("onewindow-no-such-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    for args in [
        vec!["verify", "医养2026卫00001", "7F3A9C21D04B8E65"],
        vec!["audit", "verify"],
        vec!["worker", "--once"],
    ] {
        let mut args = args.clone();
        args.extend(["--data", data.to_str().unwrap()]);
        let output = onewindow(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let text = stderr(&output);
        assert!(text.contains("no database at"), "{args:?}: {text}");
        assert!(text.contains("--data"), "names the option: {text}");
        assert!(!data.exists(), "{args:?} created {}", data.display());
    }
}

#[test]
fn check_outside_the_project_names_the_option_to_pass() {
    let output = common::onewindow()
        .arg("check")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(text.contains("workflows"), "{text}");
    assert!(text.contains("--templates"), "{text}");
}

#[test]
fn check_without_departments_says_where_they_are_defined_and_does_not_cascade() {
    let folder =
        std::env::temp_dir().join(format!("onewindow-no-departments-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/new_combined.flow"),
        folder.join("new_combined.flow"),
    )
    .unwrap();
    let output = onewindow(&["check", folder.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(text.contains("没有定义任何部门"), "{text}");
    assert!(text.contains("departments.flow"), "{text}");
    assert!(!text.contains("部门``"), "no cascade: {text}");
}

#[test]
fn diff_says_what_changed_between_two_files_in_chinese() {
    let scratch = std::env::temp_dir().join(format!("onewindow-cli-diff-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/new_combined.flow"),
    )
    .unwrap();
    let newer = shipped.replace("version 5 ", "version 6 ").replace(
        "fire \"消防验收或备案证明\" required deferrable",
        "fire \"消防验收或备案证明\" required",
    );
    let file = scratch.join("new_combined.flow");
    std::fs::write(&file, newer).unwrap();
    let output = onewindow(&[
        "diff",
        "workflows/new_combined.flow",
        file.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "新建医养结合机构：第5版 → 第6版\n\n申请材料\n  - 「消防验收或备案证明」不再容缺，须在受理前提交\n"
    );
    // A version with errors is not compared: its diagnostics are shown.
    std::fs::write(
        &file,
        shipped.replace("within 5 workdays", "within 50 workdays"),
    )
    .unwrap();
    let output = onewindow(&[
        "diff",
        "workflows/new_combined.flow",
        file.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("only checked definitions are compared"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("new_combined.flow:"),
        "{}",
        stderr(&output)
    );
}

/// `onewindow diff WORKFLOW --from N --data DIR` compares the versions a
/// running product keeps and names the filings still in progress on the
/// earlier one (issue 20: it compared two files and could not name them).
#[tokio::test]
async fn diff_of_stored_versions_names_the_filings_in_progress() {
    let data = common::scratch("cli-diff-stored");
    let config = common::app_config(
        &data,
        "http://localhost:8080",
        onewindow::app::Access::CreateIfMissing,
    );
    let app = onewindow::app::App::open(config).await.unwrap();
    let answers = onewindow::project::read_answers(
        &common::root().join("workflows/samples/new_combined.json"),
    )
    .unwrap();
    let version = app.workflow("new_combined").unwrap().version;
    let filing = onewindow::app::NewFiling {
        id: None,
        workflow: "new_combined".into(),
        applicant: answers.as_applicant(),
        form: answers.form.clone(),
        facts: onewindow::engine::Facts::registry(answers.facts.clone()),
        materials: Default::default(),
        key: None,
        account: None,
        now: common::ORDINARY_DAY,
    };
    let view = app.submit(filing).await.unwrap();
    drop(app);
    let output = common::onewindow()
        .args([
            "diff",
            "new_combined",
            "--from",
            &version.to_string(),
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains(&format!("按第{version}版在办的申请共 1 件")),
        "{text}"
    );
    assert!(
        text.contains(&format!("  {}  待受理  收件2026年11月16日", view.id)),
        "{text}"
    );
    // Two files, or stored versions: not both.
    let output = onewindow(&[
        "diff",
        "new_combined",
        "workflows/new_combined.flow",
        "--from",
        "1",
    ]);
    assert!(!output.status.success());
}

/// `onewindow registry import FILE` loads what a city's systems know of its
/// institutions; a file with one wrong record records nothing and says
/// what is wrong with each, in Chinese.
#[tokio::test]
async fn the_registry_is_imported_from_a_file_all_or_nothing() {
    let data = common::scratch("cli-registry");
    let config = common::app_config(
        &data,
        "http://localhost:8080",
        onewindow::app::Access::CreateIfMissing,
    );
    drop(onewindow::app::App::open(config.clone()).await.unwrap());
    let good = "52440900MJL0000037";
    let bad = serde_json::json!([
        {"credit_code": good, "name": "茂名康颐医养中心护理院", "opened_on": "2026-01-05"},
        {"credit_code": "52440900MJL0000038", "name": "", "facts": {"beds_galore": true}}
    ]);
    let file = data.join("registry.json");
    std::fs::write(&file, bad.to_string()).unwrap();
    let output = common::onewindow()
        .args(["registry", "import"])
        .arg(&file)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{said}");
    for expected in [
        "第2条：统一社会信用代码的校验位不符",
        "第2条：缺少机构名称",
        "第2条：没有事项读取登记信息“beds_galore”",
        "未登记任何机构",
    ] {
        assert!(said.contains(expected), "{expected}: {said}");
    }
    let code = onewindow::credit_code::CreditCode::parse(good).unwrap();
    let app = onewindow::app::App::open(config.clone()).await.unwrap();
    assert_eq!(
        app.store().registry(&code).await.unwrap(),
        None,
        "nothing written"
    );
    drop(app);

    let good_file = serde_json::json!([
        {"credit_code": good, "name": "茂名康颐医养中心护理院", "opened_on": "2026-01-05",
         "facts": {"insurance_designated": false}}
    ]);
    std::fs::write(&file, good_file.to_string()).unwrap();
    let output = common::onewindow()
        .args(["registry", "import", "--source", "卫健监管系统"])
        .arg(&file)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout(&output).contains("已登记 1 个机构（来源：卫健监管系统）"));
    let app = onewindow::app::App::open(config).await.unwrap();
    let known = app
        .store()
        .registry(&code)
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(known.opened_on, Some(jiff::civil::date(2026, 1, 5)));
    assert_eq!(known.facts["insurance_designated"], false);
}
