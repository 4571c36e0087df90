//! The one-time notice (一次性告知), derived from a checked workflow.
//!
//! Everything an applicant must be told once — the item, its legal basis,
//! the conditions, the materials with their conditions, the process with the
//! departments, the time limits and the documents — comes from the
//! definition itself, so the notice can never disagree with the engine.

use std::fmt::Write as _;

use super::ir::{Event, Requirement, Route, Step, Workflow};

/// The notice as plain Chinese text.
pub fn one_time_notice(workflow: &Workflow) -> String {
    let mut out = String::new();
    let department_name = |id: &str| workflow.department_name(id);
    let _ = writeln!(out, "{}一次性告知书", workflow.title);
    let _ = writeln!(out, "（流程 {} 第{}版）", workflow.id, workflow.version);
    let _ = writeln!(out);

    let _ = writeln!(out, "一、办理事项");
    let _ = writeln!(out, "  {}。", workflow.title);
    let _ = writeln!(
        out,
        "  申请人只需向{}一个窗口提交申请，各部门依职责办理，申请人无需往返各部门。",
        department_name(&workflow.intake.department)
    );
    if let Some(address) = workflow
        .department(&workflow.intake.department)
        .and_then(|d| d.address.as_ref())
    {
        let _ = writeln!(out, "  受理地点：{address}。");
    }
    let _ = writeln!(out);

    let _ = writeln!(out, "二、设定依据");
    for (index, basis) in workflow.basis.iter().enumerate() {
        let _ = writeln!(out, "  {}. {basis}", index + 1);
    }
    let _ = writeln!(out);

    let _ = writeln!(out, "三、受理条件");
    if workflow.rules.is_empty() && workflow.facts.is_empty() {
        let _ = writeln!(out, "  材料齐全、符合法定形式。");
    }
    for (index, rule) in workflow.rules.iter().enumerate() {
        match &rule.when {
            Some(when) => {
                let _ = writeln!(
                    out,
                    "  {}. {}（适用于{}）",
                    index + 1,
                    rule.message,
                    when.describe(workflow)
                );
            }
            None => {
                let _ = writeln!(out, "  {}. {}", index + 1, rule.message);
            }
        }
    }
    if !workflow.facts.is_empty() {
        let labels: Vec<&str> = workflow.facts.iter().map(|f| f.label.as_str()).collect();
        let _ = writeln!(
            out,
            "  以下情况由登记信息核验，无需另行提交：{}。",
            labels.join("；")
        );
    }
    let _ = writeln!(out);

    let _ = writeln!(out, "四、申请材料");
    for (index, material) in workflow.materials.iter().enumerate() {
        let requirement = match &material.requirement {
            Requirement::Required => "必须提交".to_string(),
            Requirement::RequiredWhen(cond) => format!("{}时必须提交", cond.describe(workflow)),
            Requirement::Optional => "选择提交".to_string(),
        };
        let _ = write!(out, "  {}. {}（{requirement}", index + 1, material.label);
        if material.deferrable {
            let _ = write!(out, "；可容缺受理，受理后补交");
        }
        if !material.kinds.is_empty() {
            let kinds: Vec<String> = material.kinds.iter().map(|k| k.to_uppercase()).collect();
            let _ = write!(out, "；格式：{}", kinds.join("、"));
        }
        let _ = writeln!(out, "）");
        if let Some(help) = &material.help {
            let _ = writeln!(out, "     说明：{help}");
        }
    }
    let _ = writeln!(out);

    let _ = writeln!(out, "五、办理流程");
    let _ = writeln!(
        out,
        "  1. {}：{}，{}个工作日内完成受理或一次性告知补正。",
        workflow.intake.label,
        department_name(&workflow.intake.department),
        workflow.intake.limit
    );
    let mut number = 2;
    if let Route::Sequence(items) = &workflow.route {
        for item in items {
            describe_route(&mut out, workflow, item, &mut number, 1);
        }
    }
    for group in &workflow.independent {
        let names: Vec<String> = group.iter().map(|id| workflow.part_name(id)).collect();
        let _ = writeln!(
            out,
            "  {}并联办理，互不作为前置条件，各自作出决定、各自负责（谁审批谁监管）；一个部门不予办理的，不影响其他部门的办理。",
            names.join("、")
        );
    }
    for group in &workflow.jointly {
        let names: Vec<String> = group
            .departments
            .iter()
            .map(|id| workflow.part_name(id))
            .collect();
        let _ = writeln!(
            out,
            "  {}办理的为同一事项（{}），任一部门不予办理的，整个申请办结。",
            names.join("、"),
            group.basis
        );
    }
    let _ = writeln!(out);

    let _ = writeln!(out, "六、办理时限");
    let _ = writeln!(
        out,
        "  法定时限{}个工作日，承诺时限{}个工作日，自受理之日起计算（不含法定节假日）。",
        workflow.legal_limit, workflow.promised_limit
    );
    if workflow.extension > 0 {
        let _ = writeln!(
            out,
            "  情况复杂的，经{}批准，可以延长{}个工作日，并将延长理由告知申请人。",
            workflow.extension_approver.chinese(),
            workflow.extension
        );
    }
    let _ = writeln!(
        out,
        "  材料不齐全或不符合法定形式的，窗口在{}个工作日内一次性告知需要补正的全部内容；逾期不告知的，自收到申请材料之日起即为受理。",
        workflow.intake.limit
    );
    let _ = writeln!(
        out,
        "  依法需要听证、检验、检测、鉴定和专家评审的，所需时间不计入时限，并书面告知申请人。"
    );
    let _ = writeln!(out);

    let _ = writeln!(out, "七、办理结果");
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
    for event in [
        Event::Accepted,
        Event::NotAccepted,
        Event::Correction,
        Event::Signed,
    ] {
        let documents = titles(event, None);
        if !documents.is_empty() {
            let _ = writeln!(out, "  {}：{}", event.chinese(), documents.join("、"));
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
        let _ = writeln!(
            out,
            "  {}（{}）：{}",
            workflow.part_name(department),
            form.chinese(),
            results.join("；")
        );
    }
    for consequence in &workflow.consequences {
        let _ = write!(out, "  评估不合格的：{}", consequence.text);
        if let Some(when) = &consequence.when {
            let _ = write!(out, "（适用于{}）", when.describe(workflow));
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out);

    let _ = writeln!(out, "八、办理部门");
    for department in workflow.departments.values() {
        match &department.address {
            Some(address) => {
                let _ = writeln!(out, "  {}（地址：{address}）", department.name);
            }
            None => {
                let _ = writeln!(out, "  {}", department.name);
            }
        }
    }
    let mut next_section = ["九", "十"].into_iter();
    if !workflow.recurring.is_empty() {
        let _ = writeln!(out);
        let numeral = next_section.next().unwrap_or_default();
        let _ = writeln!(out, "{numeral}、后续义务");
        for recurring in &workflow.recurring {
            let period = if recurring.every_months % 12 == 0 {
                format!("每{}年", recurring.every_months / 12)
            } else {
                format!("每{}个月", recurring.every_months)
            };
            let _ = write!(out, "  {period}：{}", recurring.label);
            if let Some(days) = recurring.remind_days {
                let _ = write!(out, "（到期前{days}日提醒）");
            }
            let _ = writeln!(out);
        }
    }
    if !workflow.promises.is_empty() {
        let _ = writeln!(out);
        let numeral = next_section.next().unwrap_or_default();
        let _ = writeln!(out, "{numeral}、申请人须知");
        for (index, promise) in workflow.promises.iter().enumerate() {
            let _ = writeln!(out, "  {}. {promise}", index + 1);
        }
    }
    out
}

fn describe_route(
    out: &mut String,
    workflow: &Workflow,
    route: &Route,
    number: &mut usize,
    depth: usize,
) {
    let indent = "  ".repeat(depth);
    match route {
        Route::Step(index) => {
            let step = &workflow.steps[*index];
            let _ = writeln!(out, "{indent}{}. {}", number, describe_step(workflow, step));
            *number += 1;
        }
        Route::Sequence(items) => {
            for item in items {
                describe_route(out, workflow, item, number, depth);
            }
        }
        Route::Parallel(items) => {
            let _ = writeln!(out, "{indent}{}. 并联办理（同时进行，互不等待）：", number);
            *number += 1;
            for item in items {
                let mut inner = String::new();
                let mut inner_number = 1;
                describe_route(&mut inner, workflow, item, &mut inner_number, 0);
                for line in inner.lines() {
                    let text = line
                        .trim_start()
                        .split_once(". ")
                        .map_or(line.trim_start(), |(_, rest)| rest);
                    let _ = writeln!(out, "{indent}   - {text}");
                }
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

/// The notice as the data of the `one_time_notice` template: its title and
/// its lines after the title, blank lines left out.
pub fn notice_data(
    workflow: &Workflow,
    issued_on: jiff::civil::Date,
) -> serde_json::Map<String, serde_json::Value> {
    let text = one_time_notice(workflow);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .skip(2)
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::Value::String(line.to_string()))
        .collect();
    let department = workflow.department_name(&workflow.intake.department);
    let mut data = serde_json::Map::new();
    data.insert(
        "title".into(),
        format!("{}一次性告知书", workflow.title).into(),
    );
    data.insert("lines".into(), serde_json::Value::Array(lines));
    data.insert("department".into(), department.into());
    data.insert("issued_on".into(), issued_on.to_string().into());
    data
}
