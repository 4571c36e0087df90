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
                    format!("unknown outcome `{}`", def.event.name),
                )
                .suggest(&def.event.name, names)
                .with_hint(format!("the outcomes are {}", names.join(", ")));
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
                    format!("unknown template `{}`", def.template.name),
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
        let extends = definition
            .clauses
            .iter()
            .any(|clause| matches!(clause.kind, ast::ClauseKind::Extension { .. }));
        if extends {
            required.push((
                Event::Extended,
                "延长办理期限通知书",
                "extension_notice",
                "行政许可法 art. 42: the applicant is told the extension and its reasons (in writing)",
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
                            "`{}` decides no part of this workflow that ends in `{}`",
                            department,
                            event.name()
                        ),
                    )
                    .with_hint(
                        "each department issues the documents of its own part (谁审批谁监管)",
                    ),
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
                    format!("no part of this workflow ends in `{}`", event.name()),
                )
                .with_hint(
                    "`approved` and `rejected` end reviews, `filed` ends `file` steps, `signed` ends `sign` steps",
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
                "no legal form".to_string()
            } else {
                fits.join(", ")
            };
            self.error(
                Diagnostic::error(
                    "template-form-mismatch",
                    def.template.span,
                    format!(
                        "template `{}` is written for {written_for}, but this part ends in {} ({})",
                        template.id.name,
                        form.name(),
                        form.chinese()
                    ),
                )
                .with_note(template.id.span, "template declared here")
                .with_hint(format!(
                    "use a template whose header says `//! fits {}`: each act has its own document, wording, law and remedy",
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
                        "this document is issued by {}, each in its own series, so its number needs `{{dept}}`",
                        issuers.join(", ")
                    ),
                )
                .with_hint("e.g. `评{year}{dept}{seq:05}`: two departments' numbers never read the same"),
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
                        format!(
                            "`{{dept}}` needs an abbreviation, and department `{department}` has none"
                        ),
                    )
                    .with_hint("add `abbr \"简称\"` to the department"),
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
    pub(super) fn law_inputs(
        &mut self,
        event: Event,
        def: &ast::OutcomeDef,
        template: &ast::TemplateDecl,
    ) {
        let needs: &[(&str, &str)] = match event {
            Event::NotAccepted => &[("reasons", "行政许可法 art. 32: a refusal to accept states its reasons")],
            Event::Rejected => &[
                ("reasons", "行政许可法 art. 38: a refusal states its reasons"),
                ("appeal", "行政许可法 art. 38: a refusal tells of the right to reconsideration or litigation"),
            ],
            Event::Correction => &[("corrections", "行政许可法 art. 32: every item to correct is told at once")],
            Event::Extended => &[("reasons", "行政许可法 art. 42: the reasons of an extension are told to the applicant")],
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
}
