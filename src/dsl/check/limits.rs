//! The checker: time limits (law arts. 32 and 42).

use super::*;

impl<'a> WorkflowChecker<'a> {
    /// The law's caps bind workflows with a licence part: joint ones (two
    /// or more licensing departments) 45 + 15, others 20 + 10. Filings,
    /// designations, evaluations and agreements keep their own limits.
    pub(super) fn limits(&mut self, singles: &Singles<'_>, licensing: usize, longest: u32) {
        let (max_decision, max_extension, label) = match licensing {
            0 => (u32::MAX, u32::MAX, "no licence"),
            1 => (law::DECISION, law::EXTENSION, "one licensing department"),
            _ => (
                law::JOINT_DECISION,
                law::JOINT_EXTENSION,
                "joint licensing by several departments",
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
                        "a joint procedure's extension is approved by the head of the people's government",
                    )
                    .with_hint("行政许可法 art. 42: write `extension N workdays by government`"),
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
                    format!("unknown approver `{}`", ident.name),
                )
                .suggest(&ident.name, names)
                .with_hint(format!("the approvers are {}", names.join(", "))),
            );
            return Approver::DepartmentHead;
        };
        if approver != required {
            let message = if joint {
                "a joint procedure's extension is approved by the head of the people's government"
            } else {
                "an extension is approved by the deciding department's head when one department grants the licence"
            };
            self.error(
                Diagnostic::error("extension-approver", ident.span, message).with_hint(format!(
                    "行政许可法 art. 42: write `by {}`",
                    required.name()
                )),
            );
        }
        approver
    }
}
