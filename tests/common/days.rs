//! The days tests run on. A product whose subject is dates is tested on
//! the days that break things, each named with why, never on the day a test
//! happens to run.
//!
//! The repository's calendar files end with 2026 (`calendars/cn/`), so 2027
//! and 2028 are the provisional years (weekends and fixed-date holidays
//! only) until their notices are added.

use jiff::civil::{date, DateTime};

/// The day tests run on unless they are about a day of their own: a Monday
/// of an ordinary week of 2026 (its calendar published, no holiday for
/// weeks either way), late in the year, so the samples `load` files from
/// March are long overdue, as they were when the tests ran in December.
pub const ORDINARY_DAY: DateTime = date(2026, 11, 16).at(10, 0, 0, 0);

/// A day that breaks things, and why.
#[derive(Debug, Clone, Copy)]
pub struct Day {
    pub at: DateTime,
    pub why: &'static str,
}

/// The days on which dates go wrong if they can: every date-touching test
/// that is not about one day of its own runs on each.
pub const BREAKING_DAYS: [Day; 5] = [
    Day {
        at: date(2026, 12, 31).at(16, 30, 0, 0),
        why: "31 December, the last working day of the year and the last day the calendar \
              files cover: every limit ends in 2027, whose notice is not out",
    },
    Day {
        at: date(2027, 1, 4).at(9, 0, 0, 0),
        why: "the first working day of January 2027 (1 January a holiday, 2–3 a weekend), \
              in a provisional year",
    },
    Day {
        at: date(2026, 2, 14).at(10, 0, 0, 0),
        why: "a make-up Saturday (调休上班 before the Spring Festival, 15–23 February off): \
              a working day on a weekend, the next nine days not",
    },
    Day {
        at: date(2026, 9, 30).at(16, 30, 0, 0),
        why: "the day before the National Day Golden Week (1–7 October off, 10 October a \
              make-up Saturday)",
    },
    Day {
        at: date(2028, 2, 29).at(10, 0, 0, 0),
        why: "29 February 2028, a leap day in the second provisional year: months and \
              years counted from it have no corresponding day",
    },
];
