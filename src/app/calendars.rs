//! The working-day calendar as the policy staff keep it: the years loaded
//! and provisional, and a year's holidays and make-up working days added
//! or corrected — checked first, with the filings whose due dates it
//! moves, then put in service at once and those filings' reminders
//! scheduled again.

use jiff::civil::{Date, DateTime};

use super::accounts::Account;
use super::{App, AppError};
use crate::calendar::Calendar;
use crate::engine::{Actor, Command, Problem};
use crate::store::Request;

/// One year of the calendar.
#[derive(Debug, Clone)]
pub struct CalendarYear {
    pub year: i16,
    /// Counted on weekends and fixed-date holidays only, until its notice is added.
    pub provisional: bool,
    pub sources: Vec<String>,
}

/// A due date a new calendar moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub filing: String,
    /// A step's label, or 承诺办结日期 / 法定办结日期.
    pub what: String,
    pub before: Option<Date>,
    pub after: Option<Date>,
}

/// A year's file as checked: what it holds and what it would move.
#[derive(Debug, Clone)]
pub struct YearCheck {
    pub year: i16,
    pub holidays: usize,
    pub workdays: usize,
    /// Whether it replaces a file already in service.
    pub replaces: bool,
    pub moved: Vec<Moved>,
}

impl App {
    /// The calendar's years, oldest first.
    pub fn calendar_years(&self) -> Vec<CalendarYear> {
        let calendar = self.calendar();
        let provisional = calendar.provisional_years();
        calendar
            .years()
            .map(|year| CalendarYear {
                year,
                provisional: provisional.contains(&year),
                sources: calendar.sources(year).to_vec(),
            })
            .collect()
    }

    /// Checks a year's file (dates inside the year, make-up days only on
    /// weekends, no date both) and lists the due dates of open filings it
    /// would move; nothing changes.
    ///
    /// # Errors
    /// [`AppError::Invalid`] saying what is wrong with the file; a store
    /// failure.
    pub async fn check_calendar_year(
        &self,
        text: &str,
        today: Date,
    ) -> Result<YearCheck, AppError> {
        Ok(self.candidate(text, today).await?.0)
    }

    /// Puts a year's file in service: written to the calendars' folder,
    /// the calendar replaced at once, and every open filing whose dates it
    /// moves has its reminders scheduled again (an audited transition).
    ///
    /// # Errors
    /// As [`App::check_calendar_year`]; the file cannot be written.
    pub async fn add_calendar_year(
        &self,
        text: &str,
        account: &Account,
        now: DateTime,
    ) -> Result<YearCheck, AppError> {
        let (check, calendar, path) = self.candidate(text, now.date()).await?;
        std::fs::write(&path, text.replace("\r\n", "\n"))
            .map_err(|error| AppError::Config(format!("{}: {error}", path.display())))?;
        self.store.set_calendar(calendar);
        tracing::info!(year = check.year, by = %account.email, moved = check.moved.len(), "calendar year added");
        let mut filings: Vec<String> = check.moved.iter().map(|m| m.filing.clone()).collect();
        filings.dedup();
        let note = format!("{}年节假日安排由 {} 录入", check.year, account.email);
        self.recalendar(filings, &note, Some(&account.email), now)
            .await?;
        // Recorded last: were the process stopped before, the next start
        // would schedule them again.
        let fingerprint = self.calendar_fingerprint()?;
        self.store.set_calendar_fingerprint(&fingerprint).await?;
        Ok(check)
    }

    /// After a start: when the calendar files differ from those the open
    /// filings were last scheduled on (a year added or corrected by hand
    /// while the product was stopped), every open filing is scheduled
    /// again on them; then the files are recorded as applied. The number
    /// of filings rescheduled.
    ///
    /// # Errors
    /// An unreadable calendar folder; a store failure.
    pub async fn apply_calendar_changes(&self, now: DateTime) -> Result<usize, AppError> {
        let fingerprint = self.calendar_fingerprint()?;
        let known = self.store.calendar_fingerprint().await?;
        let mut rescheduled = 0;
        if known.as_deref().is_some_and(|known| known != fingerprint) {
            let open = self.store.open_filings().await?;
            rescheduled = self.recalendar(open, "日历文件已更新", None, now).await?;
            tracing::info!(
                rescheduled,
                "the calendar files changed: open filings scheduled again"
            );
        }
        self.store.set_calendar_fingerprint(&fingerprint).await?;
        Ok(rescheduled)
    }

    /// Schedules these filings again on the calendar in service (an
    /// audited transition each, by `account` when a person asked); how
    /// many had open work to schedule.
    async fn recalendar(
        &self,
        filings: Vec<String>,
        note: &str,
        account: Option<&str>,
        now: DateTime,
    ) -> Result<usize, AppError> {
        let mut rescheduled = 0;
        for filing in filings {
            let command = Command::Recalendar {
                note: note.to_string(),
            };
            let mut request = Request::new(filing, Actor::System, command, now);
            request.account = account.map(str::to_string);
            if self.store.apply(request).await?.audit_seq.is_some() {
                rescheduled += 1;
            }
        }
        Ok(rescheduled)
    }

    /// A digest of the calendar files (names and texts).
    fn calendar_fingerprint(&self) -> Result<String, AppError> {
        let files = Calendar::read_files(&self.config.calendars, &self.config.region)
            .map_err(|error| AppError::Config(error.to_string()))?;
        let mut all = String::new();
        for (region, path, text) in &files {
            let name = std::path::Path::new(path)
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().to_string());
            all.push_str(&format!("{region}/{name}\n{}\n{text}\n", text.len()));
        }
        Ok(crate::store::audit::sha256_hex(all.as_bytes()))
    }

    /// The checked file, the calendar with it, and where it is written.
    async fn candidate(
        &self,
        text: &str,
        today: Date,
    ) -> Result<(YearCheck, Calendar, std::path::PathBuf), AppError> {
        let invalid = |message: String| AppError::Invalid(vec![Problem::about("text", message)]);
        let text = text.replace("\r\n", "\n");
        let table: toml::Table = text
            .parse()
            .map_err(|error| invalid(format!("不是有效的日历文件（TOML）：{error}")))?;
        let year = table
            .get("year")
            .and_then(toml::Value::as_integer)
            .and_then(|year| i16::try_from(year).ok())
            .filter(|year| (2000..=2100).contains(year))
            .ok_or_else(|| invalid("缺少年份（year = 2027）".to_string()))?;
        let folder = self.config.calendars.join("cn");
        let path = folder.join(format!("{year}.toml"));
        let mut files = Calendar::read_files(&self.config.calendars, &self.config.region)
            .map_err(|error| AppError::Config(error.to_string()))?;
        let shown = path.display().to_string();
        let replaces = files.iter().any(|(_, p, _)| *p == shown);
        files.retain(|(_, p, _)| *p != shown);
        files.push(("cn".to_string(), shown, text.clone()));
        files.sort_by(|a, b| (a.0 != "cn", &a.1).cmp(&(b.0 != "cn", &b.1)));
        let calendar =
            Calendar::with_provisional_years(&files).map_err(|error| invalid(error.to_string()))?;
        let (holidays, workdays) = count_days(&table);
        let moved = self.moved_by(&calendar, today).await?;
        let check = YearCheck {
            year,
            holidays,
            workdays,
            replaces,
            moved,
        };
        Ok((check, calendar, path))
    }

    /// The due dates of open filings that differ on `calendar`.
    async fn moved_by(&self, calendar: &Calendar, today: Date) -> Result<Vec<Moved>, AppError> {
        let current = self.calendar();
        let mut moved = Vec::new();
        for id in self.store.open_filings().await? {
            let (filing, revision) = self.store.filing(&id).await?;
            let Some(workflow) = self
                .store
                .workflow_version(&filing.workflow, filing.version)
            else {
                continue;
            };
            let view = |calendar: &Calendar| {
                crate::app::views::FilingView::of(
                    &workflow,
                    &filing,
                    revision,
                    calendar,
                    today,
                    &self.links,
                )
            };
            let (before, after) = (view(&current), view(calendar));
            let mut dates = vec![
                (
                    "承诺办结日期".to_string(),
                    before.promised_due,
                    after.promised_due,
                ),
                (
                    "法定办结日期".to_string(),
                    before.legal_due,
                    after.legal_due,
                ),
            ];
            for (old, new) in before.steps.iter().zip(&after.steps) {
                dates.push((old.label.clone(), old.due_on, new.due_on));
            }
            moved.extend(
                dates
                    .into_iter()
                    .filter(|(_, before, after)| before != after)
                    .map(|(what, before, after)| Moved {
                        filing: id.clone(),
                        what,
                        before,
                        after,
                    }),
            );
        }
        Ok(moved)
    }
}

/// How many holiday ranges and make-up days a year's file lists.
fn count_days(table: &toml::Table) -> (usize, usize) {
    let count = |key: &str| {
        table
            .get(key)
            .and_then(toml::Value::as_array)
            .map_or(0, Vec::len)
    };
    (count("holidays"), count("workdays"))
}
