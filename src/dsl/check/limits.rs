//! The checker: time limits (law arts. 32 and 42).

use super::*;

impl<'a> WorkflowChecker<'a> {
    /// The law's caps bind workflows with a licence part: joint ones (two
    /// or more licensing departments) 45 + 15, others 20 + 10. Filings,
    /// designations, evaluations and agreements keep their own limits.
    pub(super) fn limits(&mut self, singles: &Singles<'_>, licensing: usize, longest: u32) {
        let (max_decision, max_extension, label) = match licensing {
            0 => (u32::MAX, u32::MAX, "不含行政许可的事项"),
            1 => (law::DECISION, law::EXTENSION, "由一个部门许可的事项"),
            _ => (
                law::JOINT_DECISION,
                law::JOINT_EXTENSION,
                "由多个部门联合许可的事项",
            ),
        };
        if let Some((span, legal)) = singles.legal_limit {
            self.limit_at_least_one(legal);
            if legal.value > max_decision {
                self.error(
                    Diagnostic::error(
                        "legal-limit",
                        legal.span,
                        format!(
                            "legal_limit {}个工作日超过法定期限：{label}为{max_decision}个工作日",
                            legal.value
                        ),
                    )
                    .with_note(span, "写在此")
                    .with_hint("《行政许可法》第四十二条"),
                );
            }
        }
        if let Some((_, extension)) = singles.extension {
            if extension.value > max_extension {
                self.error(
                    Diagnostic::error(
                        "extension-limit",
                        extension.span,
                        format!(
                            "延长{}个工作日超过法定上限：{label}至多延长{max_extension}个工作日",
                            extension.value
                        ),
                    )
                    .with_hint("《行政许可法》第四十二条"),
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
                            "承诺期限promised_limit {}超过法定期限legal_limit {}",
                            promised.value, legal.value
                        ),
                    )
                    .with_note(legal.span, "法定期限写在此")
                    .with_hint("城市的承诺只能缩短法定期限"),
                );
            } else if promised.value > 0 && longest > promised.value {
                self.error(
                    Diagnostic::error(
                        "route-exceeds-limit",
                        promised.span,
                        format!("最长的办理路径（有条件的环节按办理计）需要{longest}个工作日，超过承诺期限promised_limit {}", promised.value),
                    )
                    .with_note(span, "承诺期限写在此")
                    .with_hint("缩短最长路径上的环节，或用`parallel`并行办理"),
                );
            }
        }
    }

    /// Who approves an extension: when several departments each grant a
    /// licence (joint licensing), the people's government's head; else the
    /// deciding department's own head (art. 42).
    pub(super) fn extension_approver(&mut self, singles: &Singles<'_>, joint: bool) -> Approver {
        let required = if joint {
            Approver::Government
        } else {
            Approver::DepartmentHead
        };
        let Some(ident) = singles.extension_approver else {
            if let Some((span, _)) = singles.extension.filter(|_| joint) {
                self.error(
                    Diagnostic::error(
                        "extension-approver",
                        span,
                        "联合办理事项的延长期限须经本级人民政府负责人批准",
                    )
                    .with_hint(
                        "《行政许可法》第四十二条：写成`extension N workdays by government`",
                    ),
                );
            }
            return Approver::DepartmentHead;
        };
        let Some(approver) = Approver::from_name(&ident.name) else {
            let names = Approver::ALL.map(Approver::name);
            self.error(
                Diagnostic::error(
                    "unknown-approver",
                    ident.span,
                    format!("未知批准人`{}`", ident.name),
                )
                .suggest(&ident.name, names)
                .with_hint(format!("可用的批准人有：{}", names.join("、"))),
            );
            return Approver::DepartmentHead;
        };
        if approver != required {
            let message = if joint {
                "联合办理事项的延长期限须经本级人民政府负责人批准"
            } else {
                "由一个部门许可的事项，延长期限须经该部门负责人批准"
            };
            self.error(
                Diagnostic::error("extension-approver", ident.span, message).with_hint(format!(
                    "《行政许可法》第四十二条：写成`by {}`",
                    required.name()
                )),
            );
        }
        approver
    }
}
