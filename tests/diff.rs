//! `dsl::diff` on pairs of definitions: the base of the diagnostic cases
//! and the same with one kind of change, each said in its sentence.

use std::path::PathBuf;

use onewindow::dsl::{self, diff::Section, Workflow};
use onewindow::project::{self, Paths};

const BASE: &str = include_str!("valid_base.flow");

/// Checks a definition with the cases' departments and the real templates.
fn checked(text: &str) -> Workflow {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut input = project::read(&Paths {
        flows: vec![root.join("tests/diagnostics/prelude")],
        templates: root.join("templates"),
    })
    .expect("the prelude and templates are readable");
    input
        .flows
        .push(("demo.flow".to_string(), text.to_string()));
    let loaded = dsl::load(&input);
    assert!(
        !loaded.checked.has_errors(),
        "{}",
        loaded.render_diagnostics()
    );
    loaded
        .checked
        .workflows
        .into_iter()
        .next()
        .expect("one workflow")
}

/// The base, changed: each pair is replaced once (and must be found).
fn changed(edits: &[(&str, &str)]) -> Workflow {
    let mut text = BASE.replace("version 1", "version 2");
    for (from, to) in edits {
        assert!(text.contains(from), "`{from}` is in the base");
        text = text.replacen(from, to, 1);
    }
    checked(&text)
}

/// The sentences of the difference from the base, by section.
fn sentences(edits: &[(&str, &str)]) -> Vec<(Section, String)> {
    dsl::diff::diff(&checked(BASE), &changed(edits))
        .into_iter()
        .map(|change| (change.section, change.text))
        .collect()
}

fn says(edits: &[(&str, &str)], expected: &[(Section, &str)]) {
    let found = sentences(edits);
    let expected: Vec<(Section, String)> = expected
        .iter()
        .map(|(section, text)| (*section, (*text).to_string()))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn the_same_definition_has_no_changes_and_says_so() {
    let old = checked(BASE);
    let new = changed(&[]);
    let changes = dsl::diff::diff(&old, &new);
    assert!(changes.is_empty(), "{changes:?}");
    assert_eq!(
        dsl::diff::render(&old, &new, &changes),
        "测试流程：第1版 → 第2版\n两个版本的内容相同。\n"
    );
}

#[test]
fn time_limits() {
    says(
        &[
            ("promised_limit 15 workdays", "promised_limit 12 workdays"),
            ("\"设置审批\" within 15", "\"设置审批\" within 12"),
            ("within 5 workdays", "within 3 workdays"),
        ],
        &[
            (Section::Basics, "承诺办结时限由15个工作日改为12个工作日"),
            (
                Section::Steps,
                "「综合窗口受理」时限由5个工作日改为3个工作日",
            ),
            (Section::Steps, "「设置审批」时限由15个工作日改为12个工作日"),
        ],
    );
}

#[test]
fn steps_added_removed_and_parallel_made_sequential() {
    // civil affairs' filing now waits for health's approval: that is only
    // lawful when the two are one matter (jointly).
    says(
        &[
            (
                "  parallel {\n    review by health \"设置审批\" within 15 workdays\n    file by civil \"备案\" within 10 workdays\n  }\n  independent health, civil",
                "  review by health \"设置审批\" within 10 workdays\n  file by civil \"备案\" within 5 workdays\n  jointly health, civil basis \"测试依据\"",
            ),
        ],
        &[
            (Section::Departments, "各部门决定之间的关系有变化（各自独立作出，或须共同成立）"),
            (Section::Steps, "「设置审批」时限由15个工作日改为10个工作日"),
            (Section::Steps, "「备案」时限由10个工作日改为5个工作日"),
            (Section::Steps, "办理顺序由「并联（设置审批、备案）」改为「设置审批 → 备案」"),
        ],
    );
    says(
        &[(
            "    file by civil \"备案\" within 10 workdays\n",
            "    file by civil \"备案\" within 10 workdays\n    file by civil \"床位备案\" within 8 workdays\n",
        )],
        &[
            (Section::Steps, "新增环节：床位备案（民政局，备案，8个工作日）"),
            (Section::Steps, "办理顺序现为「并联（设置审批、备案、床位备案）」"),
        ],
    );
}

#[test]
fn a_step_taken_by_another_department() {
    says(
        &[
            ("file by civil \"备案\"", "file by township \"备案\""),
            ("independent health, civil", "independent health, township"),
        ],
        &[
            (Section::Departments, "新增部门：乡镇人民政府"),
            (Section::Departments, "不再涉及部门：民政局"),
            (
                Section::Departments,
                "作出决定的部门由「卫生健康局、民政局」改为「卫生健康局、乡镇人民政府」",
            ),
            (
                Section::Departments,
                "各部门决定之间的关系有变化（各自独立作出，或须共同成立）",
            ),
            (Section::Steps, "「备案」改由乡镇人民政府办理（原为民政局）"),
        ],
    );
}

#[test]
fn materials_added_removed_optional_deferrable_and_kinds() {
    says(
        &[(
            "    application \"申请书\" required kinds pdf\n",
            "    application \"申请书\" required deferrable kinds pdf, ofd\n    plan \"平面图\" optional kinds pdf\n",
        )],
        &[
            (Section::Materials, "新增材料：平面图（选交）"),
            (Section::Materials, "「申请书」现可容缺受理，受理后补交"),
            (Section::Materials, "「申请书」可提交的文件格式由pdf改为pdf、ofd"),
        ],
    );
    says(
        &[(
            "    application \"申请书\" required kinds pdf\n",
            "    letter \"申请函\" required when public kinds pdf\n",
        )],
        &[
            (Section::Materials, "新增材料：申请函（「公立」时必交）"),
            (Section::Materials, "不再需要材料：申请书"),
        ],
    );
}

#[test]
fn form_fields_and_rules() {
    says(
        &[
            (
                "beds: int \"床位数\" range 0..10000 required",
                "beds: int \"床位数\" range 10..10000 required\n    phone: text \"联系电话\" required",
            ),
            ("address: text \"地址\" required", "address: text \"地址\""),
            (
                "  materials {",
                "  rule \"床位数不得少于十张\" require beds >= 10\n  materials {",
            ),
        ],
        &[
            (Section::Form, "新增栏目：联系电话（必填）"),
            (Section::Form, "「地址」现为选填"),
            (Section::Form, "「床位数」的取值范围由0至10000改为10至10000"),
            (Section::Rules, "新增规则：床位数不得少于十张"),
        ],
    );
}

#[test]
fn documents_added_and_removed() {
    says(
        &[(
            "  on approved issue \"准予行政许可决定书\" template grant_decision number \"准{year}{seq:05}\"\n",
            "  on approved issue \"准予行政许可决定书\" template grant_decision number \"准字{year}{seq:05}\"\n  on filed issue \"备案回执\" template filing_receipt\n",
        )],
        &[
            (Section::Documents, "备案完成时新增出具《备案回执》（民政局）"),
            (Section::Documents, "《准予行政许可决定书》的编号规则有变化"),
        ],
    );
}

#[test]
fn the_text_has_a_heading_per_section() {
    let old = checked(BASE);
    let new = changed(&[("\"测试流程\"", "\"测试流程（试点）\"")]);
    let text = dsl::diff::render(&old, &new, &dsl::diff::diff(&old, &new));
    assert_eq!(
        text,
        "测试流程（试点）：第1版 → 第2版\n\n基本信息与时限\n  - 事项名称由「测试流程」改为「测试流程（试点）」\n"
    );
}
