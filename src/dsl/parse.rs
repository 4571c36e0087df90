//! From text to syntax tree, with pest.
//!
//! A file is parsed whole; when that fails, each top-level item (a line that
//! starts with `department` or `workflow`) is parsed on its own so that one
//! broken item does not hide the syntax errors of the others.

use pest::iterators::Pair;
use pest::Parser as _;

use super::ast::*;
use super::diagnostic::Diagnostic;
use super::source::{FileId, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/workflow.pest"]
struct Grammar;

/// Parses one `.flow` file. Syntax errors come back as diagnostics; the
/// returned tree holds every item that parsed.
pub fn parse_file(file: FileId, text: &str) -> (File, Vec<Diagnostic>) {
    if text.len() >= PARALLEL_FROM_BYTES {
        if let Some(tree) = parse_in_parallel(file, text) {
            return (tree, Vec::new());
        }
    }
    parse_sequential(file, text)
}

/// The whole file at once; on failure, item by item with pest's error detail.
fn parse_sequential(file: FileId, text: &str) -> (File, Vec<Diagnostic>) {
    let mut builder = Builder {
        file,
        offset: 0,
        diagnostics: Vec::new(),
        depth: 0,
    };
    let mut tree = File::default();
    match Grammar::parse(Rule::file, text) {
        Ok(mut pairs) => builder.file_items(pairs.next().expect("file rule"), &mut tree),
        Err(_) => {
            let _detail = DetailedErrors::enable();
            for (start, end) in item_chunks(text) {
                builder.offset = start;
                match Grammar::parse(Rule::file, &text[start..end]) {
                    Ok(mut pairs) => {
                        builder.file_items(pairs.next().expect("file rule"), &mut tree)
                    }
                    Err(error) => builder.syntax_error(&text[start..end], error),
                }
            }
        }
    }
    (tree, builder.diagnostics)
}

/// Files this large are parsed item by item on every core.
const PARALLEL_FROM_BYTES: usize = 128 * 1024;

/// Parses the top-level items of a large file on all cores. `None` when any
/// item fails (the caller then parses the whole file, which also covers a
/// split that fell inside a comment), or when the builder reported anything.
fn parse_in_parallel(file: FileId, text: &str) -> Option<File> {
    let chunks = item_chunks(text);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(chunks.len());
    if threads < 2 {
        return None;
    }
    let per_thread = chunks.len().div_ceil(threads);
    let parts: Vec<Option<File>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .chunks(per_thread)
            .map(|group| {
                scope.spawn(move || {
                    let mut builder = Builder {
                        file,
                        offset: 0,
                        diagnostics: Vec::new(),
                        depth: 0,
                    };
                    let mut tree = File::default();
                    for (start, end) in group {
                        builder.offset = *start;
                        let mut pairs = Grammar::parse(Rule::file, &text[*start..*end]).ok()?;
                        builder.file_items(pairs.next()?, &mut tree);
                    }
                    builder.diagnostics.is_empty().then_some(tree)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().ok().flatten())
            .collect()
    });
    let mut tree = File::default();
    for part in parts {
        // Every kind of item, named: a new kind cannot be left out here.
        let File {
            departments,
            workflows,
            jurisdictions,
        } = part?;
        tree.departments.extend(departments);
        tree.workflows.extend(workflows);
        tree.jurisdictions.extend(jurisdictions);
    }
    Some(tree)
}

/// Parses the `//!` header of a typst template: the lines that declare its
/// name and inputs. Other lines are blanked out so spans keep their offsets.
/// A file without `//!` lines is a module other templates import, not a
/// template: it yields nothing and no diagnostic.
pub fn parse_template_header(file: FileId, text: &str) -> (Option<TemplateDecl>, Vec<Diagnostic>) {
    if !text.lines().any(|line| line.starts_with("//!")) {
        return (None, Vec::new());
    }
    let mut header = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match line.strip_prefix("//!") {
            Some(rest) => {
                header.push_str("   ");
                header.push_str(rest);
            }
            None => header.extend(line.bytes().map(|b| if b == b'\n' { '\n' } else { ' ' })),
        }
    }
    let mut builder = Builder {
        file,
        offset: 0,
        diagnostics: Vec::new(),
        depth: 0,
    };
    let parsed = match Grammar::parse(Rule::template_header, &header) {
        Ok(mut pairs) => pairs.next().expect("header rule"),
        Err(error) => {
            builder.syntax_error(&header, error);
            return (None, builder.diagnostics);
        }
    };
    let mut name = None;
    let mut inputs = Vec::new();
    let mut fits = Vec::new();
    for line in parsed.into_inner() {
        match line.as_rule() {
            Rule::template_name => {
                let mut parts = line.into_inner();
                let id = builder.ident(parts.next().expect("name"));
                let title = builder.string(parts.next().expect("title"));
                if let Some((first, _)) = &name {
                    let first: &Ident = first;
                    builder.diagnostics.push(
                        Diagnostic::error(
                            "duplicate-definition",
                            id.span,
                            "文书版式的名称写了两次",
                        )
                        .with_note(first.span, "首次写在此"),
                    );
                } else {
                    name = Some((id, title));
                }
            }
            Rule::template_input => {
                let mut parts = line.into_inner();
                let id = builder.ident(parts.next().expect("input"));
                let ty_pair = parts.next().expect("type");
                let ty = Ident {
                    name: ty_pair.as_str().to_string(),
                    span: builder.span(&ty_pair),
                };
                let modifier = parts.next().map(|pair| pair.as_rule());
                inputs.push(TemplateInput {
                    id,
                    ty,
                    optional: modifier == Some(Rule::optional_kw),
                    nonempty: modifier == Some(Rule::nonempty_kw),
                });
            }
            Rule::template_fits => fits.extend(line.into_inner().map(|form| builder.ident(form))),
            _ => {}
        }
    }
    match name {
        Some((id, title)) => (
            Some(TemplateDecl {
                id,
                title,
                inputs,
                fits,
            }),
            builder.diagnostics,
        ),
        None => {
            builder.diagnostics.push(
                Diagnostic::error(
                    "missing-clause",
                    Span::new(file, 0, 0),
                    "文书版式缺少`//! template 名称 \"标题\"`首行",
                )
                .with_hint("在文件开头写明名称和输入项，例如`//! template permit \"许可证\"`"),
            );
            (None, builder.diagnostics)
        }
    }
}

/// Turns on pest's tracking of the tokens expected at the furthest position
/// for as long as it lives. The switch is global to the process and costs
/// time, so it is on only while a file that failed is parsed again, and a
/// lock keeps two such parses from switching it off under each other.
struct DetailedErrors {
    _guard: std::sync::MutexGuard<'static, ()>,
}

static DETAIL_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl DetailedErrors {
    fn enable() -> DetailedErrors {
        let guard = DETAIL_LOCK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pest::set_error_detail(true);
        DetailedErrors { _guard: guard }
    }
}

impl Drop for DetailedErrors {
    fn drop(&mut self) {
        pest::set_error_detail(false);
    }
}

/// Byte ranges of the top-level items: each starts at a line beginning with
/// `department` or `workflow`. Text before the first one is its own chunk.
fn item_chunks(text: &str) -> Vec<(usize, usize)> {
    let mut starts = vec![0];
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let item_start = ["department", "workflow", "jurisdiction"]
            .iter()
            .any(|keyword| line.starts_with(keyword));
        if line_start > 0 && item_start {
            starts.push(line_start);
        }
        line_start += line.len();
    }
    let mut chunks = Vec::with_capacity(starts.len());
    for (index, start) in starts.iter().enumerate() {
        let end = starts.get(index + 1).copied().unwrap_or(text.len());
        chunks.push((*start, end));
    }
    chunks
}

struct Builder {
    file: FileId,
    offset: usize,
    diagnostics: Vec<Diagnostic>,
    /// Nesting depth of the condition being built.
    depth: usize,
}

/// How deeply conditions may nest; real ones nest two or three levels.
pub const MAX_NESTING: usize = 64;

impl Builder {
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let span = pair.as_span();
        Span::new(
            self.file,
            self.offset + span.start(),
            self.offset + span.end(),
        )
    }

    fn syntax_error(&mut self, text: &str, error: pest::error::Error<Rule>) {
        let mut position = match error.location {
            pest::error::InputLocation::Pos(position) => position,
            pest::error::InputLocation::Span((start, _)) => start,
        };
        let mut expected = match &error.variant {
            pest::error::ErrorVariant::ParsingError { positives, .. } => {
                describe_expected(positives)
            }
            pest::error::ErrorVariant::CustomError { message } => message.clone(),
        };
        // With error detail on, pest knows the furthest position it reached
        // and the literal tokens it wanted there: a sharper message.
        if let Some(attempts) = error.parse_attempts() {
            let tokens: Vec<String> = attempts
                .expected_tokens()
                .into_iter()
                .map(|token| token.to_string())
                .filter(|token| is_literal_token(token))
                .map(|token| format!("`{token}`"))
                .collect();
            if attempts.max_position >= position && !tokens.is_empty() {
                position = attempts.max_position;
                expected = join_alternatives(tokens);
            }
        }
        let position = position.min(text.len());
        let found: String = match text[position..].chars().next() {
            None => "文件结尾".to_string(),
            Some(_) => {
                let token: String = text[position..]
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .take(20)
                    .collect();
                format!("`{token}`")
            }
        };
        let width = text[position..].chars().next().map_or(0, char::len_utf8);
        let span = Span::new(
            self.file,
            self.offset + position,
            self.offset + position + width,
        );
        let message = if expected.is_empty() {
            format!("此处不应出现{found}")
        } else {
            format!("此处不应出现{found}，应为{expected}")
        };
        self.diagnostics
            .push(Diagnostic::error("syntax", span, message));
    }

    fn file_items(&mut self, file: Pair<'_, Rule>, tree: &mut File) {
        for item in file.into_inner() {
            match item.as_rule() {
                Rule::department => tree.departments.push(self.department(item)),
                Rule::workflow => tree.workflows.push(self.workflow(item)),
                Rule::jurisdiction => tree.jurisdictions.push(self.jurisdiction(item)),
                _ => {}
            }
        }
    }

    fn id_list(&self, pair: Pair<'_, Rule>) -> Vec<Ident> {
        pair.into_inner().map(|i| self.ident(i)).collect()
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    fn string(&mut self, pair: Pair<'_, Rule>) -> Str {
        let span = self.span(&pair);
        let quoted = pair.as_str();
        let raw = &quoted[1..quoted.len() - 1];
        let mut value = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                value.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => value.push('\n'),
                Some('t') => value.push('\t'),
                Some('"') => value.push('"'),
                Some('\\') => value.push('\\'),
                other => {
                    let shown = other.map_or(String::new(), String::from);
                    self.diagnostics.push(
                        Diagnostic::error(
                            "syntax",
                            span,
                            format!("字符串中有未知的转义`\\{shown}`"),
                        )
                        .with_hint("可用的转义有`\\\"`、`\\\\`、`\\n`和`\\t`"),
                    );
                }
            }
        }
        Str { value, span }
    }

    fn count(&mut self, pair: Pair<'_, Rule>) -> Count {
        let span = self.span(&pair);
        let value = pair.as_str().parse::<u32>().unwrap_or_else(|_| {
            self.diagnostics.push(Diagnostic::error(
                "number-too-large",
                span,
                format!("`{}`太大，不能作为计数", pair.as_str()),
            ));
            0
        });
        Count { value, span }
    }

    /// `days` is `int workdays`.
    fn days(&mut self, pair: Pair<'_, Rule>) -> Count {
        let int = pair.into_inner().next().expect("days has an int");
        self.count(int)
    }

    fn literal(&mut self, pair: Pair<'_, Rule>) -> Literal {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::number => LiteralKind::Number(pair.as_str().to_string()),
            Rule::date => LiteralKind::Date(pair.as_str().to_string()),
            Rule::boolean => LiteralKind::Bool(pair.as_str() == "true"),
            _ => LiteralKind::Str(self.string(pair).value),
        };
        Literal { kind, span }
    }

    fn department(&mut self, pair: Pair<'_, Rule>) -> Department {
        let mut parts = pair.into_inner();
        let id = self.ident(parts.next().expect("id"));
        let name = self.string(parts.next().expect("name"));
        let mut emails = Vec::new();
        let mut heads = Vec::new();
        let mut abbrs = Vec::new();
        let mut serves = None;
        let mut address = None;
        for clause in parts {
            match clause.as_rule() {
                Rule::dept_address => address = Some(self.string(first(clause))),
                Rule::dept_serves => {
                    let mut names = clause.into_inner();
                    let district = self.ident(names.next().expect("district"));
                    let kind = self.ident(names.next().expect("kind"));
                    serves = Some((district, kind));
                }
                Rule::dept_abbr => abbrs.extend(clause.into_inner().map(|s| self.string(s))),
                Rule::dept_email => emails.extend(clause.into_inner().map(|s| self.string(s))),
                Rule::dept_head => heads.extend(clause.into_inner().map(|s| self.string(s))),
                _ => {}
            }
        }
        Department {
            id,
            name,
            emails,
            heads,
            abbrs,
            serves,
            address,
        }
    }

    fn jurisdiction(&mut self, pair: Pair<'_, Rule>) -> JurisdictionDef {
        let span = self.span(&pair);
        let mut parts = pair.into_inner();
        let name = self.string(parts.next().expect("name"));
        let districts = parts
            .map(|district| {
                let mut names = district.into_inner();
                let id = self.ident(names.next().expect("id"));
                let label = self.string(names.next().expect("name"));
                (id, label)
            })
            .collect();
        JurisdictionDef {
            name,
            districts,
            span,
        }
    }

    fn workflow(&mut self, pair: Pair<'_, Rule>) -> WorkflowDef {
        let mut parts = pair.into_inner();
        let id = self.ident(parts.next().expect("id"));
        let title = self.string(parts.next().expect("title"));
        let clauses = parts.map(|clause| self.clause(clause)).collect();
        WorkflowDef { id, title, clauses }
    }

    fn clause(&mut self, pair: Pair<'_, Rule>) -> Clause {
        let full = self.span(&pair);
        let keyword_len = pair
            .as_str()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
        let span = Span {
            end: full.start + keyword_len.unwrap_or(pair.as_str().len()) as u32,
            ..full
        };
        let kind = match pair.as_rule() {
            Rule::basis => ClauseKind::Basis(pair.into_inner().map(|s| self.string(s)).collect()),
            Rule::promise => ClauseKind::Promise(self.string(first(pair))),
            Rule::district_from => ClauseKind::DistrictFrom(self.ident(first(pair))),
            Rule::consequence => {
                let mut parts = pair.into_inner();
                let text = self.string(parts.next().expect("the grammar requires the text"));
                let condition = parts.next().map(|c| self.expr(first(c)));
                ClauseKind::Consequence { text, condition }
            }
            Rule::legal_limit => ClauseKind::LegalLimit(self.days(first(pair))),
            Rule::promised_limit => ClauseKind::PromisedLimit(self.days(first(pair))),
            Rule::extension => {
                let mut parts = pair.into_inner();
                let days = self.days(parts.next().expect("days"));
                let approver = parts.next().map(|ident| self.ident(ident));
                ClauseKind::Extension { days, approver }
            }
            Rule::version => ClauseKind::Version(self.count(first(pair))),
            Rule::parties => ClauseKind::Parties(
                pair.into_inner()
                    .map(|party| {
                        let mut parts = party.into_inner();
                        let id = self.ident(parts.next().expect("party id"));
                        (id, self.string(parts.next().expect("party name")))
                    })
                    .collect(),
            ),
            Rule::form => ClauseKind::Form(pair.into_inner().map(|f| self.field(f)).collect()),
            Rule::facts => ClauseKind::Facts(pair.into_inner().map(|f| self.field(f)).collect()),
            Rule::rule => ClauseKind::Rule(self.rule(pair)),
            Rule::materials => {
                ClauseKind::Materials(pair.into_inner().map(|m| self.material(m)).collect())
            }
            Rule::step | Rule::parallel | Rule::sequence => ClauseKind::Step(self.step_item(pair)),
            Rule::independent => {
                ClauseKind::Independent(pair.into_inner().map(|i| self.ident(i)).collect())
            }
            Rule::jointly => {
                let mut departments = Vec::new();
                let mut basis = None;
                for part in pair.into_inner() {
                    match part.as_rule() {
                        Rule::ident => departments.push(self.ident(part)),
                        _ => basis = Some(self.string(part)),
                    }
                }
                ClauseKind::Jointly {
                    departments,
                    basis: basis.expect("the grammar requires a basis"),
                }
            }
            Rule::outcome => ClauseKind::Outcome(self.outcome(pair)),
            Rule::notify => {
                let mut lists = pair.into_inner();
                let recipients = self.id_list(lists.next().expect("recipients"));
                let events = self.id_list(lists.next().expect("events"));
                ClauseKind::Notify { recipients, events }
            }
            Rule::remind => {
                let mut parts = pair.into_inner();
                let recipients = self.id_list(parts.next().expect("recipients"));
                let days = self.count(parts.next().expect("days"));
                ClauseKind::Remind { recipients, days }
            }
            Rule::recur => ClauseKind::Recur(self.recur(pair)),
            Rule::register => ClauseKind::Register(self.ident(first(pair))),
            other => unreachable!("grammar produced {other:?} as a workflow clause"),
        };
        let span = if let ClauseKind::Step(_) = kind {
            full
        } else {
            span
        };
        Clause { span, kind }
    }

    fn field(&mut self, pair: Pair<'_, Rule>) -> FieldDef {
        let mut parts = pair.into_inner();
        let id = self.ident(parts.next().expect("field id"));
        let ty_pair = parts
            .next()
            .expect("field type")
            .into_inner()
            .next()
            .expect("type");
        let ty_span = self.span(&ty_pair);
        let ty = match ty_pair.as_rule() {
            Rule::choice_type => TypeDef::Choice(
                ty_pair.into_inner().map(|s| self.string(s)).collect(),
                ty_span,
            ),
            _ => TypeDef::Scalar(ty_pair.as_str().to_string(), ty_span),
        };
        let label = self.string(parts.next().expect("field label"));
        let mut field = FieldDef {
            id,
            ty,
            label,
            required: None,
            optional: None,
            range: None,
            default: None,
            help: None,
            evidence: None,
        };
        for option in parts {
            let span = self.span(&option);
            match option.as_rule() {
                Rule::required_kw => field.required = Some(span),
                Rule::optional_kw => field.optional = Some(span),
                Rule::range => {
                    let mut bounds = option.into_inner();
                    let low = self.literal(bounds.next().expect("low"));
                    let high = bounds.next().map(|b| self.literal(b));
                    field.range = Some(RangeDef { low, high, span });
                }
                Rule::default => field.default = Some(self.literal(first(option))),
                Rule::help => field.help = Some(self.string(first(option))),
                Rule::evidence => field.evidence = Some(self.ident(first(option))),
                _ => {}
            }
        }
        field
    }

    fn rule(&mut self, pair: Pair<'_, Rule>) -> RuleDef {
        let mut parts = pair.into_inner();
        let message = self.string(parts.next().expect("message"));
        let first_expr = self.expr(parts.next().expect("expr"));
        match parts.next() {
            Some(second) => RuleDef {
                message,
                when: Some(first_expr),
                require: self.expr(second),
            },
            None => RuleDef {
                message,
                when: None,
                require: first_expr,
            },
        }
    }

    fn material(&mut self, pair: Pair<'_, Rule>) -> MaterialDef {
        let mut parts = pair.into_inner();
        let id = self.ident(parts.next().expect("material id"));
        let label = self.string(parts.next().expect("material label"));
        let mut material = MaterialDef {
            id,
            label,
            required: None,
            optional: None,
            deferrable: None,
            kinds: Vec::new(),
            help: None,
        };
        for option in parts {
            let span = self.span(&option);
            match option.as_rule() {
                Rule::mat_required => {
                    let mut inner = option.into_inner();
                    let keyword = self.span(&inner.next().expect("required keyword"));
                    let condition = inner.next().map(|e| self.expr(e));
                    material.required = Some((keyword, condition));
                }
                Rule::optional_kw => material.optional = Some(span),
                Rule::deferrable_kw => material.deferrable = Some(span),
                Rule::kinds => material
                    .kinds
                    .extend(option.into_inner().map(|k| self.ident(k))),
                Rule::help => material.help = Some(self.string(first(option))),
                _ => {}
            }
        }
        material
    }

    fn step_item(&mut self, pair: Pair<'_, Rule>) -> StepItem {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::step => {
                let mut step = StepDef {
                    kind: Ident {
                        name: String::new(),
                        span,
                    },
                    actors: Vec::new(),
                    label: None,
                    within: Count { value: 0, span },
                    local: false,
                    bound: None,
                    decides: None,
                    condition: None,
                    span,
                };
                for part in pair.into_inner() {
                    match part.as_rule() {
                        Rule::step_kind => step.kind = self.ident(part),
                        Rule::ident => step.actors.push(self.ident(part)),
                        Rule::string => step.label = Some(self.string(part)),
                        Rule::days => step.within = self.days(part),
                        Rule::decides => step.decides = Some(self.ident(first(part))),
                        Rule::bound => step.bound = Some(self.count(first(part))),
                        Rule::local_kw => step.local = true,
                        Rule::condition => step.condition = Some(self.expr(first(part))),
                        _ => {}
                    }
                }
                StepItem::Step(step)
            }
            group_rule => {
                // `parallel` and `sequence` are both eight letters long.
                let keyword_end = span.start + 8;
                let mut group = GroupDef {
                    items: Vec::new(),
                    condition: None,
                    span: Span {
                        end: keyword_end,
                        ..span
                    },
                };
                for part in pair.into_inner() {
                    match part.as_rule() {
                        Rule::condition => group.condition = Some(self.expr(first(part))),
                        _ => group.items.push(self.step_item(part)),
                    }
                }
                if group_rule == Rule::parallel {
                    StepItem::Parallel(group)
                } else {
                    StepItem::Sequence(group)
                }
            }
        }
    }

    fn outcome(&mut self, pair: Pair<'_, Rule>) -> OutcomeDef {
        let mut parts = pair.into_inner();
        let event = self.ident(parts.next().expect("event"));
        let title = self.string(parts.next().expect("title"));
        let template = self.ident(parts.next().expect("template"));
        let mut outcome = OutcomeDef {
            event,
            title,
            template,
            number: None,
            issued_by: None,
            with: Vec::new(),
            condition: None,
        };
        for option in parts {
            match option.as_rule() {
                Rule::number_pattern => outcome.number = Some(self.string(first(option))),
                Rule::issued_by => outcome.issued_by = Some(self.ident(first(option))),
                Rule::condition => outcome.condition = Some(self.expr(first(option))),
                Rule::with_map => {
                    for mapping in option.into_inner() {
                        let mut sides = mapping.into_inner();
                        let input = self.ident(sides.next().expect("input"));
                        let field = self.ident(sides.next().expect("field"));
                        outcome.with.push((input, field));
                    }
                }
                _ => {}
            }
        }
        outcome
    }

    fn recur(&mut self, pair: Pair<'_, Rule>) -> RecurDef {
        let mut parts = pair.into_inner();
        let every = self.count(parts.next().expect("every"));
        let period = self.ident(parts.next().expect("period"));
        let kind = self.ident(parts.next().expect("kind"));
        let label = self.string(parts.next().expect("label"));
        let mut recur = RecurDef {
            every,
            period,
            kind,
            label,
            by: Vec::new(),
            remind_days: None,
        };
        for part in parts {
            match part.as_rule() {
                Rule::ident => recur.by.push(self.ident(part)),
                Rule::recur_remind => recur.remind_days = Some(self.count(first(part))),
                _ => {}
            }
        }
        recur
    }

    /// A condition, refused past [`MAX_NESTING`] levels so that no later
    /// phase (checker, normal form, drop) recurses without bound.
    fn expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        self.depth += 1;
        let expr = if self.depth > MAX_NESTING {
            let span = self.span(&pair);
            if self.depth == MAX_NESTING + 1 {
                self.diagnostics.push(Diagnostic::error(
                    "syntax",
                    span,
                    format!("条件嵌套超过{MAX_NESTING}层"),
                ));
            }
            Expr {
                kind: ExprKind::And(Vec::new()),
                span,
            }
        } else {
            self.expr_at_depth(pair)
        };
        self.depth -= 1;
        expr
    }

    fn expr_at_depth(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::expr | Rule::and_expr => {
                let is_or = pair.as_rule() == Rule::expr;
                let mut operands: Vec<Expr> = pair.into_inner().map(|e| self.expr(e)).collect();
                if operands.len() == 1 {
                    return operands.pop().expect("one operand");
                }
                let kind = if is_or {
                    ExprKind::Or(operands)
                } else {
                    ExprKind::And(operands)
                };
                Expr { kind, span }
            }
            Rule::negation => {
                let operand = pair.into_inner().nth(1).expect("negated operand");
                Expr {
                    kind: ExprKind::Not(Box::new(self.expr(operand))),
                    span,
                }
            }
            Rule::comparison => {
                let mut parts = pair.into_inner();
                let field = self.ident(parts.next().expect("field"));
                let op = match parts.next().expect("op").as_str() {
                    "<" => CmpOp::Lt,
                    "<=" => CmpOp::Le,
                    ">" => CmpOp::Gt,
                    ">=" => CmpOp::Ge,
                    "==" => CmpOp::Eq,
                    _ => CmpOp::Ne,
                };
                let value = self.literal(parts.next().expect("value"));
                Expr {
                    kind: ExprKind::Compare { field, op, value },
                    span,
                }
            }
            Rule::membership => {
                let mut field = None;
                let mut negated = false;
                let mut values = Vec::new();
                for part in pair.into_inner() {
                    match part.as_rule() {
                        Rule::ident => field = Some(self.ident(part)),
                        Rule::not_kw => negated = true,
                        _ => values.push(self.literal(part)),
                    }
                }
                Expr {
                    kind: ExprKind::In {
                        field: field.expect("membership field"),
                        negated,
                        values,
                    },
                    span,
                }
            }
            _ => Expr {
                kind: ExprKind::Field(self.ident(first(pair))),
                span,
            },
        }
    }
}

fn first(pair: Pair<'_, Rule>) -> Pair<'_, Rule> {
    pair.into_inner().next().expect("rule has an inner pair")
}

fn describe_expected(rules: &[Rule]) -> String {
    join_alternatives(
        rules
            .iter()
            .map(|expected| describe_rule(*expected).to_string())
            .collect(),
    )
}

/// pest renders the tokens it expected as text (its token type is not
/// exported): keep the literals, drop character ranges (`0..9`), built-in
/// rules and whitespace.
fn is_literal_token(token: &str) -> bool {
    let range = token.chars().count() == 4 && token.chars().skip(1).take(2).eq("..".chars());
    let trivia = matches!(token, "//" | "/*" | "*/" | "\u{FEFF}" | "\u{3000}");
    !token.trim().is_empty() && token != "BUILTIN_RULE" && !range && !trivia
}

fn join_alternatives(mut names: Vec<String>) -> String {
    names.sort_unstable();
    names.dedup();
    match names.len() {
        0 => String::new(),
        1 => names.remove(0),
        n => format!("{}或{}", names[..n - 1].join("、"), names[n - 1]),
    }
}

fn describe_rule(expected: Rule) -> &'static str {
    match expected {
        Rule::EOI => "文件结尾",
        Rule::ident | Rule::field_ref => "名称",
        Rule::string => "带引号的字符串",
        Rule::int | Rule::days => "整数",
        Rule::number => "数字",
        Rule::date | Rule::boolean => "取值",
        Rule::department | Rule::workflow | Rule::jurisdiction => {
            "`department`、`workflow`或`jurisdiction`"
        }
        Rule::district => "`district`",
        Rule::dept_serves => "`serves`",
        Rule::dept_address => "`address`",
        Rule::district_from => "`district from`",
        Rule::dept_email => "`email`",
        Rule::dept_head => "`head`",
        Rule::dept_abbr => "`abbr`",
        Rule::basis => "`basis`",
        Rule::promise => "`promise`",
        Rule::legal_limit => "`legal_limit`",
        Rule::promised_limit => "`promised_limit`",
        Rule::extension => "`extension`",
        Rule::version => "`version`",
        Rule::parties => "`parties`",
        Rule::form => "`form`",
        Rule::facts => "`facts`",
        Rule::rule => "`rule`",
        Rule::materials => "`materials`",
        Rule::step | Rule::step_kind => "办理环节（`intake`、`review`、`file`、`sign`）",
        Rule::parallel => "`parallel`",
        Rule::sequence => "`sequence`",
        Rule::independent => "`independent`",
        Rule::jointly => "`jointly`",
        Rule::consequence => "`consequence`",
        Rule::decides => "`as`",
        Rule::bound => "`at most`",
        Rule::template_fits => "`fits`",
        Rule::outcome => "`on`",
        Rule::notify => "`notify`",
        Rule::remind => "`remind`",
        Rule::recur => "`every`",
        Rule::register => "`register`",
        Rule::field => "栏目（`name: type \"标签\"`）",
        Rule::field_type | Rule::scalar_type | Rule::choice_type => {
            "类型（`text`、`int`、`money`、`bool`、`date`、`list`、`credit_code`、`choice(...)`）"
        }
        Rule::range => "`range`",
        Rule::default => "`default`",
        Rule::help => "`help`",
        Rule::evidence => "`evidence`",
        Rule::required_kw | Rule::mat_required => "`required`",
        Rule::optional_kw => "`optional`",
        Rule::deferrable_kw => "`deferrable`",
        Rule::kinds => "`kinds`",
        Rule::material => "材料（`name \"标签\"`）",
        Rule::party => "签订方（`name \"名称\"`）",
        Rule::condition => "`when`",
        Rule::expr | Rule::and_expr | Rule::negation | Rule::comparison | Rule::membership => {
            "条件"
        }
        Rule::cmp_op => "比较符（`<`、`<=`、`>`、`>=`、`==`、`!=`）",
        Rule::number_pattern => "`number`",
        Rule::issued_by => "`by`",
        Rule::with_map => "`with`",
        Rule::mapping => "对应关系（`input = field`）",
        Rule::id_list => "名称",
        Rule::period => "`year`或`month`",
        Rule::recur_remind => "`remind`",
        Rule::not_kw => "`not`",
        Rule::template_name => "`template`",
        Rule::template_input => "`input`",
        _ => "其他内容",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKFLOW: &str = "workflow w \"流程\" {\n  version 1 // 版本\n  form { beds: int \"床位\" range 0..9 }\n  review by health \"审批\" within 3 workdays when beds < 5\n}\n";

    fn large(copies: usize) -> String {
        let mut text = String::from(
            "jurisdiction \"茂名市\" { district maonan \"茂南区\" }\n\
             department health \"卫生健康局\" { email \"h@example.gov.cn\" }\n",
        );
        for _ in 0..copies {
            text.push_str(WORKFLOW);
        }
        text
    }

    #[test]
    fn parallel_parse_builds_the_same_tree() {
        let text = large(2000);
        assert!(text.len() >= PARALLEL_FROM_BYTES);
        let parallel = parse_in_parallel(FileId(0), &text).expect("parses");
        let (sequential, diagnostics) = parse_sequential(FileId(0), &text);
        assert!(diagnostics.is_empty());
        assert_eq!(parallel, sequential);
        assert_eq!(parallel.workflows.len(), 2000);
        assert_eq!(parallel.jurisdictions.len(), 1);
    }

    #[test]
    fn large_file_with_an_error_reports_it() {
        let mut text = large(2000);
        text.push_str("workflow broken \"坏\" { version x }\n");
        let (tree, diagnostics) = parse_file(FileId(0), &text);
        assert_eq!(tree.workflows.len(), 2000);
        assert_eq!(diagnostics.len(), 1);
        assert!(
            diagnostics[0].message.contains("此处不应出现`x`"),
            "{}",
            diagnostics[0].message
        );
    }

    #[test]
    fn a_split_inside_a_comment_falls_back_to_the_whole_file() {
        let mut text = large(2000);
        text.push_str("/* a comment that holds\nworkflow at the start of a line */\n");
        let (tree, diagnostics) = parse_file(FileId(0), &text);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(tree.workflows.len(), 2000);
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused_once() {
        // Deep enough to pass the cap, shallow enough for pest's stack guard.
        let depth = 100;
        let text = format!(
            "workflow w \"x\" {{ rule \"r\" require {}a{} }}",
            "(".repeat(depth),
            ")".repeat(depth)
        );
        let (_, diagnostics) = parse_file(FileId(0), &text);
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        assert!(diagnostics[0].message.contains("嵌套超过64层"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let depth = 100_000;
        let text = format!(
            "workflow w \"x\" {{ rule \"r\" require {}a{} }}",
            "(".repeat(depth),
            ")".repeat(depth)
        );
        let (_, diagnostics) = parse_file(FileId(0), &text);
        assert!(!diagnostics.is_empty());
    }
}
