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
                                "受理（intake）必须是第一个环节，且只有一个",
                            )
                            .with_hint("每件申请都先由窗口受理，再交部门审查"),
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
                    format!("事项`{}`没有受理环节", definition.id.name),
                )
                .with_hint("以`intake by window \"综合窗口受理\" within 5 workdays`开始办理流程"),
            );
        }
        if top.is_empty() {
            self.error(Diagnostic::error(
                "empty-route",
                definition.id.span,
                format!("事项`{}`在受理之后没有办理环节", definition.id.name),
            ));
        }
        (intake, infos, Route::Sequence(top))
    }

    pub(super) fn intake(&mut self, step: &ast::StepDef) -> Option<IntakeStep> {
        if let Some(condition) = &step.condition {
            self.error(Diagnostic::error(
                "intake-position",
                condition.span,
                "受理环节接收每一件申请，不能附加条件",
            ));
        }
        self.limit_at_least_one(step.within);
        if step.within.value > law::INTAKE {
            self.error(
                Diagnostic::error(
                    "intake-limit",
                    step.within.span,
                    format!(
                        "受理需要{}个工作日，超过法定的{}个工作日",
                        step.within.value,
                        law::INTAKE
                    ),
                )
                .with_hint("《行政许可法》第三十二条：需要补正的，应当在五日内一次告知"),
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
                        "受理必须是事项的第一个环节，不能放在任何分组中",
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
                        "这个分组没有办理环节",
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
                            format!("`{}`是部门；`sign`环节由签订方办理", actor.name),
                        )
                        .with_hint("在`parties { ... }`中声明签订方"),
                    );
                } else {
                    let names: Vec<&str> =
                        self.parties.iter().map(|(p, _)| p.name.as_str()).collect();
                    let diagnostic = Diagnostic::error(
                        "unknown-party",
                        actor.span,
                        format!("未知签订方`{}`", actor.name),
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
                format!("未知法律形式`{}`", name.name),
            )
            .suggest(&name.name, names)
            .with_hint(format!("审查可以作为以下形式决定：{}", names.join("、")));
            self.error(diagnostic);
            return LegalForm::default();
        };
        if kind != StepKind::Review || !LegalForm::OF_REVIEW.contains(&form) {
            self.error(
                Diagnostic::error(
                    "legal-form-misplaced",
                    name.span,
                    format!(
                        "`{}`环节不能作为`{}`决定",
                        def.kind.name, name.name
                    ),
                )
                .with_hint("`as`说明审查决定的是什么：licence（行政许可）、designation（医保协议管理）或evaluation（评估）；`file`环节是备案，`sign`环节是双方签订协议"),
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
                    format!("`{}`环节由一个部门办理", step.kind.name),
                )
                .with_hint("每个部门写一个环节；同时办理的放在`parallel { ... }`中"),
            );
        }
        let actor = step.actors.first()?;
        if self.parties.iter().any(|(p, _)| p.name == actor.name) {
            self.error(Diagnostic::error(
                "wrong-actor",
                actor.span,
                format!("`{}`是签订方；签订方只办理`sign`环节", actor.name),
            ));
            return None;
        }
        let department = self.department(actor)?;
        if department.reviewers.is_empty() {
            self.error(
                Diagnostic::error(
                    "no-reviewer-address",
                    actor.span,
                    format!("部门`{}`没有审查人员邮箱，它的环节将无人接收", actor.name),
                )
                .with_note(self.departments[&actor.name].0.id.span, "部门定义在此")
                .with_hint("在部门中加入`email \"reviewer@example.gov.cn\"`"),
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
            format!("未知部门`{}`", ident.name),
        )
        .suggest(&ident.name, self.departments.keys().map(String::as_str));
        let diagnostic = if self.departments.is_empty() {
            diagnostic.with_hint(
                "没有定义任何部门：部门用`department ID \"名称\" { … }`声明，\
                 通常在workflows/departments.flow中；请同时检查该文件夹",
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
                "期限至少为一个工作日",
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
                        "任何申请都无法到达这个环节",
                    )
                    .with_hint("它的条件与每件申请都须遵守的规则不能同时成立"),
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
                "`independent`至少需要两个部门",
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
                format!("`{second}`的这个环节要等待`{first}`的环节，但二者已声明为各自独立"),
            )
            .with_note(infos[before].def.span, format!("`{first}`在前的环节"))
            .with_note(clause, "在此声明为各自独立（不得互为前置）")
            .with_hint("把二者放在同一个`parallel { ... }`分组中");
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
                    format!("`{}`的审批要等待`{}`的审批", b.name, a.name),
                )
                .with_note(first.span, "在前的审批")
                .with_hint("政策规定各部门的审批不得互为前置条件"),
            );
        }
    }
}
