//! The checker: notifications, reminders, recurring obligations and the registry.

use super::*;

impl<'a> WorkflowChecker<'a> {
    pub(super) fn recipients(&mut self, idents: &[Ident]) -> Vec<Recipient> {
        let mut out = Vec::new();
        for ident in idents {
            match Recipient::ALL.iter().find(|(name, _)| *name == ident.name) {
                Some((_, recipient)) => out.push(*recipient),
                None => {
                    let names = Recipient::ALL.map(|(name, _)| name);
                    let diagnostic = Diagnostic::error(
                        "unknown-recipient",
                        ident.span,
                        format!("unknown recipient `{}`", ident.name),
                    )
                    .suggest(&ident.name, names)
                    .with_hint(format!("the recipients are {}", names.join(", ")));
                    self.error(diagnostic);
                }
            }
        }
        out
    }

    pub(super) fn notifications(
        &mut self,
        defs: &[(&Vec<Ident>, &Vec<Ident>)],
        steps: &[Step],
        intake: Option<&IntakeStep>,
    ) -> Vec<Notification> {
        let mut out = Vec::new();
        for (recipient_idents, event_idents) in defs {
            let recipients = self.recipients(recipient_idents);
            if recipients.contains(&Recipient::Head) {
                let departments: BTreeSet<&String> = steps
                    .iter()
                    .filter_map(|s| s.department.as_ref())
                    .chain(intake.map(|i| &i.department))
                    .collect();
                for id in departments {
                    if let Some((def, department)) = self.departments.get(id) {
                        if department.heads.is_empty() {
                            let span = recipient_idents
                                .iter()
                                .find(|i| i.name == "head")
                                .map_or(def.id.span, |i| i.span);
                            self.error(
                                Diagnostic::error(
                                    "no-head-address",
                                    span,
                                    format!("department `{id}` has no head address to escalate to"),
                                )
                                .with_note(def.id.span, "department defined here")
                                .with_hint("add `head \"head@example.gov.cn\"` to the department"),
                            );
                        }
                    }
                }
            }
            let mut events = Vec::new();
            for event in event_idents.iter() {
                if let Some(known) = NotifyEvent::from_name(&event.name) {
                    events.push(known);
                } else {
                    let diagnostic = Diagnostic::error(
                        "unknown-event",
                        event.span,
                        format!("unknown event `{}`", event.name),
                    )
                    .suggest(&event.name, NotifyEvent::names())
                    .with_hint(format!(
                        "the events are {}",
                        NotifyEvent::names().join(", ")
                    ));
                    self.error(diagnostic);
                }
            }
            out.push(Notification { recipients, events });
        }
        out
    }

    /// `register institution|agreement`: the kind is known and the form has
    /// the fields it reads, of the right type.
    pub(super) fn registers(&mut self, kinds: &[&Ident]) -> Vec<Registration> {
        let mut out = Vec::new();
        for kind in kinds {
            let registration = match kind.name.as_str() {
                "institution" => Registration::Institution,
                "agreement" => Registration::Agreement,
                "evaluation" => Registration::Evaluation,
                other => {
                    let diagnostic = Diagnostic::error(
                        "unknown-registration",
                        kind.span,
                        format!("unknown registration `{other}`"),
                    )
                    .suggest(other, ["institution", "agreement", "evaluation"])
                    .with_hint(
                        "a decision registers an `institution`, an `agreement` or an `evaluation`",
                    );
                    self.error(diagnostic);
                    continue;
                }
            };
            for (field, ty) in registration.fields() {
                let found = self.fields.iter().find(|f| f.id == *field).map(|f| {
                    if f.ty.name() == *ty {
                        f.ty.name()
                    } else {
                        f.ty.input_type()
                    }
                });
                if found != Some(*ty) {
                    let message = match found {
                        Some(actual) => format!(
                            "`register {}` reads `{field}` as {}, but it is {}",
                            kind.name,
                            article(ty),
                            article(actual)
                        ),
                        None => format!(
                            "`register {}` reads a `{field}` field, and the form has none",
                            kind.name
                        ),
                    };
                    self.error(
                        Diagnostic::error("registration-field", kind.span, message)
                            .with_hint(format!("add `{field}: {ty} \"…\" required` to the form")),
                    );
                }
            }
            out.push(registration);
        }
        out
    }

    /// The law makes the agency tell the applicant why a limit was extended
    /// (art. 42) and how long a pause lasts (art. 45).
    pub(super) fn applicant_told(
        &mut self,
        definition: &ast::WorkflowDef,
        notifications: &[Notification],
        extension: u32,
    ) {
        let told = |event: NotifyEvent| {
            notifications
                .iter()
                .any(|n| n.recipients.contains(&Recipient::Applicant) && n.events.contains(&event))
        };
        let mut required = vec![(NotifyEvent::Paused, "行政许可法 art. 45: the applicant is told in writing how long a hearing, inspection or expert review takes")];
        if extension > 0 {
            required.push((
                NotifyEvent::Extended,
                "行政许可法 art. 42: the applicant is told the reason for an extension",
            ));
        }
        for (event, reason) in required {
            if !told(event) {
                self.error(
                    Diagnostic::error(
                        "applicant-not-told",
                        definition.id.span,
                        format!(
                            "workflow `{}` does not notify the applicant on `{event}`",
                            definition.id.name
                        ),
                    )
                    .with_hint(reason)
                    .with_hint(format!("add `{event}` to `notify applicant on …`")),
                );
            }
        }
    }

    pub(super) fn reminders(
        &mut self,
        defs: &[(&Vec<Ident>, ast::Count)],
        promised: Option<u32>,
    ) -> Vec<Reminder> {
        let mut out = Vec::new();
        for (recipient_idents, days) in defs {
            let recipients = self.recipients(recipient_idents);
            self.limit_at_least_one(*days);
            if let Some(promised) = promised {
                if days.value >= promised && days.value > 0 {
                    self.error(Diagnostic::error(
                        "remind-too-late",
                        days.span,
                        format!("a reminder {} workdays before due would come before the work begins (promised_limit is {promised})", days.value),
                    ));
                }
            }
            out.push(Reminder {
                recipients,
                days_before: days.value,
            });
        }
        out
    }

    pub(super) fn recurring(&mut self, defs: &[&ast::RecurDef]) -> Vec<Recurring> {
        let mut out = Vec::new();
        for def in defs {
            let kind = match def.kind.name.as_str() {
                "renew" => Obligation::Renew,
                "evaluate" => Obligation::Evaluate,
                other => {
                    let diagnostic = Diagnostic::error(
                        "unknown-obligation",
                        def.kind.span,
                        format!("unknown obligation `{other}`"),
                    )
                    .suggest(other, ["renew", "evaluate"])
                    .with_hint("the obligations are renew and evaluate");
                    self.error(diagnostic);
                    continue;
                }
            };
            self.limit_at_least_one(def.every);
            let every_months = if def.period.name.starts_with("year") {
                def.every.value.saturating_mul(12)
            } else {
                def.every.value
            };
            for actor in &def.by {
                if !self.parties.iter().any(|(p, _)| p.name == actor.name) {
                    self.department(actor);
                }
            }
            if let Some(days) = def.remind_days {
                if u64::from(days.value) >= u64::from(every_months) * 28 {
                    self.error(Diagnostic::error(
                        "remind-too-late",
                        days.span,
                        format!(
                            "a reminder {} days before is longer than the period itself",
                            days.value
                        ),
                    ));
                }
            }
            out.push(Recurring {
                kind,
                label: def.label.value.clone(),
                every_months,
                by: def.by.iter().map(|b| b.name.clone()).collect(),
                remind_days: def.remind_days.map(|d| d.value),
            });
        }
        out
    }
}
