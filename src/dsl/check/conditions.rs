//! The checker: conditions, rules and their types.

use super::*;

impl<'a> WorkflowChecker<'a> {
    pub(super) fn cond(&mut self, expr: &Expr) -> Option<Cond> {
        match &expr.kind {
            ExprKind::Or(items) | ExprKind::And(items) => {
                let checked: Vec<Option<Cond>> = items.iter().map(|item| self.cond(item)).collect();
                let checked: Option<Vec<Cond>> = checked.into_iter().collect();
                let checked = checked?;
                Some(if matches!(expr.kind, ExprKind::Or(_)) {
                    Cond::Or(checked)
                } else {
                    Cond::And(checked)
                })
            }
            ExprKind::Not(inner) => Some(Cond::Not(Box::new(self.cond(inner)?))),
            ExprKind::Field(ident) => {
                let field = self.resolve_field(ident)?;
                if field.ty == FieldType::Bool {
                    Some(Cond::Is(ident.name.clone()))
                } else {
                    let example = match field.ty {
                        FieldType::Int | FieldType::Money => format!("{} > 0", ident.name),
                        _ => format!("{} == \"…\"", ident.name),
                    };
                    let diagnostic = Diagnostic::error(
                        "type-mismatch",
                        ident.span,
                        format!(
                            "`{}`是{}类型，不是“是/否”，不能单独作为条件",
                            ident.name,
                            type_words(field.ty.name())
                        ),
                    )
                    .with_hint(format!("请写成比较，例如`{example}`"));
                    self.error(diagnostic);
                    None
                }
            }
            ExprKind::Compare { field, op, value } => {
                let resolved = self.resolve_field(field)?;
                let ordered = matches!(
                    resolved.ty,
                    FieldType::Int | FieldType::Money | FieldType::Date
                );
                let equality = matches!(op, CmpOp::Eq | CmpOp::Ne);
                if resolved.ty == FieldType::List || (!ordered && !equality) {
                    let hint = if resolved.ty == FieldType::List {
                        "列表只能填写，不能比较"
                    } else {
                        "请用`==`、`!=`或`in (...)`"
                    };
                    let diagnostic = Diagnostic::error(
                        "type-mismatch",
                        expr.span,
                        format!(
                            "`{}`是{}类型，不能用`{}`比较",
                            field.name,
                            type_words(resolved.ty.name()),
                            op.symbol()
                        ),
                    )
                    .with_hint(hint);
                    self.error(diagnostic);
                    return None;
                }
                let value = self.value(value, &resolved, field)?;
                Some(Cond::Compare {
                    field: field.name.clone(),
                    op: *op,
                    value,
                })
            }
            ExprKind::In {
                field,
                negated,
                values,
            } => {
                let resolved = self.resolve_field(field)?;
                if resolved.ty == FieldType::List {
                    self.error(Diagnostic::error(
                        "type-mismatch",
                        expr.span,
                        format!("`{}`是列表，不能用`in`判断", field.name),
                    ));
                    return None;
                }
                let typed: Vec<Option<Value>> = values
                    .iter()
                    .map(|v| self.value(v, &resolved, field))
                    .collect();
                let typed: Vec<Value> = typed.into_iter().collect::<Option<_>>()?;
                let membership = Cond::In {
                    field: field.name.clone(),
                    values: typed,
                };
                Some(if *negated {
                    Cond::Not(Box::new(membership))
                } else {
                    membership
                })
            }
        }
    }

    pub(super) fn resolve_field(&mut self, ident: &Ident) -> Option<Field> {
        if let Some(field) = self.fields.iter().find(|f| f.id == ident.name) {
            return Some(field.clone());
        }
        let names: Vec<&str> = self.fields.iter().map(|f| f.id.as_str()).collect();
        let diagnostic = Diagnostic::error(
            "unknown-field",
            ident.span,
            format!("未知栏目`{}`", ident.name),
        )
        .suggest(&ident.name, names);
        self.error(diagnostic);
        None
    }

    /// Types a condition and reports it when it can never hold on its own.
    pub(super) fn condition(&mut self, expr: &Expr) -> Option<Cond> {
        let cond = self.cond(expr)?;
        if !self.satisfiable(&[&cond]) {
            self.error(
                Diagnostic::error("never-holds", expr.span, "这个条件永远不会成立")
                    .with_hint("请核对各项比较之间、以及与栏目取值范围之间是否矛盾"),
            );
        }
        Some(cond)
    }

    pub(super) fn rule(&mut self, rule: &ast::RuleDef) -> Option<Rule> {
        let when = rule.when.as_ref().map(|expr| self.condition(expr));
        let require = self.cond(&rule.require)?;
        let when = match when {
            Some(Some(cond)) => Some(cond),
            Some(None) => return None,
            None => None,
        };
        Some(Rule {
            message: rule.message.value.clone(),
            when,
            require,
        })
    }
}
