//! The checker: outcomes, their templates, inputs and numbers.

use super::*;

impl<'a> WorkflowChecker<'a> {
    pub(super) fn outcomes(
        &mut self,
        definition: &ast::WorkflowDef,
        defs: &[&ast::OutcomeDef],
        intake: Option<&IntakeStep>,
        steps: &[Step],
    ) -> Vec<Outcome> {
        // Each department's part and its legal form, in route order.
        let mut parts: Vec<(String, LegalForm)> = Vec::new();
        for step in steps.iter().filter(|s| s.kind != StepKind::Signing) {
            if let Some(department) = &step.department {
                if !parts.iter().any(|(d, _)| d == department) {
                    parts.push((department.clone(), step.legal_form()));
                }
            }
        }
        // A step whose department did not resolve was reported already;
        // its part is unknown, so no outcome is said to be never issued.
        let parts_known = steps
            .iter()
            .all(|s| s.kind == StepKind::Signing || s.department.is_some());
        let intake_department = intake.map(|i| i.department.clone());
        let mut outcomes = Vec::new();
        for def in defs {
            let Some(event) = Event::from_name(&def.event.name) else {
                let names = Event::ALL.map(Event::name);
                let diagnostic = Diagnostic::error(
                    "unknown-event",
                    def.event.span,
                    format!("未知办理结果`{}`", def.event.name),
                )
                .suggest(&def.event.name, names)
                .with_hint(format!("可用的办理结果有：{}", names.join("、")));
                self.error(diagnostic);
                continue;
            };
            let Some(issuers) = self.issuers(
                def,
                event,
                (&parts, parts_known),
                intake_department.as_ref(),
            ) else {
                continue;
            };
            let Some(template) = self.templates.get(def.template.name.as_str()).copied() else {
                let diagnostic = Diagnostic::error(
                    "unknown-template",
                    def.template.span,
                    format!("未知文书版式`{}`", def.template.name),
                )
                .suggest(&def.template.name, self.templates.keys().copied());
                self.error(diagnostic);
                continue;
            };
            let inputs = self.template_inputs(def, template);
            self.law_inputs(event, def, template);
            let forms: BTreeSet<LegalForm> = issuers
                .iter()
                .filter_map(|issuer| parts.iter().find(|(d, _)| d == issuer))
                .map(|(_, form)| *form)
                .collect();
            self.template_fits(def, event, template, &forms);
            let number = def
                .number
                .as_ref()
                .and_then(|pattern| self.outcome_number(pattern, &issuers));
            let when = def.condition.as_ref().map(|c| self.condition(c));
            let Some(inputs) = inputs else { continue };
            // A condition that did not type was reported already.
            let Some(when) = when.map_or(Some(None), |c| c.map(Some)) else {
                continue;
            };
            for issued_by in issuers {
                outcomes.push(Outcome {
                    event,
                    title: def.title.value.clone(),
                    template: def.template.name.clone(),
                    number: number.clone(),
                    issued_by,
                    inputs: inputs.clone(),
                    when: when.clone(),
                });
            }
        }
        let has = |kind: StepKind| steps.iter().any(|s| s.kind == kind);
        let mut required = vec![
            (
                Event::Accepted,
                "受理通知书",
                "acceptance_notice",
                "《行政许可法》第三十二条：受理应当出具加盖专用印章并注明日期的书面凭证",
            ),
            (
                Event::NotAccepted,
                "不予受理通知书",
                "refusal_notice",
                "《行政许可法》第三十二条：不予受理应当出具书面凭证并说明理由",
            ),
            (
                Event::Correction,
                "补正材料通知书",
                "correction_notice",
                "《行政许可法》第三十二条：需要补正的全部内容应当一次告知",
            ),
        ];
        if has(StepKind::Review) {
            required.push((
                Event::Approved,
                "准予行政许可决定书",
                "grant_decision",
                "《行政许可法》第三十八条：准予行政许可应当作出书面决定",
            ));
            required.push((
                Event::Rejected,
                "不予行政许可决定书",
                "denial_decision",
                "《行政许可法》第三十八条：不予行政许可应当作出书面决定，说明理由并告知救济权利",
            ));
        } else if has(StepKind::Filing) {
            required.push((Event::Filed, "备案回执", "filing_receipt", "备案以回执确认"));
        }
        if has(StepKind::Signing) {
            required.push((
                Event::Signed,
                "医养签约合作协议",
                "cooperation_agreement",
                "签订的协议是双方各执的文书",
            ));
        }
        let extends = definition
            .clauses
            .iter()
            .any(|clause| matches!(clause.kind, ast::ClauseKind::Extension { .. }));
        if extends {
            required.push((
                Event::Extended,
                "延长办理期限通知书",
                "extension_notice",
                "《行政许可法》第四十二条：延长期限及其理由应当（书面）告知申请人",
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
                            "事项`{}`在`{}`时不出具任何文书",
                            definition.id.name,
                            event.name()
                        ),
                    )
                    .with_hint(reason)
                    .with_hint(format!(
                        "加入`on {} issue \"{title}\" template {template}`",
                        event.name()
                    )),
                );
            }
        }
        outcomes
    }

    /// The departments that issue an outcome: `by` the one named, else
    /// each department whose part ends in the event (one outcome each);
    /// documents of intake and signing are the window's.
    fn issuers(
        &mut self,
        def: &ast::OutcomeDef,
        event: Event,
        (parts, parts_known): (&[(String, LegalForm)], bool),
        intake_department: Option<&String>,
    ) -> Option<Vec<String>> {
        let ends_in = |form: &LegalForm| form.events().contains(&event);
        let of_part = matches!(event, Event::Approved | Event::Rejected | Event::Filed);
        if let Some(ident) = &def.issued_by {
            let department = self.department(ident)?.id;
            let decides = parts
                .iter()
                .any(|(d, form)| *d == department && ends_in(form));
            if of_part && parts_known && !decides {
                self.error(
                    Diagnostic::error(
                        "outcome-not-of-part",
                        ident.span,
                        format!(
                            "`{}`在本事项中没有以`{}`结束的办理部分",
                            department,
                            event.name()
                        ),
                    )
                    .with_hint("各部门出具本部门办理部分的文书（谁审批谁监管）"),
                );
                return None;
            }
            return Some(vec![department]);
        }
        if !of_part {
            return Some(intake_department.cloned().into_iter().collect());
        }
        let issuers: Vec<String> = parts
            .iter()
            .filter(|(_, form)| ends_in(form))
            .map(|(department, _)| department.clone())
            .collect();
        if issuers.is_empty() && parts_known && !parts.is_empty() {
            self.error(
                Diagnostic::error(
                    "outcome-never-issued",
                    def.event.span,
                    format!("本事项没有以`{}`结束的办理部分", event.name()),
                )
                .with_hint(
                    "`approved`和`rejected`结束审查，`filed`结束`file`环节，`signed`结束`sign`环节",
                ),
            );
            return None;
        }
        Some(issuers)
    }

    /// A document of a decision is written for the legal form of the part
    /// it ends (`//! fits licence` in the template's header).
    fn template_fits(
        &mut self,
        def: &ast::OutcomeDef,
        event: Event,
        template: &ast::TemplateDecl,
        forms: &BTreeSet<LegalForm>,
    ) {
        if !matches!(
            event,
            Event::Approved | Event::Rejected | Event::Filed | Event::Signed
        ) {
            return;
        }
        let forms = if event == Event::Signed {
            BTreeSet::from([LegalForm::Contract])
        } else {
            forms.clone()
        };
        for form in forms {
            if template.fits.iter().any(|f| f.name == form.name()) {
                continue;
            }
            let fits: Vec<&str> = template.fits.iter().map(|f| f.name.as_str()).collect();
            let written_for = if fits.is_empty() {
                "无法律形式".to_string()
            } else {
                fits.join("、")
            };
            self.error(
                Diagnostic::error(
                    "template-form-mismatch",
                    def.template.span,
                    format!(
                        "文书版式`{}`适用于{written_for}，而该办理部分的结果是{}（{}）",
                        template.id.name,
                        form.name(),
                        form.chinese()
                    ),
                )
                .with_note(template.id.span, "文书版式声明在此")
                .with_hint(format!(
                    "改用首部写明`//! fits {}`的文书版式：每种行为各有其文书、措辞、依据和救济途径",
                    form.name()
                )),
            );
        }
    }

    /// A number pattern; several issuers number in their own series, so
    /// the pattern names the department.
    fn outcome_number(&mut self, pattern: &ast::Str, issuers: &[String]) -> Option<NumberPattern> {
        let parsed = self.number_pattern(pattern)?;
        let names_department = parsed.parts.contains(&NumberPart::Dept);
        if issuers.len() > 1 && !names_department {
            self.error(
                Diagnostic::error(
                    "number-without-dept",
                    pattern.span,
                    format!(
                        "本文书由{}分别出具、各自编号，编号规则须含`{{dept}}`",
                        issuers.join("、")
                    ),
                )
                .with_hint("例如`评{year}{dept}{seq:05}`：两个部门的编号不会相同"),
            );
        }
        // An issuing department that did not resolve was reported already.
        for issuer in issuers {
            let Some((_, department)) = self.departments.get(issuer) else {
                continue;
            };
            if department.abbr.is_none() && names_department {
                let department = department.id.clone();
                self.error(
                    Diagnostic::error(
                        "bad-number-pattern",
                        pattern.span,
                        format!("`{{dept}}`需要部门简称，而部门`{department}`没有简称"),
                    )
                    .with_hint("在部门中加入`abbr \"简称\"`"),
                );
            }
        }
        Some(parsed)
    }

    pub(super) fn template_inputs(
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
                    format!("文书版式`{}`没有输入项`{}`", template.id.name, input.name),
                )
                .suggest(&input.name, names)
                .with_note(template.id.span, "文书版式声明在此");
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
                            "文书版式`{}`需要输入项`{name}`，但没有栏目提供",
                            template.id.name
                        ),
                    )
                    .with_note(input.id.span, "输入项声明在此")
                    .with_hint(format!(
                        "在表单中加入栏目`{name}`，或指定对应：`with ({name} = 栏目)`"
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
                        "文书版式`{}`的输入项`{name}`是{}类型，提供的却是{}类型",
                        template.id.name,
                        type_words(&input.ty.name),
                        type_words(ty)
                    ),
                )
                .with_note(input.ty.span, "输入项类型声明在此");
                self.error(diagnostic);
                ok = false;
            } else if optional_field && !input.optional {
                let diagnostic = Diagnostic::error(
                    "template-input-missing",
                    def.template.span,
                    format!(
                        "文书版式`{}`需要输入项`{name}`，而该栏目是选填的",
                        template.id.name
                    ),
                )
                .with_hint(
                    "把栏目改为`required`、给它默认值，或在文书版式中把该输入项标为`optional`",
                );
                self.error(diagnostic);
                ok = false;
            }
            sources.push((name.to_string(), source));
        }
        ok.then_some(sources)
    }

    /// Refusals carry reasons, decisions appeal rights, corrections every item.
    pub(super) fn law_inputs(
        &mut self,
        event: Event,
        def: &ast::OutcomeDef,
        template: &ast::TemplateDecl,
    ) {
        let needs: &[(&str, &str)] = match event {
            Event::NotAccepted => &[("reasons", "《行政许可法》第三十二条：不予受理应当说明理由")],
            Event::Rejected => &[
                ("reasons", "《行政许可法》第三十八条：不予行政许可应当说明理由"),
                ("appeal", "《行政许可法》第三十八条：不予行政许可应当告知申请人享有依法申请行政复议或者提起行政诉讼的权利"),
            ],
            Event::Correction => &[("corrections", "《行政许可法》第三十二条：需要补正的全部内容应当一次告知")],
            Event::Extended => &[("reasons", "《行政许可法》第四十二条：延长期限的理由应当告知申请人")],
            _ => &[],
        };
        for (input, reason) in needs {
            if !template.inputs.iter().any(|i| i.id.name == *input) {
                let diagnostic = Diagnostic::error(
                    "notice-incomplete",
                    def.template.span,
                    format!(
                        "`{1}`时使用的文书版式`{0}`没有输入项`{input}`",
                        template.id.name,
                        event.name()
                    ),
                )
                .with_note(template.id.span, "文书版式声明在此")
                .with_hint(*reason);
                self.error(diagnostic);
            }
        }
    }

    pub(super) fn number_pattern(&mut self, pattern: &ast::Str) -> Option<NumberPattern> {
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
                        self.error(problem("编号规则中有未闭合的`{`".to_string()));
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
                                problem(format!("编号规则中有未知的占位符`{{{placeholder}}}`"))
                                    .with_hint(
                                        "可用的占位符有`{year}`、`{dept}`、`{seq}`和`{seq:05}`",
                                    ),
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
                problem("编号规则须含`{year}`和`{seq}`".to_string())
                    .with_hint("编号每年唯一且连续，例如`医养{year}{seq:05}`"),
            );
            return None;
        }
        Some(NumberPattern {
            source: pattern.value.clone(),
            parts,
        })
    }
}
