//! Working days, from data.
//!
//! `calendars/<region>/<year>.toml` lists a year's statutory holidays and the
//! weekend days made working days (调休), as staff copy them from the State
//! Council's notice each November. Nothing here is a weekday formula beyond
//! "Saturday and Sunday rest unless listed as working days". A date in a
//! year no file covers is an error, never a guess.
//!
//! Counting follows Civil Code art. 201: a period starts the day after its
//! triggering event, so `add_workdays(d, 1)` is the first working day after `d`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use jiff::civil::{Date, Weekday};
use serde::Deserialize;

/// A loaded calendar: one national base, optionally overlaid by a region.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    years: BTreeMap<i16, Year>,
}

#[derive(Debug, Clone, Default)]
struct Year {
    /// Dates off work, with the holiday's name.
    holidays: BTreeMap<Date, String>,
    /// Weekend dates that are working days, with the reason.
    workdays: BTreeMap<Date, String>,
    sources: Vec<String>,
    /// No notice yet: weekends and fixed-date holidays only.
    provisional: bool,
}

/// The statutory holidays that fall on the same calendar date every year.
const FIXED_HOLIDAYS: [(i8, i8, &str); 6] = [
    (1, 1, "元旦"),
    (5, 1, "劳动节"),
    (5, 2, "劳动节"),
    (10, 1, "国庆节"),
    (10, 2, "国庆节"),
    (10, 3, "国庆节"),
];

/// Provisional years after the last calendar file.
const PROVISIONAL_YEARS: i16 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarError {
    /// No calendar file covers this year.
    YearNotLoaded { year: i16, date: Date },
    /// A calendar file is malformed or contradicts itself.
    Invalid { path: String, message: String },
}

impl fmt::Display for CalendarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CalendarError::YearNotLoaded { year, date } => write!(
                f,
                "no working-day calendar for {year} (needed for {date}): add calendars/cn/{year}.toml from the State Council's notice"
            ),
            CalendarError::Invalid { path, message } => write!(f, "{path}: {message}"),
        }
    }
}

impl std::error::Error for CalendarError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearFile {
    region: String,
    year: i16,
    source: String,
    #[serde(default)]
    holidays: Vec<HolidayEntry>,
    #[serde(default)]
    workdays: Vec<WorkdayEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayEntry {
    from: String,
    to: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkdayEntry {
    date: String,
    name: String,
}

/// The last day of a period of `months` months whose first day is `start`:
/// the day before the corresponding day N months on, or the last day of
/// that month when it has no corresponding day (Civil Code art. 202).
pub fn months_end(start: Date, months: u32) -> Option<Date> {
    let target = start
        .checked_add(jiff::Span::new().months(i64::from(months)))
        .ok()?;
    if target.day() != start.day() {
        // No corresponding day: jiff stopped at the month's last day.
        return Some(target);
    }
    target.yesterday().ok()
}

/// A date as Chinese documents and pages write it: 2026年12月7日.
pub fn chinese_date(day: Date) -> String {
    format!("{}年{}月{}日", day.year(), day.month(), day.day())
}

/// Said after a date in a provisional year.
pub const PROVISIONAL_NOTE: &str = "（暂定：该年节假日安排尚未公布，公布后可能调整）";

impl Calendar {
    /// Loads `dir/cn/*.toml`, then `dir/<region>/*.toml` on top when `region`
    /// is not `cn` (local holidays such as a prefecture's festival).
    ///
    /// # Errors
    /// An unreadable file, or any [`CalendarError::Invalid`] of [`Calendar::from_files`].
    pub fn load(dir: &Path, region: &str) -> Result<Calendar, CalendarError> {
        Calendar::with_provisional_years(&Calendar::read_files(dir, region)?)
    }

    /// Builds a calendar from `(region, path, text)` files as
    /// [`Calendar::from_files`], with the provisional years after the last.
    ///
    /// # Errors
    /// As [`Calendar::from_files`].
    pub fn with_provisional_years(
        files: &[(String, String, String)],
    ) -> Result<Calendar, CalendarError> {
        let mut calendar = Calendar::from_files(files)?;
        calendar.add_provisional_years();
        Ok(calendar)
    }

    /// The year files of `dir/cn/` and, when `region` is not `cn`,
    /// `dir/<region>/`, as `(region, path, text)`, base region first.
    ///
    /// # Errors
    /// An unreadable folder or file.
    pub fn read_files(
        dir: &Path,
        region: &str,
    ) -> Result<Vec<(String, String, String)>, CalendarError> {
        let mut files = Vec::new();
        let mut regions = vec!["cn"];
        if region != "cn" {
            regions.push(region);
        }
        for name in regions {
            let folder = dir.join(name);
            let entries = std::fs::read_dir(&folder).map_err(|error| CalendarError::Invalid {
                path: folder.display().to_string(),
                message: error.to_string(),
            })?;
            let mut paths: Vec<_> = entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|e| e == "toml"))
                .collect();
            paths.sort();
            for path in paths {
                let text =
                    std::fs::read_to_string(&path).map_err(|error| CalendarError::Invalid {
                        path: path.display().to_string(),
                        message: error.to_string(),
                    })?;
                files.push((name.to_string(), path.display().to_string(), text));
            }
        }
        Ok(files)
    }

    /// Adds the provisional years: any year missing between the loaded
    /// ones (a file for the year after next added before next year's), and
    /// those after the last.
    fn add_provisional_years(&mut self) {
        let (Some(first), Some(last)) = (
            self.years.keys().next().copied(),
            self.years.keys().next_back().copied(),
        ) else {
            return;
        };
        let missing: Vec<i16> = (first..=last + PROVISIONAL_YEARS)
            .filter(|year| !self.years.contains_key(year))
            .collect();
        for year in missing {
            let holidays = FIXED_HOLIDAYS
                .iter()
                .filter_map(|(month, day, name)| {
                    Some((Date::new(year, *month, *day).ok()?, (*name).to_string()))
                })
                .collect();
            self.years.insert(
                year,
                Year {
                    holidays,
                    workdays: BTreeMap::new(),
                    sources: vec![format!(
                        "暂定：{year}年节假日安排尚未公布，仅按周末和固定日期的法定节假日计算"
                    )],
                    provisional: true,
                },
            );
        }
    }

    /// Whether `date` lies in a provisional year: any date counted across
    /// it may move when the year's notice is added.
    pub fn is_provisional(&self, date: Date) -> bool {
        self.years
            .get(&date.year())
            .is_some_and(|year| year.provisional)
    }

    /// A date as people are told it (mails, documents): marked when its
    /// year's holidays are not yet published, so it may still move.
    pub fn describe(&self, date: Date) -> String {
        format!("{}{}", chinese_date(date), self.note(date))
    }

    /// What follows a date people are told: empty, or [`PROVISIONAL_NOTE`].
    pub fn note(&self, date: Date) -> &'static str {
        if self.is_provisional(date) {
            PROVISIONAL_NOTE
        } else {
            ""
        }
    }

    /// The years computed provisionally, for the warning staff see.
    pub fn provisional_years(&self) -> Vec<i16> {
        self.years
            .iter()
            .filter(|(_, year)| year.provisional)
            .map(|(number, _)| *number)
            .collect()
    }

    /// Builds a calendar from `(region, path, text)` files, base region first.
    ///
    /// # Errors
    /// [`CalendarError::Invalid`] for malformed TOML, a file whose `region`
    /// is not its folder's, a date outside the file's year, a range that
    /// ends before it starts, or a date that is both a holiday and a working day.
    pub fn from_files(files: &[(String, String, String)]) -> Result<Calendar, CalendarError> {
        let mut calendar = Calendar::default();
        for (region, path, text) in files {
            let invalid = |message: String| CalendarError::Invalid {
                path: path.clone(),
                message,
            };
            let file: YearFile =
                toml::from_str(text).map_err(|error| invalid(error.to_string()))?;
            if &file.region != region {
                return Err(invalid(format!(
                    "the file says region `{}` but lies in the folder of `{region}`",
                    file.region
                )));
            }
            let parse = |text: &str| -> Result<Date, CalendarError> {
                let date: Date = text
                    .parse()
                    .map_err(|_| invalid(format!("`{text}` is not a date (YYYY-MM-DD)")))?;
                if date.year() != file.year {
                    return Err(invalid(format!("{date} lies outside {}", file.year)));
                }
                Ok(date)
            };
            let year = calendar.years.entry(file.year).or_default();
            year.sources.push(file.source.clone());
            for holiday in &file.holidays {
                let (from, to) = (parse(&holiday.from)?, parse(&holiday.to)?);
                if to < from {
                    return Err(invalid(format!(
                        "holiday `{}` ends before it starts",
                        holiday.name
                    )));
                }
                let mut day = from;
                while day <= to {
                    year.holidays.insert(day, holiday.name.clone());
                    day = day.tomorrow().map_err(|e| invalid(e.to_string()))?;
                }
            }
            for workday in &file.workdays {
                let date = parse(&workday.date)?;
                if !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday) {
                    return Err(invalid(format!(
                        "{date} is a {:?}: a make-up working day (`{}`) falls on a Saturday or Sunday",
                        date.weekday(),
                        workday.name
                    )));
                }
                year.workdays.insert(date, workday.name.clone());
            }
            if let Some(date) = year
                .holidays
                .keys()
                .find(|date| year.workdays.contains_key(date))
            {
                return Err(invalid(format!(
                    "{date} is listed both as a holiday and as a working day"
                )));
            }
        }
        Ok(calendar)
    }

    /// Where a year's days come from: the notices' titles, or a note that
    /// the year is provisional.
    pub fn sources(&self, year: i16) -> &[String] {
        self.years.get(&year).map_or(&[], |y| y.sources.as_slice())
    }

    /// The years this calendar covers.
    pub fn years(&self) -> impl Iterator<Item = i16> + '_ {
        self.years.keys().copied()
    }

    fn year(&self, date: Date) -> Result<&Year, CalendarError> {
        self.years
            .get(&date.year())
            .ok_or(CalendarError::YearNotLoaded {
                year: date.year(),
                date,
            })
    }

    /// Whether `date` is a working day.
    ///
    /// # Errors
    /// [`CalendarError::YearNotLoaded`] outside the loaded years.
    pub fn is_workday(&self, date: Date) -> Result<bool, CalendarError> {
        let year = self.year(date)?;
        if year.workdays.contains_key(&date) {
            return Ok(true);
        }
        if year.holidays.contains_key(&date) {
            return Ok(false);
        }
        Ok(!matches!(
            date.weekday(),
            Weekday::Saturday | Weekday::Sunday
        ))
    }

    /// The name of the holiday on `date`, if it is one.
    pub fn holiday(&self, date: Date) -> Option<&str> {
        self.years
            .get(&date.year())?
            .holidays
            .get(&date)
            .map(String::as_str)
    }

    /// The `count`-th working day after `start` (`count` 0 is `start` itself).
    ///
    /// # Errors
    /// [`CalendarError::YearNotLoaded`] when the count runs into a year no file covers.
    pub fn add_workdays(&self, start: Date, count: u32) -> Result<Date, CalendarError> {
        self.add_workdays_except(start, count, |_| false)
    }

    /// Like [`Calendar::add_workdays`], but days for which `stopped` holds do
    /// not count: the clock does not run while a filing is paused.
    ///
    /// # Errors
    /// As [`Calendar::add_workdays`].
    pub fn add_workdays_except(
        &self,
        start: Date,
        count: u32,
        stopped: impl Fn(Date) -> bool,
    ) -> Result<Date, CalendarError> {
        let mut day = start;
        let mut counted = 0;
        while counted < count {
            day = next_day(day)?;
            if self.is_workday(day)? && !stopped(day) {
                counted += 1;
            }
        }
        Ok(day)
    }

    /// Working days in `(from, to]`; zero when `to <= from`.
    ///
    /// # Errors
    /// [`CalendarError::YearNotLoaded`] for a day in a year no file covers.
    pub fn workdays_between(&self, from: Date, to: Date) -> Result<u32, CalendarError> {
        self.workdays_between_except(from, to, |_| false)
    }

    /// Working days in `(from, to]` on which `stopped` does not hold.
    ///
    /// # Errors
    /// As [`Calendar::workdays_between`].
    pub fn workdays_between_except(
        &self,
        from: Date,
        to: Date,
        stopped: impl Fn(Date) -> bool,
    ) -> Result<u32, CalendarError> {
        let mut day = from;
        let mut counted = 0;
        while day < to {
            day = next_day(day)?;
            if self.is_workday(day)? && !stopped(day) {
                counted += 1;
            }
        }
        Ok(counted)
    }
}

fn next_day(day: Date) -> Result<Date, CalendarError> {
    day.tomorrow().map_err(|_| CalendarError::YearNotLoaded {
        year: day.year(),
        date: day,
    })
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn national() -> Calendar {
        Calendar::load(
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/calendars")),
            "cn",
        )
        .expect("calendars")
    }

    #[test]
    fn weekends_rest_and_make_up_days_work() {
        let calendar = national();
        assert!(calendar.is_workday(date(2026, 11, 20)).unwrap(), "a Friday");
        assert!(
            !calendar.is_workday(date(2026, 11, 21)).unwrap(),
            "a Saturday"
        );
        assert!(
            calendar.is_workday(date(2026, 2, 14)).unwrap(),
            "Saturday made a working day for the Spring Festival"
        );
        assert!(
            !calendar.is_workday(date(2026, 2, 16)).unwrap(),
            "a Monday of the Spring Festival"
        );
        assert_eq!(calendar.holiday(date(2026, 10, 5)), Some("国庆节"));
        assert!(
            calendar.is_workday(date(2025, 9, 28)).unwrap(),
            "Sunday made a working day for National Day"
        );
    }

    #[test]
    fn dates_in_a_provisional_year_are_told_as_such() {
        let calendar = national();
        let last = calendar
            .years()
            .filter(|y| !calendar.provisional_years().contains(y))
            .max()
            .unwrap();
        let known = date(last, 6, 1);
        let later = date(last + 1, 6, 1);
        assert_eq!(calendar.describe(known), chinese_date(known));
        assert_eq!(
            calendar.describe(later),
            format!("{}{PROVISIONAL_NOTE}", chinese_date(later))
        );
    }

    #[test]
    fn counting_starts_the_day_after() {
        let calendar = national();
        // Friday 2026-11-20: the first working day after it is Monday the 23rd.
        assert_eq!(
            calendar.add_workdays(date(2026, 11, 20), 1).unwrap(),
            date(2026, 11, 23)
        );
        assert_eq!(
            calendar.add_workdays(date(2026, 11, 20), 0).unwrap(),
            date(2026, 11, 20)
        );
        assert_eq!(
            calendar
                .workdays_between(date(2026, 11, 20), date(2026, 11, 23))
                .unwrap(),
            1
        );
    }

    #[test]
    fn five_working_days_across_the_spring_festival() {
        let calendar = national();
        // Received Thursday 2026-02-12: Fri 13, Sat 14 (调休), then the festival
        // 15–23 rests, Tue 24, Wed 25, Thu 26.
        assert_eq!(
            calendar.add_workdays(date(2026, 2, 12), 5).unwrap(),
            date(2026, 2, 26)
        );
        // Twenty working days from Friday 2026-09-18: Sun 9/20 (调休) is 1,
        // 9/21–24 are 2–5, Mid-Autumn 9/25–27 rests, 9/28–30 are 6–8,
        // National Day 10/1–7 rests, 10/8–9 are 9–10, Sat 10/10 (调休) is 11,
        // 10/12–16 are 12–16, 10/19–22 are 17–20.
        let due = calendar.add_workdays(date(2026, 9, 18), 20).unwrap();
        assert_eq!(
            calendar.workdays_between(date(2026, 9, 18), due).unwrap(),
            20
        );
        assert_eq!(due, date(2026, 10, 22));
    }

    #[test]
    fn the_years_after_the_last_file_are_provisional_and_beyond_them_an_error() {
        let calendar = national();
        // 2027 has no file: counted on weekends and fixed-date holidays.
        let due = calendar.add_workdays(date(2026, 12, 20), 20).unwrap();
        assert_eq!(
            due,
            date(2027, 1, 18),
            "1 January rests, no other 2027 holiday known"
        );
        assert!(calendar.is_provisional(due));
        assert!(!calendar.is_provisional(date(2026, 12, 31)));
        assert!(
            !calendar.is_workday(date(2028, 5, 2)).unwrap(),
            "劳动节 is 1–2 May"
        );
        let error = calendar.add_workdays(date(2028, 12, 20), 20).unwrap_err();
        assert!(
            matches!(error, CalendarError::YearNotLoaded { year: 2029, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("calendars/cn/2029.toml"));
        // Before the first file there is nothing to go on.
        assert!(calendar.is_workday(date(2024, 6, 3)).is_err());
    }

    /// Regression: a file for the year after next added before next
    /// year's left next year unloaded, so every limit running into it failed.
    #[test]
    fn a_year_missing_between_two_files_is_provisional_not_unknown() {
        let mut files = Calendar::read_files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("calendars"),
            "cn",
        )
        .unwrap();
        files.push((
            "cn".into(),
            "2028.toml".into(),
            "region = \"cn\"\nyear = 2028\nsource = \"s\"\nholidays = [{ from = \"2028-02-29\", to = \"2028-02-29\", name = \"测试\" }]\n".into(),
        ));
        let calendar = Calendar::with_provisional_years(&files).unwrap();
        assert!(calendar.is_provisional(date(2027, 6, 1)));
        assert_eq!(
            calendar.add_workdays(date(2026, 12, 31), 1).unwrap(),
            date(2027, 1, 4),
            "1 January rests, 2–3 January are a weekend"
        );
        assert!(!calendar.is_provisional(date(2028, 2, 29)));
        assert!(!calendar.is_workday(date(2028, 2, 29)).unwrap());
        assert_eq!(calendar.provisional_years(), vec![2027, 2029, 2030]);
    }

    #[test]
    fn stopped_days_do_not_count() {
        let calendar = national();
        let stopped = |day: Date| (date(2026, 11, 23)..=date(2026, 11, 27)).contains(&day);
        // A week stopped: five working days later than without the pause.
        let plain = calendar.add_workdays(date(2026, 11, 20), 3).unwrap();
        let paused = calendar
            .add_workdays_except(date(2026, 11, 20), 3, stopped)
            .unwrap();
        assert_eq!(plain, date(2026, 11, 25));
        assert_eq!(paused, date(2026, 12, 2));
    }

    #[test]
    fn contradictory_or_misplaced_files_are_refused() {
        let file = |text: &str| vec![("cn".to_string(), "cn/x.toml".to_string(), text.to_string())];
        let both = "region = \"cn\"\nyear = 2026\nsource = \"s\"\nholidays = [{ from = \"2026-01-01\", to = \"2026-01-03\", name = \"元旦\" }]\nworkdays = [{ date = \"2026-01-03\", name = \"x\" }]\n";
        assert!(Calendar::from_files(&file(both))
            .unwrap_err()
            .to_string()
            .contains("both"));
        let weekday = "region = \"cn\"\nyear = 2026\nsource = \"s\"\nworkdays = [{ date = \"2026-01-05\", name = \"调休上班\" }]\n";
        assert!(Calendar::from_files(&file(weekday))
            .unwrap_err()
            .to_string()
            .contains("falls on a Saturday or Sunday"));
        let outside = "region = \"cn\"\nyear = 2026\nsource = \"s\"\nworkdays = [{ date = \"2027-01-02\", name = \"x\" }]\n";
        assert!(Calendar::from_files(&file(outside))
            .unwrap_err()
            .to_string()
            .contains("outside 2026"));
        let region = "region = \"yn\"\nyear = 2026\nsource = \"s\"\n";
        assert!(Calendar::from_files(&file(region))
            .unwrap_err()
            .to_string()
            .contains("region"));
        let typo = "region = \"cn\"\nyear = 2026\nsource = \"s\"\nholiday = []\n";
        assert!(Calendar::from_files(&file(typo)).is_err());
    }
}
