//! Real PDFs from the real templates, read back with poppler's pdftotext
//! and pdffonts and checked by qpdf.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

mod common;

use onewindow::documents::{require_cjk, DocumentError, Meta, Renderer, MAX_PAGES};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn renderer() -> &'static Renderer {
    static RENDERER: OnceLock<Renderer> = OnceLock::new();
    RENDERER
        .get_or_init(|| Renderer::new(&root().join("templates")).unwrap_or_else(|e| panic!("{e}")))
}

fn sample(template: &str) -> serde_json::Map<String, serde_json::Value> {
    let path = root().join(format!("templates/samples/{template}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("json")
}

fn meta() -> Meta {
    Meta {
        ident: "医养2026卫00001".into(),
        date: jiff::civil::date(2026, 11, 23),
    }
}

fn write(name: &str, pdf: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("onewindow-pdf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.pdf"));
    std::fs::write(&path, pdf).unwrap();
    path
}

/// Runs a poppler or qpdf tool; missing tools fail the test (./run test installs them).
fn tool(program: &str, args: &[&str], path: &Path) -> String {
    let output = Command::new(program)
        .args(args)
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!("`{program}` is needed (./run test installs poppler-utils and qpdf): {e}")
        });
    assert!(
        output.status.success(),
        "{program} failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

fn text_of(path: &Path) -> String {
    let output = Command::new("pdftotext")
        .arg(path)
        .arg("-")
        .output()
        .expect("pdftotext");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .collect()
}

#[test]
fn every_template_renders_readable_chinese_with_embedded_fonts() {
    let expected: [(&str, &[&str]); 11] = [
        (
            "acceptance_notice",
            &[
                "受理通知书",
                "决定予以受理",
                "茂名康颐医养有限公司",
                "2027年1月8日（暂定：该年节假日安排尚未公布，公布后可能调整）前作出决定",
            ],
        ),
        (
            "refusal_notice",
            &["不予受理通知书", "不属于本机关职权范围", "行政复议"],
        ),
        (
            "correction_notice",
            &["补正材料通知书", "一次性告知", "护士执业证书已过期"],
        ),
        (
            "grant_decision",
            &[
                "准予行政许可决定书",
                "准予行政许可",
                "茂卫〔2020〕63号",
                "自本决定作出之日起十日内",
                "准予的事项：医疗机构设置审批与执业登记（两证合一）",
            ],
        ),
        (
            "denial_decision",
            &[
                "不予行政许可决定书",
                "未配备与床位相适应的执业护士",
                "行政诉讼",
            ],
        ),
        (
            "medical_license",
            &[
                "医疗机构执业许可证",
                "茂名康颐医养中心护理院",
                "医养2026卫00001",
                // What a licence carries (issue 20: it printed none of these).
                "法定代表人王康颐",
                "主要负责人陈仁心",
                "所有制形式社会办",
                "诊疗科目内科；康复医学科；临终关怀科",
                "发证机关市卫生健康局",
                "发证日期2026年12月18日",
                "自2026年12月18日至2031年12月17日",
            ],
        ),
        ("filing_receipt", &["医养结合机构备案回执", "予以备案"]),
        (
            "cooperation_agreement",
            &[
                "医养签约合作协议",
                "甲方（医疗机构）：风平镇卫生院",
                "与芒市人民医院签订长期合作协议",
                "65岁以上老年人按基本公共卫生服务项目免费体检",
                "费用由乙方负责",
                "由公共卫生经费支付",
                "出院时“一站式”即时结算；不能报销的费用每季度结算一次",
                "承担转诊的主导责任（患者住院期间的接送、陪护）",
                "一年一签",
                "一式两份",
                "向市卫生健康局、市民政局、乡镇人民政府报备",
                "甲方（公章）",
                "乙方代表签字",
            ],
        ),
        (
            "evaluation_result",
            &["服务质量评估结果通知书", "2026年度", "结果为：评估合格"],
        ),
        (
            "setting_approval",
            &[
                "设置医疗机构批准书",
                "同意设置下列医疗机构",
                "本批准书不是执业许可",
                "另行申请执业登记",
            ],
        ),
        (
            "designation_result",
            &[
                "医疗保障定点评估结果通知书",
                "纳入医保定点协议管理",
                "签订医疗保障服务协议",
            ],
        ),
    ];
    for (template, phrases) in expected {
        let pdf = renderer()
            .render(template, &sample(template), &meta())
            .unwrap_or_else(|e| panic!("{template}: {e}"));
        let path = write(template, &pdf);
        let text = text_of(&path);
        for phrase in phrases {
            assert!(
                text.contains(phrase),
                "{template}: {phrase:?} not in {text:?}"
            );
        }
        assert!(
            text.contains("7F3A9C21D04B8E65") || text.contains("0B1C2D3E4F506172"),
            "{template}: verification code"
        );
        let fonts = tool("pdffonts", &[], &path);
        assert!(
            fonts.contains("NotoSerifCJK") || fonts.contains("NotoSansCJK"),
            "{template}: {fonts}"
        );
        for line in fonts.lines().skip(2) {
            let columns: Vec<&str> = line.split_whitespace().collect();
            // name type encoding emb sub uni object ID: every font embedded.
            let embedded = columns.iter().rev().nth(4);
            assert_eq!(
                embedded,
                Some(&"yes"),
                "{template}: font not embedded: {line}"
            );
        }
        tool("qpdf", &["--check"], &path);
    }
}

#[test]
fn the_same_inputs_give_the_same_bytes() {
    let first = renderer()
        .render("medical_license", &sample("medical_license"), &meta())
        .unwrap();
    let second = renderer()
        .render("medical_license", &sample("medical_license"), &meta())
        .unwrap();
    assert!(first == second, "byte-identical");
    let other_day = Meta {
        date: jiff::civil::date(2026, 11, 24),
        ..meta()
    };
    assert!(
        renderer()
            .render("medical_license", &sample("medical_license"), &other_day)
            .unwrap()
            != first
    );
}

#[test]
fn pdfa_2b_is_declared() {
    let pdf = renderer()
        .render("grant_decision", &sample("grant_decision"), &meta())
        .unwrap();
    let text = String::from_utf8_lossy(&pdf);
    assert!(
        text.contains("pdfaid:part") || text.contains("pdfaid"),
        "PDF/A identification in the XMP metadata"
    );
    assert!(
        text.contains("<pdfaid:part>2</pdfaid:part>") || text.contains("pdfaid:part=\"2\""),
        "part 2"
    );
}

#[test]
fn a_missing_or_mistyped_field_names_template_and_field() {
    let mut data = sample("medical_license");
    data.remove("address");
    let error = renderer()
        .render("medical_license", &data, &meta())
        .unwrap_err();
    assert!(
        matches!(&error, DocumentError::MissingField { field, .. } if field == "address"),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "template `medical_license` needs the field `address`, which the data lacks"
    );
    let mut data = sample("medical_license");
    data.insert("beds".into(), "八十".into());
    let error = renderer()
        .render("medical_license", &data, &meta())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "template `medical_license` takes `beds` as a whole number"
    );
    let mut data = sample("medical_license");
    data.insert("valid_until".into(), "明年".into());
    assert!(renderer()
        .render("medical_license", &data, &meta())
        .is_err());
    let mut data = sample("medical_license");
    data.insert("holder".into(), "x".into());
    assert!(matches!(
        renderer().render("medical_license", &data, &meta()),
        Err(DocumentError::UnknownField { .. })
    ));
    let error = renderer()
        .render("permit", &sample("medical_license"), &meta())
        .unwrap_err();
    assert!(error.to_string().contains("the templates are"), "{error}");
    // Optional inputs may be left out.
    let mut data = sample("medical_license");
    data.remove("beds");
    assert!(renderer().render("medical_license", &data, &meta()).is_ok());
}

#[test]
fn hostile_inputs_render_literally_and_read_no_file() {
    let hostile = [
        "#read(\"/etc/passwd\")",
        "#eval(\"1+1\")",
        "]",
        "$x^2$",
        "\\",
        "{{7*7}}",
        "<script>alert(1)</script>",
        "\u{202E}倒序文字\u{200B}零宽",
    ];
    for name in hostile {
        let mut data = sample("medical_license");
        data.insert("name".into(), name.into());
        let pdf = renderer()
            .render("medical_license", &data, &meta())
            .unwrap_or_else(|e| panic!("{name:?}: {e}"));
        let path = write("hostile", &pdf);
        let text = text_of(&path);
        assert!(!text.contains("root:x:0"), "no file was read");
        let visible: String = name
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '\u{202E}' | '\u{200B}'))
            .collect();
        assert!(
            text.contains(&visible) || name.contains('\u{202E}'),
            "{name:?} rendered literally: {text}"
        );
    }
    let mut data = sample("refusal_notice");
    data.insert(
        "reasons".into(),
        serde_json::json!(["#read(\"/etc/passwd\")", "#eval(\"2*3\")"]),
    );
    let text = text_of(&write(
        "hostile-list",
        &renderer().render("refusal_notice", &data, &meta()).unwrap(),
    ));
    assert!(
        text.contains("#eval(\"2*3\")") && !text.contains("root:x:0"),
        "{text}"
    );
}

#[test]
fn a_huge_name_stays_bounded_in_time_and_pages() {
    let mut data = sample("medical_license");
    data.insert("name".into(), "医".repeat(100 * 1024 / 3).into());
    let started = std::time::Instant::now();
    match renderer().render("medical_license", &data, &meta()) {
        Ok(pdf) => {
            let pages = tool("qpdf", &["--show-npages"], &write("huge", &pdf));
            assert!(pages.trim().parse::<usize>().unwrap() <= MAX_PAGES);
        }
        Err(error) => assert!(
            matches!(error, DocumentError::TooManyPages { .. }),
            "{error}"
        ),
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "bounded in time"
    );
}

#[test]
fn no_cjk_font_is_a_clear_error() {
    let error = require_cjk(&typst_kit::fonts::FontStore::new()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "no CJK font found (Noto Serif CJK SC or Noto Sans CJK SC): install it with `apt-get install fonts-noto-cjk`"
    );
}

#[test]
fn the_public_one_time_notice_of_a_procedure() {
    let loaded = onewindow::project::load(&onewindow::project::Paths {
        flows: vec![root().join("workflows")],
        templates: root().join("templates"),
    })
    .unwrap();
    let workflow = loaded.workflow("eldercare_clinic").unwrap();
    let data = onewindow::dsl::notice::notice_data(workflow, jiff::civil::date(2026, 11, 23));
    let pdf = renderer()
        .render("one_time_notice", &data, &meta())
        .unwrap();
    let text = text_of(&write("notice", &pdf));
    for material in &workflow.materials {
        let label: String = material.label.split_whitespace().collect();
        assert!(text.contains(&label), "{label} in {text}");
    }
    assert!(text.contains("养老机构内设医疗机构一次性告知书"));
    assert!(text.contains("法定时限20个工作日"));
}

/// The notice is one value rendered twice here: the command line's text and
/// the PDF say every heading, item and line under an item of every shipped
/// procedure's notice (the page is held to the same in tests/web.rs).
#[test]
fn the_text_and_the_pdf_of_every_notice_say_all_of_it() {
    let loaded = onewindow::project::load(&onewindow::project::Paths {
        flows: vec![root().join("workflows")],
        templates: root().join("templates"),
    })
    .unwrap();
    let squeeze = |text: &str| -> String { text.split_whitespace().collect() };
    for workflow in &loaded.checked.workflows {
        let notice = onewindow::dsl::notice::Notice::of(workflow);
        let data = onewindow::dsl::notice::notice_data(workflow, jiff::civil::date(2026, 11, 23));
        let pdf = renderer()
            .render("one_time_notice", &data, &meta())
            .unwrap();
        let pdf_text = text_of(&write(&format!("notice-{}", workflow.id), &pdf));
        let plain = squeeze(&notice.to_string());
        assert!(
            pdf_text.contains(&squeeze(&notice.title)),
            "{}",
            workflow.id
        );
        for section in &notice.sections {
            let mut said = vec![section.heading.clone()];
            for item in &section.items {
                said.push(match item.number {
                    Some(number) => format!("{number}.{}", item.text),
                    None => item.text.clone(),
                });
                said.extend(item.details.iter().cloned());
            }
            for words in said.iter().map(|words| squeeze(words)) {
                assert!(
                    plain.contains(&words),
                    "{}: {words} in the text",
                    workflow.id
                );
                assert!(
                    pdf_text.contains(&words),
                    "{}: {words} in the PDF {pdf_text}",
                    workflow.id
                );
            }
        }
    }
}

#[test]
fn render_command_writes_one_pdf_and_a_batch() {
    let dir = std::env::temp_dir().join(format!("onewindow-render-cli-{}", std::process::id()));
    let inputs = dir.join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    for (index, name) in ["甲医院", "乙医院", "丙医院"].iter().enumerate() {
        let mut data = sample("medical_license");
        data.insert("name".into(), (*name).into());
        data.insert(
            "number".into(),
            format!("医养2026卫{:05}", index + 1).into(),
        );
        std::fs::write(
            inputs.join(format!("{index}.json")),
            serde_json::to_string(&data).unwrap(),
        )
        .unwrap();
    }
    let onewindow = |args: &[&str]| {
        common::onewindow()
            .current_dir(root())
            .args(args)
            .output()
            .expect("runs")
    };
    let single = dir.join("one.pdf");
    let first = inputs.join("0.json");
    let output = onewindow(&[
        "render",
        "medical_license",
        "--data",
        first.to_str().unwrap(),
        "-o",
        single.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text_of(&single).contains("甲医院"));
    let out = dir.join("batch");
    let output = onewindow(&[
        "render",
        "medical_license",
        "--data",
        inputs.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text_of(&out.join("2.pdf")).contains("丙医院"));
    let mut broken = sample("medical_license");
    broken.remove("kind");
    std::fs::write(
        inputs.join("3.json"),
        serde_json::to_string(&broken).unwrap(),
    )
    .unwrap();
    let output = onewindow(&[
        "render",
        "medical_license",
        "--data",
        inputs.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs the field `kind`"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_refusal_without_reasons_or_appeal_rights_is_not_typeset() {
    for (template, field, empty) in [
        ("denial_decision", "reasons", serde_json::json!([])),
        ("denial_decision", "appeal", serde_json::json!("  ")),
        ("refusal_notice", "reasons", serde_json::json!([])),
        ("correction_notice", "corrections", serde_json::json!([])),
    ] {
        let mut data = sample(template);
        data.insert(field.into(), empty);
        let error = renderer().render(template, &data, &meta()).unwrap_err();
        assert!(
            matches!(&error, DocumentError::EmptyField { field: f, .. } if f == field),
            "{template}.{field}: {error}"
        );
        assert_eq!(
            error.to_string(),
            format!("template `{template}` needs `{field}` not empty")
        );
    }
}

/// Each legal form speaks its own words: a failed evaluation or a refused
/// designation is not a licence refusal, and tells its own remedy.
#[test]
fn each_legal_form_prints_its_own_result_and_remedy() {
    use onewindow::dsl::ir::LegalForm;
    for (template, form) in [
        ("evaluation_result", LegalForm::Evaluation),
        ("designation_result", LegalForm::Designation),
    ] {
        let mut data = sample(template);
        data.insert("result".into(), form.wording(false).into());
        data.insert(
            "reasons".into(),
            serde_json::json!(["现场评估发现护理记录不完整"]),
        );
        data.insert("appeal".into(), form.remedy().into());
        if form == LegalForm::Evaluation {
            data.insert("consequence".into(), "限期整改，评估部门跟踪复查".into());
        }
        let pdf = renderer()
            .render(template, &data, &meta())
            .unwrap_or_else(|e| panic!("{template}: {e}"));
        let text = text_of(&write(&format!("{template}-refused"), &pdf));
        let remedy: String = form.remedy().split_whitespace().collect();
        let consequence = if form == LegalForm::Evaluation {
            "依照规定：限期整改，评估部门跟踪复查。"
        } else {
            "现场评估发现护理记录不完整"
        };
        for phrase in [
            form.wording(false),
            "现场评估发现护理记录不完整",
            &remedy,
            consequence,
        ] {
            assert!(
                text.contains(phrase),
                "{template}: {phrase:?} not in {text:?}"
            );
        }
        for licence_words in [
            "不予行政许可",
            "准予行政许可",
            "第三十八条",
            "签订医疗保障服务协议",
        ] {
            assert!(
                !text.contains(licence_words),
                "{template}: {licence_words:?} in {text:?}"
            );
        }
    }
}

/// The licence does not claim 两证合一: where it applies, the grant decision
/// names the combined matter; where it does not, no licence is issued.
#[test]
fn the_licence_prints_no_blanket_two_in_one_sentence() {
    let pdf = renderer()
        .render("medical_license", &sample("medical_license"), &meta())
        .unwrap();
    let text = text_of(&write("licence-two-in-one", &pdf));
    assert!(text.contains("医疗机构执业许可证"), "{text}");
    assert!(!text.contains("两证合一"), "{text}");
}
