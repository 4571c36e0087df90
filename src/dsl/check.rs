//! The checker: from syntax trees to validated [`Workflow`]s.
//!
//! It resolves every name, types every condition, proves what the policy
//! and the law demand (see docs/language.md for the full list) and reports
//! every problem it finds, never only the first. It never panics and does no
//! IO: files and template headers are handed to it.

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
            diagnostics.push(duplicate("template", &template.id, first.id.span));
        } else {
            template_map.insert(&template.id.name, template);
        }
    }

    let mut departments: DepartmentTable<'_> = BTreeMap::new();
    for department in files.iter().flat_map(|file| &file.departments) {
        if let Some((first, _)) = departments.get(&department.id.name) {
            diagnostics.push(duplicate("department", &department.id, first.id.span));
            continue;
        }
        for address in department.emails.iter().chain(&department.heads) {
            if !valid_email(&address.value) {
                diagnostics.push(
                    Diagnostic::error(
                        "invalid-email",
                        address.span,
                        format!("`{}` is not an e-mail address", address.value),
                    )
                    .with_hint("write it as `name@example.gov.cn`"),
                );
            }
        }
        let ir = Department {
            id: department.id.name.clone(),
            name: department.name.value.clone(),
            abbr: department.abbrs.first().map(|a| a.value.clone()),
            reviewers: department.emails.iter().map(|s| s.value.clone()).collect(),
            heads: department.heads.iter().map(|s| s.value.clone()).collect(),
        };
        departments.insert(department.id.name.clone(), (department, ir));
    }

    let mut seen_workflows: HashMap<&str, Span> = HashMap::new();
    let mut definitions = Vec::new();
    for definition in files.iter().flat_map(|file| &file.workflows) {
        if let Some(first) = seen_workflows.get(definition.id.name.as_str()) {
            diagnostics.push(duplicate("workflow", &definition.id, *first));
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
            .map(|group| scope.spawn(|| check_workflows(group, &departments, &template_map)))
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
    templates: &BTreeMap<&str, &ast::TemplateDecl>,
) -> (Vec<Workflow>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut workflows = Vec::new();
    for definition in definitions {
        let before = diagnostics.len();
        let checker = WorkflowChecker {
            diagnostics: &mut diagnostics,
            departments,
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
        format!("{what} `{}` is defined twice", ident.name),
    )
    .with_note(first, "first defined here")
}

struct WorkflowChecker<'a> {
    diagnostics: &'a mut Vec<Diagnostic>,
    departments: &'a DepartmentTable<'a>,
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
    rules: Vec<&'w ast::RuleDef>,
    steps: Vec<&'w StepItem>,
    independents: Vec<(Span, &'w Vec<Ident>)>,
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
        let constraints = self.rules_together(&rules, &clauses.rules);
        let Clauses {
            singles,
            basis,
            rules: _,
            steps: step_items,
            independents,
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
        self.sequential_departments(&infos, &route, &independents);

        let route_departments: BTreeSet<&str> = infos
            .iter()
            .filter(|info| info.def.kind.name != "sign")
            .filter_map(|info| info.def.actors.first().map(|a| a.name.as_str()))
            .collect();
        let joint = route_departments.len() >= 2;
        let longest_path = route.longest(&steps);
        self.limits(&singles, joint, longest_path);

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

        let mut used_departments: BTreeSet<String> =
            steps.iter().filter_map(|s| s.department.clone()).collect();
        used_departments.extend(intake.iter().map(|i| i.department.clone()));
        used_departments.extend(outcomes.iter().map(|o| o.issued_by.clone()));
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
            legal_limit: singles.legal_limit?.1.value,
            promised_limit: singles.promised_limit?.1.value,
            extension: singles.extension.map_or(0, |(_, c)| c.value),
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
                    | ClauseKind::Extension(_)
                    | ClauseKind::Version(_)
                    | ClauseKind::Parties(_)
                    | ClauseKind::Form(_)
                    | ClauseKind::Facts(_)
                    | ClauseKind::Materials(_)
            );
            if single {
                if let Some(first) = seen.get(keyword) {
                    let diagnostic = Diagnostic::error(
                        "duplicate-clause",
                        clause.span,
                        format!("`{keyword}` is given twice"),
                    )
                    .with_note(*first, "first given here");
                    self.error(diagnostic);
                    continue;
                }
                seen.insert(keyword, clause.span);
            }
            let singles = &mut clauses.singles;
            match &clause.kind {
                ClauseKind::Basis(citations) => clauses
                    .basis
                    .extend(citations.iter().map(|c| c.value.clone())),
                ClauseKind::LegalLimit(count) => singles.legal_limit = Some((clause.span, *count)),
                ClauseKind::PromisedLimit(count) => {
                    singles.promised_limit = Some((clause.span, *count))
                }
                ClauseKind::Extension(count) => singles.extension = Some((clause.span, *count)),
                ClauseKind::Version(count) => singles.version = Some((clause.span, *count)),
                ClauseKind::Parties(parties) => singles.parties = Some(parties),
                ClauseKind::Form(fields) => singles.form = Some(fields),
                ClauseKind::Facts(fields) => singles.facts = Some(fields),
                ClauseKind::Materials(materials) => singles.materials = Some(materials),
                ClauseKind::Rule(rule) => clauses.rules.push(rule),
                ClauseKind::Step(item) => clauses.steps.push(item),
                ClauseKind::Independent(names) => clauses.independents.push((clause.span, names)),
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
                        format!("workflow `{}` has no `{keyword}`", definition.id.name),
                    )
                    .with_hint(format!("add `{example}`")),
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
                self.error(duplicate("party", id, first));
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
                "the rules together admit no submission",
            )
            .with_hint("some `require` contradicts another rule or a field's range");
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

    // ---- fields ------------------------------------------------------------

    fn field(&mut self, def: &ast::FieldDef) {
        if let Some(first) = self.field_spans.get(&def.id.name) {
            let first = *first;
            self.error(duplicate("field", &def.id, first));
            return;
        }
        let ty = match &def.ty {
            ast::TypeDef::Choice(values, _) => {
                let mut seen: HashMap<&str, Span> = HashMap::new();
                for value in values {
                    if let Some(first) = seen.get(value.value.as_str()) {
                        let diagnostic = Diagnostic::error(
                            "duplicate-choice",
                            value.span,
                            format!("choice `{}` is listed twice", value.value),
                        )
                        .with_note(*first, "first listed here");
                        self.error(diagnostic);
                    }
                    seen.insert(&value.value, value.span);
                }
                FieldType::Choice(values.iter().map(|v| v.value.clone()).collect())
            }
            ast::TypeDef::Scalar(name, _) => match name.as_str() {
                "text" => FieldType::Text,
                "int" => FieldType::Int,
                "money" => FieldType::Money,
                "bool" => FieldType::Bool,
                "date" => FieldType::Date,
                _ => FieldType::List,
            },
        };
        if let (Some(required), Some(_)) = (def.required, def.optional) {
            self.error(Diagnostic::error(
                "conflicting-options",
                required,
                format!("field `{}` is both `required` and `optional`", def.id.name),
            ));
        }
        let mut field = Field {
            id: def.id.name.clone(),
            label: def.label.value.clone(),
            ty,
            required: def.required.is_some(),
            min: None,
            max: None,
            default: None,
            help: def.help.as_ref().map(|h| h.value.clone()),
        };
        if let Some(range) = &def.range {
            if matches!(field.ty, FieldType::Int | FieldType::Money) {
                field.min = self
                    .value(&range.low, &field, &def.id)
                    .and_then(|v| super::sat::scalar(&v));
                field.max = range
                    .high
                    .as_ref()
                    .and_then(|high| self.value(high, &field, &def.id))
                    .and_then(|v| super::sat::scalar(&v));
                if let (Some(min), Some(max)) = (field.min, field.max) {
                    if min > max {
                        self.error(Diagnostic::error(
                            "empty-range",
                            range.span,
                            format!(
                                "the range of `{}` is empty: its low end is above its high end",
                                def.id.name
                            ),
                        ));
                    }
                }
            } else {
                self.error(
                    Diagnostic::error(
                        "range-not-allowed",
                        range.span,
                        format!(
                            "`range` applies to int and money fields, and `{}` is {}",
                            def.id.name,
                            article(field.ty.name())
                        ),
                    )
                    .with_hint("remove the range, or change the field's type"),
                );
            }
        }
        if let Some(default) = &def.default {
            if let Some(value) = self.value(default, &field, &def.id) {
                let point = super::sat::scalar(&value);
                let below = matches!((point, field.min), (Some(p), Some(min)) if p < min);
                let above = matches!((point, field.max), (Some(p), Some(max)) if p > max);
                if below || above {
                    self.error(Diagnostic::error(
                        "default-out-of-range",
                        default.span,
                        format!("the default of `{}` lies outside its range", def.id.name),
                    ));
                }
                field.default = Some(value);
            }
        }
        self.field_spans.insert(def.id.name.clone(), def.id.span);
        self.fields.push(field);
    }

    /// Types a literal against a field; reports and returns `None` on a mismatch.
    fn value(
        &mut self,
        literal: &ast::Literal,
        field: &Field,
        field_name: &Ident,
    ) -> Option<Value> {
        let name = &field_name.name;
        let mismatch = |found: &str| {
            Diagnostic::error(
                "type-mismatch",
                literal.span,
                format!(
                    "`{name}` is {}, but this is {found}",
                    article(field.ty.name())
                ),
            )
        };
        let found = match &literal.kind {
            LiteralKind::Number(_) => "a number",
            LiteralKind::Str(_) => "text",
            LiteralKind::Bool(_) => "a bool",
            LiteralKind::Date(_) => "a date",
        };
        match (&field.ty, &literal.kind) {
            (FieldType::Int, LiteralKind::Number(text)) => match parse_decimal(text, 0) {
                Ok(units) => Some(Value::Int(units)),
                Err(problem) => {
                    self.error(number_problem(
                        literal.span,
                        text,
                        problem,
                        "a whole number",
                    ));
                    None
                }
            },
            (FieldType::Money, LiteralKind::Number(text)) => match parse_decimal(text, 2) {
                Ok(fen) => Some(Value::Money(fen)),
                Err(problem) => {
                    self.error(number_problem(
                        literal.span,
                        text,
                        problem,
                        "an amount with at most two decimals",
                    ));
                    None
                }
            },
            (FieldType::Date, LiteralKind::Date(text)) => match text.parse::<jiff::civil::Date>() {
                Ok(date) => Some(Value::Date(date)),
                Err(_) => {
                    self.error(Diagnostic::error(
                        "invalid-date",
                        literal.span,
                        format!("`{text}` is not a date of the calendar"),
                    ));
                    None
                }
            },
            (FieldType::Bool, LiteralKind::Bool(value)) => Some(Value::Bool(*value)),
            (FieldType::Text, LiteralKind::Str(text)) => Some(Value::Text(text.clone())),
            (FieldType::Choice(values), LiteralKind::Str(text)) => {
                if values.contains(text) {
                    Some(Value::Text(text.clone()))
                } else {
                    let listed: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
                    let mut diagnostic = Diagnostic::error(
                        "unknown-choice-value",
                        literal.span,
                        format!("\"{text}\" is not a value of `{name}`"),
                    );
                    if let Some(best) = closest(text, values.iter().map(String::as_str)) {
                        diagnostic = diagnostic.with_hint(format!("did you mean \"{best}\"?"));
                    }
                    self.error(
                        diagnostic.with_hint(format!("the values are {}", listed.join(", "))),
                    );
                    None
                }
            }
            _ => {
                self.error(mismatch(found));
                None
            }
        }
    }

    // ---- conditions --------------------------------------------------------

    fn cond(&mut self, expr: &Expr) -> Option<Cond> {
        match &expr.kind {
            ExprKind::Or(items) | ExprKind::And(items) => {
                let checked: Vec<Option<Cond>> = items.iter().map(|item| self.cond(item)).collect();
                let checked: Option<Vec<Cond>> = checked.into_iter().collect();
                let checked = checked?;
                Some(if matches!(expr.kind, ExprKind::Or(_)) {
                    Cond::Or(checked)
                } else {
                    Cond::And(checked)
                })
            }
            ExprKind::Not(inner) => Some(Cond::Not(Box::new(self.cond(inner)?))),
            ExprKind::Field(ident) => {
                let field = self.resolve_field(ident)?;
                if field.ty == FieldType::Bool {
                    Some(Cond::Is(ident.name.clone()))
                } else {
                    let example = match field.ty {
                        FieldType::Int | FieldType::Money => format!("{} > 0", ident.name),
                        _ => format!("{} == \"…\"", ident.name),
                    };
                    let diagnostic = Diagnostic::error(
                        "type-mismatch",
                        ident.span,
                        format!(
                            "`{}` is {}, not a bool",
                            ident.name,
                            article(field.ty.name())
                        ),
                    )
                    .with_hint(format!("compare it, e.g. `{example}`"));
                    self.error(diagnostic);
                    None
                }
            }
            ExprKind::Compare { field, op, value } => {
                let resolved = self.resolve_field(field)?;
                let ordered = matches!(
                    resolved.ty,
                    FieldType::Int | FieldType::Money | FieldType::Date
                );
                let equality = matches!(op, CmpOp::Eq | CmpOp::Ne);
                if resolved.ty == FieldType::List || (!ordered && !equality) {
                    let hint = if resolved.ty == FieldType::List {
                        "a list can only be filled in, not compared"
                    } else {
                        "use `==`, `!=` or `in (...)`"
                    };
                    let diagnostic = Diagnostic::error(
                        "type-mismatch",
                        expr.span,
                        format!(
                            "`{}` is {}, which `{}` cannot compare",
                            field.name,
                            article(resolved.ty.name()),
                            op.symbol()
                        ),
                    )
                    .with_hint(hint);
                    self.error(diagnostic);
                    return None;
                }
                let value = self.value(value, &resolved, field)?;
                Some(Cond::Compare {
                    field: field.name.clone(),
                    op: *op,
                    value,
                })
            }
            ExprKind::In {
                field,
                negated,
                values,
            } => {
                let resolved = self.resolve_field(field)?;
                if resolved.ty == FieldType::List {
                    self.error(Diagnostic::error(
                        "type-mismatch",
                        expr.span,
                        format!("`{}` is a list, which `in` cannot test", field.name),
                    ));
                    return None;
                }
                let typed: Vec<Option<Value>> = values
                    .iter()
                    .map(|v| self.value(v, &resolved, field))
                    .collect();
                let typed: Vec<Value> = typed.into_iter().collect::<Option<_>>()?;
                let membership = Cond::In {
                    field: field.name.clone(),
                    values: typed,
                };
                Some(if *negated {
                    Cond::Not(Box::new(membership))
                } else {
                    membership
                })
            }
        }
    }

    fn resolve_field(&mut self, ident: &Ident) -> Option<Field> {
        if let Some(field) = self.fields.iter().find(|f| f.id == ident.name) {
            return Some(field.clone());
        }
        let names: Vec<&str> = self.fields.iter().map(|f| f.id.as_str()).collect();
        let diagnostic = Diagnostic::error(
            "unknown-field",
            ident.span,
            format!("unknown field `{}`", ident.name),
        )
        .suggest(&ident.name, names);
        self.error(diagnostic);
        None
    }

    /// Types a condition and reports it when it can never hold on its own.
    fn condition(&mut self, expr: &Expr) -> Option<Cond> {
        let cond = self.cond(expr)?;
        if !self.satisfiable(&[&cond]) {
            self.error(
                Diagnostic::error("never-holds", expr.span, "this condition can never hold")
                    .with_hint(
                        "check the comparisons against each other and against the fields' ranges",
                    ),
            );
        }
        Some(cond)
    }

    fn rule(&mut self, rule: &ast::RuleDef) -> Option<Rule> {
        let when = rule.when.as_ref().map(|expr| self.condition(expr));
        let require = self.cond(&rule.require)?;
        let when = match when {
            Some(Some(cond)) => Some(cond),
            Some(None) => return None,
            None => None,
        };
        Some(Rule {
            message: rule.message.value.clone(),
            when,
            require,
        })
    }

    // ---- materials ---------------------------------------------------------

    fn material(&mut self, def: &ast::MaterialDef) -> Option<Material> {
        for kind in &def.kinds {
            if !FILE_KINDS.contains(&kind.name.as_str()) {
                let diagnostic = Diagnostic::error(
                    "unknown-file-kind",
                    kind.span,
                    format!("unknown file kind `{}`", kind.name),
                )
                .suggest(&kind.name, FILE_KINDS.iter().copied())
                .with_hint(format!("the kinds are {}", FILE_KINDS.join(", ")));
                self.error(diagnostic);
            }
        }
        let requirement = match (&def.required, def.optional) {
            (Some((span, _)), Some(_)) => {
                self.error(Diagnostic::error(
                    "conflicting-options",
                    *span,
                    format!(
                        "material `{}` is both `required` and `optional`",
                        def.id.name
                    ),
                ));
                return None;
            }
            (Some((_, None)), None) => Requirement::Required,
            (Some((_, Some(condition))), None) => {
                Requirement::RequiredWhen(self.condition(condition)?)
            }
            (None, Some(_)) => Requirement::Optional,
            (None, None) => {
                self.error(
                    Diagnostic::error(
                        "unstated-requirement",
                        def.id.span,
                        format!(
                            "material `{}` says neither `required` nor `optional`",
                            def.id.name
                        ),
                    )
                    .with_hint("applicants must be told once whether they need it (一次性告知)"),
                );
                return None;
            }
        };
        if let (Some(deferrable), Requirement::Optional) = (def.deferrable, &requirement) {
            self.error(
                Diagnostic::error(
                    "conflicting-options",
                    deferrable,
                    format!(
                        "material `{}` is optional, so it cannot be `deferrable`",
                        def.id.name
                    ),
                )
                .with_hint("`deferrable` (容缺) lets a required material follow after acceptance"),
            );
        }
        Some(Material {
            id: def.id.name.clone(),
            label: def.label.value.clone(),
            requirement,
            deferrable: def.deferrable.is_some(),
            kinds: def.kinds.iter().map(|k| k.name.clone()).collect(),
            help: def.help.as_ref().map(|h| h.value.clone()),
        })
    }

    fn unique_materials(&mut self, materials: &[ast::MaterialDef]) {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for material in materials {
            if let Some(first) = seen.get(material.id.name.as_str()) {
                self.error(duplicate("material", &material.id, *first));
            } else {
                seen.insert(&material.id.name, material.id.span);
            }
        }
    }

    // ---- route -------------------------------------------------------------

    fn route<'w>(
        &mut self,
        definition: &ast::WorkflowDef,
        items: &[&'w StepItem],
    ) -> (Option<IntakeStep>, Vec<StepInfo<'w>>, Route) {
        let mut intake = None;
        let mut infos = Vec::new();
        let mut top = Vec::new();
        for (position, item) in items.iter().enumerate() {
            if let StepItem::Step(step) = item {
                if step.kind.name == "intake" {
                    if position == 0 {
                        intake = self.intake(step);
                    } else {
                        self.error(
                            Diagnostic::error(
                                "intake-position",
                                step.kind.span,
                                "intake must be the first step, and there is only one",
                            )
                            .with_hint(
                                "the window receives every filing before any department reviews it",
                            ),
                        );
                    }
                    continue;
                }
            }
            top.push(self.route_item(item, None, &mut infos));
        }
        if intake.is_none()
            && !items
                .iter()
                .any(|i| matches!(i, StepItem::Step(s) if s.kind.name == "intake"))
        {
            self.error(
                Diagnostic::error(
                    "missing-intake",
                    definition.id.span,
                    format!("workflow `{}` has no intake step", definition.id.name),
                )
                .with_hint(
                    "begin the route with `intake by window \"综合窗口受理\" within 5 workdays`",
                ),
            );
        }
        if top.is_empty() {
            self.error(Diagnostic::error(
                "empty-route",
                definition.id.span,
                format!("workflow `{}` has no step after intake", definition.id.name),
            ));
        }
        (intake, infos, Route::Sequence(top))
    }

    fn intake(&mut self, step: &ast::StepDef) -> Option<IntakeStep> {
        if let Some(condition) = &step.condition {
            self.error(Diagnostic::error(
                "intake-position",
                condition.span,
                "the intake step takes every filing; it cannot have a condition",
            ));
        }
        self.limit_at_least_one(step.within);
        if step.within.value > law::INTAKE {
            self.error(
                Diagnostic::error(
                    "intake-limit",
                    step.within.span,
                    format!(
                        "intake takes {} workdays, more than the law's {}",
                        step.within.value,
                        law::INTAKE
                    ),
                )
                .with_hint(
                    "行政许可法 art. 32: the correction notice is due within five working days",
                ),
            );
        }
        let department = self.single_department(step)?;
        Some(IntakeStep {
            department,
            label: step
                .label
                .as_ref()
                .map_or("综合窗口受理".to_string(), |l| l.value.clone()),
            limit: step.within.value,
        })
    }

    fn route_item<'w>(
        &mut self,
        item: &'w StepItem,
        inherited: Option<&Cond>,
        infos: &mut Vec<StepInfo<'w>>,
    ) -> Route {
        match item {
            StepItem::Step(step) => {
                if step.kind.name == "intake" {
                    self.error(Diagnostic::error(
                        "intake-position",
                        step.kind.span,
                        "intake must be the first step of the workflow, outside any group",
                    ));
                    return Route::Sequence(Vec::new());
                }
                let own = step.condition.as_ref().and_then(|c| self.condition(c));
                let never_holds = own.as_ref().is_some_and(|c| !self.satisfiable(&[c]));
                infos.push(StepInfo {
                    def: step,
                    own: Cond::and(inherited.cloned(), own),
                    never_holds,
                });
                Route::Step(infos.len() - 1)
            }
            StepItem::Parallel(group) | StepItem::Sequence(group) => {
                if group.items.is_empty() {
                    self.error(Diagnostic::error(
                        "empty-route",
                        group.span,
                        "this group has no steps",
                    ));
                }
                let own = group.condition.as_ref().and_then(|c| self.condition(c));
                let combined = Cond::and(inherited.cloned(), own);
                let children = group
                    .items
                    .iter()
                    .map(|child| self.route_item(child, combined.as_ref(), infos))
                    .collect();
                if matches!(item, StepItem::Parallel(_)) {
                    Route::Parallel(children)
                } else {
                    Route::Sequence(children)
                }
            }
        }
    }

    fn step_ir(&mut self, index: usize, info: &StepInfo<'_>, route: &Route) -> Step {
        let def = info.def;
        self.limit_at_least_one(def.within);
        let kind = match def.kind.name.as_str() {
            "review" => StepKind::Review,
            "file" => StepKind::Filing,
            _ => StepKind::Signing,
        };
        let mut step = Step {
            id: step_path(route, index).unwrap_or_else(|| (index + 1).to_string()),
            kind,
            department: None,
            parties: Vec::new(),
            label: def
                .label
                .as_ref()
                .map_or_else(String::new, |l| l.value.clone()),
            limit: def.within.value,
            when: info.own.clone(),
        };
        if kind == StepKind::Signing {
            for actor in &def.actors {
                if self.parties.iter().any(|(p, _)| p.name == actor.name) {
                    step.parties.push(actor.name.clone());
                } else if self.departments.contains_key(&actor.name) {
                    self.error(
                        Diagnostic::error(
                            "wrong-actor",
                            actor.span,
                            format!(
                                "`{}` is a department; a `sign` step is taken by parties",
                                actor.name
                            ),
                        )
                        .with_hint("declare the signing parties in `parties { ... }`"),
                    );
                } else {
                    let names: Vec<&str> =
                        self.parties.iter().map(|(p, _)| p.name.as_str()).collect();
                    let diagnostic = Diagnostic::error(
                        "unknown-party",
                        actor.span,
                        format!("unknown party `{}`", actor.name),
                    )
                    .suggest(&actor.name, names);
                    self.error(diagnostic);
                }
            }
            if step.label.is_empty() {
                step.label = "签订协议".to_string();
            }
        } else {
            step.department = self.single_department(def);
            if step.label.is_empty() {
                step.label = kind.chinese().to_string();
            }
        }
        step
    }

    /// The one department that takes an intake, review or filing step.
    fn single_department(&mut self, step: &ast::StepDef) -> Option<String> {
        if step.actors.len() > 1 {
            self.error(
                Diagnostic::error(
                    "wrong-actor",
                    step.actors[1].span,
                    format!("a `{}` step is taken by one department", step.kind.name),
                )
                .with_hint(
                    "write one step per department, inside `parallel { ... }` if they run at once",
                ),
            );
        }
        let actor = step.actors.first()?;
        if self.parties.iter().any(|(p, _)| p.name == actor.name) {
            self.error(Diagnostic::error(
                "wrong-actor",
                actor.span,
                format!(
                    "`{}` is a party; only `sign` steps are taken by parties",
                    actor.name
                ),
            ));
            return None;
        }
        let department = self.department(actor)?;
        if department.reviewers.is_empty() {
            self.error(
                Diagnostic::error(
                    "no-reviewer-address",
                    actor.span,
                    format!(
                        "department `{}` has no reviewer address, so its steps would reach nobody",
                        actor.name
                    ),
                )
                .with_note(
                    self.departments[&actor.name].0.id.span,
                    "department defined here",
                )
                .with_hint("add `email \"reviewer@example.gov.cn\"` to the department"),
            );
        }
        Some(actor.name.clone())
    }

    fn department(&mut self, ident: &Ident) -> Option<Department> {
        if let Some((_, department)) = self.departments.get(&ident.name) {
            return Some(department.clone());
        }
        let diagnostic = Diagnostic::error(
            "unknown-department",
            ident.span,
            format!("unknown department `{}`", ident.name),
        )
        .suggest(&ident.name, self.departments.keys().map(String::as_str));
        let diagnostic = if self.departments.is_empty() {
            diagnostic.with_hint(
                "no department is defined: departments are declared with `department ID \"名称\" { … }`, \
                 usually in workflows/departments.flow; check its folder too",
            )
        } else {
            diagnostic
        };
        self.error(diagnostic);
        None
    }

    fn limit_at_least_one(&mut self, count: ast::Count) {
        if count.value == 0 {
            self.error(Diagnostic::error(
                "zero-limit",
                count.span,
                "a time limit must be at least one working day",
            ));
        }
    }

    fn reachability(&mut self, infos: &[StepInfo<'_>], constraints: &[Cond]) {
        for info in infos {
            let Some(own) = &info.own else { continue };
            let mut all: Vec<&Cond> = constraints.iter().collect();
            all.push(own);
            // Conditions that fail on their own were already reported.
            if !info.never_holds && !self.satisfiable(&all) {
                self.error(
                    Diagnostic::error(
                        "unreachable-step",
                        info.def.span,
                        "no submission can reach this step",
                    )
                    .with_hint("its conditions, with the rules every submission obeys, never hold together"),
                );
            }
        }
    }

    /// `independent a, b`: no path orders a step of one before a step of another.
    fn independent(
        &mut self,
        clause: Span,
        names: &[Ident],
        infos: &[StepInfo<'_>],
        route: &Route,
        constraints: &[Cond],
    ) {
        let mut members = BTreeSet::new();
        for name in names {
            if self.department(name).is_none() {
                continue;
            }
            if !members.insert(name.name.as_str()) {
                self.error(Diagnostic::error(
                    "independent-misuse",
                    name.span,
                    format!("`{}` is named twice", name.name),
                ));
                continue;
            }
            let takes_step = infos.iter().any(|info| {
                info.def.kind.name != "sign"
                    && info.def.actors.first().is_some_and(|a| a.name == name.name)
            });
            let unknown_actor = infos.iter().any(|info| {
                info.def.kind.name != "sign"
                    && info
                        .def
                        .actors
                        .first()
                        .is_some_and(|a| !self.departments.contains_key(&a.name))
            });
            if !takes_step && !unknown_actor {
                self.error(Diagnostic::error(
                    "independent-misuse",
                    name.span,
                    format!(
                        "department `{}` takes no step after intake in this workflow",
                        name.name
                    ),
                ));
            }
        }
        if names.len() < 2 {
            self.error(Diagnostic::error(
                "independent-misuse",
                clause,
                "`independent` needs at least two departments",
            ));
            return;
        }
        let department_of = |index: usize| infos[index].def.actors.first().map(|a| a.name.as_str());
        let mut reported = BTreeSet::new();
        for (before, after) in ordered_pairs(route) {
            let (Some(first), Some(second)) = (department_of(before), department_of(after)) else {
                continue;
            };
            if first == second
                || !members.contains(first)
                || !members.contains(second)
                || reported.contains(&after)
            {
                continue;
            }
            let mut together: Vec<&Cond> = constraints.iter().collect();
            together.extend(infos[before].own.iter());
            together.extend(infos[after].own.iter());
            if !self.satisfiable(&together) {
                continue;
            }
            reported.insert(after);
            let diagnostic = Diagnostic::error(
                "independent-violated",
                infos[after].def.span,
                format!("this step of `{second}` waits for a step of `{first}`, but they are declared independent"),
            )
            .with_note(infos[before].def.span, format!("the step of `{first}` that comes first"))
            .with_note(clause, "declared independent here (不得互为前置)")
            .with_hint("put both in one `parallel { ... }` group");
            self.error(diagnostic);
        }
    }

    /// A warning when approvals of different departments wait on each other
    /// without being declared: the policy forbids mutual preconditions.
    fn sequential_departments(
        &mut self,
        infos: &[StepInfo<'_>],
        route: &Route,
        independents: &[(Span, &Vec<Ident>)],
    ) {
        let declared = |a: &str, b: &str| {
            independents.iter().any(|(_, names)| {
                names.iter().any(|n| n.name == a) && names.iter().any(|n| n.name == b)
            })
        };
        let mut warned = BTreeSet::new();
        for (before, after) in ordered_pairs(route) {
            let (first, second) = (infos[before].def, infos[after].def);
            if first.kind.name != "review"
                || second.kind.name != "review"
                || warned.contains(&after)
            {
                continue;
            }
            let (Some(a), Some(b)) = (first.actors.first(), second.actors.first()) else {
                continue;
            };
            let both_departments =
                self.departments.contains_key(&a.name) && self.departments.contains_key(&b.name);
            if a.name == b.name || declared(&a.name, &b.name) || !both_departments {
                continue;
            }
            warned.insert(after);
            self.error(
                Diagnostic::warning(
                    "sequential-departments",
                    second.span,
                    format!("the approval of `{}` waits for the approval of `{}`", b.name, a.name),
                )
                .with_note(first.span, "the earlier approval")
                .with_hint("the policy forbids making one department's approval a precondition of another's (不得互为前置)"),
            );
        }
    }

    // ---- limits ------------------------------------------------------------

    fn limits(&mut self, singles: &Singles<'_>, joint: bool, longest: u32) {
        let (max_decision, max_extension, label) = if joint {
            (
                law::JOINT_DECISION,
                law::JOINT_EXTENSION,
                "joint processing by several departments",
            )
        } else {
            (law::DECISION, law::EXTENSION, "one department")
        };
        if let Some((span, legal)) = singles.legal_limit {
            self.limit_at_least_one(legal);
            if legal.value > max_decision {
                self.error(
                    Diagnostic::error(
                        "legal-limit",
                        legal.span,
                        format!(
                            "legal_limit {} exceeds the law's {max_decision} workdays for {label}",
                            legal.value
                        ),
                    )
                    .with_note(span, "given here")
                    .with_hint("行政许可法 art. 42"),
                );
            }
        }
        if let Some((_, extension)) = singles.extension {
            if extension.value > max_extension {
                self.error(
                    Diagnostic::error(
                        "extension-limit",
                        extension.span,
                        format!("an extension of {} workdays exceeds the law's {max_extension} for {label}", extension.value),
                    )
                    .with_hint("行政许可法 art. 42"),
                );
            }
        }
        if let (Some((_, legal)), Some((span, promised))) =
            (singles.legal_limit, singles.promised_limit)
        {
            self.limit_at_least_one(promised);
            if promised.value > legal.value {
                self.error(
                    Diagnostic::error(
                        "promised-exceeds-legal",
                        promised.span,
                        format!(
                            "promised_limit {} exceeds legal_limit {}",
                            promised.value, legal.value
                        ),
                    )
                    .with_note(legal.span, "legal_limit given here")
                    .with_hint("a city's promise may only shorten the law's limit"),
                );
            } else if promised.value > 0 && longest > promised.value {
                self.error(
                    Diagnostic::error(
                        "route-exceeds-limit",
                        promised.span,
                        format!("the longest path of steps, counting conditional steps as taken, takes {longest} workdays, more than promised_limit {}", promised.value),
                    )
                    .with_note(span, "promised here")
                    .with_hint("shorten the steps on the longest path, or run them in `parallel`"),
                );
            }
        }
    }

    // ---- outcomes ----------------------------------------------------------

    fn outcomes(
        &mut self,
        definition: &ast::WorkflowDef,
        defs: &[&ast::OutcomeDef],
        intake: Option<&IntakeStep>,
        steps: &[Step],
    ) -> Vec<Outcome> {
        let first_department = |kind: StepKind| {
            steps
                .iter()
                .find(|s| s.kind == kind)
                .and_then(|s| s.department.clone())
        };
        let intake_department = intake.map(|i| i.department.clone());
        let mut outcomes = Vec::new();
        for def in defs {
            let Some(event) = Event::from_name(&def.event.name) else {
                let names = Event::ALL.map(Event::name);
                let diagnostic = Diagnostic::error(
                    "unknown-event",
                    def.event.span,
                    format!("unknown outcome `{}`", def.event.name),
                )
                .suggest(&def.event.name, names)
                .with_hint(format!("the outcomes are {}", names.join(", ")));
                self.error(diagnostic);
                continue;
            };
            let issued_by = match &def.issued_by {
                Some(ident) => self.department(ident).map(|d| d.id),
                None => match event {
                    Event::Approved | Event::Rejected => first_department(StepKind::Review),
                    Event::Filed => first_department(StepKind::Filing),
                    _ => None,
                }
                .or_else(|| intake_department.clone()),
            };
            let Some(template) = self.templates.get(def.template.name.as_str()).copied() else {
                let diagnostic = Diagnostic::error(
                    "unknown-template",
                    def.template.span,
                    format!("unknown template `{}`", def.template.name),
                )
                .suggest(&def.template.name, self.templates.keys().copied());
                self.error(diagnostic);
                continue;
            };
            let inputs = self.template_inputs(def, template);
            self.law_inputs(event, def, template);
            let number = def.number.as_ref().and_then(|pattern| {
                let parsed = self.number_pattern(pattern)?;
                // An issuing department that did not resolve was reported already.
                let department = issued_by.as_ref().and_then(|id| self.departments.get(id));
                if let Some((_, department)) = department
                    .filter(|(_, d)| d.abbr.is_none() && parsed.parts.contains(&NumberPart::Dept))
                {
                    self.error(
                        Diagnostic::error(
                            "bad-number-pattern",
                            pattern.span,
                            format!(
                                "`{{dept}}` needs an abbreviation, and department `{}` has none",
                                department.id
                            ),
                        )
                        .with_hint("add `abbr \"简称\"` to the department"),
                    );
                }
                Some(parsed)
            });
            if let (Some(issued_by), Some(inputs)) = (issued_by, inputs) {
                outcomes.push(Outcome {
                    event,
                    title: def.title.value.clone(),
                    template: def.template.name.clone(),
                    number,
                    issued_by,
                    inputs,
                });
            }
        }
        let has = |kind: StepKind| steps.iter().any(|s| s.kind == kind);
        let mut required = vec![
            (
                Event::Accepted,
                "受理通知书",
                "acceptance_notice",
                "行政许可法 art. 32: acceptance is a written, dated notice",
            ),
            (
                Event::NotAccepted,
                "不予受理通知书",
                "refusal_notice",
                "行政许可法 art. 32: refusal to accept is a written notice with reasons",
            ),
            (
                Event::Correction,
                "补正材料通知书",
                "correction_notice",
                "行政许可法 art. 32: every item to correct is told at once, in writing",
            ),
        ];
        if has(StepKind::Review) {
            required.push((
                Event::Approved,
                "准予行政许可决定书",
                "grant_decision",
                "行政许可法 art. 38: a grant is a written decision",
            ));
            required.push((Event::Rejected, "不予行政许可决定书", "denial_decision", "行政许可法 art. 38: a refusal is a written decision with reasons and appeal rights"));
        } else if has(StepKind::Filing) {
            required.push((
                Event::Filed,
                "备案回执",
                "filing_receipt",
                "a filing is confirmed with a receipt",
            ));
        }
        if has(StepKind::Signing) {
            required.push((
                Event::Signed,
                "医养签约合作协议",
                "cooperation_agreement",
                "the signed agreement is the document both parties hold",
            ));
        }
        // A misspelt outcome was most likely the missing one: say it once.
        let misspelt = defs
            .iter()
            .any(|d| Event::from_name(&d.event.name).is_none());
        if misspelt {
            required.clear();
        }
        for (event, title, template, reason) in required {
            if !defs.iter().any(|d| d.event.name == event.name()) {
                self.error(
                    Diagnostic::error(
                        "missing-notice",
                        definition.id.span,
                        format!(
                            "workflow `{}` issues no document on `{}`",
                            definition.id.name,
                            event.name()
                        ),
                    )
                    .with_hint(reason)
                    .with_hint(format!(
                        "add `on {} issue \"{title}\" template {template}`",
                        event.name()
                    )),
                );
            }
        }
        outcomes
    }

    fn template_inputs(
        &mut self,
        def: &ast::OutcomeDef,
        template: &ast::TemplateDecl,
    ) -> Option<Vec<(String, InputSource)>> {
        let mut ok = true;
        let mut mapped: HashMap<&str, &Ident> = HashMap::new();
        for (input, field) in &def.with {
            if !template.inputs.iter().any(|i| i.id.name == input.name) {
                let names: Vec<&str> = template.inputs.iter().map(|i| i.id.name.as_str()).collect();
                let diagnostic = Diagnostic::error(
                    "unknown-template-input",
                    input.span,
                    format!(
                        "template `{}` has no input `{}`",
                        template.id.name, input.name
                    ),
                )
                .suggest(&input.name, names)
                .with_note(template.id.span, "template declared here");
                self.error(diagnostic);
                ok = false;
            } else if self.resolve_field(field).is_none() {
                ok = false;
            } else {
                mapped.insert(&input.name, field);
            }
        }
        let mut sources = Vec::new();
        for input in &template.inputs {
            let name = input.id.name.as_str();
            let (source, ty, optional_field) = if let Some(field) = mapped.get(name) {
                let field = self.fields.iter().find(|f| f.id == field.name).cloned()?;
                (
                    InputSource::Field(field.id.clone()),
                    field.ty.input_type(),
                    !field.required && field.default.is_none(),
                )
            } else if let Some(field) = self.fields.iter().find(|f| f.id == name) {
                (
                    InputSource::Field(field.id.clone()),
                    field.ty.input_type(),
                    !field.required && field.default.is_none(),
                )
            } else if let Some(system) = SystemInput::from_name(name) {
                (InputSource::System(system), system.ty(), false)
            } else {
                if !input.optional {
                    let diagnostic = Diagnostic::error(
                        "template-input-missing",
                        def.template.span,
                        format!(
                            "template `{}` needs input `{name}`, which no field provides",
                            template.id.name
                        ),
                    )
                    .with_note(input.id.span, "input declared here")
                    .with_hint(format!(
                        "add a field `{name}` to the form, or map one: `with ({name} = field)`"
                    ));
                    self.error(diagnostic);
                    ok = false;
                }
                continue;
            };
            if ty != input.ty.name {
                let diagnostic = Diagnostic::error(
                    "template-input-type",
                    def.template.span,
                    format!(
                        "template `{}` takes `{name}` as {}, but it is given {}",
                        template.id.name,
                        article(&input.ty.name),
                        article(ty)
                    ),
                )
                .with_note(input.ty.span, "input type declared here");
                self.error(diagnostic);
                ok = false;
            } else if optional_field && !input.optional {
                let diagnostic = Diagnostic::error(
                    "template-input-missing",
                    def.template.span,
                    format!("template `{}` needs input `{name}`, but that field is optional", template.id.name),
                )
                .with_hint("make the field `required`, give it a default, or mark the input `optional` in the template");
                self.error(diagnostic);
                ok = false;
            }
            sources.push((name.to_string(), source));
        }
        ok.then_some(sources)
    }

    /// Refusals carry reasons, decisions appeal rights, corrections every item.
    fn law_inputs(&mut self, event: Event, def: &ast::OutcomeDef, template: &ast::TemplateDecl) {
        let needs: &[(&str, &str)] = match event {
            Event::NotAccepted => &[("reasons", "行政许可法 art. 32: a refusal to accept states its reasons")],
            Event::Rejected => &[
                ("reasons", "行政许可法 art. 38: a refusal states its reasons"),
                ("appeal", "行政许可法 art. 38: a refusal tells of the right to reconsideration or litigation"),
            ],
            Event::Correction => &[("corrections", "行政许可法 art. 32: every item to correct is told at once")],
            _ => &[],
        };
        for (input, reason) in needs {
            if !template.inputs.iter().any(|i| i.id.name == *input) {
                let diagnostic = Diagnostic::error(
                    "notice-incomplete",
                    def.template.span,
                    format!(
                        "template `{}` on `{}` does not take `{input}`",
                        template.id.name,
                        event.name()
                    ),
                )
                .with_note(template.id.span, "template declared here")
                .with_hint(*reason);
                self.error(diagnostic);
            }
        }
    }

    fn number_pattern(&mut self, pattern: &ast::Str) -> Option<NumberPattern> {
        let mut parts = Vec::new();
        let mut rest = pattern.value.as_str();
        let problem =
            |message: String| Diagnostic::error("bad-number-pattern", pattern.span, message);
        while !rest.is_empty() {
            match rest.find('{') {
                None => {
                    parts.push(NumberPart::Text(rest.to_string()));
                    rest = "";
                }
                Some(open) => {
                    if open > 0 {
                        parts.push(NumberPart::Text(rest[..open].to_string()));
                    }
                    let Some(close) = rest[open..].find('}') else {
                        self.error(problem("unclosed `{` in number pattern".to_string()));
                        return None;
                    };
                    let placeholder = &rest[open + 1..open + close];
                    let part = match placeholder.split_once(':') {
                        None if placeholder == "year" => NumberPart::Year,
                        None if placeholder == "dept" => NumberPart::Dept,
                        None if placeholder == "seq" => NumberPart::Seq { width: 1 },
                        Some(("seq", width))
                            if width.len() <= 2 && width.parse::<usize>().is_ok() =>
                        {
                            NumberPart::Seq {
                                width: width.parse().unwrap_or(1),
                            }
                        }
                        _ => {
                            self.error(
                                problem(format!("unknown placeholder `{{{placeholder}}}` in number pattern"))
                                    .with_hint("the placeholders are `{year}`, `{dept}`, `{seq}` and `{seq:05}`"),
                            );
                            return None;
                        }
                    };
                    parts.push(part);
                    rest = &rest[open + close + 1..];
                }
            }
        }
        if !parts.iter().any(|p| matches!(p, NumberPart::Seq { .. }))
            || !parts.contains(&NumberPart::Year)
        {
            self.error(
                problem("a number pattern needs `{year}` and `{seq}`".to_string()).with_hint(
                    "numbers are unique and without gaps per year, e.g. `医养{year}{seq:05}`",
                ),
            );
            return None;
        }
        Some(NumberPattern {
            source: pattern.value.clone(),
            parts,
        })
    }

    // ---- notifications and recurring obligations ---------------------------

    fn recipients(&mut self, idents: &[Ident]) -> Vec<Recipient> {
        let mut out = Vec::new();
        for ident in idents {
            match Recipient::ALL.iter().find(|(name, _)| *name == ident.name) {
                Some((_, recipient)) => out.push(*recipient),
                None => {
                    let names = Recipient::ALL.map(|(name, _)| name);
                    let diagnostic = Diagnostic::error(
                        "unknown-recipient",
                        ident.span,
                        format!("unknown recipient `{}`", ident.name),
                    )
                    .suggest(&ident.name, names)
                    .with_hint(format!("the recipients are {}", names.join(", ")));
                    self.error(diagnostic);
                }
            }
        }
        out
    }

    fn notifications(
        &mut self,
        defs: &[(&Vec<Ident>, &Vec<Ident>)],
        steps: &[Step],
        intake: Option<&IntakeStep>,
    ) -> Vec<Notification> {
        let mut out = Vec::new();
        for (recipient_idents, event_idents) in defs {
            let recipients = self.recipients(recipient_idents);
            if recipients.contains(&Recipient::Head) {
                let departments: BTreeSet<&String> = steps
                    .iter()
                    .filter_map(|s| s.department.as_ref())
                    .chain(intake.map(|i| &i.department))
                    .collect();
                for id in departments {
                    if let Some((def, department)) = self.departments.get(id) {
                        if department.heads.is_empty() {
                            let span = recipient_idents
                                .iter()
                                .find(|i| i.name == "head")
                                .map_or(def.id.span, |i| i.span);
                            self.error(
                                Diagnostic::error(
                                    "no-head-address",
                                    span,
                                    format!("department `{id}` has no head address to escalate to"),
                                )
                                .with_note(def.id.span, "department defined here")
                                .with_hint("add `head \"head@example.gov.cn\"` to the department"),
                            );
                        }
                    }
                }
            }
            let mut events = Vec::new();
            for event in event_idents.iter() {
                if let Some(known) = NotifyEvent::from_name(&event.name) {
                    events.push(known);
                } else {
                    let diagnostic = Diagnostic::error(
                        "unknown-event",
                        event.span,
                        format!("unknown event `{}`", event.name),
                    )
                    .suggest(&event.name, NotifyEvent::names())
                    .with_hint(format!(
                        "the events are {}",
                        NotifyEvent::names().join(", ")
                    ));
                    self.error(diagnostic);
                }
            }
            out.push(Notification { recipients, events });
        }
        out
    }

    /// `register institution|agreement`: the kind is known and the form has
    /// the fields it reads, of the right type.
    fn registers(&mut self, kinds: &[&Ident]) -> Vec<Registration> {
        let mut out = Vec::new();
        for kind in kinds {
            let registration = match kind.name.as_str() {
                "institution" => Registration::Institution,
                "agreement" => Registration::Agreement,
                other => {
                    let diagnostic = Diagnostic::error(
                        "unknown-registration",
                        kind.span,
                        format!("unknown registration `{other}`"),
                    )
                    .suggest(other, ["institution", "agreement"])
                    .with_hint("a decision registers an `institution` or an `agreement`");
                    self.error(diagnostic);
                    continue;
                }
            };
            for (field, ty) in registration.fields() {
                let found = self
                    .fields
                    .iter()
                    .find(|f| f.id == *field)
                    .map(|f| f.ty.input_type());
                if found != Some(*ty) {
                    let message = match found {
                        Some(actual) => format!(
                            "`register {}` reads `{field}` as {}, but it is {}",
                            kind.name,
                            article(ty),
                            article(actual)
                        ),
                        None => format!(
                            "`register {}` reads a `{field}` field, and the form has none",
                            kind.name
                        ),
                    };
                    self.error(
                        Diagnostic::error("registration-field", kind.span, message)
                            .with_hint(format!("add `{field}: {ty} \"…\" required` to the form")),
                    );
                }
            }
            out.push(registration);
        }
        out
    }

    /// The law makes the agency tell the applicant why a limit was extended
    /// (art. 42) and how long a pause lasts (art. 45).
    fn applicant_told(
        &mut self,
        definition: &ast::WorkflowDef,
        notifications: &[Notification],
        extension: u32,
    ) {
        let told = |event: NotifyEvent| {
            notifications
                .iter()
                .any(|n| n.recipients.contains(&Recipient::Applicant) && n.events.contains(&event))
        };
        let mut required = vec![(NotifyEvent::Paused, "行政许可法 art. 45: the applicant is told in writing how long a hearing, inspection or expert review takes")];
        if extension > 0 {
            required.push((
                NotifyEvent::Extended,
                "行政许可法 art. 42: the applicant is told the reason for an extension",
            ));
        }
        for (event, reason) in required {
            if !told(event) {
                self.error(
                    Diagnostic::error(
                        "applicant-not-told",
                        definition.id.span,
                        format!(
                            "workflow `{}` does not notify the applicant on `{event}`",
                            definition.id.name
                        ),
                    )
                    .with_hint(reason)
                    .with_hint(format!("add `{event}` to `notify applicant on …`")),
                );
            }
        }
    }

    fn reminders(
        &mut self,
        defs: &[(&Vec<Ident>, ast::Count)],
        promised: Option<u32>,
    ) -> Vec<Reminder> {
        let mut out = Vec::new();
        for (recipient_idents, days) in defs {
            let recipients = self.recipients(recipient_idents);
            self.limit_at_least_one(*days);
            if let Some(promised) = promised {
                if days.value >= promised && days.value > 0 {
                    self.error(Diagnostic::error(
                        "remind-too-late",
                        days.span,
                        format!("a reminder {} workdays before due would come before the work begins (promised_limit is {promised})", days.value),
                    ));
                }
            }
            out.push(Reminder {
                recipients,
                days_before: days.value,
            });
        }
        out
    }

    fn recurring(&mut self, defs: &[&ast::RecurDef]) -> Vec<Recurring> {
        let mut out = Vec::new();
        for def in defs {
            let kind = match def.kind.name.as_str() {
                "renew" => Obligation::Renew,
                "evaluate" => Obligation::Evaluate,
                other => {
                    let diagnostic = Diagnostic::error(
                        "unknown-obligation",
                        def.kind.span,
                        format!("unknown obligation `{other}`"),
                    )
                    .suggest(other, ["renew", "evaluate"])
                    .with_hint("the obligations are renew and evaluate");
                    self.error(diagnostic);
                    continue;
                }
            };
            self.limit_at_least_one(def.every);
            let every_months = if def.period.name.starts_with("year") {
                def.every.value.saturating_mul(12)
            } else {
                def.every.value
            };
            for actor in &def.by {
                if !self.parties.iter().any(|(p, _)| p.name == actor.name) {
                    self.department(actor);
                }
            }
            if let Some(days) = def.remind_days {
                if u64::from(days.value) >= u64::from(every_months) * 28 {
                    self.error(Diagnostic::error(
                        "remind-too-late",
                        days.span,
                        format!(
                            "a reminder {} days before is longer than the period itself",
                            days.value
                        ),
                    ));
                }
            }
            out.push(Recurring {
                kind,
                label: def.label.value.clone(),
                every_months,
                by: def.by.iter().map(|b| b.name.clone()).collect(),
                remind_days: def.remind_days.map(|d| d.value),
            });
        }
        out
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

fn article(type_name: &str) -> String {
    match type_name {
        "int" => "an int".to_string(),
        other => format!("a {other}"),
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
            Diagnostic::error("bad-number", span, format!("`{text}` is not {wanted}"))
        }
        NumberProblem::TooLarge => {
            Diagnostic::error("number-too-large", span, format!("`{text}` is too large"))
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
