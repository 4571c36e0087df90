//! Can a condition hold? A small decision procedure over form and fact values.
//!
//! Conditions are brought to disjunctive normal form; each conjunction folds
//! its comparisons into one constraint per field (an interval for numbers and
//! dates, a set of values for choices, a value for booleans, equalities for
//! text) and is dropped as soon as a constraint becomes empty. A condition can
//! hold when one conjunction survives. The field's declared range and choice
//! values are the starting domain, so `beds < 0` on `range 0..` never holds.
//!
//! The normal form can grow exponentially; past [`TERM_LIMIT`] conjunctions
//! the answer is "may hold", which is safe for every check that uses it
//! (the checker only reports conditions proven impossible).

use std::collections::BTreeMap;

use super::ast::CmpOp;
use super::ir::{Cond, Field, FieldType, Value};

pub const TERM_LIMIT: usize = 4096;

/// A literal of the negation normal form.
#[derive(Debug, Clone)]
enum Literal<'c> {
    Compare(&'c str, CmpOp, &'c Value),
    In(&'c str, &'c [Value], bool),
    Is(&'c str, bool),
}

/// Whether all `conditions` can hold at once for some values of the fields.
pub fn satisfiable<'f>(conditions: &[&Cond], fields: &impl Fn(&str) -> Option<&'f Field>) -> bool {
    let mut terms: Vec<Term> = vec![Term::default()];
    for condition in conditions {
        let dnf = match to_dnf(condition, false) {
            Some(dnf) => dnf,
            None => return true,
        };
        let mut next = Vec::new();
        for term in &terms {
            for conjunction in &dnf {
                let mut combined = term.clone();
                if conjunction
                    .iter()
                    .all(|literal| combined.add(literal, fields))
                {
                    next.push(combined);
                    if next.len() > TERM_LIMIT {
                        return true;
                    }
                }
            }
        }
        if next.is_empty() {
            return false;
        }
        terms = next;
    }
    !terms.is_empty()
}

/// The DNF of `condition` (negated when `negate`): a list of conjunctions.
/// `None` when it would exceed [`TERM_LIMIT`].
fn to_dnf(condition: &Cond, negate: bool) -> Option<Vec<Vec<Literal<'_>>>> {
    let (is_and, items) = match (condition, negate) {
        (Cond::Not(inner), _) => return to_dnf(inner, !negate),
        (Cond::And(items), false) | (Cond::Or(items), true) => (true, items),
        (Cond::Or(items), false) | (Cond::And(items), true) => (false, items),
        (Cond::Compare { field, op, value }, _) => {
            let op = if negate { negated(*op) } else { *op };
            return Some(vec![vec![Literal::Compare(field, op, value)]]);
        }
        (Cond::In { field, values }, _) => {
            return Some(vec![vec![Literal::In(field, values, negate)]])
        }
        (Cond::Is(field), _) => return Some(vec![vec![Literal::Is(field, !negate)]]),
    };
    if is_and {
        let mut product: Vec<Vec<Literal<'_>>> = vec![Vec::new()];
        for item in items {
            let dnf = to_dnf(item, negate)?;
            let mut next = Vec::with_capacity(product.len() * dnf.len());
            for left in &product {
                for right in &dnf {
                    let mut joined = left.clone();
                    joined.extend(right.iter().cloned());
                    next.push(joined);
                }
            }
            if next.len() > TERM_LIMIT {
                return None;
            }
            product = next;
        }
        Some(product)
    } else {
        let mut sum = Vec::new();
        for item in items {
            sum.extend(to_dnf(item, negate)?);
            if sum.len() > TERM_LIMIT {
                return None;
            }
        }
        Some(sum)
    }
}

fn negated(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Ge,
        CmpOp::Le => CmpOp::Gt,
        CmpOp::Gt => CmpOp::Le,
        CmpOp::Ge => CmpOp::Lt,
        CmpOp::Eq => CmpOp::Ne,
        CmpOp::Ne => CmpOp::Eq,
    }
}

/// One conjunction folded into a constraint per field.
#[derive(Debug, Clone, Default)]
struct Term {
    constraints: BTreeMap<String, Constraint>,
}

#[derive(Debug, Clone)]
enum Constraint {
    /// Numbers and dates: inclusive bounds in the field's scale, an optional
    /// set of allowed points (from `in`), and excluded points (from `!=`).
    Number {
        low: i64,
        high: i64,
        allowed: Option<Vec<i64>>,
        excluded: Vec<i64>,
    },
    /// Choices and text: an optional set of allowed values (all of a choice's
    /// values to begin with; any text when `None`) and excluded values.
    Set {
        allowed: Option<Vec<String>>,
        excluded: Vec<String>,
    },
    /// Which of the two values are still possible.
    Bool {
        can_be_true: bool,
        can_be_false: bool,
    },
    Unconstrained,
}

impl Term {
    /// Adds a literal; false when the conjunction can no longer hold.
    fn add<'f>(
        &mut self,
        literal: &Literal<'_>,
        fields: &impl Fn(&str) -> Option<&'f Field>,
    ) -> bool {
        let name = match literal {
            Literal::Compare(name, ..) | Literal::In(name, ..) | Literal::Is(name, _) => *name,
        };
        let Some(field) = fields(name) else {
            return true;
        };
        let constraint = self
            .constraints
            .entry(name.to_string())
            .or_insert_with(|| domain(field));
        constraint.apply(literal);
        constraint.possible()
    }
}

fn domain(field: &Field) -> Constraint {
    match &field.ty {
        FieldType::Int | FieldType::Money | FieldType::Date => Constraint::Number {
            low: field.min.unwrap_or(i64::MIN),
            high: field.max.unwrap_or(i64::MAX),
            allowed: None,
            excluded: Vec::new(),
        },
        FieldType::Choice(values) => Constraint::Set {
            allowed: Some(values.clone()),
            excluded: Vec::new(),
        },
        FieldType::Text | FieldType::CreditCode => Constraint::Set {
            allowed: None,
            excluded: Vec::new(),
        },
        FieldType::Bool => Constraint::Bool {
            can_be_true: true,
            can_be_false: true,
        },
        FieldType::List => Constraint::Unconstrained,
    }
}

/// The position of a value on its field's number line.
pub fn scalar(value: &Value) -> Option<i64> {
    match value {
        Value::Int(number) | Value::Money(number) => Some(*number),
        Value::Date(date) => {
            Some(date.since(jiff::civil::date(1970, 1, 1)).ok()?.get_days() as i64)
        }
        _ => None,
    }
}

fn text(value: &Value) -> Option<&str> {
    match value {
        Value::Text(text) => Some(text),
        _ => None,
    }
}

impl Constraint {
    fn apply(&mut self, literal: &Literal<'_>) {
        match (self, literal) {
            (
                Constraint::Bool {
                    can_be_true,
                    can_be_false,
                },
                literal,
            ) => {
                let allows = |candidate: bool| match literal {
                    Literal::Is(_, wanted) => candidate == *wanted,
                    Literal::Compare(_, CmpOp::Eq, Value::Bool(value)) => candidate == *value,
                    Literal::Compare(_, CmpOp::Ne, Value::Bool(value)) => candidate != *value,
                    Literal::In(_, values, negated) => {
                        values.contains(&Value::Bool(candidate)) != *negated
                    }
                    _ => true,
                };
                *can_be_true &= allows(true);
                *can_be_false &= allows(false);
            }
            (
                Constraint::Number {
                    low,
                    high,
                    excluded,
                    ..
                },
                Literal::Compare(_, op, value),
            ) => {
                let Some(point) = scalar(value) else { return };
                match op {
                    CmpOp::Lt => *high = (*high).min(point.saturating_sub(1)),
                    CmpOp::Le => *high = (*high).min(point),
                    CmpOp::Gt => *low = (*low).max(point.saturating_add(1)),
                    CmpOp::Ge => *low = (*low).max(point),
                    CmpOp::Eq => {
                        *low = (*low).max(point);
                        *high = (*high).min(point);
                    }
                    CmpOp::Ne => excluded.push(point),
                }
            }
            (
                Constraint::Number {
                    allowed, excluded, ..
                },
                Literal::In(_, values, negated),
            ) => {
                let points: Vec<i64> = values.iter().filter_map(scalar).collect();
                if *negated {
                    excluded.extend(points);
                } else {
                    *allowed = Some(match allowed.take() {
                        Some(current) => {
                            current.into_iter().filter(|p| points.contains(p)).collect()
                        }
                        None => points,
                    });
                }
            }
            (Constraint::Set { allowed, excluded }, Literal::Compare(_, op, value)) => {
                let Some(value) = text(value) else { return };
                match op {
                    CmpOp::Eq => intersect(allowed, &[value]),
                    CmpOp::Ne => excluded.push(value.to_string()),
                    _ => {}
                }
            }
            (Constraint::Set { allowed, excluded }, Literal::In(_, values, negated)) => {
                let values: Vec<&str> = values.iter().filter_map(text).collect();
                if *negated {
                    excluded.extend(values.iter().map(|v| v.to_string()));
                } else {
                    intersect(allowed, &values);
                }
            }
            _ => {}
        }
    }

    fn possible(&self) -> bool {
        match self {
            Constraint::Number {
                low,
                high,
                allowed,
                excluded,
            } => {
                if low > high {
                    return false;
                }
                let inside =
                    |point: &i64| low <= point && point <= high && !excluded.contains(point);
                match allowed {
                    Some(points) => points.iter().any(inside),
                    None => {
                        let mut holes: Vec<i64> = excluded
                            .iter()
                            .copied()
                            .filter(|p| low <= p && p <= high)
                            .collect();
                        holes.sort_unstable();
                        holes.dedup();
                        (*high as i128 - *low as i128 + 1) > holes.len() as i128
                    }
                }
            }
            Constraint::Set { allowed, excluded } => match allowed {
                Some(values) => values.iter().any(|value| !excluded.contains(value)),
                None => true,
            },
            Constraint::Bool {
                can_be_true,
                can_be_false,
            } => *can_be_true || *can_be_false,
            Constraint::Unconstrained => true,
        }
    }
}

fn intersect(allowed: &mut Option<Vec<String>>, values: &[&str]) {
    *allowed = Some(match allowed.take() {
        Some(current) => current
            .into_iter()
            .filter(|v| values.contains(&v.as_str()))
            .collect(),
        None => values.iter().map(|v| v.to_string()).collect(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int_field(id: &str, min: Option<i64>) -> Field {
        Field {
            id: id.to_string(),
            label: id.to_string(),
            ty: FieldType::Int,
            required: true,
            min,
            max: None,
            default: None,
            help: None,
            evidence: None,
        }
    }

    fn compare(field: &str, op: CmpOp, value: i64) -> Cond {
        Cond::Compare {
            field: field.to_string(),
            op,
            value: Value::Int(value),
        }
    }

    #[test]
    fn intervals_and_declared_ranges() {
        let beds = int_field("beds", Some(0));
        let lookup = |name: &str| (name == "beds").then_some(&beds);
        assert!(!satisfiable(&[&compare("beds", CmpOp::Lt, 0)], &lookup));
        assert!(satisfiable(&[&compare("beds", CmpOp::Lt, 1)], &lookup));
        let both = [
            compare("beds", CmpOp::Lt, 200),
            compare("beds", CmpOp::Ge, 200),
        ];
        assert!(!satisfiable(&[&both[0], &both[1]], &lookup));
        let excluded = Cond::And(vec![
            compare("beds", CmpOp::Ge, 3),
            compare("beds", CmpOp::Le, 3),
            compare("beds", CmpOp::Ne, 3),
        ]);
        assert!(!satisfiable(&[&excluded], &lookup));
    }

    #[test]
    fn negation_and_choices() {
        let kind = Field {
            ty: FieldType::Choice(vec!["诊所".into(), "护理院".into()]),
            ..int_field("kind", None)
        };
        let public = Field {
            ty: FieldType::Bool,
            ..int_field("public", None)
        };
        let lookup = |name: &str| match name {
            "kind" => Some(&kind),
            "public" => Some(&public),
            _ => None,
        };
        let clinic = Cond::Compare {
            field: "kind".into(),
            op: CmpOp::Eq,
            value: Value::Text("诊所".into()),
        };
        let neither = Cond::Not(Box::new(Cond::In {
            field: "kind".into(),
            values: vec![Value::Text("诊所".into()), Value::Text("护理院".into())],
        }));
        assert!(satisfiable(&[&clinic], &lookup));
        assert!(!satisfiable(&[&neither], &lookup));
        let is_public = Cond::Is("public".into());
        let not_public = Cond::Not(Box::new(Cond::Is("public".into())));
        assert!(!satisfiable(&[&is_public, &not_public], &lookup));
        let either = Cond::Or(vec![is_public.clone(), not_public.clone()]);
        assert!(satisfiable(&[&either, &clinic], &lookup));
    }
}
