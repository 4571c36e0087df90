//! The one-time notice (一次性告知), derived from a checked workflow.
//!
//! Everything an applicant must be told once — the item, its legal basis,
//! the conditions, the materials with their conditions, the process with the
//! departments, the time limits and the documents — comes from the
//! definition itself, so the notice can never disagree with the engine.
//!
//! The notice is data ([`Notice`]: sections of items), rendered three ways
//! from that one value: as text for the command line (`Display`), as the
//! public page, and as the PDF (the `one_time_notice` template reads the
//! sections as they are).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ir::{Event, Requirement, Route, Step, Workflow};

/// A procedure's one-time notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "full", derive(utoipa::ToSchema))]
pub struct Notice {
    /// 「…一次性告知书」.
    pub title: String,
    pub workflow: String,
    pub version: u32,
    pub sections: Vec<Section>,
}

/// 「一、办理事项」 and its items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "full", derive(utoipa::ToSchema))]
pub struct Section {
    pub heading: String,
    pub items: Vec<Item>,
}

/// One item of a section: numbered within its list or a paragraph of its
/// own, with the lines that belong under it (a material's explanation, the
/// steps of a parallel group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "full", derive(utoipa::ToSchema))]
pub struct Item {
    pub number: Option<u32>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl Item {
    fn numbered(number: usize, text: impl Into<String>) -> Item {
        Item {
            number: u32::try_from(number).ok(),
            text: text.into(),
            details: Vec::new(),
        }
    }

    fn paragraph(text: impl Into<String>) -> Item {
        Item {
            number: None,
            text: text.into(),
            details: Vec::new(),
        }
    }
}

const NUMERALS: [&str; 10] = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];

impl Notice {
    /// The notice of a checked workflow.
    pub fn of(workflow: &Workflow) -> Notice {
        let mut parts = vec![
            ("办理事项", matter(workflow)),
            ("设定依据", numbered(workflow.basis.iter().cloned())),
            ("受理条件", conditions(workflow)),
            ("申请材料", materials(workflow)),
            ("办理流程", process(workflow)),
            ("办理时限", limits(workflow)),
            ("办理结果", results(workflow)),
            ("办理部门", departments(workflow)),
        ];
        if !workflow.recurring.is_empty() {
            parts.push(("后续义务", obligations(workflow)));
        }
        if !workflow.promises.is_empty() {
            parts.push(("申请人须知", numbered(workflow.promises.iter().cloned())));
        }
        let sections = parts
            .into_iter()
            .zip(NUMERALS)
            .map(|((heading, items), numeral)| Section {
                heading: format!("{numeral}、{heading}"),
                items,
            })
            .collect();
        Notice {
            title: format!("{}一次性告知书", workflow.title),
            workflow: workflow.id.clone(),
            version: workflow.version,
            sections,
        }
    }
}

/// The notice as plain Chinese text, for the command line and the editor.
impl fmt::Display for Notice {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(out, "{}", self.title)?;
        writeln!(out, "（流程 {} 第{}版）", self.workflow, self.version)?;
        for (index, section) in self.sections.iter().enumerate() {
            if index > 0 {
                writeln!(out)?;
            }
            writeln!(out)?;
            write!(out, "{}", section.heading)?;
            for item in &section.items {
                writeln!(out)?;
                match item.number {
                    Some(number) => write!(out, "  {number}. {}", item.text)?,
                    None => write!(out, "  {}", item.text)?,
                }
                for detail in &item.details {
                    writeln!(out)?;
                    write!(out, "     - {detail}")?;
                }
            }
        }
        writeln!(out)
    }
}

/// The notice as plain Chinese text.
pub fn one_time_notice(workflow: &Workflow) -> String {
    Notice::of(workflow).to_string()
}

fn numbered(texts: impl Iterator<Item = String>) -> Vec<Item> {
    texts
        .enumerate()
        .map(|(index, text)| Item::numbered(index + 1, text))
        .collect()
}

fn matter(workflow: &Workflow) -> Vec<Item> {
    let mut items = vec![
        Item::paragraph(format!("{}。", workflow.title)),
        Item::paragraph(format!(
            "申请人只需向{}一个窗口提交申请，各部门依职责办理，申请人无需往返各部门。",
            workflow.department_name(&workflow.intake.department)
        )),
    ];
    if let Some(address) = workflow
        .department(&workflow.intake.department)
        .and_then(|d| d.address.as_ref())
    {
        items.push(Item::paragraph(format!("受理地点：{address}。")));
    }
    items
}

fn conditions(workflow: &Workflow) -> Vec<Item> {
    let mut items = Vec::new();
    if workflow.rules.is_empty() && workflow.facts.is_empty() {
        items.push(Item::paragraph("材料齐全、符合法定形式。"));
    }
    items.extend(numbered(workflow.rules.iter().map(
        |rule| match &rule.when {
            Some(when) => format!("{}（适用于{}）", rule.message, when.describe(workflow)),
            None => rule.message.clone(),
        },
    )));
    if !workflow.facts.is_empty() {
        let labels: Vec<&str> = workflow.facts.iter().map(|f| f.label.as_str()).collect();
        items.push(Item::paragraph(format!(
            "以下情况由登记信息核验，无需另行提交：{}。",
            labels.join("；")
        )));
    }
    items
}

fn materials(workflow: &Workflow) -> Vec<Item> {
    let mut items = Vec::new();
    for (index, material) in workflow.materials.iter().enumerate() {
        let mut terms = vec![match &material.requirement {
            Requirement::Required => "必须提交".to_string(),
            Requirement::RequiredWhen(cond) => format!("{}时必须提交", cond.describe(workflow)),
            Requirement::Optional => "选择提交".to_string(),
        }];
        if material.deferrable {
            terms.push("可容缺受理，受理后补交".to_string());
        }
        if !material.kinds.is_empty() {
            let kinds: Vec<String> = material.kinds.iter().map(|k| k.to_uppercase()).collect();
            terms.push(format!("格式：{}", kinds.join("、")));
        }
        let mut item = Item::numbered(
            index + 1,
            format!("{}（{}）", material.label, terms.join("；")),
        );
        if let Some(help) = &material.help {
            item.details.push(format!("说明：{help}"));
        }
        items.push(item);
    }
    items
}

fn process(workflow: &Workflow) -> Vec<Item> {
    let mut items = vec![Item::numbered(
        1,
        format!(
            "{}：{}，{}个工作日内完成受理或一次性告知补正。",
            workflow.intake.label,
            workflow.department_name(&workflow.intake.department),
            workflow.intake.limit
        ),
    )];
    if let Route::Sequence(route) = &workflow.route {
        for item in route {
            route_items(workflow, item, &mut items);
        }
    }
    for group in &workflow.independent {
        let names: Vec<String> = group.iter().map(|id| workflow.part_name(id)).collect();
        items.push(Item::paragraph(format!(
            "{}并联办理，互不作为前置条件，各自作出决定、各自负责（谁审批谁监管）；一个部门不予办理的，不影响其他部门的办理。",
            names.join("、")
        )));
    }
    for group in &workflow.jointly {
        let names: Vec<String> = group
            .departments
            .iter()
            .map(|id| workflow.part_name(id))
            .collect();
        items.push(Item::paragraph(format!(
            "{}办理的为同一事项（{}），任一部门不予办理的，整个申请办结。",
            names.join("、"),
            group.basis
        )));
    }
    items
}

/// The numbered steps of the route after intake; a parallel group is one
/// item with its steps under it.
fn route_items(workflow: &Workflow, route: &Route, items: &mut Vec<Item>) {
    match route {
        Route::Step(index) => items.push(Item::numbered(
            items.len() + 1,
            describe_step(workflow, &workflow.steps[*index]),
        )),
        Route::Sequence(route) => {
            for item in route {
                route_items(workflow, item, items);
            }
        }
        Route::Parallel(branches) => {
            let mut group = Item::numbered(items.len() + 1, "并联办理（同时进行，互不等待）：");
            for branch in branches {
                branch_steps(workflow, branch, &mut group.details);
            }
            items.push(group);
        }
    }
}

/// The steps of a parallel branch, nested groups flattened.
fn branch_steps(workflow: &Workflow, route: &Route, out: &mut Vec<String>) {
    match route {
        Route::Step(index) => out.push(describe_step(workflow, &workflow.steps[*index])),
        Route::Sequence(items) | Route::Parallel(items) => {
            for item in items {
                branch_steps(workflow, item, out);
            }
        }
    }
}

fn describe_step(workflow: &Workflow, step: &Step) -> String {
    let who = workflow.step_actors(step);
    let mut text = format!(
        "{}（{}，{}，{}个工作日）",
        step.label,
        who,
        step.legal_form().chinese(),
        step.limit
    );
    if let Some(months) = step.bound_months {
        text.push_str(&format!("，含依法暂停的时间最长不超过{months}个月"));
    }
    if let Some(when) = &step.when {
        text.push_str(&format!("，适用于{}", when.describe(workflow)));
    }
    text
}

fn limits(workflow: &Workflow) -> Vec<Item> {
    let mut items = vec![Item::paragraph(format!(
        "法定时限{}个工作日，承诺时限{}个工作日，自受理之日起计算（不含法定节假日）。",
        workflow.legal_limit, workflow.promised_limit
    ))];
    if workflow.extension > 0 {
        items.push(Item::paragraph(format!(
            "情况复杂的，经{}批准，可以延长{}个工作日，并将延长理由告知申请人。",
            workflow.extension_approver.chinese(),
            workflow.extension
        )));
    }
    items.push(Item::paragraph(format!(
        "材料不齐全或不符合法定形式的，窗口在{}个工作日内一次性告知需要补正的全部内容；逾期不告知的，自收到申请材料之日起即为受理。",
        workflow.intake.limit
    )));
    items.push(Item::paragraph(
        "依法需要听证、检验、检测、鉴定和专家评审的，所需时间不计入时限，并书面告知申请人。",
    ));
    items
}

fn results(workflow: &Workflow) -> Vec<Item> {
    let titles = |event: Event, department: Option<&str>| -> Vec<String> {
        workflow
            .outcomes_on(event)
            .filter(|o| department.is_none_or(|d| o.issued_by == d))
            .map(|o| match &o.when {
                Some(when) => format!(
                    "{}（{}出具，适用于{}）",
                    o.title,
                    workflow.part_name(&o.issued_by),
                    when.describe(workflow)
                ),
                None => format!("{}（{}出具）", o.title, workflow.part_name(&o.issued_by)),
            })
            .collect()
    };
    let mut items = Vec::new();
    for event in [
        Event::Accepted,
        Event::NotAccepted,
        Event::Correction,
        Event::Signed,
    ] {
        let documents = titles(event, None);
        if !documents.is_empty() {
            items.push(Item::paragraph(format!(
                "{}：{}",
                event.chinese(),
                documents.join("、")
            )));
        }
    }
    // Each department's part, in its legal form's words.
    for department in workflow.deciding_departments() {
        let Some(form) = workflow.part_form(department) else {
            continue;
        };
        let mut results = Vec::new();
        for &event in form.events() {
            let documents = titles(event, Some(department));
            if !documents.is_empty() {
                let wording = form.wording(event != Event::Rejected);
                results.push(format!("{wording}的，{}", documents.join("、")));
            }
        }
        items.push(Item::paragraph(format!(
            "{}（{}）：{}",
            workflow.part_name(department),
            form.chinese(),
            results.join("；")
        )));
    }
    for consequence in &workflow.consequences {
        items.push(Item::paragraph(match &consequence.when {
            Some(when) => format!(
                "评估不合格的：{}（适用于{}）",
                consequence.text,
                when.describe(workflow)
            ),
            None => format!("评估不合格的：{}", consequence.text),
        }));
    }
    items
}

fn departments(workflow: &Workflow) -> Vec<Item> {
    workflow
        .departments
        .values()
        .map(|department| {
            Item::paragraph(match &department.address {
                Some(address) => format!("{}（地址：{address}）", department.name),
                None => department.name.clone(),
            })
        })
        .collect()
}

fn obligations(workflow: &Workflow) -> Vec<Item> {
    workflow
        .recurring
        .iter()
        .map(|recurring| {
            let period = if recurring.every_months % 12 == 0 {
                format!("每{}年", recurring.every_months / 12)
            } else {
                format!("每{}个月", recurring.every_months)
            };
            let reminder = recurring
                .remind_days
                .map(|days| format!("（到期前{days}日提醒）"))
                .unwrap_or_default();
            Item::paragraph(format!("{period}：{}{reminder}", recurring.label))
        })
        .collect()
}

/// The notice as the data of the `one_time_notice` template: its title and
/// its sections as they are.
pub fn notice_data(
    workflow: &Workflow,
    issued_on: jiff::civil::Date,
) -> serde_json::Map<String, serde_json::Value> {
    let notice = Notice::of(workflow);
    let department = workflow.department_name(&workflow.intake.department);
    let mut data = serde_json::Map::new();
    data.insert("title".into(), notice.title.into());
    data.insert(
        "sections".into(),
        serde_json::to_value(&notice.sections).unwrap_or_default(),
    );
    data.insert("department".into(), department.into());
    data.insert("issued_on".into(), issued_on.to_string().into());
    data
}
