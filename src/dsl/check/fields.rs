//! The checker: form and fact fields and their values.

use super::*;

impl<'a> WorkflowChecker<'a> {
    pub(super) fn field(&mut self, def: &ast::FieldDef) {
        if let Some(first) = self.field_spans.get(&def.id.name) {
            let first = *first;
            self.error(duplicate("栏目", &def.id, first));
            return;
        }
        let ty = match &def.ty {
            ast::TypeDef::Choice(values, _) => {
                let mut seen: HashMap<&str, Span> = HashMap::new();
                for value in values {
                    if let Some(first) = seen.get(value.value.as_str()) {
                        let diagnostic = Diagnostic::error(
                            "duplicate-choice",
                            value.span,
                            format!("选项`{}`列了两次", value.value),
                        )
                        .with_note(*first, "首次列在此");
                        self.error(diagnostic);
                    }
                    seen.insert(&value.value, value.span);
                }
                FieldType::Choice(values.iter().map(|v| v.value.clone()).collect())
            }
            ast::TypeDef::Scalar(name, _) => match name.as_str() {
                "text" => FieldType::Text,
                "int" => FieldType::Int,
                "money" => FieldType::Money,
                "bool" => FieldType::Bool,
                "date" => FieldType::Date,
                "credit_code" => FieldType::CreditCode,
                _ => FieldType::List,
            },
        };
        if let (Some(required), Some(_)) = (def.required, def.optional) {
            self.error(Diagnostic::error(
                "conflicting-options",
                required,
                format!("栏目`{}`同时写了`required`和`optional`", def.id.name),
            ));
        }
        let mut field = Field {
            id: def.id.name.clone(),
            label: def.label.value.clone(),
            ty,
            required: def.required.is_some(),
            min: None,
            max: None,
            default: None,
            help: def.help.as_ref().map(|h| h.value.clone()),
            evidence: def.evidence.as_ref().map(|e| e.name.clone()),
        };
        if let Some(range) = &def.range {
            if matches!(field.ty, FieldType::Int | FieldType::Money) {
                field.min = self
                    .value(&range.low, &field, &def.id)
                    .and_then(|v| crate::dsl::sat::scalar(&v));
                field.max = range
                    .high
                    .as_ref()
                    .and_then(|high| self.value(high, &field, &def.id))
                    .and_then(|v| crate::dsl::sat::scalar(&v));
                if let (Some(min), Some(max)) = (field.min, field.max) {
                    if min > max {
                        self.error(Diagnostic::error(
                            "empty-range",
                            range.span,
                            format!("`{}`的取值范围为空：下限高于上限", def.id.name),
                        ));
                    }
                }
            } else {
                self.error(
                    Diagnostic::error(
                        "range-not-allowed",
                        range.span,
                        format!(
                            "`range`只用于整数和金额栏目，而`{}`是{}类型",
                            def.id.name,
                            type_words(field.ty.name())
                        ),
                    )
                    .with_hint("删去取值范围，或改变栏目类型"),
                );
            }
        }
        if let Some(default) = &def.default {
            if let Some(value) = self.value(default, &field, &def.id) {
                let point = crate::dsl::sat::scalar(&value);
                let below = matches!((point, field.min), (Some(p), Some(min)) if p < min);
                let above = matches!((point, field.max), (Some(p), Some(max)) if p > max);
                if below || above {
                    self.error(Diagnostic::error(
                        "default-out-of-range",
                        default.span,
                        format!("`{}`的默认值超出其取值范围", def.id.name),
                    ));
                }
                field.default = Some(value);
            }
        }
        self.field_spans.insert(def.id.name.clone(), def.id.span);
        self.fields.push(field);
    }

    /// Types a literal against a field; reports and returns `None` on a mismatch.
    pub(super) fn value(
        &mut self,
        literal: &ast::Literal,
        field: &Field,
        field_name: &Ident,
    ) -> Option<Value> {
        let name = &field_name.name;
        let mismatch = |found: &str| {
            Diagnostic::error(
                "type-mismatch",
                literal.span,
                format!(
                    "`{name}`是{}类型，这里却是{found}",
                    type_words(field.ty.name())
                ),
            )
        };
        let found = match &literal.kind {
            LiteralKind::Number(_) => "数字",
            LiteralKind::Str(_) => "文字",
            LiteralKind::Bool(_) => "是/否",
            LiteralKind::Date(_) => "日期",
        };
        match (&field.ty, &literal.kind) {
            (FieldType::Int, LiteralKind::Number(text)) => match parse_decimal(text, 0) {
                Ok(units) => Some(Value::Int(units)),
                Err(problem) => {
                    self.error(number_problem(literal.span, text, problem, "整数"));
                    None
                }
            },
            (FieldType::Money, LiteralKind::Number(text)) => match parse_decimal(text, 2) {
                Ok(fen) => Some(Value::Money(fen)),
                Err(problem) => {
                    self.error(number_problem(
                        literal.span,
                        text,
                        problem,
                        "至多两位小数的金额",
                    ));
                    None
                }
            },
            (FieldType::Date, LiteralKind::Date(text)) => match text.parse::<jiff::civil::Date>() {
                Ok(date) => Some(Value::Date(date)),
                Err(_) => {
                    self.error(Diagnostic::error(
                        "invalid-date",
                        literal.span,
                        format!("`{text}`不是日历上的日期"),
                    ));
                    None
                }
            },
            (FieldType::Bool, LiteralKind::Bool(value)) => Some(Value::Bool(*value)),
            (FieldType::Text, LiteralKind::Str(text)) => Some(Value::Text(text.clone())),
            (FieldType::Choice(values), LiteralKind::Str(text)) => {
                if values.contains(text) {
                    Some(Value::Text(text.clone()))
                } else {
                    let listed: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
                    let mut diagnostic = Diagnostic::error(
                        "unknown-choice-value",
                        literal.span,
                        format!("\"{text}\"不是`{name}`的选项"),
                    );
                    if let Some(best) = closest(text, values.iter().map(String::as_str)) {
                        diagnostic = diagnostic.with_hint(format!("是否想写\"{best}\"？"));
                    }
                    self.error(diagnostic.with_hint(format!("可选的值有：{}", listed.join("、"))));
                    None
                }
            }
            _ => {
                self.error(mismatch(found));
                None
            }
        }
    }
}

impl WorkflowChecker<'_> {
    /// Facts come from the registry, which knows an institution by its
    /// credit code; when it does not, the applicant declares them and
    /// uploads the material that proves each. So a workflow with facts asks
    /// for the credit code, and each fact names its evidence; a form field
    /// names none (what the applicant types is the evidence itself).
    pub(super) fn facts_proven(
        &mut self,
        singles: &Singles<'_>,
        materials: &[Material],
        form_ids: &BTreeSet<String>,
    ) {
        for field in singles.form.unwrap_or_default() {
            if let Some(evidence) = &field.evidence {
                self.error(
                    Diagnostic::error(
                        "evidence-on-form-field",
                        evidence.span,
                        format!(
                            "表单项`{}`不需要证明材料：`evidence`只用于登记信息（facts）",
                            field.id.name
                        ),
                    )
                    .with_hint("删去`evidence`，或把该项移入`facts`"),
                );
            }
        }
        let facts = singles.facts.unwrap_or_default();
        for fact in facts {
            match &fact.evidence {
                None => self.error(
                    Diagnostic::error(
                        "fact-without-evidence",
                        fact.id.span,
                        format!("登记信息`{}`没有写明证明材料：登记系统不掌握该机构时，申请人须申报并上传证明", fact.id.name),
                    )
                    .with_hint("在该项后写`evidence <材料>`，材料取自`materials`"),
                ),
                Some(evidence) if !materials.iter().any(|m| m.id == evidence.name) => {
                    let known: Vec<&str> = materials.iter().map(|m| m.id.as_str()).collect();
                    self.error(
                        Diagnostic::error(
                            "unknown-evidence",
                            evidence.span,
                            format!("证明材料`{}`不在材料清单中", evidence.name),
                        )
                        .suggest(&evidence.name, known.iter().copied())
                        .with_hint(format!("材料清单有：{}", known.join("、"))),
                    );
                }
                Some(_) => {}
            }
        }
        let asks_code = self.fields.iter().any(|field| {
            form_ids.contains(&field.id)
                && field.id == CREDIT_CODE_FIELD
                && field.ty == FieldType::CreditCode
        });
        if let (Some(first), false) = (facts.first(), asks_code) {
            self.error(
                Diagnostic::error(
                    "facts-without-credit-code",
                    first.id.span,
                    "有登记信息（facts）的事项须在表单中询问统一社会信用代码，登记系统据此查找机构",
                )
                .with_hint(format!(
                    "在`form`中加入`{CREDIT_CODE_FIELD}: credit_code \"统一社会信用代码\" required`"
                )),
            );
        }
    }
}
