//! The checker: from syntax trees to validated [`Workflow`]s.
//!
//! It resolves every name, types every condition, proves what the policy
//! and the law demand (see docs/language.md for the full list) and reports
//! every problem it finds, never only the first. It never panics and does no
//! IO: files and template headers are handed to it.

mod conditions;
mod fields;
mod jurisdiction;
mod limits;
mod materials;
mod notifications;
mod outcomes;
mod parts;
mod route;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::ast::{self, ClauseKind, CmpOp, Expr, ExprKind, Ident, LiteralKind, StepItem};
use super::diagnostic::{closest, Diagnostic};
use super::ir::*;
use super::sat::satisfiable;
use super::source::Span;

/// File kinds an applicant may upload.
pub const FILE_KINDS: &[&str] = &[
    "pdf", "ofd", "jpg", "jpeg", "png", "doc", "docx", "xls", "xlsx",
];

/// The law's limits, in working days (行政许可法).
pub mod law {
    /// Art. 32: correction notice within five working days of receipt.
    pub const INTAKE: u32 = 5;
    /// Art. 42: decision within twenty working days of acceptance.
    pub const DECISION: u32 = 20;
    /// Art. 42: extension by ten, with the head's approval.
    pub const EXTENSION: u32 = 10;
    /// Art. 42: joint processing by several departments.
    pub const JOINT_DECISION: u32 = 45;
    /// Art. 42: extension of joint processing by fifteen.
    pub const JOINT_EXTENSION: u32 = 15;
}

/// What a check run yields: the workflows that passed, the departments, and
/// every diagnostic. A workflow with an error is not in `workflows`.
#[derive(Debug, Default)]
pub struct Checked {
    pub departments: BTreeMap<String, Department>,
    pub workflows: Vec<Workflow>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == super::diagnostic::Severity::Error)
    }
}

/// Checks parsed files against the template declarations.
pub fn check(files: &[ast::File], templates: &[ast::TemplateDecl]) -> Checked {
    let mut diagnostics = Vec::new();
    let mut template_map: BTreeMap<&str, &ast::TemplateDecl> = BTreeMap::new();
    for template in templates {
        if let Some(first) = template_map.get(template.id.name.as_str()) {
            diagnostics.push(duplicate("文书版式", &template.id, first.id.span));
        } else {
            template_map.insert(&template.id.name, template);
        }
    }

    let mut departments: DepartmentTable<'_> = BTreeMap::new();
    for department in files.iter().flat_map(|file| &file.departments) {
        if let Some((first, _)) = departments.get(&department.id.name) {
            diagnostics.push(duplicate("部门", &department.id, first.id.span));
            continue;
        }
        for address in department.emails.iter().chain(&department.heads) {
            if !valid_email(&address.value) {
                diagnostics.push(
                    Diagnostic::error(
                        "invalid-email",
                        address.span,
                        format!("`{}`不是电子邮箱地址", address.value),
                    )
                    .with_hint("写成`name@example.gov.cn`的形式"),
                );
            }
        }
        let ir = Department {
            id: department.id.name.clone(),
            name: department.name.value.clone(),
            abbr: department.abbrs.first().map(|a| a.value.clone()),
            reviewers: department.emails.iter().map(|s| s.value.clone()).collect(),
            heads: department.heads.iter().map(|s| s.value.clone()).collect(),
            address: department.address.as_ref().map(|a| a.value.clone()),
        };
        departments.insert(department.id.name.clone(), (department, ir));
    }

    let districts = jurisdiction::districts(files, &departments, &mut diagnostics);
    let mut seen_workflows: HashMap<&str, Span> = HashMap::new();
    let mut definitions = Vec::new();
    for definition in files.iter().flat_map(|file| &file.workflows) {
        if let Some(first) = seen_workflows.get(definition.id.name.as_str()) {
            diagnostics.push(duplicate("事项", &definition.id, *first));
            continue;
        }
        seen_workflows.insert(&definition.id.name, definition.id.span);
        definitions.push(definition);
    }
    // Workflows are independent of each other: many are checked on all cores.
    let threads = if definitions.len() >= PARALLEL_FROM_WORKFLOWS {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        1
    };
    let per_thread = definitions.len().div_ceil(threads).max(1);
    let results: Vec<(Vec<Workflow>, Vec<Diagnostic>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = definitions
            .chunks(per_thread)
            .map(|group| {
                scope.spawn(|| check_workflows(group, &departments, &districts, &template_map))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut workflows = Vec::new();
    for (checked, problems) in results {
        workflows.extend(checked);
        diagnostics.extend(problems);
    }
    Checked {
        departments: departments
            .into_iter()
            .map(|(id, (_, department))| (id, department))
            .collect(),
        workflows,
        diagnostics,
    }
}

/// From this many workflows on, they are checked on all cores.
const PARALLEL_FROM_WORKFLOWS: usize = 32;

type DepartmentTable<'a> = BTreeMap<String, (&'a ast::Department, Department)>;

/// Checks workflows in order; a workflow with an error is left out.
fn check_workflows(
    definitions: &[&ast::WorkflowDef],
    departments: &DepartmentTable<'_>,
    districts: &jurisdiction::Districts,
    templates: &BTreeMap<&str, &ast::TemplateDecl>,
) -> (Vec<Workflow>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut workflows = Vec::new();
    for definition in definitions {
        let before = diagnostics.len();
        let checker = WorkflowChecker {
            diagnostics: &mut diagnostics,
            departments,
            districts,
            templates,
            fields: Vec::new(),
            field_spans: HashMap::new(),
            parties: Vec::new(),
        };
        let workflow = checker.run(definition);
        let failed = diagnostics[before..]
            .iter()
            .any(|d| d.severity == super::diagnostic::Severity::Error);
        if let (Some(workflow), false) = (workflow, failed) {
            workflows.push(workflow);
        }
    }
    (workflows, diagnostics)
}

fn valid_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !address.contains(char::is_whitespace)
        && !domain.contains('@')
}

fn duplicate(what: &str, ident: &Ident, first: Span) -> Diagnostic {
    Diagnostic::error(
        "duplicate-definition",
        ident.span,
        format!("{what}`{}`重复定义", ident.name),
    )
    .with_note(first, "首次定义在此")
}

struct WorkflowChecker<'a> {
    diagnostics: &'a mut Vec<Diagnostic>,
    departments: &'a DepartmentTable<'a>,
    districts: &'a jurisdiction::Districts,
    templates: &'a BTreeMap<&'a str, &'a ast::TemplateDecl>,
    fields: Vec<Field>,
    field_spans: HashMap<String, Span>,
    parties: Vec<(Ident, String)>,
}

/// The singular clauses of a workflow, each with the span it was given at.
#[derive(Default)]
struct Singles<'w> {
    legal_limit: Option<(Span, ast::Count)>,
    promised_limit: Option<(Span, ast::Count)>,
    extension: Option<(Span, ast::Count)>,
    extension_approver: Option<&'w Ident>,
    version: Option<(Span, ast::Count)>,
    parties: Option<&'w [(Ident, ast::Str)]>,
    form: Option<&'w [ast::FieldDef]>,
    facts: Option<&'w [ast::FieldDef]>,
    materials: Option<&'w [ast::MaterialDef]>,
}

/// A workflow's clauses sorted by kind.
#[derive(Default)]
struct Clauses<'w> {
    singles: Singles<'w>,
    basis: Vec<String>,
    promises: Vec<String>,
    rules: Vec<&'w ast::RuleDef>,
    steps: Vec<&'w StepItem>,
    independents: Vec<(Span, &'w Vec<Ident>)>,
    jointly: Vec<parts::JointlyClause<'w>>,
    consequences: Vec<(&'w ast::Str, Option<&'w Expr>)>,
    district_from: Option<&'w Ident>,
    outcomes: Vec<&'w ast::OutcomeDef>,
    notify: Vec<(&'w Vec<Ident>, &'w Vec<Ident>)>,
    remind: Vec<(&'w Vec<Ident>, ast::Count)>,
    recur: Vec<&'w ast::RecurDef>,
    register: Vec<&'w Ident>,
}

/// A step of the route with the spans the checker reports on.
struct StepInfo<'w> {
    def: &'w ast::StepDef,
    /// Conditions of enclosing groups and of the step, as written.
    own: Option<Cond>,
    /// The step's own condition can never hold (already reported as such).
    never_holds: bool,
}

impl<'a> WorkflowChecker<'a> {
    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn run(mut self, definition: &ast::WorkflowDef) -> Option<Workflow> {
        let clauses = self.sort_clauses(definition);
        self.missing_clauses(definition, &clauses);
        let form_ids = self.parties_and_fields(&clauses.singles);
        let rules: Vec<Rule> = clauses
            .rules
            .iter()
            .filter_map(|rule| self.rule(rule))
            .collect();
        let materials: Vec<Material> = clauses
            .singles
            .materials
            .unwrap_or_default()
            .iter()
            .filter_map(|material| self.material(material))
            .collect::<Vec<_>>();
        self.unique_materials(clauses.singles.materials.unwrap_or_default());
        self.facts_proven(&clauses.singles, &materials, &form_ids);
        let constraints = self.rules_together(&rules, &clauses.rules);
        let Clauses {
            singles,
            basis,
            promises,
            rules: _,
            steps: step_items,
            independents,
            jointly: jointly_ast,
            consequences: consequences_ast,
            district_from,
            outcomes: outcomes_ast,
            notify: notify_ast,
            remind: remind_ast,
            recur: recur_ast,
            register: register_ast,
        } = clauses;

        // The route.
        let (intake, infos, route) = self.route(definition, &step_items);
        let steps: Vec<Step> = infos
            .iter()
            .enumerate()
            .map(|(index, info)| self.step_ir(index, info, &route))
            .collect();
        self.reachability(&infos, &constraints);
        for (span, names) in &independents {
            self.independent(*span, names, &infos, &route, &constraints);
        }
        let jointly = self.parts(definition, &infos, &steps, &independents, &jointly_ast);
        let (district_field, local_departments) = self.local_departments(&infos, district_from);
        self.sequential_departments(&infos, &route, &independents, &jointly);

        let route_departments: BTreeSet<&str> = infos
            .iter()
            .filter(|info| info.def.kind.name != "sign")
            .filter_map(|info| info.def.actors.first().map(|a| a.name.as_str()))
            .collect();
        let joint = route_departments.len() >= 2;
        let longest_path = route.longest(&steps);
        // The Administrative Licensing Law's limits bind licences; several
        // departments each granting one is joint licensing (art. 42), with
        // the longer limits and the government head's approval.
        let licensing_departments: BTreeSet<&str> = steps
            .iter()
            .filter(|step| step.legal_form() == LegalForm::Licence)
            .filter_map(|step| step.department.as_deref())
            .collect();
        self.limits(&singles, licensing_departments.len(), longest_path);
        let approver = self.extension_approver(&singles, licensing_departments.len() >= 2);

        let outcomes = self.outcomes(definition, &outcomes_ast, intake.as_ref(), &steps);
        let notifications = self.notifications(&notify_ast, &steps, intake.as_ref());
        self.applicant_told(
            definition,
            &notifications,
            singles.extension.map_or(0, |(_, c)| c.value),
        );
        let promised = singles.promised_limit.map(|(_, c)| c.value);
        let reminders = self.reminders(&remind_ast, promised);
        let recurring = self.recurring(&recur_ast);
        let registers = self.registers(&register_ast);
        let consequences = self.consequences(&consequences_ast, &steps, &registers, &register_ast);

        let mut used_departments: BTreeSet<String> =
            steps.iter().filter_map(|s| s.department.clone()).collect();
        used_departments.extend(intake.iter().map(|i| i.department.clone()));
        used_departments.extend(outcomes.iter().map(|o| o.issued_by.clone()));
        used_departments.extend(local_departments.iter().map(|l| l.department.clone()));
        let departments = used_departments
            .into_iter()
            .filter_map(|id| self.departments.get(&id).map(|(_, d)| (id, d.clone())))
            .collect();

        let fields = std::mem::take(&mut self.fields);
        let (form, facts): (Vec<Field>, Vec<Field>) =
            fields.into_iter().partition(|f| form_ids.contains(&f.id));
        Some(Workflow {
            id: definition.id.name.clone(),
            title: definition.title.value.clone(),
            version: singles.version?.1.value,
            basis,
            promises,
            legal_limit: singles.legal_limit?.1.value,
            promised_limit: singles.promised_limit?.1.value,
            extension: singles.extension.map_or(0, |(_, c)| c.value),
            extension_approver: approver,
            joint,
            departments,
            parties: self
                .parties
                .iter()
                .map(|(id, name)| Party {
                    id: id.name.clone(),
                    name: name.clone(),
                })
                .collect(),
            form,
            facts,
            rules,
            materials,
            intake: intake?,
            steps,
            route,
            independent: independents
                .iter()
                .map(|(_, names)| names.iter().map(|n| n.name.clone()).collect())
                .collect(),
            jointly,
            district_field,
            local_departments,
            consequences,
            outcomes,
            notifications,
            reminders,
            recurring,
            registers,
            longest_path,
        })
    }

    /// Sorts a workflow's clauses by kind; a clause that may be given
    /// once and is given again is reported and left out.
    fn sort_clauses<'d>(&mut self, definition: &'d ast::WorkflowDef) -> Clauses<'d> {
        let mut clauses = Clauses::default();
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for clause in &definition.clauses {
            let keyword = clause.kind.keyword();
            let single = matches!(
                clause.kind,
                ClauseKind::LegalLimit(_)
                    | ClauseKind::PromisedLimit(_)
                    | ClauseKind::Extension { .. }
                    | ClauseKind::Version(_)
                    | ClauseKind::Parties(_)
                    | ClauseKind::Form(_)
                    | ClauseKind::Facts(_)
                    | ClauseKind::Materials(_)
                    | ClauseKind::DistrictFrom(_)
            );
            if single {
                if let Some(first) = seen.get(keyword) {
                    let diagnostic = Diagnostic::error(
                        "duplicate-clause",
                        clause.span,
                        format!("`{keyword}`写了两次"),
                    )
                    .with_note(*first, "首次写在此");
                    self.error(diagnostic);
                    continue;
                }
                seen.insert(keyword, clause.span);
            }
            let singles = &mut clauses.singles;
            match &clause.kind {
                ClauseKind::Promise(text) => clauses.promises.push(text.value.clone()),
                ClauseKind::DistrictFrom(field) => clauses.district_from = Some(field),
                ClauseKind::Consequence { text, condition } => {
                    clauses.consequences.push((text, condition.as_ref()))
                }
                ClauseKind::Basis(citations) => clauses
                    .basis
                    .extend(citations.iter().map(|c| c.value.clone())),
                ClauseKind::LegalLimit(count) => singles.legal_limit = Some((clause.span, *count)),
                ClauseKind::PromisedLimit(count) => {
                    singles.promised_limit = Some((clause.span, *count))
                }
                ClauseKind::Extension { days, approver } => {
                    singles.extension = Some((clause.span, *days));
                    singles.extension_approver = approver.as_ref();
                }
                ClauseKind::Version(count) => singles.version = Some((clause.span, *count)),
                ClauseKind::Parties(parties) => singles.parties = Some(parties),
                ClauseKind::Form(fields) => singles.form = Some(fields),
                ClauseKind::Facts(fields) => singles.facts = Some(fields),
                ClauseKind::Materials(materials) => singles.materials = Some(materials),
                ClauseKind::Rule(rule) => clauses.rules.push(rule),
                ClauseKind::Step(item) => clauses.steps.push(item),
                ClauseKind::Independent(names) => clauses.independents.push((clause.span, names)),
                ClauseKind::Jointly { departments, basis } => {
                    clauses.jointly.push((clause.span, departments, basis))
                }
                ClauseKind::Outcome(outcome) => clauses.outcomes.push(outcome),
                ClauseKind::Notify { recipients, events } => {
                    clauses.notify.push((recipients, events))
                }
                ClauseKind::Remind { recipients, days } => clauses.remind.push((recipients, *days)),
                ClauseKind::Recur(recur) => clauses.recur.push(recur),
                ClauseKind::Register(kind) => clauses.register.push(kind),
            }
        }
        clauses
    }

    /// The clauses every workflow needs.
    fn missing_clauses(&mut self, definition: &ast::WorkflowDef, clauses: &Clauses<'_>) {
        let singles = &clauses.singles;
        for (present, keyword, example) in [
            (!clauses.basis.is_empty(), "basis", "basis \"行政许可法\""),
            (
                singles.legal_limit.is_some(),
                "legal_limit",
                "legal_limit 20 workdays",
            ),
            (
                singles.promised_limit.is_some(),
                "promised_limit",
                "promised_limit 15 workdays",
            ),
            (singles.version.is_some(), "version", "version 1"),
        ] {
            if !present {
                self.error(
                    Diagnostic::error(
                        "missing-clause",
                        definition.id.span,
                        format!("事项`{}`缺少`{keyword}`", definition.id.name),
                    )
                    .with_hint(format!("加入`{example}`")),
                );
            }
        }
    }

    /// Parties, then fields (conditions need both); the ids of the form's
    /// fields, as opposed to the facts'.
    fn parties_and_fields(&mut self, singles: &Singles<'_>) -> BTreeSet<String> {
        for (id, name) in singles.parties.unwrap_or_default() {
            if let Some((first, _)) = self.parties.iter().find(|(p, _)| p.name == id.name) {
                let first = first.span;
                self.error(duplicate("签订方", id, first));
                continue;
            }
            self.parties.push((id.clone(), name.value.clone()));
        }
        let form_count = singles.form.map_or(0, <[_]>::len);
        for field in singles
            .form
            .unwrap_or_default()
            .iter()
            .chain(singles.facts.unwrap_or_default())
        {
            self.field(field);
        }
        self.fields
            .iter()
            .take(form_count)
            .map(|f| f.id.clone())
            .collect()
    }

    /// The rules as constraints every submission meets; reported when no
    /// submission can meet them all.
    fn rules_together(&mut self, rules: &[Rule], rules_ast: &[&ast::RuleDef]) -> Vec<Cond> {
        let constraints: Vec<Cond> = rules
            .iter()
            .map(|rule| match &rule.when {
                Some(when) => Cond::Or(vec![
                    Cond::Not(Box::new(when.clone())),
                    rule.require.clone(),
                ]),
                None => rule.require.clone(),
            })
            .collect();
        if !rules.is_empty() && !self.satisfiable(&constraints.iter().collect::<Vec<_>>()) {
            let diagnostic = Diagnostic::error(
                "rules-unsatisfiable",
                rules_ast[0].message.span,
                "各条规则合在一起，任何申请都无法满足",
            )
            .with_hint("某条`require`与其他规则或某栏目的取值范围相矛盾");
            self.error(diagnostic);
        }
        constraints
    }

    fn satisfiable(&self, conditions: &[&Cond]) -> bool {
        let fields = &self.fields;
        satisfiable(conditions, &|name: &str| {
            fields.iter().find(|field| field.id == name)
        })
    }
}

/// Every pair (a, b) of step indices where a sequence orders `a` before `b`.
fn ordered_pairs(route: &Route) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    collect_pairs(route, &mut pairs);
    pairs
}

fn collect_pairs(route: &Route, pairs: &mut Vec<(usize, usize)>) {
    match route {
        Route::Step(_) => {}
        Route::Parallel(items) => items.iter().for_each(|item| collect_pairs(item, pairs)),
        Route::Sequence(items) => {
            for (position, item) in items.iter().enumerate() {
                collect_pairs(item, pairs);
                let earlier = item.step_indices();
                for later in &items[position + 1..] {
                    for after in later.step_indices() {
                        pairs.extend(earlier.iter().map(|before| (*before, after)));
                    }
                }
            }
        }
    }
}

/// The dotted position of step `index` in the route, e.g. `2.1`.
fn step_path(route: &Route, index: usize) -> Option<String> {
    fn walk(route: &Route, index: usize, prefix: &str) -> Option<String> {
        match route {
            Route::Step(found) => (*found == index).then(|| prefix.to_string()),
            Route::Sequence(items) | Route::Parallel(items) => {
                items.iter().enumerate().find_map(|(position, item)| {
                    let path = if prefix.is_empty() {
                        (position + 1).to_string()
                    } else {
                        format!("{prefix}.{}", position + 1)
                    };
                    walk(item, index, &path)
                })
            }
        }
    }
    walk(route, index, "")
}

/// A type of the language as a reader of the diagnostics calls it.
fn type_words(type_name: &str) -> &'static str {
    match type_name {
        "int" => "整数",
        "money" => "金额",
        "bool" => "“是/否”",
        "date" => "日期",
        "list" => "列表",
        "credit_code" => "统一社会信用代码",
        "choice" => "选项",
        "text" => "文字",
        _ => "其他类型",
    }
}

#[derive(Debug, PartialEq)]
enum NumberProblem {
    TooManyDecimals,
    TooLarge,
}

/// Parses a decimal literal into an integer scaled by `10^decimals`.
fn parse_decimal(text: &str, decimals: u32) -> Result<i64, NumberProblem> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > decimals as usize {
        return Err(NumberProblem::TooManyDecimals);
    }
    let scale = 10i64.pow(decimals);
    let whole: i64 = whole.parse().map_err(|_| NumberProblem::TooLarge)?;
    let mut fraction_value: i64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| NumberProblem::TooLarge)?
    };
    fraction_value *= 10i64.pow(decimals - fraction.len() as u32);
    let value = whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(fraction_value))
        .ok_or(NumberProblem::TooLarge)?;
    Ok(if negative { -value } else { value })
}

fn number_problem(span: Span, text: &str, problem: NumberProblem, wanted: &str) -> Diagnostic {
    match problem {
        NumberProblem::TooManyDecimals => {
            Diagnostic::error("bad-number", span, format!("`{text}`不是{wanted}"))
        }
        NumberProblem::TooLarge => {
            Diagnostic::error("number-too-large", span, format!("`{text}`太大"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("12.5", 2), Ok(1250));
        assert_eq!(parse_decimal("-3", 0), Ok(-3));
        assert_eq!(parse_decimal("2.000", 0), Ok(2));
        assert_eq!(
            parse_decimal("1.005", 2),
            Err(NumberProblem::TooManyDecimals)
        );
        assert_eq!(
            parse_decimal("99999999999999999999", 0),
            Err(NumberProblem::TooLarge)
        );
    }

    #[test]
    fn emails() {
        assert!(valid_email("health@example.gov.cn"));
        assert!(!valid_email("health.example.gov.cn"));
        assert!(!valid_email("a@b"));
        assert!(!valid_email("a b@c.cn"));
    }
}
