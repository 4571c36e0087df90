//! The checker: intake, steps, the route, reachability and independence (不得互为前置).

use super::*;

impl<'a> WorkflowChecker<'a> {
    pub(super) fn route<'w>(
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

    pub(super) fn intake(&mut self, step: &ast::StepDef) -> Option<IntakeStep> {
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

    pub(super) fn route_item<'w>(
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

    pub(super) fn step_ir(&mut self, index: usize, info: &StepInfo<'_>, route: &Route) -> Step {
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
            local: def.local,
            decides: self.decides(def, kind),
            bound_months: def.bound.map(|months| {
                self.limit_at_least_one(months);
                months.value
            }),
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

    /// What a review decides (`as designation`): licence unless stated;
    /// filing and signing steps have their own form.
    fn decides(&mut self, def: &ast::StepDef, kind: StepKind) -> LegalForm {
        let Some(name) = &def.decides else {
            return LegalForm::default();
        };
        let Some(form) = LegalForm::from_name(&name.name) else {
            let names = LegalForm::OF_REVIEW.map(LegalForm::name);
            let diagnostic = Diagnostic::error(
                "unknown-legal-form",
                name.span,
                format!("unknown legal form `{}`", name.name),
            )
            .suggest(&name.name, names)
            .with_hint(format!("a review decides as {}", names.join(", ")));
            self.error(diagnostic);
            return LegalForm::default();
        };
        if kind != StepKind::Review || !LegalForm::OF_REVIEW.contains(&form) {
            self.error(
                Diagnostic::error(
                    "legal-form-misplaced",
                    name.span,
                    format!(
                        "a `{}` step cannot decide as `{}`",
                        def.kind.name, name.name
                    ),
                )
                .with_hint("`as` states what a review decides: licence (行政许可), designation (医保协议管理) or evaluation (评估); a `file` step is a filing (备案) and a `sign` step an agreement of the parties"),
            );
            return LegalForm::default();
        }
        form
    }

    /// The one department that takes an intake, review or filing step.
    pub(super) fn single_department(&mut self, step: &ast::StepDef) -> Option<String> {
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

    pub(super) fn department(&mut self, ident: &Ident) -> Option<Department> {
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

    pub(super) fn limit_at_least_one(&mut self, count: ast::Count) {
        if count.value == 0 {
            self.error(Diagnostic::error(
                "zero-limit",
                count.span,
                "a time limit must be at least one working day",
            ));
        }
    }

    pub(super) fn reachability(&mut self, infos: &[StepInfo<'_>], constraints: &[Cond]) {
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
    pub(super) fn independent(
        &mut self,
        clause: Span,
        names: &[Ident],
        infos: &[StepInfo<'_>],
        route: &Route,
        constraints: &[Cond],
    ) {
        let listed = self.group_members("independent-misuse", names, infos);
        let members: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
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
    pub(super) fn sequential_departments(
        &mut self,
        infos: &[StepInfo<'_>],
        route: &Route,
        independents: &[(Span, &Vec<Ident>)],
        jointly: &[Jointly],
    ) {
        // Parts joined as one matter may wait on each other.
        let declared = |a: &str, b: &str| parts::declared_together(independents, jointly, a, b);
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
}
