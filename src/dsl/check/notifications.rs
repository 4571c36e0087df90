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
                        format!("未知通知对象`{}`", ident.name),
                    )
                    .suggest(&ident.name, names)
                    .with_hint(format!("可用的通知对象有：{}", names.join("、")));
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
                                    format!("部门`{id}`没有负责人邮箱，超期无法上报"),
                                )
                                .with_note(def.id.span, "部门定义在此")
                                .with_hint("在部门中加入`head \"head@example.gov.cn\"`"),
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
                        format!("未知事件`{}`", event.name),
                    )
                    .suggest(&event.name, NotifyEvent::names())
                    .with_hint(format!("可用的事件有：{}", NotifyEvent::names().join("、")));
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
                        format!("未知登记类型`{other}`"),
                    )
                    .suggest(other, ["institution", "agreement", "evaluation"])
                    .with_hint(
                        "决定可以登记`institution`（机构）、`agreement`（协议）或`evaluation`（评估）",
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
                            "`register {}`按{}类型读取`{field}`，而它是{}类型",
                            kind.name,
                            type_words(ty),
                            type_words(actual)
                        ),
                        None => {
                            format!("`register {}`要读取`{field}`栏目，而表单中没有", kind.name)
                        }
                    };
                    self.error(
                        Diagnostic::error("registration-field", kind.span, message)
                            .with_hint(format!("在表单中加入`{field}: {ty} \"…\" required`")),
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
        let mut required = vec![(NotifyEvent::Paused, "《行政许可法》第四十五条：听证、检验、检测、检疫、鉴定和专家评审所需时间应当书面告知申请人")];
        if extension > 0 {
            required.push((
                NotifyEvent::Extended,
                "《行政许可法》第四十二条：延长期限的理由应当告知申请人",
            ));
        }
        for (event, reason) in required {
            if !told(event) {
                self.error(
                    Diagnostic::error(
                        "applicant-not-told",
                        definition.id.span,
                        format!("事项`{}`在`{event}`时没有通知申请人", definition.id.name),
                    )
                    .with_hint(reason)
                    .with_hint(format!("在`notify applicant on …`中加入`{event}`")),
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
                        format!(
                            "到期前{}个工作日提醒，会早于办理开始（承诺期限为{promised}个工作日）",
                            days.value
                        ),
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
                        format!("未知义务`{other}`"),
                    )
                    .suggest(other, ["renew", "evaluate"])
                    .with_hint("可用的义务有：renew（换证）、evaluate（评估）");
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
                        format!("提前{}天提醒，比周期本身还长", days.value),
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
