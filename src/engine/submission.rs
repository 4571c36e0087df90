//! Validate first, act second: an applicant's raw form, the registry's
//! facts and the uploaded materials become a typed [`Submission`], or every
//! problem is listed at once, in Chinese, for the applicant.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::dsl::ir::{Field, FieldType, Material, Requirement, Value, Workflow};

/// An uploaded material as the store recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "full", derive(utoipa::ToSchema))]
pub struct Upload {
    /// The file name the applicant gave.
    pub name: String,
    /// The file kind, lowercase, e.g. `pdf`.
    pub kind: String,
    /// SHA-256 of the content, as the store addresses it.
    pub sha256: String,
    pub size: u64,
}

/// Who files: the applicant's name and the address they are told at; for
/// an agreement, who signs it for each party (party id → the e-mail
/// address of the account that signs: 谁签谁负责, each party signs for
/// itself on the platform).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applicant {
    pub name: String,
    pub email: Option<String>,
    pub signatories: BTreeMap<String, String>,
}

impl From<&str> for Applicant {
    fn from(name: &str) -> Applicant {
        Applicant {
            name: name.to_string(),
            ..Applicant::default()
        }
    }
}

impl From<&String> for Applicant {
    fn from(name: &String) -> Applicant {
        Applicant::from(name.as_str())
    }
}

/// An applicant's raw answers: what they type, what the registry knows of
/// them, and which materials they upload. The sample files in
/// `workflows/samples/` are these, and so is what the load generator files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answers {
    pub applicant: String,
    /// The applicant's e-mail address, when given.
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub form: serde_json::Map<String, Json>,
    #[serde(default)]
    pub facts: serde_json::Map<String, Json>,
    #[serde(default)]
    pub materials: Vec<String>,
    /// Who signs for each party of an agreement (party id → e-mail).
    #[serde(default)]
    pub signatories: BTreeMap<String, String>,
}

impl Answers {
    /// The submission of these answers, each listed material uploaded as a
    /// placeholder of the first kind its definition accepts.
    ///
    /// # Errors
    /// Every problem [`validate`] finds.
    pub fn submission(&self, workflow: &Workflow) -> Result<Submission, Vec<Problem>> {
        let uploads = self
            .materials
            .iter()
            .map(|id| {
                let kind = workflow
                    .materials
                    .iter()
                    .find(|m| &m.id == id)
                    .and_then(|m| m.kinds.first())
                    .map_or("pdf", String::as_str);
                (id.clone(), Upload::placeholder(id, kind))
            })
            .collect();
        let facts = Facts::registry(self.facts.clone());
        validate(workflow, self.as_applicant(), &self.form, &facts, uploads)
    }

    /// Who files these answers: the name, the address, the signatories.
    pub fn as_applicant(&self) -> Applicant {
        Applicant {
            name: self.applicant.clone(),
            email: self.email.clone(),
            signatories: self.signatories.clone(),
        }
    }
}

impl Upload {
    /// A stand-in for a material of this kind, for samples and simulations.
    pub fn placeholder(material: &str, kind: &str) -> Upload {
        Upload {
            name: format!("{material}.{kind}"),
            kind: kind.to_string(),
            sha256: String::new(),
            size: 0,
        }
    }
}

/// The facts of a submission by where they come from: the registry, which
/// knows an institution by its credit code, or the applicant, who declares
/// what the registry does not know and proves it with the fact's evidence.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// What the registry knows, by fact id; these win.
    pub registry: serde_json::Map<String, Json>,
    /// What the applicant declares, by fact id.
    pub declared: serde_json::Map<String, Json>,
}

impl Facts {
    /// Facts the registry supplies, none declared.
    pub fn registry(registry: serde_json::Map<String, Json>) -> Facts {
        Facts {
            registry,
            declared: serde_json::Map::new(),
        }
    }
}

/// What the applicant filed, typed and checked against the definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub applicant: String,
    /// Where the applicant is told of progress and decisions.
    #[serde(default)]
    pub email: Option<String>,
    /// Form and fact values by field id, defaults filled in.
    pub values: BTreeMap<String, Value>,
    pub materials: BTreeMap<String, Upload>,
    /// The facts the applicant declared rather than the registry supplied:
    /// each proven by its evidence material, confirmed by the reviewer.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub declared: BTreeSet<String>,
    /// Who signs for each party of an agreement ([`Applicant::signatories`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub signatories: BTreeMap<String, String>,
}

/// One problem with a submission, shown to the applicant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "full", derive(utoipa::ToSchema))]
pub struct Problem {
    /// The field or material concerned, when there is one.
    pub subject: Option<String>,
    pub message: String,
}

impl Problem {
    /// Every problem's message on one line, as a person reads a list.
    pub fn list(problems: &[Problem]) -> String {
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        messages.join("；")
    }

    pub fn about(subject: &str, message: impl Into<String>) -> Problem {
        Problem {
            subject: Some(subject.to_string()),
            message: message.into(),
        }
    }
}

/// The files an applicant may upload when a material names no kinds.
pub const DEFAULT_KINDS: &[&str] = &["pdf", "ofd", "jpg", "jpeg", "png"];

/// The longest applicant name taken, in characters, at every door.
pub const MAX_NAME: usize = 200;
/// The longest text a form field or a list item takes, in characters.
pub const MAX_TEXT: usize = 2000;
/// The most items a list field takes.
pub const MAX_LIST_ITEMS: usize = 100;

/// Types and checks a submission. `form` is what the applicant typed,
/// `facts` what the registry supplies and what the applicant declares.
///
/// # Errors
/// Every problem found: unknown, missing, mistyped or out-of-range values,
/// rules the values break (with the rule's own message), and uploads of a
/// material the definition does not know or of a kind it does not accept.
/// Missing materials are not an error here: the window decides at intake.
pub fn validate(
    workflow: &Workflow,
    applicant: impl Into<Applicant>,
    form: &serde_json::Map<String, Json>,
    facts: &Facts,
    materials: BTreeMap<String, Upload>,
) -> Result<Submission, Vec<Problem>> {
    let applicant = applicant.into();
    let mut problems = Vec::new();
    if applicant.name.trim().is_empty() {
        problems.push(Problem {
            subject: None,
            message: "请填写申请人名称".to_string(),
        });
    }
    if applicant.name.chars().count() > MAX_NAME {
        problems.push(Problem {
            subject: None,
            message: format!("申请人名称超过{MAX_NAME}个字"),
        });
    }
    let email = applicant
        .email
        .as_deref()
        .map(str::trim)
        .filter(|email| !email.is_empty());
    if let Some(email) = email.filter(|email| !plausible_email(email)) {
        problems.push(Problem::about(
            EMAIL_SUBJECT,
            format!("电子邮箱“{email}”格式不正确"),
        ));
    }
    let signatories = signatories(workflow, &applicant.signatories, &mut problems);
    let mut values = BTreeMap::new();
    let declared = declared_facts(workflow, facts);
    for (fields, raws, origin) in [
        (&workflow.form, [form, form], "表单"),
        (
            &workflow.facts,
            [&facts.registry, &facts.declared],
            "登记信息",
        ),
    ] {
        for (name, _) in raws.iter().flat_map(|raw| raw.iter()) {
            if !fields.iter().any(|field| &field.id == name) {
                problems.push(Problem::about(
                    name,
                    format!("{origin}中没有“{name}”这一项"),
                ));
            }
        }
        for field in fields {
            let given = raws
                .iter()
                .find_map(|raw| raw.get(&field.id).filter(|value| !value.is_null()));
            match given {
                Some(json) => match typed(field, json) {
                    Ok(value) => {
                        values.insert(field.id.clone(), value);
                    }
                    Err(message) => problems.push(Problem::about(&field.id, message)),
                },
                None => match &field.default {
                    Some(default) => {
                        values.insert(field.id.clone(), default.clone());
                    }
                    None if field.required => {
                        problems.push(Problem::about(&field.id, not_given(workflow, field)));
                    }
                    None => {}
                },
            }
        }
    }
    for fact in &declared {
        let Some(evidence) = evidence_of(workflow, fact) else {
            continue;
        };
        if !materials.contains_key(&evidence.id) {
            let label = workflow
                .field(fact)
                .map_or(fact.as_str(), |f| f.label.as_str());
            problems.push(Problem::about(
                &evidence.id,
                format!("申报了“{label}”，请同时上传证明材料“{}”", evidence.label),
            ));
        }
    }
    // Rules speak only when the values they read are all well formed.
    if problems.is_empty() {
        let lookup = |name: &str| values.get(name);
        for rule in &workflow.rules {
            let applies = rule.when.as_ref().is_none_or(|when| when.eval(&lookup));
            if applies && !rule.require.eval(&lookup) {
                problems.push(Problem {
                    subject: None,
                    message: rule.message.clone(),
                });
            }
        }
    }
    for (id, upload) in &materials {
        let Some(material) = workflow.materials.iter().find(|m| &m.id == id) else {
            problems.push(Problem::about(id, format!("材料清单中没有“{id}”")));
            continue;
        };
        let kinds: Vec<&str> = if material.kinds.is_empty() {
            DEFAULT_KINDS.to_vec()
        } else {
            material.kinds.iter().map(String::as_str).collect()
        };
        if !kinds.contains(&upload.kind.as_str()) {
            let accepted: Vec<String> = kinds.iter().map(|k| k.to_uppercase()).collect();
            problems.push(Problem::about(
                id,
                format!(
                    "“{}”的文件格式{}不符合要求，可提交{}",
                    material.label,
                    upload.kind.to_uppercase(),
                    accepted.join("、")
                ),
            ));
        }
    }
    if problems.is_empty() {
        Ok(Submission {
            applicant: applicant.name.trim().to_string(),
            email: email.map(str::to_string),
            values,
            materials,
            declared,
            signatories,
        })
    } else {
        Err(problems)
    }
}

/// Who signs for each party: every party of the workflow named by a
/// well-formed address (trimmed), and nothing for a party it does not have.
fn signatories(
    workflow: &Workflow,
    given: &BTreeMap<String, String>,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, String> {
    for party in given.keys() {
        if !workflow.parties.iter().any(|p| &p.id == party) {
            problems.push(Problem::about(
                &signatory_subject(party),
                format!("本事项没有签约方“{party}”"),
            ));
        }
    }
    let mut signatories = BTreeMap::new();
    for party in &workflow.parties {
        let email = given.get(&party.id).map_or("", |email| email.trim());
        let subject = signatory_subject(&party.id);
        if email.is_empty() {
            problems.push(Problem::about(
                &subject,
                format!("请填写{}签章人的电子邮箱", party.name),
            ));
        } else if !plausible_email(email) {
            problems.push(Problem::about(
                &subject,
                format!("{}签章人的电子邮箱“{email}”格式不正确", party.name),
            ));
        } else {
            signatories.insert(party.id.clone(), email.to_string());
        }
    }
    signatories
}

/// The subject of a problem with a party's signatory: the form's field.
pub fn signatory_subject(party: &str) -> String {
    format!("{SIGNATORY_PREFIX}{party}")
}

/// How the form and the problems name a party's signatory (`party:medical`).
pub const SIGNATORY_PREFIX: &str = "party:";

/// The facts the applicant declares: those given that the registry does
/// not supply.
fn declared_facts(workflow: &Workflow, facts: &Facts) -> BTreeSet<String> {
    workflow
        .facts
        .iter()
        .filter(|fact| !facts.registry.contains_key(&fact.id))
        .filter(|fact| facts.declared.get(&fact.id).is_some_and(|v| !v.is_null()))
        .map(|fact| fact.id.clone())
        .collect()
}

/// The material that proves a fact when the applicant declares it.
pub fn evidence_of<'w>(workflow: &'w Workflow, fact: &str) -> Option<&'w Material> {
    let evidence = workflow
        .facts
        .iter()
        .find(|f| f.id == fact)?
        .evidence
        .as_ref()?;
    workflow.materials.iter().find(|m| &m.id == evidence)
}

/// What a required field left empty says: a form field asks to be filled;
/// a fact neither the registry knows nor the applicant declares asks to
/// be declared with its evidence.
fn not_given(workflow: &Workflow, field: &Field) -> String {
    let is_fact = workflow.facts.iter().any(|fact| fact.id == field.id);
    match evidence_of(workflow, &field.id).filter(|_| is_fact) {
        Some(evidence) => format!(
            "登记系统未掌握本机构的“{}”，请申报并上传证明材料“{}”",
            field.label, evidence.label
        ),
        None if is_fact => format!("登记系统未掌握本机构的“{}”，请申报", field.label),
        None => format!("请填写“{}”", field.label),
    }
}

/// The materials a submission still lacks, as the window would list them in
/// a correction notice. Deferrable materials (容缺) are listed apart.
pub fn missing_materials(
    workflow: &Workflow,
    submission: &Submission,
) -> (Vec<String>, Vec<String>) {
    let mut required = Vec::new();
    let mut deferrable = Vec::new();
    for material in &workflow.materials {
        let needed = need(workflow, submission, material).is_some();
        if needed && !submission.materials.contains_key(&material.id) {
            if material.deferrable {
                deferrable.push(material.id.clone());
            } else {
                required.push(material.id.clone());
            }
        }
    }
    (required, deferrable)
}

/// Why a submission must include a material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The list requires it of everyone.
    Required,
    /// The list requires it when the answers meet its condition, and they do.
    Condition,
    /// It proves a fact the applicant declared.
    Proof,
}

impl Need {
    /// The reason as the window's checklist and the applicant read it.
    pub fn words(self) -> &'static str {
        match self {
            Need::Required => "清单必交材料",
            Need::Condition => "按本申请填报的情况须提交",
            Need::Proof => "申报登记信息的证明材料",
        }
    }
}

/// Why this submission must include `material`; `None` when it need not
/// (an optional material, a condition the answers do not meet). The one
/// rule for what applies to a filing.
pub fn need(workflow: &Workflow, submission: &Submission, material: &Material) -> Option<Need> {
    let lookup = |name: &str| submission.values.get(name);
    let proves_declared = submission
        .declared
        .iter()
        .any(|fact| evidence_of(workflow, fact).is_some_and(|m| m.id == material.id));
    match &material.requirement {
        Requirement::Required => Some(Need::Required),
        Requirement::RequiredWhen(condition) if condition.eval(&lookup) => Some(Need::Condition),
        _ if proves_declared => Some(Need::Proof),
        _ => None,
    }
}

fn typed(field: &Field, json: &Json) -> Result<Value, String> {
    let label = &field.label;
    let value = match (&field.ty, json) {
        (FieldType::Text, Json::String(text)) => {
            let text = text.trim();
            if text.is_empty() && field.required {
                return Err(format!("请填写“{label}”"));
            }
            if text.chars().count() > MAX_TEXT {
                return Err(format!("“{label}”超过{MAX_TEXT}个字"));
            }
            Value::Text(text.to_string())
        }
        (FieldType::CreditCode, Json::String(text)) => Value::Text(
            crate::credit_code::CreditCode::parse(text)
                .map_err(|reason| format!("“{label}”：{reason}"))?
                .to_string(),
        ),
        (FieldType::Choice(choices), Json::String(text)) => {
            if !choices.contains(text) {
                return Err(format!("“{label}”只能选择：{}", choices.join("、")));
            }
            Value::Text(text.clone())
        }
        (FieldType::Int, Json::Number(number)) => Value::Int(
            number
                .as_i64()
                .ok_or_else(|| format!("“{label}”应为整数"))?,
        ),
        (FieldType::Int, Json::String(text)) => Value::Int(
            text.trim()
                .parse()
                .map_err(|_| format!("“{label}”应为整数"))?,
        ),
        (FieldType::Money, Json::String(text)) => Value::Money(
            parse_money(text).ok_or_else(|| format!("“{label}”应为金额，最多两位小数"))?,
        ),
        (FieldType::Money, Json::Number(number)) => Value::Money(
            parse_money(&number.to_string())
                .ok_or_else(|| format!("“{label}”应为金额，最多两位小数"))?,
        ),
        (FieldType::Bool, Json::Bool(value)) => Value::Bool(*value),
        (FieldType::Date, Json::String(text)) => Value::Date(
            text.trim()
                .parse()
                .map_err(|_| format!("“{label}”应为日期（年-月-日）"))?,
        ),
        (FieldType::List, Json::Array(items)) => {
            if items.len() > MAX_LIST_ITEMS {
                return Err(format!("“{label}”最多{MAX_LIST_ITEMS}项"));
            }
            let mut texts = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Json::String(text) if text.chars().count() > MAX_TEXT => {
                        return Err(format!("“{label}”的每一项不超过{MAX_TEXT}个字"));
                    }
                    Json::String(text) if !text.trim().is_empty() => {
                        texts.push(text.trim().to_string())
                    }
                    Json::String(_) => {}
                    _ => return Err(format!("“{label}”的每一项应为文字")),
                }
            }
            Value::List(texts)
        }
        (ty, _) => {
            let expected = match ty {
                FieldType::Text | FieldType::Choice(_) | FieldType::CreditCode => "文字",
                FieldType::Int => "整数",
                FieldType::Money => "金额",
                FieldType::Bool => "是或否",
                FieldType::Date => "日期",
                FieldType::List => "文字列表",
            };
            return Err(format!("“{label}”应为{expected}"));
        }
    };
    let point = crate::dsl::sat::scalar(&value);
    if let (Some(point), Some(min)) = (point, field.min) {
        if point < min {
            return Err(format!("“{label}”不能小于{}", bound(&field.ty, min)));
        }
    }
    if let (Some(point), Some(max)) = (point, field.max) {
        if point > max {
            return Err(format!("“{label}”不能大于{}", bound(&field.ty, max)));
        }
    }
    Ok(value)
}

fn bound(ty: &FieldType, value: i64) -> String {
    match ty {
        FieldType::Money => Value::Money(value).display(),
        _ => value.to_string(),
    }
}

/// Yuan as written (`12`, `12.5`, `12.50`) to fen, exactly.
fn parse_money(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > 2
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let fen = whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(match fraction.len() {
            0 => 0,
            1 => fraction.parse::<i64>().ok()? * 10,
            _ => fraction.parse::<i64>().ok()?,
        })?;
    Some(if negative { -fen } else { fen })
}

/// The subject of a problem with the applicant's e-mail address.
pub const EMAIL_SUBJECT: &str = "email";

/// One `@` with text on both sides, a dot in the domain, no spaces or
/// angle brackets: enough to catch typing mistakes without refusing real
/// addresses (the mail server has the last word).
fn plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !email
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_exact() {
        assert_eq!(parse_money("12.5"), Some(1250));
        assert_eq!(parse_money("0.07"), Some(7));
        assert_eq!(parse_money("-3"), Some(-300));
        assert_eq!(parse_money("1.005"), None);
        assert_eq!(parse_money("1e3"), None);
        assert_eq!(parse_money(""), None);
    }

    #[test]
    fn email_addresses_are_checked_for_typing_mistakes() {
        for good in [
            "a@example.cn",
            "张三@例子.中国",
            "first.last+tag@sub.example.gov.cn",
        ] {
            assert!(plausible_email(good), "{good}");
        }
        for bad in [
            "",
            "a",
            "a@",
            "@example.cn",
            "a@example",
            "a b@example.cn",
            "a@@example.cn",
            "<a@example.cn>",
            "a@example.cn.",
        ] {
            assert!(!plausible_email(bad), "{bad}");
        }
    }
}
