//! The checked workflow: what the engine, the notice and the diagram read.
//!
//! Every value here has been validated by the checker: names resolve, types
//! fit, limits obey the law. Nothing in this module knows about spans.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ast::CmpOp;

/// A department of the one window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    pub id: String,
    pub name: String,
    /// Short form used in document numbers (`{dept}`), e.g. `卫`.
    pub abbr: Option<String>,
    pub reviewers: Vec<String>,
    pub heads: Vec<String>,
    /// Where applicants find it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// A procedure as checked, pinned by `(id, version)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    pub id: String,
    pub title: String,
    pub version: u32,
    pub basis: Vec<String>,
    /// What the policies promise the applicant (非禁即入, 首接责任制, subsidies…),
    /// told in the one-time notice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub promises: Vec<String>,
    pub legal_limit: u32,
    pub promised_limit: u32,
    /// How many working days the limit may be extended, with the head's approval.
    pub extension: u32,
    /// Who approves an extension (art. 42).
    #[serde(default, skip_serializing_if = "Approver::is_department_head")]
    pub extension_approver: Approver,
    /// Several departments take part (art. 42: joint processing).
    pub joint: bool,
    pub departments: BTreeMap<String, Department>,
    pub parties: Vec<Party>,
    pub form: Vec<Field>,
    pub facts: Vec<Field>,
    pub rules: Vec<Rule>,
    pub materials: Vec<Material>,
    pub intake: IntakeStep,
    /// Every step after intake, in definition order; `route` refers to them by index.
    pub steps: Vec<Step>,
    pub route: Route,
    /// Groups of departments that each decide an independent matter
    /// (谁审批谁监管): one's refusal ends its own part only.
    pub independent: Vec<Vec<String>>,
    /// Groups of departments whose parts are one matter that must all
    /// succeed, with the text that makes them so: one's refusal ends the filing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jointly: Vec<Jointly>,
    /// The form field naming the applicant's district, for `local` steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district_field: Option<String>,
    /// Where `local` steps go: each district's department of each kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub local_departments: Vec<LocalDepartment>,
    /// What follows a failed evaluation, by subject.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consequences: Vec<Consequence>,
    pub outcomes: Vec<Outcome>,
    pub notifications: Vec<Notification>,
    pub reminders: Vec<Reminder>,
    pub recurring: Vec<Recurring>,
    /// What a granted or filed decision adds to the registry.
    pub registers: Vec<Registration>,
    /// The longest path of step limits after acceptance, in working days.
    pub longest_path: u32,
}

impl Workflow {
    pub fn field(&self, id: &str) -> Option<&Field> {
        self.form
            .iter()
            .chain(&self.facts)
            .find(|field| field.id == id)
    }

    pub fn outcomes_on(&self, event: Event) -> impl Iterator<Item = &Outcome> {
        self.outcomes
            .iter()
            .filter(move |outcome| outcome.event == event)
    }

    /// A correction item as the applicant reads it: the material's name
    /// when the item is a material of the list, else the item's own words
    /// (what the window wrote).
    pub fn item_words(&self, item: &str) -> String {
        self.materials
            .iter()
            .find(|material| material.id == item)
            .map_or_else(|| item.to_string(), |material| material.label.clone())
    }

    pub fn department(&self, id: &str) -> Option<&Department> {
        self.departments.get(id)
    }

    /// Who is told of `event`: every recipient of the notifications that
    /// listen to it, once each, in the order the definition names them.
    pub fn recipients_of(&self, event: NotifyEvent) -> Vec<Recipient> {
        let mut recipients = Vec::new();
        for notification in self
            .notifications
            .iter()
            .filter(|n| n.events.contains(&event))
        {
            for recipient in &notification.recipients {
                if !recipients.contains(recipient) {
                    recipients.push(*recipient);
                }
            }
        }
        recipients
    }

    /// The index of the step with this stable id (its place in the route,
    /// e.g. `2.1`), for callers that address steps by id.
    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|step| step.id == id)
    }

    /// The departments that decide a part of the filing (review or filing
    /// steps), in route order, once each.
    pub fn deciding_departments(&self) -> Vec<&str> {
        let mut departments: Vec<&str> = Vec::new();
        for index in self.route.step_indices() {
            let step = &self.steps[index];
            if let Some(department) = step.department.as_deref() {
                if step.kind != StepKind::Signing && !departments.contains(&department) {
                    departments.push(department);
                }
            }
        }
        departments
    }

    /// The steps that make up a department's part.
    pub fn part_steps<'w>(&'w self, department: &'w str) -> impl Iterator<Item = usize> + 'w {
        self.steps
            .iter()
            .enumerate()
            .filter_map(move |(index, step)| {
                (step.kind != StepKind::Signing && step.department.as_deref() == Some(department))
                    .then_some(index)
            })
    }

    /// The legal form of a department's decision: that of its steps (the
    /// checker proves they agree).
    pub fn part_form(&self, department: &str) -> Option<LegalForm> {
        self.part_steps(department)
            .next()
            .map(|index| self.steps[index].legal_form())
    }

    /// The `jointly` group a department's part belongs to, if any: then its
    /// refusal ends the whole filing, not only its own part.
    pub fn joined(&self, department: &str) -> Option<&Jointly> {
        self.jointly
            .iter()
            .find(|group| group.departments.iter().any(|d| d == department))
    }

    /// The department that takes step `index` for a filing with these
    /// values: its district's for a `local` step, else the step's own.
    pub fn step_department_for<'v>(
        &self,
        index: usize,
        lookup: &impl Fn(&str) -> Option<&'v Value>,
    ) -> Option<&str> {
        let step = self.steps.get(index)?;
        let kind = step.department.as_deref()?;
        if !step.local {
            return Some(kind);
        }
        let district = match lookup(self.district_field.as_deref()?) {
            Some(Value::Text(text)) => text.as_str(),
            _ => return Some(kind),
        };
        self.local_departments
            .iter()
            .find(|l| l.kind == kind && l.district == district)
            .map(|l| l.department.as_str())
            .or(Some(kind))
    }

    /// What follows a failed evaluation of this filing: the consequences
    /// whose condition holds for its values.
    pub fn consequences_for<'v>(&self, lookup: &impl Fn(&str) -> Option<&'v Value>) -> Vec<&str> {
        self.consequences
            .iter()
            .filter(|c| c.when.as_ref().is_none_or(|when| when.eval(lookup)))
            .map(|c| c.text.as_str())
            .collect()
    }

    /// Who decides a part, as the public reads it: the department's name,
    /// or for a part of `local` steps its districts' departments.
    pub fn part_name(&self, kind: &str) -> String {
        let local = self.part_steps(kind).any(|index| self.steps[index].local);
        if !local {
            return self.department_name(kind);
        }
        let names: Vec<String> = self
            .local_departments
            .iter()
            .filter(|l| l.kind == kind)
            .map(|l| self.department_name(&l.department))
            .collect();
        format!("{}（按所在区）", names.join("或"))
    }

    /// A department's name, or its id when the workflow does not know it.
    pub fn department_name(&self, id: &str) -> String {
        self.department(id)
            .map_or_else(|| id.to_string(), |department| department.name.clone())
    }

    /// Who takes a step, as applicants read it: the department's name, or
    /// the signing parties' names.
    pub fn step_actors(&self, step: &Step) -> String {
        match step.kind {
            StepKind::Signing => step
                .parties
                .iter()
                .map(|id| {
                    self.parties
                        .iter()
                        .find(|party| &party.id == id)
                        .map_or(id.as_str(), |party| party.name.as_str())
                })
                .collect::<Vec<_>>()
                .join("、"),
            _ if step.local => {
                let kind = step.department.as_deref().unwrap_or_default();
                let local: Vec<String> = self
                    .local_departments
                    .iter()
                    .filter(|l| l.kind == kind)
                    .map(|l| self.department_name(&l.department))
                    .collect();
                format!("{}（按所在区）", local.join("或"))
            }
            _ => step
                .department
                .as_deref()
                .and_then(|id| self.department(id))
                .map_or_else(String::new, |department| department.name.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub id: String,
    pub label: String,
    pub ty: FieldType,
    pub required: bool,
    /// Inclusive bounds in the field's scale (see [`FieldType::scale`]).
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub default: Option<Value>,
    pub help: Option<String>,
    /// For a fact: the material that proves it when the applicant declares
    /// it (the registry does not know the institution or the fact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Text,
    Int,
    /// Yuan, kept exactly in fen.
    Money,
    Bool,
    Date,
    List,
    /// A unified social credit code, its check character verified
    /// ([`crate::credit_code`]); held as text.
    CreditCode,
    Choice(Vec<String>),
}

impl FieldType {
    /// The name of the type as written in the language and in template headers.
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Int => "int",
            FieldType::Money => "money",
            FieldType::Bool => "bool",
            FieldType::Date => "date",
            FieldType::List => "list",
            FieldType::CreditCode => "credit_code",
            FieldType::Choice(_) => "choice",
        }
    }

    /// The template input type a field of this type fills.
    pub fn input_type(&self) -> &'static str {
        match self {
            FieldType::Choice(_) | FieldType::CreditCode => "text",
            other => other.name(),
        }
    }
}

/// A form or fact value. Numbers are exact: `Int` in units, `Money` in fen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub enum Value {
    Text(String),
    Int(i64),
    Money(i64),
    Bool(bool),
    Date(jiff::civil::Date),
    List(Vec<String>),
}

impl Value {
    /// Human rendering in Chinese documents: money as `12.50 元`.
    pub fn display(&self) -> String {
        match self {
            Value::Text(text) => text.clone(),
            Value::Int(number) => number.to_string(),
            Value::Money(fen) => {
                let sign = if *fen < 0 { "-" } else { "" };
                format!("{sign}{}.{:02}元", fen.abs() / 100, fen.abs() % 100)
            }
            Value::Bool(true) => "是".to_string(),
            Value::Bool(false) => "否".to_string(),
            Value::Date(date) => date.to_string(),
            Value::List(items) => items.join("、"),
        }
    }
}

/// A rule that every submission must satisfy, with the message shown to applicants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub message: String,
    pub when: Option<Cond>,
    pub require: Cond,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Material {
    pub id: String,
    pub label: String,
    pub requirement: Requirement,
    /// 容缺: may be supplied after acceptance.
    pub deferrable: bool,
    /// Accepted file kinds (extensions, lowercase). Empty means any of the defaults.
    pub kinds: Vec<String>,
    pub help: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Requirement {
    Required,
    RequiredWhen(Cond),
    Optional,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeStep {
    pub department: String,
    pub label: String,
    pub limit: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// An approval (审批): may grant or refuse.
    Review,
    /// A filing (备案): recorded, no approval.
    Filing,
    /// Signing by named parties (agreements).
    Signing,
}

impl StepKind {
    pub fn chinese(self) -> &'static str {
        match self {
            StepKind::Review => "审批",
            StepKind::Filing => "备案",
            StepKind::Signing => "签订",
        }
    }
}

/// The department serving a district as a kind (`serves maonan as health`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalDepartment {
    /// The district's name, as the form's district field holds it.
    pub district: String,
    /// The city department the step names.
    pub kind: String,
    pub department: String,
}

/// What follows a failed evaluation (`consequence "…" when …`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consequence {
    pub text: String,
    pub when: Option<Cond>,
}

/// Departments whose parts are one matter (`jointly a, b basis "…"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jointly {
    pub departments: Vec<String>,
    /// The text that makes them one matter.
    pub basis: String,
}

/// The legal form of a department's decision: different acts, with their
/// own documents, wording, law and remedies.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LegalForm {
    /// 行政许可: a decision under the Administrative Licensing Law.
    #[default]
    Licence,
    /// 备案: recorded, nothing granted.
    Filing,
    /// 协议管理: medical-insurance designation, an agreement with the agency.
    Designation,
    /// 评估: an evaluation result.
    Evaluation,
    /// 协议: signed by two parties; departments only receive it.
    Contract,
}

impl LegalForm {
    pub const ALL: [LegalForm; 5] = [
        LegalForm::Licence,
        LegalForm::Filing,
        LegalForm::Designation,
        LegalForm::Evaluation,
        LegalForm::Contract,
    ];

    /// The forms a review step may state with `as`.
    pub const OF_REVIEW: [LegalForm; 3] = [
        LegalForm::Licence,
        LegalForm::Designation,
        LegalForm::Evaluation,
    ];

    /// The word a definition and a template header use.
    pub fn name(self) -> &'static str {
        match self {
            LegalForm::Licence => "licence",
            LegalForm::Filing => "filing",
            LegalForm::Designation => "designation",
            LegalForm::Evaluation => "evaluation",
            LegalForm::Contract => "contract",
        }
    }

    pub fn from_name(name: &str) -> Option<LegalForm> {
        LegalForm::ALL.into_iter().find(|form| form.name() == name)
    }

    pub fn chinese(self) -> &'static str {
        match self {
            LegalForm::Licence => "行政许可",
            LegalForm::Filing => "备案",
            LegalForm::Designation => "医保协议管理",
            LegalForm::Evaluation => "评估",
            LegalForm::Contract => "双方协议",
        }
    }

    /// What a decision of this form is called, granted or refused: the
    /// words of the mails and the pages.
    pub fn wording(self, granted: bool) -> &'static str {
        match (self, granted) {
            (LegalForm::Licence, true) => "准予行政许可",
            (LegalForm::Licence, false) => "不予行政许可",
            (LegalForm::Filing, _) => "予以备案",
            (LegalForm::Designation, true) => "纳入医保定点协议管理",
            (LegalForm::Designation, false) => "不予纳入医保定点",
            (LegalForm::Evaluation, true) => "评估合格",
            (LegalForm::Evaluation, false) => "评估不合格",
            (LegalForm::Contract, _) => "双方签订协议",
        }
    }

    /// The document events a part of this form ends in.
    pub fn events(self) -> &'static [Event] {
        match self {
            LegalForm::Licence | LegalForm::Designation | LegalForm::Evaluation => {
                &[Event::Approved, Event::Rejected]
            }
            LegalForm::Filing => &[Event::Filed],
            LegalForm::Contract => &[Event::Signed],
        }
    }

    /// The remedy a refusal of this form tells of.
    pub fn remedy(self) -> &'static str {
        match self {
            LegalForm::Licence => "如不服本决定，可以自收到本决定书之日起六十日内依法申请行政复议，或者在六个月内依法向人民法院提起行政诉讼（《中华人民共和国行政许可法》第三十八条）。",
            LegalForm::Designation => "对评估结果有异议的，可以向医疗保障经办机构提出复核；对医疗保障部门作出的行政行为不服的，可以依法申请行政复议或者提起行政诉讼。",
            LegalForm::Evaluation => "对评估结果有异议的，可以向作出评估的部门提出复核；评估结果不是对行政许可的撤销或者不予许可。",
            LegalForm::Filing | LegalForm::Contract => "",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Stable within a workflow version: its position in the route, e.g. `2.1`.
    pub id: String,
    pub kind: StepKind,
    /// The department that takes the step (review and filing).
    pub department: Option<String>,
    /// The parties that sign (signing).
    pub parties: Vec<String>,
    pub label: String,
    pub limit: u32,
    /// What a review decides (`as designation`); filing and signing steps
    /// have their own form ([`Step::legal_form`]).
    #[serde(default, skip_serializing_if = "is_licence")]
    pub decides: LegalForm,
    /// `by local KIND`: taken by the department of that kind in the
    /// applicant's district ([`Workflow::step_department_for`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub local: bool,
    /// `at most N months`: the step ends within N calendar months of its
    /// start, pauses included (Civil Code arts. 201–202).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_months: Option<u32>,
    /// The step's own condition and those of its enclosing groups, all of which must hold.
    pub when: Option<Cond>,
}

impl Step {
    /// The legal form of what the step ends in.
    pub fn legal_form(&self) -> LegalForm {
        match self.kind {
            StepKind::Review => self.decides,
            StepKind::Filing => LegalForm::Filing,
            StepKind::Signing => LegalForm::Contract,
        }
    }
}

fn is_licence(form: &LegalForm) -> bool {
    *form == LegalForm::Licence
}

/// The order of the steps: sequences wait, parallel branches do not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    Step(usize),
    Sequence(Vec<Route>),
    Parallel(Vec<Route>),
}

impl Route {
    /// Every step index in the route, in order.
    pub fn step_indices(&self) -> Vec<usize> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect(&self, out: &mut Vec<usize>) {
        match self {
            Route::Step(index) => out.push(*index),
            Route::Sequence(items) | Route::Parallel(items) => {
                items.iter().for_each(|item| item.collect(out))
            }
        }
    }

    /// The longest path of limits through the route.
    pub fn longest(&self, steps: &[Step]) -> u32 {
        match self {
            Route::Step(index) => steps[*index].limit,
            Route::Sequence(items) => items.iter().map(|item| item.longest(steps)).sum(),
            Route::Parallel(items) => items
                .iter()
                .map(|item| item.longest(steps))
                .max()
                .unwrap_or(0),
        }
    }
}

/// Who approves extending a procedure's limit (行政许可法 art. 42).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approver {
    /// The head of the deciding agency: one department decides.
    #[default]
    DepartmentHead,
    /// The head of the people's government at that level: joint processing.
    Government,
}

impl Approver {
    pub const ALL: [Approver; 2] = [Approver::DepartmentHead, Approver::Government];

    /// The word a definition uses: `extension 15 workdays by government`.
    pub fn name(self) -> &'static str {
        match self {
            Approver::DepartmentHead => "head",
            Approver::Government => "government",
        }
    }

    pub fn from_name(name: &str) -> Option<Approver> {
        Approver::ALL.into_iter().find(|a| a.name() == name)
    }

    /// As the notice says it.
    pub fn chinese(self) -> &'static str {
        match self {
            Approver::DepartmentHead => "本行政机关负责人",
            Approver::Government => "本级人民政府负责人",
        }
    }

    fn is_department_head(&self) -> bool {
        *self == Approver::DepartmentHead
    }
}

/// What happens to a filing that issues documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Accepted,
    NotAccepted,
    Correction,
    Approved,
    Rejected,
    Filed,
    Signed,
    /// The limit extended (art. 42), its reasons told in writing.
    Extended,
}

impl Event {
    pub const ALL: [Event; 8] = [
        Event::Accepted,
        Event::NotAccepted,
        Event::Correction,
        Event::Approved,
        Event::Rejected,
        Event::Filed,
        Event::Signed,
        Event::Extended,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Event::Accepted => "accepted",
            Event::NotAccepted => "not_accepted",
            Event::Correction => "correction",
            Event::Approved => "approved",
            Event::Rejected => "rejected",
            Event::Filed => "filed",
            Event::Signed => "signed",
            Event::Extended => "extended",
        }
    }

    pub fn from_name(name: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|event| event.name() == name)
    }

    pub fn chinese(self) -> &'static str {
        match self {
            Event::Accepted => "受理",
            Event::NotAccepted => "不予受理",
            Event::Correction => "补正",
            Event::Approved => "准予许可",
            Event::Rejected => "不予许可",
            Event::Filed => "备案完成",
            Event::Signed => "签订完成",
            Event::Extended => "延长办理期限",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub event: Event,
    pub title: String,
    pub template: String,
    pub number: Option<NumberPattern>,
    /// The department in whose name the document is issued.
    pub issued_by: String,
    /// Template input name → where its value comes from.
    pub inputs: Vec<(String, InputSource)>,
    /// Issued only for filings where this holds (`when …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Cond>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputSource {
    /// Supplied by the engine when the document is issued (number, date, reasons…).
    System(SystemInput),
    /// A form or fact field of the filing.
    Field(String),
}

/// A document number pattern such as `医养{year}{dept}{seq:05}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberPattern {
    pub source: String,
    pub parts: Vec<NumberPart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NumberPart {
    Text(String),
    Year,
    Dept,
    Seq { width: usize },
}

impl NumberPattern {
    /// The number for a given year, department abbreviation and sequence.
    pub fn format(&self, year: i16, dept: &str, seq: u64) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                NumberPart::Text(text) => out.push_str(text),
                NumberPart::Year => out.push_str(&year.to_string()),
                NumberPart::Dept => out.push_str(dept),
                NumberPart::Seq { width } => out.push_str(&format!("{seq:0width$}")),
            }
        }
        out
    }
}

/// Recipients of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recipient {
    Applicant,
    /// The reviewers of the department that holds the step.
    Reviewers,
    /// The head of that department (escalation).
    Head,
    /// The window clerks.
    Window,
    /// The signing parties.
    Parties,
}

impl Recipient {
    pub const ALL: [(&'static str, Recipient); 5] = [
        ("applicant", Recipient::Applicant),
        ("reviewers", Recipient::Reviewers),
        ("head", Recipient::Head),
        ("window", Recipient::Window),
        ("parties", Recipient::Parties),
    ];
}

/// Events that notifications listen to: the document events and the clock's.
/// Definitions name them (`notify applicant on paused`), the engine raises
/// them, the outbox carries them and `templates/mail/NAME.txt` words them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    Submitted,
    Assigned,
    Accepted,
    NotAccepted,
    Correction,
    Approved,
    Rejected,
    Filed,
    Signed,
    DueSoon,
    Overdue,
    Extended,
    Paused,
    Renewal,
    /// The next periodic evaluation (年度评估) is due.
    EvaluationDue,
    Withdrawn,
}

impl NotifyEvent {
    pub const ALL: [NotifyEvent; 16] = [
        NotifyEvent::Submitted,
        NotifyEvent::Assigned,
        NotifyEvent::Accepted,
        NotifyEvent::NotAccepted,
        NotifyEvent::Correction,
        NotifyEvent::Approved,
        NotifyEvent::Rejected,
        NotifyEvent::Filed,
        NotifyEvent::Signed,
        NotifyEvent::DueSoon,
        NotifyEvent::Overdue,
        NotifyEvent::Extended,
        NotifyEvent::Paused,
        NotifyEvent::Renewal,
        NotifyEvent::EvaluationDue,
        NotifyEvent::Withdrawn,
    ];

    /// The name definitions and mail templates use.
    pub fn name(self) -> &'static str {
        match self {
            NotifyEvent::Submitted => "submitted",
            NotifyEvent::Assigned => "assigned",
            NotifyEvent::Accepted => "accepted",
            NotifyEvent::NotAccepted => "not_accepted",
            NotifyEvent::Correction => "correction",
            NotifyEvent::Approved => "approved",
            NotifyEvent::Rejected => "rejected",
            NotifyEvent::Filed => "filed",
            NotifyEvent::Signed => "signed",
            NotifyEvent::DueSoon => "due_soon",
            NotifyEvent::Overdue => "overdue",
            NotifyEvent::Extended => "extended",
            NotifyEvent::Paused => "paused",
            NotifyEvent::Renewal => "renewal",
            NotifyEvent::EvaluationDue => "evaluation_due",
            NotifyEvent::Withdrawn => "withdrawn",
        }
    }

    pub fn from_name(name: &str) -> Option<NotifyEvent> {
        NotifyEvent::ALL
            .into_iter()
            .find(|event| event.name() == name)
    }

    /// Every name, for "the events are …" hints.
    pub fn names() -> Vec<&'static str> {
        NotifyEvent::ALL.iter().map(|event| event.name()).collect()
    }

    /// The notification a document event raises.
    pub fn of(event: Event) -> NotifyEvent {
        match event {
            Event::Accepted => NotifyEvent::Accepted,
            Event::NotAccepted => NotifyEvent::NotAccepted,
            Event::Correction => NotifyEvent::Correction,
            Event::Approved => NotifyEvent::Approved,
            Event::Rejected => NotifyEvent::Rejected,
            Event::Filed => NotifyEvent::Filed,
            Event::Signed => NotifyEvent::Signed,
            Event::Extended => NotifyEvent::Extended,
        }
    }

    /// The document event whose documents a message of this event carries.
    pub fn document_event(self) -> Option<Event> {
        Event::ALL
            .into_iter()
            .find(|event| NotifyEvent::of(*event) == self)
    }
}

impl std::fmt::Display for NotifyEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The template inputs the system supplies when a document is issued, so a
/// template may use them without a form field of that name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemInput {
    Number,
    IssuedOn,
    Department,
    Applicant,
    FilingId,
    WorkflowTitle,
    VerifyCode,
    VerifyUrl,
    Reasons,
    Corrections,
    Materials,
    ReceivedOn,
    AcceptedOn,
    DecidedOn,
    DueOn,
    /// After the due date: empty, or that it is provisional (its year's
    /// holidays are not yet published).
    DueNote,
    ValidUntil,
    Basis,
    Parties,
    Steps,
    Appeal,
    /// What the document decides, in its legal form's words (`评估合格`).
    Result,
    /// The departments the workflow's filing steps file it with.
    FiledWith,
    /// What follows the failed evaluation the document states.
    Consequence,
    /// The document's title as its outcome names it (`on filed issue "…"`):
    /// a template shared by several procedures prints the one it is issued as.
    Title,
}

impl SystemInput {
    pub const ALL: [SystemInput; 25] = [
        SystemInput::Number,
        SystemInput::IssuedOn,
        SystemInput::Department,
        SystemInput::Applicant,
        SystemInput::FilingId,
        SystemInput::WorkflowTitle,
        SystemInput::VerifyCode,
        SystemInput::VerifyUrl,
        SystemInput::Reasons,
        SystemInput::Corrections,
        SystemInput::Materials,
        SystemInput::ReceivedOn,
        SystemInput::AcceptedOn,
        SystemInput::DecidedOn,
        SystemInput::DueOn,
        SystemInput::DueNote,
        SystemInput::ValidUntil,
        SystemInput::Basis,
        SystemInput::Parties,
        SystemInput::Steps,
        SystemInput::Appeal,
        SystemInput::Result,
        SystemInput::FiledWith,
        SystemInput::Consequence,
        SystemInput::Title,
    ];

    /// The name a template's `//! input` line uses.
    pub fn name(self) -> &'static str {
        match self {
            SystemInput::Number => "number",
            SystemInput::IssuedOn => "issued_on",
            SystemInput::Department => "department",
            SystemInput::Applicant => "applicant",
            SystemInput::FilingId => "filing_id",
            SystemInput::WorkflowTitle => "workflow_title",
            SystemInput::VerifyCode => "verify_code",
            SystemInput::VerifyUrl => "verify_url",
            SystemInput::Reasons => "reasons",
            SystemInput::Corrections => "corrections",
            SystemInput::Materials => "materials",
            SystemInput::ReceivedOn => "received_on",
            SystemInput::AcceptedOn => "accepted_on",
            SystemInput::DecidedOn => "decided_on",
            SystemInput::DueOn => "due_on",
            SystemInput::DueNote => "due_note",
            SystemInput::ValidUntil => "valid_until",
            SystemInput::Basis => "basis",
            SystemInput::Parties => "parties",
            SystemInput::Steps => "steps",
            SystemInput::Appeal => "appeal",
            SystemInput::Result => "result",
            SystemInput::FiledWith => "filed_with",
            SystemInput::Consequence => "consequence",
            SystemInput::Title => "title",
        }
    }

    /// The input type a template must declare for it.
    pub fn ty(self) -> &'static str {
        match self {
            SystemInput::IssuedOn
            | SystemInput::ReceivedOn
            | SystemInput::AcceptedOn
            | SystemInput::DecidedOn
            | SystemInput::DueOn
            | SystemInput::ValidUntil => "date",
            SystemInput::Reasons
            | SystemInput::Corrections
            | SystemInput::Materials
            | SystemInput::Basis
            | SystemInput::Parties
            | SystemInput::Steps
            | SystemInput::FiledWith => "list",
            _ => "text",
        }
    }

    pub fn from_name(name: &str) -> Option<SystemInput> {
        SystemInput::ALL
            .into_iter()
            .find(|input| input.name() == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub recipients: Vec<Recipient>,
    pub events: Vec<NotifyEvent>,
}

/// Remind recipients this many working days before a due date (the yellow warning).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    pub recipients: Vec<Recipient>,
    pub days_before: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurring {
    pub kind: Obligation,
    pub label: String,
    pub every_months: u32,
    /// Departments or parties responsible.
    pub by: Vec<String>,
    /// Calendar days before the due date to remind.
    pub remind_days: Option<u32>,
}

/// Registry entries a decision creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// An institution named by the form's `name`; its opening date, once
    /// recorded, gives the `months_operating` fact.
    Institution,
    /// An agreement between `party_a` and `party_b` from `term_start`, for
    /// the period of the workflow's `renew` obligation (a year by default).
    Agreement,
    /// Each evaluation part's result for the form's `name` and `year`,
    /// with the consequence that follows a failure.
    Evaluation,
}

/// The form field by which the registry knows an institution: its unified
/// social credit code. Every workflow with facts, and every one that
/// registers an institution, asks for it.
pub const CREDIT_CODE_FIELD: &str = "credit_code";

impl Registration {
    /// The form fields and their types each registration reads.
    pub fn fields(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Registration::Institution => &[("name", "text"), (CREDIT_CODE_FIELD, "credit_code")],
            Registration::Agreement => &[
                ("party_a", "text"),
                ("party_b", "text"),
                ("term_start", "date"),
            ],
            Registration::Evaluation => &[("name", "text"), ("year", "int")],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Obligation {
    /// Renew an agreement (一年一签).
    Renew,
    /// Evaluate quality (年度评估).
    Evaluate,
}

/// A checked condition over form and fact values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cond {
    Or(Vec<Cond>),
    And(Vec<Cond>),
    Not(Box<Cond>),
    Compare {
        field: String,
        op: CmpOp,
        value: Value,
    },
    In {
        field: String,
        values: Vec<Value>,
    },
    /// A bool field that must be true.
    Is(String),
}

impl Cond {
    /// Evaluates against values looked up by field name. An absent value makes
    /// every comparison on it false.
    pub fn eval<'v>(&self, lookup: &impl Fn(&str) -> Option<&'v Value>) -> bool {
        match self {
            Cond::Or(items) => items.iter().any(|item| item.eval(lookup)),
            Cond::And(items) => items.iter().all(|item| item.eval(lookup)),
            Cond::Not(inner) => !inner.eval(lookup),
            Cond::Compare { field, op, value } => lookup(field).is_some_and(|actual| {
                let ordering = actual.cmp(value);
                match op {
                    CmpOp::Lt => ordering.is_lt(),
                    CmpOp::Le => ordering.is_le(),
                    CmpOp::Gt => ordering.is_gt(),
                    CmpOp::Ge => ordering.is_ge(),
                    CmpOp::Eq => ordering.is_eq(),
                    CmpOp::Ne => ordering.is_ne(),
                }
            }),
            Cond::In { field, values } => {
                lookup(field).is_some_and(|actual| values.contains(actual))
            }
            Cond::Is(field) => matches!(lookup(field), Some(Value::Bool(true))),
        }
    }

    /// Both must hold.
    pub fn and(left: Option<Cond>, right: Option<Cond>) -> Option<Cond> {
        match (left, right) {
            (None, other) | (other, None) => other,
            (Some(Cond::And(mut items)), Some(right)) => {
                items.push(right);
                Some(Cond::And(items))
            }
            (Some(left), Some(right)) => Some(Cond::And(vec![left, right])),
        }
    }

    /// Renders the condition in Chinese for the one-time notice.
    pub fn describe(&self, workflow: &Workflow) -> String {
        let label = |field: &str| {
            workflow
                .field(field)
                .map_or(field.to_string(), |f| f.label.clone())
        };
        match self {
            Cond::Or(items) => items
                .iter()
                .map(|item| item.describe_nested(workflow))
                .collect::<Vec<_>>()
                .join("或"),
            Cond::And(items) => items
                .iter()
                .map(|item| item.describe_nested(workflow))
                .collect::<Vec<_>>()
                .join("且"),
            Cond::Not(inner) => match inner.as_ref() {
                Cond::Is(field) => format!("非「{}」", label(field)),
                other => format!("不满足（{}）", other.describe(workflow)),
            },
            Cond::Compare { field, op, value } => {
                let relation = match op {
                    CmpOp::Lt => "小于",
                    CmpOp::Le => "不超过",
                    CmpOp::Gt => "大于",
                    CmpOp::Ge => "不少于",
                    CmpOp::Eq => "为",
                    CmpOp::Ne => "不为",
                };
                format!("{}{}{}", label(field), relation, value.display())
            }
            Cond::In { field, values } => {
                let shown: Vec<String> = values.iter().map(Value::display).collect();
                format!("{}为{}", label(field), shown.join("、"))
            }
            Cond::Is(field) => format!("「{}」", label(field)),
        }
    }

    fn describe_nested(&self, workflow: &Workflow) -> String {
        match self {
            Cond::Or(_) | Cond::And(_) => format!("（{}）", self.describe(workflow)),
            _ => self.describe(workflow),
        }
    }
}
