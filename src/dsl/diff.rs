//! What changed between two versions of a procedure, in the words a
//! department head reads: steps, departments and their order or
//! parallelism, time limits, materials, form fields and rules, documents
//! and what the public is told. `onewindow diff` prints it; the policy
//! staff's compare page shows it.
//!
//! Things are matched by what stays put across versions: materials, fields
//! and departments by their ids, steps by their labels (a step's id is its
//! place in the route, which moves when a step is inserted), rules by
//! their messages, documents by the event and their titles.

use std::fmt::Write as _;

use serde::Serialize;

use super::ir::{Field, Material, Outcome, Requirement, Route, Step, Workflow};

/// The part of a definition a change is in, in the order they are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Section {
    Basics,
    Departments,
    Steps,
    Materials,
    Form,
    Rules,
    Documents,
}

impl Section {
    pub fn chinese(self) -> &'static str {
        match self {
            Section::Basics => "基本信息与时限",
            Section::Departments => "部门",
            Section::Steps => "办理环节与顺序",
            Section::Materials => "申请材料",
            Section::Form => "申请表",
            Section::Rules => "审查规则",
            Section::Documents => "出具文书",
        }
    }
}

/// One change, said in a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub section: Section,
    pub text: String,
}

/// Every change from `old` to `new`, section by section.
pub fn diff(old: &Workflow, new: &Workflow) -> Vec<Change> {
    let mut changes = Vec::new();
    basics(old, new, &mut changes);
    departments(old, new, &mut changes);
    steps(old, new, &mut changes);
    materials(old, new, &mut changes);
    form(old, new, &mut changes);
    rules(old, new, &mut changes);
    documents(old, new, &mut changes);
    changes.sort_by_key(|change| change.section);
    changes
}

/// The changes as text, a heading per section; a line when nothing changed.
pub fn render(old: &Workflow, new: &Workflow, changes: &[Change]) -> String {
    let mut out = format!("{}：第{}版 → 第{}版\n", new.title, old.version, new.version);
    if changes.is_empty() {
        out.push_str("两个版本的内容相同。\n");
        return out;
    }
    let mut section = None;
    for change in changes {
        if section != Some(change.section) {
            section = Some(change.section);
            let _ = writeln!(out, "\n{}", change.section.chinese());
        }
        let _ = writeln!(out, "  - {}", change.text);
    }
    out
}

fn push(changes: &mut Vec<Change>, section: Section, text: String) {
    changes.push(Change { section, text });
}

/// A number that changed: `「label」由 a 改为 b`.
fn changed<T: PartialEq + std::fmt::Display>(
    changes: &mut Vec<Change>,
    section: Section,
    what: &str,
    old: T,
    new: T,
    unit: &str,
) {
    if old != new {
        push(
            changes,
            section,
            format!("{what}由{old}{unit}改为{new}{unit}"),
        );
    }
}

/// Items added and removed between two lists, matched by a key.
fn added_removed<'a, T, K: PartialEq>(
    old: &'a [T],
    new: &'a [T],
    key: impl Fn(&T) -> K,
) -> (Vec<&'a T>, Vec<&'a T>, Vec<(&'a T, &'a T)>) {
    let added = new
        .iter()
        .filter(|n| !old.iter().any(|o| key(o) == key(n)))
        .collect();
    let removed = old
        .iter()
        .filter(|o| !new.iter().any(|n| key(o) == key(n)))
        .collect();
    let kept = old
        .iter()
        .filter_map(|o| new.iter().find(|n| key(o) == key(n)).map(|n| (o, n)))
        .collect();
    (added, removed, kept)
}

fn basics(old: &Workflow, new: &Workflow, changes: &mut Vec<Change>) {
    let section = Section::Basics;
    if old.title != new.title {
        push(
            changes,
            section,
            format!("事项名称由「{}」改为「{}」", old.title, new.title),
        );
    }
    changed(
        changes,
        section,
        "法定办结时限",
        old.legal_limit,
        new.legal_limit,
        "个工作日",
    );
    changed(
        changes,
        section,
        "承诺办结时限",
        old.promised_limit,
        new.promised_limit,
        "个工作日",
    );
    changed(
        changes,
        section,
        "可延长时限",
        old.extension,
        new.extension,
        "个工作日",
    );
    if old.extension_approver != new.extension_approver {
        push(
            changes,
            section,
            format!(
                "延长时限改由{}批准（原为{}）",
                new.extension_approver.chinese(),
                old.extension_approver.chinese()
            ),
        );
    }
    texts(changes, section, "设定依据", &old.basis, &new.basis);
    texts(changes, section, "申请人须知", &old.promises, &new.promises);
}

/// Lines of text added and removed (bases, promises).
fn texts(changes: &mut Vec<Change>, section: Section, what: &str, old: &[String], new: &[String]) {
    let (added, removed, _) = added_removed(old, new, Clone::clone);
    for text in added {
        push(changes, section, format!("{what}新增：{text}"));
    }
    for text in removed {
        push(changes, section, format!("{what}删去：{text}"));
    }
}

fn departments(old: &Workflow, new: &Workflow, changes: &mut Vec<Change>) {
    let section = Section::Departments;
    for (id, department) in &new.departments {
        match old.departments.get(id) {
            None => push(changes, section, format!("新增部门：{}", department.name)),
            Some(before) if before.name != department.name => push(
                changes,
                section,
                format!("部门名称由「{}」改为「{}」", before.name, department.name),
            ),
            Some(_) => {}
        }
    }
    for (id, department) in &old.departments {
        if !new.departments.contains_key(id) {
            push(
                changes,
                section,
                format!("不再涉及部门：{}", department.name),
            );
        }
    }
    let old_deciding = deciding_names(old);
    let new_deciding = deciding_names(new);
    if old_deciding != new_deciding {
        push(
            changes,
            section,
            format!(
                "作出决定的部门由「{}」改为「{}」",
                old_deciding.join("、"),
                new_deciding.join("、")
            ),
        );
    }
    if old.independent != new.independent || old.jointly != new.jointly {
        push(
            changes,
            section,
            "各部门决定之间的关系有变化（各自独立作出，或须共同成立）".to_string(),
        );
    }
}

fn deciding_names(workflow: &Workflow) -> Vec<String> {
    workflow
        .deciding_departments()
        .into_iter()
        .map(|department| workflow.part_name(department))
        .collect()
}

fn steps(old: &Workflow, new: &Workflow, changes: &mut Vec<Change>) {
    let section = Section::Steps;
    if old.intake.limit != new.intake.limit {
        changed(
            changes,
            section,
            &format!("「{}」时限", new.intake.label),
            old.intake.limit,
            new.intake.limit,
            "个工作日",
        );
    }
    let (added, removed, kept) = added_removed(&old.steps, &new.steps, |s| s.label.clone());
    let reshaped = !added.is_empty() || !removed.is_empty();
    for step in added {
        push(
            changes,
            section,
            format!("新增环节：{}", step_words(new, step)),
        );
    }
    for step in removed {
        push(
            changes,
            section,
            format!("删去环节：{}", step_words(old, step)),
        );
    }
    let in_both = |label: &str| kept.iter().any(|(before, _)| before.label == label);
    for (before, after) in &kept {
        step_changes(old, new, before, after, changes);
    }
    // The order of the steps both versions have, apart from those added
    // or removed: a step moved, or parallel steps now one after another.
    let old_order = outline(old, &old.route, &in_both);
    let new_order = outline(new, &new.route, &in_both);
    let everything = |_: &str| true;
    if old_order != new_order {
        push(
            changes,
            section,
            format!(
                "办理顺序由「{}」改为「{}」",
                outline(old, &old.route, &everything),
                outline(new, &new.route, &everything)
            ),
        );
    } else if reshaped {
        push(
            changes,
            section,
            format!("办理顺序现为「{}」", outline(new, &new.route, &everything)),
        );
    }
}

fn step_words(workflow: &Workflow, step: &Step) -> String {
    format!(
        "{}（{}，{}，{}个工作日）",
        step.label,
        workflow.step_actors(step),
        step.legal_form().chinese(),
        step.limit
    )
}

fn step_changes(
    old: &Workflow,
    new: &Workflow,
    before: &Step,
    after: &Step,
    out: &mut Vec<Change>,
) {
    let section = Section::Steps;
    changed(
        out,
        section,
        &format!("「{}」时限", after.label),
        before.limit,
        after.limit,
        "个工作日",
    );
    let (who_before, who_after) = (old.step_actors(before), new.step_actors(after));
    if who_before != who_after {
        push(
            out,
            section,
            format!("「{}」改由{who_after}办理（原为{who_before}）", after.label),
        );
    }
    if before.legal_form() != after.legal_form() {
        push(
            out,
            section,
            format!(
                "「{}」由{}改为{}",
                after.label,
                before.legal_form().chinese(),
                after.legal_form().chinese()
            ),
        );
    }
    let when = |workflow: &Workflow, step: &Step| {
        step.when
            .as_ref()
            .map_or("所有申请".to_string(), |c| c.describe(workflow))
    };
    let (when_before, when_after) = (when(old, before), when(new, after));
    if when_before != when_after {
        push(
            out,
            section,
            format!(
                "「{}」适用范围由「{when_before}」改为「{when_after}」",
                after.label
            ),
        );
    }
}

/// The route in one line, `A → 并联（B、C）→ D`, with only the steps
/// whose labels are `shown` (a group left with one step is that step).
fn outline(workflow: &Workflow, route: &Route, shown: &dyn Fn(&str) -> bool) -> String {
    let parts = |items: &[Route]| -> Vec<String> {
        items
            .iter()
            .map(|item| outline(workflow, item, shown))
            .filter(|text| !text.is_empty())
            .collect()
    };
    match route {
        Route::Step(index) => {
            let label = &workflow.steps[*index].label;
            if shown(label) {
                label.clone()
            } else {
                String::new()
            }
        }
        Route::Sequence(items) => parts(items).join(" → "),
        Route::Parallel(items) => match parts(items).as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            many => format!("并联（{}）", many.join("、")),
        },
    }
}

fn materials(old: &Workflow, new: &Workflow, changes: &mut Vec<Change>) {
    let section = Section::Materials;
    let (added, removed, kept) = added_removed(&old.materials, &new.materials, |m| m.id.clone());
    for material in added {
        push(
            changes,
            section,
            format!(
                "新增材料：{}（{}）",
                material.label,
                requirement_words(new, material)
            ),
        );
    }
    for material in removed {
        push(
            changes,
            section,
            format!("不再需要材料：{}", material.label),
        );
    }
    for (before, after) in kept {
        if before.label != after.label {
            push(
                changes,
                section,
                format!("材料名称由「{}」改为「{}」", before.label, after.label),
            );
        }
        let (was, now) = (
            requirement_words(old, before),
            requirement_words(new, after),
        );
        if was != now {
            push(
                changes,
                section,
                format!("「{}」现为{now}（原为{was}）", after.label),
            );
        }
        let optional = matches!(after.requirement, Requirement::Optional);
        if before.deferrable != after.deferrable && !optional {
            let text = if after.deferrable {
                format!("「{}」现可容缺受理，受理后补交", after.label)
            } else {
                format!("「{}」不再容缺，须在受理前提交", after.label)
            };
            push(changes, section, text);
        }
        if before.kinds != after.kinds {
            push(
                changes,
                section,
                format!(
                    "「{}」可提交的文件格式由{}改为{}",
                    after.label,
                    kinds_words(&before.kinds),
                    kinds_words(&after.kinds)
                ),
            );
        }
    }
}

fn requirement_words(workflow: &Workflow, material: &Material) -> String {
    match &material.requirement {
        Requirement::Required => "必交".to_string(),
        Requirement::RequiredWhen(cond) => format!("{}时必交", cond.describe(workflow)),
        Requirement::Optional => "选交".to_string(),
    }
}

fn kinds_words(kinds: &[String]) -> String {
    if kinds.is_empty() {
        "默认格式".to_string()
    } else {
        kinds.join("、")
    }
}

fn form(old: &Workflow, new: &Workflow, changes: &mut Vec<Change>) {
    let section = Section::Form;
    let (added, removed, kept) = added_removed(&old.form, &new.form, |f| f.id.clone());
    for field in added {
        let required = if field.required { "必填" } else { "选填" };
        push(
            changes,
            section,
            format!("新增栏目：{}（{required}）", field.label),
        );
    }
    for field in removed {
        push(changes, section, format!("删去栏目：{}", field.label));
    }
    for (before, after) in kept {
        field_changes(before, after, changes);
    }
}

fn field_changes(before: &Field, after: &Field, changes: &mut Vec<Change>) {
    let section = Section::Form;
    let label = &after.label;
    if before.label != after.label {
        push(
            changes,
            section,
            format!("栏目名称由「{}」改为「{label}」", before.label),
        );
    }
    if before.ty != after.ty {
        push(
            changes,
            section,
            format!(
                "「{label}」的填写内容类型改变（{} → {}）",
                before.ty.name(),
                after.ty.name()
            ),
        );
    }
    if before.required != after.required {
        let now = if after.required { "必填" } else { "选填" };
        push(changes, section, format!("「{label}」现为{now}"));
    }
    if (before.min, before.max) != (after.min, after.max) {
        push(
            changes,
            section,
            format!(
                "「{label}」的取值范围由{}改为{}",
                range_words(before),
                range_words(after)
            ),
        );
    }
}

fn range_words(field: &Field) -> String {
    let scale = |value: i64| match field.ty {
        super::ir::FieldType::Money => super::ir::Value::Money(value).display(),
        _ => value.to_string(),
    };
    match (field.min, field.max) {
        (None, None) => "不限".to_string(),
        (Some(min), None) => format!("不少于{}", scale(min)),
        (None, Some(max)) => format!("不超过{}", scale(max)),
        (Some(min), Some(max)) => format!("{}至{}", scale(min), scale(max)),
    }
}

fn rules(old: &Workflow, new: &Workflow, changes: &mut Vec<Change>) {
    let section = Section::Rules;
    let (added, removed, kept) = added_removed(&old.rules, &new.rules, |r| r.message.clone());
    for rule in added {
        push(changes, section, format!("新增规则：{}", rule.message));
    }
    for rule in removed {
        push(changes, section, format!("删去规则：{}", rule.message));
    }
    for (before, after) in kept {
        if before.when != after.when || before.require != after.require {
            push(
                changes,
                section,
                format!(
                    "规则「{}」的条件改为：{}",
                    after.message,
                    after.require.describe(new)
                ),
            );
        }
    }
}

fn documents(old: &Workflow, new: &Workflow, changes: &mut Vec<Change>) {
    let section = Section::Documents;
    let key = |o: &Outcome| (o.event, o.title.clone());
    let (added, removed, kept) = added_removed(&old.outcomes, &new.outcomes, key);
    for outcome in added {
        push(
            changes,
            section,
            format!(
                "{}时新增出具《{}》（{}）",
                outcome.event.chinese(),
                outcome.title,
                new.department_name(&outcome.issued_by)
            ),
        );
    }
    for outcome in removed {
        push(
            changes,
            section,
            format!("{}时不再出具《{}》", outcome.event.chinese(), outcome.title),
        );
    }
    for (before, after) in kept {
        if before.issued_by != after.issued_by {
            push(
                changes,
                section,
                format!(
                    "《{}》改以{}名义出具（原为{}）",
                    after.title,
                    new.department_name(&after.issued_by),
                    old.department_name(&before.issued_by)
                ),
            );
        }
        if before.template != after.template || before.inputs != after.inputs {
            push(
                changes,
                section,
                format!("《{}》的版式或内容有变化", after.title),
            );
        }
        if before.number.as_ref().map(|n| &n.source) != after.number.as_ref().map(|n| &n.source) {
            push(
                changes,
                section,
                format!("《{}》的编号规则有变化", after.title),
            );
        }
    }
}
