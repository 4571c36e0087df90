//! The syntax tree of a `.flow` file, with spans, as the parser builds it.
//!
//! Nothing here is validated beyond the grammar: names may be undefined,
//! types may not fit, limits may break the law. The checker decides.

use super::source::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Str {
    pub value: String,
    pub span: Span,
}

/// A whole number written in the source (limits, days, versions).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Count {
    pub value: u32,
    pub span: Span,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct File {
    pub departments: Vec<Department>,
    pub workflows: Vec<WorkflowDef>,
    pub jurisdictions: Vec<JurisdictionDef>,
}

/// `jurisdiction "茂名市" { district maonan "茂南区" … }`.
#[derive(Debug, Clone, PartialEq)]
pub struct JurisdictionDef {
    pub name: Str,
    pub districts: Vec<(Ident, Str)>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Department {
    pub id: Ident,
    pub name: Str,
    pub emails: Vec<Str>,
    pub heads: Vec<Str>,
    pub abbrs: Vec<Str>,
    /// `serves DISTRICT as KIND`: the district's department of that kind.
    pub serves: Option<(Ident, Ident)>,
    /// Where applicants find it.
    pub address: Option<Str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowDef {
    pub id: Ident,
    pub title: Str,
    pub clauses: Vec<Clause>,
}

/// One clause of a workflow body; `span` covers its keyword.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub span: Span,
    pub kind: ClauseKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClauseKind {
    Basis(Vec<Str>),
    /// `promise "…"`: what the policy promises the applicant, told in the notice.
    Promise(Str),
    /// `district from FIELD`: the form field naming the applicant's district.
    DistrictFrom(Ident),
    /// `consequence "…" [when …]`: what follows a failed evaluation.
    Consequence {
        text: Str,
        condition: Option<Expr>,
    },
    LegalLimit(Count),
    PromisedLimit(Count),
    /// `extension N workdays [by head|government]`.
    Extension {
        days: Count,
        approver: Option<Ident>,
    },
    Version(Count),
    Parties(Vec<(Ident, Str)>),
    Form(Vec<FieldDef>),
    Facts(Vec<FieldDef>),
    Rule(RuleDef),
    Materials(Vec<MaterialDef>),
    Step(StepItem),
    Independent(Vec<Ident>),
    /// `jointly a, b basis "…"`: parts that are one matter.
    Jointly {
        departments: Vec<Ident>,
        basis: Str,
    },
    Outcome(OutcomeDef),
    Notify {
        recipients: Vec<Ident>,
        events: Vec<Ident>,
    },
    Remind {
        recipients: Vec<Ident>,
        days: Count,
    },
    Recur(RecurDef),
    /// `register institution` / `register agreement`: what a decision adds to the registry.
    Register(Ident),
}

impl ClauseKind {
    /// The keyword that starts the clause, as written.
    pub fn keyword(&self) -> &'static str {
        match self {
            ClauseKind::Basis(_) => "basis",
            ClauseKind::Promise(_) => "promise",
            ClauseKind::DistrictFrom(_) => "district",
            ClauseKind::Consequence { .. } => "consequence",
            ClauseKind::LegalLimit(_) => "legal_limit",
            ClauseKind::PromisedLimit(_) => "promised_limit",
            ClauseKind::Extension { .. } => "extension",
            ClauseKind::Version(_) => "version",
            ClauseKind::Parties(_) => "parties",
            ClauseKind::Form(_) => "form",
            ClauseKind::Facts(_) => "facts",
            ClauseKind::Rule(_) => "rule",
            ClauseKind::Materials(_) => "materials",
            ClauseKind::Step(_) => "step",
            ClauseKind::Independent(_) => "independent",
            ClauseKind::Jointly { .. } => "jointly",
            ClauseKind::Outcome(_) => "on",
            ClauseKind::Notify { .. } => "notify",
            ClauseKind::Remind { .. } => "remind",
            ClauseKind::Recur(_) => "every",
            ClauseKind::Register(_) => "register",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldDef {
    pub id: Ident,
    pub ty: TypeDef,
    pub label: Str,
    pub required: Option<Span>,
    pub optional: Option<Span>,
    pub range: Option<RangeDef>,
    pub default: Option<Literal>,
    pub help: Option<Str>,
    /// The material proving a fact the applicant declares.
    pub evidence: Option<Ident>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TypeDef {
    Choice(Vec<Str>, Span),
    Scalar(String, Span),
}

impl TypeDef {
    pub fn span(&self) -> Span {
        match self {
            TypeDef::Choice(_, span) | TypeDef::Scalar(_, span) => *span,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RangeDef {
    pub low: Literal,
    pub high: Option<Literal>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    pub kind: LiteralKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LiteralKind {
    /// A number as written, e.g. `200` or `12.50`.
    Number(String),
    Str(String),
    Bool(bool),
    /// A date as written, `YYYY-MM-DD`.
    Date(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleDef {
    pub message: Str,
    pub when: Option<Expr>,
    pub require: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MaterialDef {
    pub id: Ident,
    pub label: Str,
    /// `required`, with its optional `when` condition.
    pub required: Option<(Span, Option<Expr>)>,
    pub optional: Option<Span>,
    pub deferrable: Option<Span>,
    pub kinds: Vec<Ident>,
    pub help: Option<Str>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepItem {
    Step(StepDef),
    Parallel(GroupDef),
    Sequence(GroupDef),
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepDef {
    pub kind: Ident,
    pub actors: Vec<Ident>,
    pub label: Option<Str>,
    pub within: Count,
    /// `by local KIND`: the department of that kind in the applicant's district.
    pub local: bool,
    /// `at most N months`: calendar months from the step's start, pauses included.
    pub bound: Option<Count>,
    /// `as licence|designation|evaluation`: what a review decides.
    pub decides: Option<Ident>,
    pub condition: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupDef {
    pub items: Vec<StepItem>,
    pub condition: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeDef {
    pub event: Ident,
    pub title: Str,
    pub template: Ident,
    pub number: Option<Str>,
    pub issued_by: Option<Ident>,
    pub with: Vec<(Ident, Ident)>,
    /// `when …`: the document is issued only for filings where it holds.
    pub condition: Option<Expr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecurDef {
    pub every: Count,
    pub period: Ident,
    pub kind: Ident,
    pub label: Str,
    pub by: Vec<Ident>,
    pub remind_days: Option<Count>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        field: Ident,
        op: CmpOp,
        value: Literal,
    },
    In {
        field: Ident,
        negated: bool,
        values: Vec<Literal>,
    },
    Field(Ident),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }
}

/// A template's declared inputs, read from the `//!` header of a `.typ` file.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateDecl {
    pub id: Ident,
    pub title: Str,
    pub inputs: Vec<TemplateInput>,
    /// `//! fits licence, …`: the legal forms of decision it is written for.
    pub fits: Vec<Ident>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TemplateInput {
    pub id: Ident,
    pub ty: Ident,
    pub optional: bool,
    /// Text or a list that must not be empty (a refusal's reasons).
    pub nonempty: bool,
}
