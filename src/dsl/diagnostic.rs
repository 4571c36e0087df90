//! Diagnostics: what the checker says about a definition.
//!
//! One type carries a severity, a stable code naming the kind of problem, a
//! span, a message in Chinese without a closing full stop (the policy staff
//! read it; names of the language stay in backticks), hints, and notes that
//! point at related places. Rendering follows the compiler convention that
//! editors and CI understand (`path:line:column: error:`):
//!
//! ```text
//! workflows/x.flow:12:15: error: 未知部门`helth`
//!    12 |     review by helth "设置审批" within 15 workdays
//!       |               ^^^^^
//!       = 提示：是否想写`health`？
//! ```

use std::fmt::Write as _;

use unicode_width::UnicodeWidthChar;

use super::source::{SourceMap, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable kebab-case name for the kind of problem, e.g. `unknown-department`.
    pub code: &'static str,
    pub span: Span,
    pub message: String,
    pub hints: Vec<String>,
    pub notes: Vec<(Span, String)>,
}

impl Diagnostic {
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            span,
            message: message.into(),
            hints: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, span, message)
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hints.push(hint.into());
        self
    }

    pub fn with_note(mut self, span: Span, note: impl Into<String>) -> Diagnostic {
        self.notes.push((span, note.into()));
        self
    }

    /// Adds "did you mean `x`?" when a candidate is close enough to `name`.
    pub fn suggest<'a>(
        self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Diagnostic {
        match closest(name, candidates) {
            Some(best) => self.with_hint(format!("是否想写`{best}`？")),
            None => self,
        }
    }
}

/// The candidate closest to `name` by edit distance, if it is close enough
/// to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    // Edit distance counting a swap of neighbours as one edit (`pfd` → `pdf`);
    // among equals, a candidate with the same letters (a transposition), then
    // one with the same first letter, is the likelier typo.
    let sorted = |text: &str| {
        let mut letters: Vec<char> = text.chars().collect();
        letters.sort_unstable();
        letters
    };
    let letters = sorted(name);
    candidates
        .into_iter()
        .filter(|candidate| *candidate != name)
        .map(|candidate| {
            let distance = strsim::osa_distance(name, candidate);
            let other_letters = sorted(candidate) != letters;
            let other_start = candidate.chars().next() != name.chars().next();
            ((distance, other_letters, other_start), candidate)
        })
        .filter(|((distance, _, _), _)| *distance <= limit)
        .min()
        .map(|(_, candidate)| candidate)
}

/// Renders diagnostics in the order given, each with its source line and a caret.
pub fn render(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        let label = match diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        render_location(
            &mut out,
            sources,
            diagnostic.span,
            label,
            &diagnostic.message,
        );
        for hint in &diagnostic.hints {
            let _ = writeln!(out, "      = 提示：{hint}");
        }
        for (span, note) in &diagnostic.notes {
            render_location(&mut out, sources, *span, "note", note);
        }
    }
    out
}

fn render_location(out: &mut String, sources: &SourceMap, span: Span, label: &str, message: &str) {
    let file = sources.get(span.file);
    let start = file.clamp(span.start as usize);
    let (line, column) = file.line_col(start);
    let _ = writeln!(out, "{}:{line}:{column}: {label}: {message}", file.path);
    let text = file.line_text(line - 1);
    let shown: String = text
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect();
    let _ = writeln!(out, "{line:>6} | {shown}");
    let line_start = start - (column_byte_offset(text, column));
    let before = &file.text[line_start..start];
    let end = file
        .clamp(span.end as usize)
        .max(start)
        .min(line_start + text.len());
    let underlined = &file.text[start..end];
    let pad: usize = before.chars().map(display_width).sum();
    let width: usize = underlined.chars().map(display_width).sum::<usize>().max(1);
    let _ = writeln!(out, "       | {}{}", " ".repeat(pad), "^".repeat(width));
}

fn column_byte_offset(line_text: &str, column: usize) -> usize {
    line_text
        .char_indices()
        .nth(column - 1)
        .map_or(line_text.len(), |(index, _)| index)
}

fn display_width(c: char) -> usize {
    if c == '\t' {
        1
    } else {
        c.width().unwrap_or(0)
    }
}

/// What kind of problem a diagnostic's code names, in Chinese, for the
/// policy staff's editor (the message itself says the particulars).
pub fn title(code: &str) -> &'static str {
    match code {
        "syntax" => "语法错误",
        "duplicate-definition" | "duplicate-clause" | "duplicate-choice" => "重复定义",
        "missing-clause" => "缺少必需的条款",
        "unknown-department" => "未知部门",
        "unknown-district" => "未知辖区",
        "unknown-field" => "未知栏目",
        "unknown-choice-value" => "不在选项内的值",
        "unknown-event" => "未知事件",
        "unknown-template" => "未知文书版式",
        "unknown-template-input" | "template-input-missing" | "template-input-type" => {
            "文书版式的输入项不符"
        }
        "template-form-mismatch" => "文书版式与事项不符",
        "unknown-legal-form" | "legal-form-misplaced" | "mixed-part-forms" => "决定的法律形式有误",
        "unknown-party" => "未知签订方",
        "unknown-recipient" => "未知通知对象",
        "unknown-registration" | "registration-field" => "登记事项有误",
        "fact-without-evidence" | "unknown-evidence" | "evidence-on-form-field" => "证明材料有误",
        "facts-without-credit-code" => "缺少统一社会信用代码",
        "unknown-approver" | "extension-approver" => "延长期限的批准人有误",
        "unknown-file-kind" => "未知文件格式",
        "unknown-obligation" => "未知义务",
        "type-mismatch" => "类型不符",
        "bad-number" | "number-too-large" => "数字有误",
        "bad-number-pattern" | "number-without-dept" => "文书编号规则有误",
        "invalid-date" => "日期有误",
        "invalid-email" => "电子邮箱有误",
        "empty-range" | "range-not-allowed" | "default-out-of-range" => "取值范围有误",
        "conflicting-options" => "选项相互矛盾",
        "legal-limit" | "promised-exceeds-legal" | "route-exceeds-limit" | "zero-limit" => {
            "办理时限超出法定要求"
        }
        "extension-limit" => "延长期限超出法定要求",
        "intake-limit" | "intake-position" | "missing-intake" => "受理环节有误",
        "empty-route" | "unreachable-step" => "办理环节有误",
        "never-holds" | "rules-unsatisfiable" => "条件永远不成立",
        "independent-violated" | "sequential-departments" => "部门审批互为前置",
        "independent-misuse"
        | "jointly-misuse"
        | "both-independent-and-jointly"
        | "undeclared-parts" => "部门决定之间的关系未说明或有误",
        "outcome-never-issued" | "outcome-not-of-part" | "missing-notice" | "notice-incomplete" => {
            "文书出具有误"
        }
        "applicant-not-told" => "未告知申请人",
        "unstated-requirement" => "未在一次性告知中说明的要求",
        "consequence-without-evaluation" => "评估后果设置有误",
        "missing-district-field" | "no-district-department" => "属地办理设置有误",
        "no-head-address" | "no-reviewer-address" => "缺少部门联系邮箱",
        "remind-too-late" => "提醒时间过晚",
        "wrong-actor" => "办理主体有误",
        "draft-names-another-workflow" => "草稿定义了其他事项",
        _ => "问题",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_under_wide_characters() {
        let mut sources = SourceMap::new();
        let file = sources.add("a.flow", "department 卫生 \"市卫生健康局\" x\n");
        let offset = "department 卫生 \"市卫生健康局\" ".len();
        let diagnostic = Diagnostic::error(
            "syntax",
            Span::new(file, offset, offset + 1),
            "此处不应出现`x`",
        )
        .with_hint("删去它");
        let text = render(&sources, &[diagnostic]);
        assert_eq!(
            text,
            concat!(
                "a.flow:1:24: error: 此处不应出现`x`\n",
                "     1 | department 卫生 \"市卫生健康局\" x\n",
                // 11 + 4 + 1 + 14 + 1 display columns: CJK characters are two wide.
                "       |                                ^\n",
                "      = 提示：删去它\n"
            )
        );
    }

    #[test]
    fn closest_suggests_only_near_names() {
        assert_eq!(closest("helth", ["health", "civil"]), Some("health"));
        assert_eq!(closest("xyz", ["health", "civil"]), None);
        assert_eq!(closest("pfd", ["ofd", "pdf", "png"]), Some("pdf"));
    }
}
