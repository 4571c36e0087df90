//! The registry's rules: what a decision registers and for how long.
//!
//! One home for the terms that the documents print and the store records,
//! so the agreement PDF's "valid until" and the registry's term end cannot
//! disagree. Pure: dates in, dates out; the store writes what these decide.
//!
//! Months are added as the Civil Code counts them (art. 202): a term of N
//! months from the 31st ends on the last day of the month when the target
//! month is shorter, and a term ends the day before its anniversary.

use crate::calendar::months_end;
use jiff::civil::Date;

use crate::dsl::ir::{Obligation, Recurring, Value, Workflow};
use crate::engine::Filing;

/// How long a licence issued without a stated term runs.
pub const LICENCE_YEARS: i64 = 5;

/// An agreement's term when its definition states no renewal period.
pub const DEFAULT_AGREEMENT_MONTHS: u32 = 12;

/// How many days before a term ends the renewal is reminded, by default.
pub const DEFAULT_REMINDER_DAYS: u32 = 30;

/// The form field that holds an agreement's first day.
pub const TERM_START_FIELD: &str = "term_start";

/// A period from its first day to its last, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    pub start: Date,
    pub end: Date,
}

/// The workflow's recurring obligation of a kind (`every N months renew …`).
pub fn obligation(workflow: &Workflow, kind: Obligation) -> Option<&Recurring> {
    workflow
        .recurring
        .iter()
        .find(|recurring| recurring.kind == kind)
}

/// The workflow's renewal obligation, if any.
pub fn renewal(workflow: &Workflow) -> Option<&Recurring> {
    obligation(workflow, Obligation::Renew)
}

/// The day an obligation falling due on `due` is reminded: its
/// `remind N days before`, else [`DEFAULT_REMINDER_DAYS`].
fn reminder_before(recurring: Option<&Recurring>, due: Date) -> Option<Date> {
    let days = recurring
        .and_then(|r| r.remind_days)
        .unwrap_or(DEFAULT_REMINDER_DAYS);
    due.checked_sub(jiff::Span::new().days(i64::from(days)))
        .ok()
}

/// An agreement's term: from the filing's `term_start` for the definition's
/// renewal period (a year when it states none). `None` when the filing has
/// no start date.
pub fn agreement_term(workflow: &Workflow, filing: &Filing) -> Option<Term> {
    let Some(Value::Date(start)) = filing.values.get(TERM_START_FIELD) else {
        return None;
    };
    let months = renewal(workflow).map_or(DEFAULT_AGREEMENT_MONTHS, |r| r.every_months);
    Some(Term {
        start: *start,
        end: months_end(*start, months)?,
    })
}

/// The last day a document stays valid: an agreement's term end, else a
/// licence's five years from its issue.
pub fn valid_until(workflow: &Workflow, filing: &Filing, issued_on: Date) -> Option<Date> {
    match agreement_term(workflow, filing) {
        Some(term) => Some(term.end),
        None => months_end(issued_on, LICENCE_YEARS as u32 * 12),
    }
}

/// The day the renewal of a term is reminded.
pub fn renewal_reminder_on(workflow: &Workflow, term: Term) -> Option<Date> {
    reminder_before(renewal(workflow), term.end)
}

/// The next periodic evaluation after a decision on `decided`: its due day
/// (a period of the obligation's months later) and the day it is reminded.
pub fn next_evaluation(workflow: &Workflow, decided: Date) -> Option<(Date, Date)> {
    let evaluation = obligation(workflow, Obligation::Evaluate)?;
    let due = months_end(decided.tomorrow().ok()?, evaluation.every_months)?;
    Some((due, reminder_before(Some(evaluation), due)?))
}

/// The fact the registry derives from an institution's opening date.
pub const MONTHS_OPERATING: &str = "months_operating";

/// The first day on which an institution opened on `opened` has operated
/// `months` whole months: the day after the period's last day, the period
/// counted as the Civil Code counts it (art. 201: from the day after the
/// opening; art. 202: to the corresponding day, or the month's last day).
pub fn operating_since(opened: Date, months: i64) -> Option<Date> {
    let months = u32::try_from(months).ok()?;
    months_end(opened.tomorrow().ok()?, months)?.tomorrow().ok()
}

/// The latest day an institution could have opened to have operated
/// `months` whole months on `today` (for sample and test registries).
pub fn opened_months_before(today: Date, months: i64) -> Option<Date> {
    let mut opened = today;
    while months_operating(opened, today) < months {
        opened = opened.yesterday().ok()?;
    }
    Some(opened)
}

/// The earliest day an institution opened on `opened` meets the
/// workflow's rules on months of operation (`months_operating >= N`),
/// each with the rule's message; what an ineligible applicant is told.
pub fn eligible_from(workflow: &Workflow, opened: Date) -> Vec<(String, Date)> {
    use crate::dsl::ast::CmpOp;
    use crate::dsl::ir::Cond;
    workflow
        .rules
        .iter()
        .filter_map(|rule| {
            let Cond::Compare {
                field,
                op,
                value: Value::Int(months),
            } = &rule.require
            else {
                return None;
            };
            let months = match op {
                _ if field != MONTHS_OPERATING => return None,
                CmpOp::Ge => *months,
                CmpOp::Gt => months + 1,
                _ => return None,
            };
            Some((rule.message.clone(), operating_since(opened, months)?))
        })
        .collect()
}

/// Whole months an institution opened on `opened` has operated when
/// `today` begins: the periods of months, counted as [`operating_since`]
/// counts them, that ended before today (0 before it opened). The one count
/// of months of operation.
pub fn months_operating(opened: Date, today: Date) -> i64 {
    // A first guess from the calendar months between, then the law's count.
    let guess =
        i64::from(today.year() - opened.year()) * 12 + i64::from(today.month() - opened.month());
    let mut months = (guess - 1).max(0);
    while months > 0 && operating_since(opened, months).is_none_or(|day| day > today) {
        months -= 1;
    }
    while operating_since(opened, months + 1).is_some_and(|day| day <= today) {
        months += 1;
    }
    months
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn a_term_ends_the_day_before_its_anniversary() {
        assert_eq!(months_end(date(2026, 3, 1), 12), Some(date(2027, 2, 28)));
        assert_eq!(months_end(date(2026, 3, 1), 24), Some(date(2028, 2, 29)));
    }

    #[test]
    fn month_ends_follow_the_civil_code() {
        // From 31 January, one month runs to the end of February.
        assert_eq!(months_end(date(2026, 1, 31), 1), Some(date(2026, 2, 28)));
        assert_eq!(months_end(date(2026, 1, 15), 1), Some(date(2026, 2, 14)));
        assert_eq!(months_operating(date(2026, 5, 1), date(2026, 4, 30)), 0);
    }

    #[test]
    fn months_of_operation_are_counted_as_the_civil_code_counts_periods() {
        // Opened 31 January: the first month's period runs 1 February to
        // 28 February (no 31st), the third's ends on 30 April; three whole
        // months on 1 May, as months_end says of a term from 1 February.
        let opened = date(2026, 1, 31);
        assert_eq!(months_end(date(2026, 2, 1), 3), Some(date(2026, 4, 30)));
        assert_eq!(operating_since(opened, 3), Some(date(2026, 5, 1)));
        assert_eq!(months_operating(opened, date(2026, 4, 30)), 2);
        assert_eq!(months_operating(opened, date(2026, 5, 1)), 3);
        assert_eq!(months_operating(opened, date(2026, 2, 28)), 0);
        assert_eq!(months_operating(opened, date(2026, 3, 1)), 1);
        // Opened 30 November: three months end on 28 February.
        assert_eq!(
            operating_since(date(2026, 11, 30), 3),
            Some(date(2027, 3, 1))
        );
        // Opened 1 June: the start day is not counted (art. 201), the third
        // month's period ends on 1 September.
        assert_eq!(operating_since(date(2026, 6, 1), 3), Some(date(2026, 9, 2)));
        // The count and the day agree for every opening day of two years.
        let mut opened = date(2026, 1, 1);
        while opened < date(2028, 1, 1) {
            for months in [1, 3, 12] {
                let from = operating_since(opened, months).unwrap();
                assert_eq!(months_operating(opened, from), months, "{opened} {months}");
                let before = from.yesterday().unwrap();
                assert_eq!(
                    months_operating(opened, before),
                    months - 1,
                    "{opened} {months}"
                );
            }
            opened = opened.tomorrow().unwrap();
        }
    }
}
