//! The checker: each department's part (谁审批谁监管). Where several
//! departments decide, the definition says which parts are independent
//! matters and which are one; each part has one legal form.

use super::*;

/// The `jointly` clauses of a workflow, as written.
pub(super) type JointlyClause<'w> = (Span, &'w Vec<Ident>, &'w ast::Str);

/// Whether two departments' parts are declared, independent or joined.
pub(super) fn declared_together(
    independents: &[(Span, &Vec<Ident>)],
    jointly: &[Jointly],
    a: &str,
    b: &str,
) -> bool {
    let independent = independents
        .iter()
        .any(|(_, names)| names.iter().any(|n| n.name == a) && names.iter().any(|n| n.name == b));
    let joined = jointly.iter().any(|group| {
        group.departments.iter().any(|d| d == a) && group.departments.iter().any(|d| d == b)
    });
    independent || joined
}

impl<'a> WorkflowChecker<'a> {
    /// Checks the parts and returns the `jointly` groups for the IR.
    pub(super) fn parts(
        &mut self,
        definition: &ast::WorkflowDef,
        infos: &[StepInfo<'_>],
        steps: &[Step],
        independents: &[(Span, &Vec<Ident>)],
        jointly: &[JointlyClause<'_>],
    ) -> Vec<Jointly> {
        let groups: Vec<Jointly> = jointly
            .iter()
            .filter_map(|(span, names, basis)| self.jointly(*span, names, basis, infos))
            .collect();
        self.declared_twice(independents, jointly);
        self.undeclared_parts(definition, steps, independents, &groups);
        self.part_forms(infos, steps);
        groups
    }

    /// `jointly a, b basis "…"`: at least two departments, each deciding a
    /// part here, and the text that makes them one matter.
    fn jointly(
        &mut self,
        clause: Span,
        names: &[Ident],
        basis: &ast::Str,
        infos: &[StepInfo<'_>],
    ) -> Option<Jointly> {
        let departments = self.group_members("jointly-misuse", names, infos);
        if names.len() < 2 {
            self.error(Diagnostic::error(
                "jointly-misuse",
                clause,
                "`jointly`至少需要两个部门",
            ));
        }
        if basis.value.trim().is_empty() {
            self.error(
                Diagnostic::error(
                    "jointly-misuse",
                    basis.span,
                    "`jointly`须写明使各部分成为一个事项的依据",
                )
                .with_hint("引用条文，例如`basis \"行政许可法第二十六条\"`"),
            );
        }
        (departments.len() >= 2).then(|| Jointly {
            departments,
            basis: basis.value.clone(),
        })
    }

    /// The departments a group (`independent`, `jointly`) names, each once:
    /// unknown ones and repeats are reported under `code`, and so is one
    /// that takes no step here (unless a step's own department is unknown).
    pub(super) fn group_members(
        &mut self,
        code: &'static str,
        names: &[Ident],
        infos: &[StepInfo<'_>],
    ) -> Vec<String> {
        let deciding = |department: &str| {
            infos.iter().any(|info| {
                info.def.kind.name != "sign"
                    && info
                        .def
                        .actors
                        .first()
                        .is_some_and(|a| a.name == department)
            })
        };
        let unknown_actor = infos.iter().any(|info| {
            info.def.kind.name != "sign"
                && info
                    .def
                    .actors
                    .first()
                    .is_some_and(|a| !self.departments.contains_key(&a.name))
        });
        let mut members: Vec<String> = Vec::new();
        for name in names {
            if self.department(name).is_none() {
                continue;
            }
            if members.contains(&name.name) {
                self.error(Diagnostic::error(
                    code,
                    name.span,
                    format!("`{}`写了两次", name.name),
                ));
                continue;
            }
            if !deciding(&name.name) && !unknown_actor {
                self.error(Diagnostic::error(
                    code,
                    name.span,
                    format!("部门`{}`在本事项中受理之后没有办理环节", name.name),
                ));
            }
            members.push(name.name.clone());
        }
        members
    }

    /// A department is either an independent matter or joined to others
    /// with the same department, never both.
    fn declared_twice(
        &mut self,
        independents: &[(Span, &Vec<Ident>)],
        jointly: &[JointlyClause<'_>],
    ) {
        for (joint_span, joint_names, _) in jointly {
            for (independent_span, independent_names) in independents {
                let shared: Vec<&str> = joint_names
                    .iter()
                    .filter(|j| independent_names.iter().any(|i| i.name == j.name))
                    .map(|j| j.name.as_str())
                    .collect();
                if shared.len() >= 2 {
                    self.error(
                        Diagnostic::error(
                            "both-independent-and-jointly",
                            *joint_span,
                            format!(
                                "`{}`在此声明为一个事项，在别处却声明为各自独立的事项",
                                shared.join("`、`")
                            ),
                        )
                        .with_note(*independent_span, "在此声明为各自独立"),
                    );
                }
            }
        }
    }

    /// Where several departments decide, each pair is declared independent
    /// (one's refusal ends its own part) or joined (one's refusal ends all).
    fn undeclared_parts(
        &mut self,
        definition: &ast::WorkflowDef,
        steps: &[Step],
        independents: &[(Span, &Vec<Ident>)],
        jointly: &[Jointly],
    ) {
        let mut deciding: Vec<&str> = Vec::new();
        for step in steps.iter().filter(|s| s.kind != StepKind::Signing) {
            if let Some(department) = step.department.as_deref() {
                if !deciding.contains(&department) {
                    deciding.push(department);
                }
            }
        }
        for (position, first) in deciding.iter().enumerate() {
            for second in &deciding[position + 1..] {
                if declared_together(independents, jointly, first, second) {
                    continue;
                }
                self.error(
                    Diagnostic::error(
                        "undeclared-parts",
                        definition.id.span,
                        format!(
                            "`{first}`和`{second}`各自决定一部分，但事项没有说明一方不予许可时是否终止另一方的办理"
                        ),
                    )
                    .with_hint(format!(
                        "各部门决定并负责本部门的部分（谁审批谁监管）：写`independent {first}, {second}`"
                    ))
                    .with_hint(format!(
                        "如有规定使其成为须全部通过的一个事项，写`jointly {first}, {second} basis \"…\"`并引用该规定"
                    )),
                );
            }
        }
    }

    /// A department's part ends in one act: its steps share a legal form.
    fn part_forms(&mut self, infos: &[StepInfo<'_>], steps: &[Step]) {
        let mut first_of: BTreeMap<&str, usize> = BTreeMap::new();
        for (index, step) in steps.iter().enumerate() {
            if step.kind == StepKind::Signing {
                continue;
            }
            let Some(department) = step.department.as_deref() else {
                continue;
            };
            let first = *first_of.entry(department).or_insert(index);
            let (form, first_form) = (step.legal_form(), steps[first].legal_form());
            if form != first_form {
                self.error(
                    Diagnostic::error(
                        "mixed-part-forms",
                        infos[index].def.span,
                        format!(
                            "`{department}`的这个环节以{}（{}）结束，它的另一个环节却以{}（{}）结束",
                            form.name(),
                            form.chinese(),
                            first_form.name(),
                            first_form.chinese()
                        ),
                    )
                    .with_note(infos[first].def.span, "该部门的另一个环节")
                    .with_hint("一个部门的办理部分以一种行为、一份文书结束；不同的行为请分成不同的事项"),
                );
            }
        }
    }

    /// `consequence "…" [when …]` and `register evaluation` follow a failed
    /// evaluation, so the workflow has a part that decides as one.
    pub(super) fn consequences(
        &mut self,
        defs: &[(&ast::Str, Option<&Expr>)],
        steps: &[Step],
        registers: &[Registration],
        register_ast: &[&Ident],
    ) -> Vec<Consequence> {
        let evaluates = steps
            .iter()
            .any(|step| step.legal_form() == LegalForm::Evaluation);
        let mut out = Vec::new();
        for (text, condition) in defs {
            let when = match condition {
                Some(expr) => match self.condition(expr) {
                    Some(cond) => Some(cond),
                    None => continue,
                },
                None => None,
            };
            if !evaluates {
                self.error(
                    Diagnostic::error(
                        "consequence-without-evaluation",
                        text.span,
                        "后果（consequence）在评估不合格后适用，而本事项没有作为评估（evaluation）决定的环节",
                    )
                    .with_hint("写`review by 部门 \"…\" within N workdays as evaluation`"),
                );
            }
            out.push(Consequence {
                text: text.value.clone(),
                when,
            });
        }
        let registers_evaluation = registers.contains(&Registration::Evaluation);
        if registers_evaluation && !evaluates {
            let span = register_ast
                .iter()
                .find(|kind| kind.name == "evaluation")
                .map(|kind| kind.span);
            if let Some(span) = span {
                self.error(
                    Diagnostic::error(
                        "consequence-without-evaluation",
                        span,
                        "`register evaluation`登记评估结果，而本事项没有作为评估（evaluation）决定的环节",
                    )
                    .with_hint("写`review by 部门 \"…\" within N workdays as evaluation`"),
                );
            }
        }
        out
    }
}
