//! The read side: queues by department and due date, filings by applicant.
//!
//! Written by the committer in the transaction of each batch (see
//! [`write_open_work`]) from the filings' new states, read here with
//! indexed queries; nothing here decodes a filing's state.

use jiff::civil::Date;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Row as _};

use super::{insert_rows, Shared, Store, StoreError};
use crate::engine::clock::{self, Level};
use crate::engine::{Filing, Status};

/// The step number of the window's intake in `active_steps`.
pub const INTAKE_STEP: i64 = -1;

/// How a department's queue is narrowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum QueueFilter {
    #[default]
    All,
    /// Claimed by this account.
    ClaimedBy(String),
    Unclaimed,
    Overdue,
}

/// One page of a queue: which, how much, as of which day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePage {
    pub department: String,
    pub filter: QueueFilter,
    /// The day warning levels are computed for.
    pub today: Date,
    pub limit: i64,
    pub offset: i64,
}

/// A piece of open work as the queue lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRow {
    pub filing: String,
    /// `None` for intake at the window.
    pub step: Option<usize>,
    pub workflow: String,
    /// The workflow version the filing is pinned to: its step numbers.
    pub version: u32,
    pub applicant: String,
    pub since: Date,
    pub due_on: Option<Date>,
    pub level: Level,
    pub claimed_by: Option<String>,
}

/// A filing as lists show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilingRow {
    pub id: String,
    pub workflow: String,
    pub version: u32,
    pub status: Status,
    pub applicant: String,
    pub received_on: Option<Date>,
    pub accepted_on: Option<Date>,
    pub decided_on: Option<Date>,
    pub updated_at: String,
}

/// The level of a stored due date on `today`: what [`clock::level`] says of it.
pub fn level_on(due_on: Option<Date>, yellow_from: Option<Date>, today: Date) -> Level {
    match (due_on, yellow_from) {
        (None, _) => Level::Paused,
        (Some(due), _) if today > due => Level::Red,
        (Some(_), Some(yellow)) if today >= yellow => Level::Yellow,
        _ => Level::Green,
    }
}

fn date(text: Option<String>) -> Option<Date> {
    text.and_then(|text| text.parse().ok())
}

impl Store {
    /// A department's open work by due date (paused last), one page.
    ///
    /// # Errors
    /// A database failure.
    pub async fn queue(&self, page: &QueuePage) -> Result<Vec<QueueRow>, StoreError> {
        let today = page.today.to_string();
        let (condition, extra) = match &page.filter {
            QueueFilter::All => ("", None),
            QueueFilter::ClaimedBy(account) => (" AND c.account = $2", Some(account.clone())),
            QueueFilter::Unclaimed => (" AND c.account IS NULL", None),
            QueueFilter::Overdue => (" AND a.due_on < $2", Some(today.clone())),
        };
        let next = if extra.is_some() { 3 } else { 2 };
        let text = self.shared.sql.rewrite(&format!(
            "SELECT a.filing_id, a.step, a.workflow, f.applicant, a.since, a.due_on, a.yellow_from, c.account, f.version
             FROM active_steps a JOIN filings f ON f.id = a.filing_id
             LEFT JOIN step_claims c ON c.filing_id = a.filing_id AND c.step = a.step
             WHERE a.department = $1{condition}
             ORDER BY a.due_key, a.filing_id, a.step LIMIT ${next} OFFSET ${}",
            next + 1
        ));
        let mut query = sqlx::query(&text).bind(page.department.clone());
        if let Some(extra) = extra {
            query = query.bind(extra);
        }
        let rows = query
            .bind(page.limit)
            .bind(page.offset)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let step: i64 = row.try_get(1)?;
                let due_on = date(row.try_get(5)?);
                let yellow_from = date(row.try_get(6)?);
                Ok(QueueRow {
                    filing: row.try_get(0)?,
                    step: usize::try_from(step).ok(),
                    workflow: row.try_get(2)?,
                    version: u32::try_from(row.try_get::<i64, _>(8)?).unwrap_or_default(),
                    applicant: row.try_get(3)?,
                    since: date(row.try_get(4)?).unwrap_or(page.today),
                    due_on,
                    level: level_on(due_on, yellow_from, page.today),
                    claimed_by: row.try_get(7)?,
                })
            })
            .collect()
    }

    /// The filings an applicant filed with this contact address, latest first.
    ///
    /// # Errors
    /// A database failure.
    pub async fn filings_of(&self, applicant_email: &str) -> Result<Vec<FilingRow>, StoreError> {
        let text = self.shared.sql.rewrite(
            "SELECT id, workflow, version, status, applicant, received_on, accepted_on, decided_on, updated_at
             FROM filings WHERE applicant_email = $1 ORDER BY updated_at DESC, id",
        );
        let rows = sqlx::query(&text)
            .bind(applicant_email.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(FilingRow {
                    id: row.try_get(0)?,
                    workflow: row.try_get(1)?,
                    version: u32::try_from(row.try_get::<i64, _>(2)?).unwrap_or_default(),
                    status: {
                        let name: String = row.try_get(3)?;
                        Status::from_name(&name).ok_or_else(|| {
                            StoreError::Database(format!("unknown filing status `{name}`"))
                        })?
                    },
                    applicant: row.try_get(4)?,
                    received_on: date(row.try_get(5)?),
                    accepted_on: date(row.try_get(6)?),
                    decided_on: date(row.try_get(7)?),
                    updated_at: row.try_get(8)?,
                })
            })
            .collect()
    }

    /// Records that `account` took a piece of open work; `false` when
    /// someone else holds it. Release with [`Store::release_step`].
    ///
    /// # Errors
    /// A database failure.
    pub async fn claim_step(
        &self,
        filing: &str,
        step: Option<usize>,
        account: &str,
        now: jiff::civil::DateTime,
    ) -> Result<bool, StoreError> {
        let text = self.shared.sql.rewrite(
            "INSERT INTO step_claims (filing_id, step, account, claimed_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (filing_id, step) DO NOTHING",
        );
        sqlx::query(&text)
            .bind(filing.to_string())
            .bind(step_number(step))
            .bind(account.to_string())
            .bind(now.to_string())
            .execute(&self.pool)
            .await?;
        let holder = sqlx::query(
            &self
                .shared
                .sql
                .rewrite("SELECT account FROM step_claims WHERE filing_id = $1 AND step = $2"),
        )
        .bind(filing.to_string())
        .bind(step_number(step))
        .fetch_optional(&self.pool)
        .await?;
        Ok(holder.is_some_and(|row| row.try_get::<String, _>(0).is_ok_and(|a| a == account)))
    }

    /// Who holds each claimed piece of a filing's work (`None`: intake).
    ///
    /// # Errors
    /// A database failure.
    pub async fn claims_of(
        &self,
        filing: &str,
    ) -> Result<Vec<(Option<usize>, String)>, StoreError> {
        let text = self
            .shared
            .sql
            .rewrite("SELECT step, account FROM step_claims WHERE filing_id = $1 ORDER BY step");
        let rows = sqlx::query(&text)
            .bind(filing.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let step: i64 = row.try_get(0)?;
                Ok((usize::try_from(step).ok(), row.try_get(1)?))
            })
            .collect()
    }

    /// Gives a piece of open work back, whoever held it.
    ///
    /// # Errors
    /// A database failure.
    pub async fn release_step(&self, filing: &str, step: Option<usize>) -> Result<(), StoreError> {
        sqlx::query(
            &self
                .shared
                .sql
                .rewrite("DELETE FROM step_claims WHERE filing_id = $1 AND step = $2"),
        )
        .bind(filing.to_string())
        .bind(step_number(step))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn step_number(step: Option<usize>) -> i64 {
    step.map_or(INTAKE_STEP, |step| step as i64)
}

/// Fills the read side for filings stored before it existed, once: the
/// list columns and the open work of every filing, from its state.
pub(super) async fn build_once(pool: &sqlx::AnyPool, shared: &Shared) -> Result<u64, sqlx::Error> {
    let built: i64 = sqlx::query("SELECT COUNT(*) FROM read_side_built")
        .fetch_one(pool)
        .await?
        .try_get(0)?;
    if built > 0 {
        return Ok(0);
    }
    let mut connection = pool.acquire().await?;
    sqlx::query(shared.sql.begin.as_str())
        .execute(&mut *connection)
        .await?;
    let rows = sqlx::query("SELECT state FROM filings")
        .fetch_all(&mut *connection)
        .await?;
    let filings: Vec<Filing> = rows
        .iter()
        .map(|row| {
            let state: String = row.try_get(0)?;
            serde_json::from_str(&state).map_err(|e| sqlx::Error::Decode(Box::new(e)))
        })
        .collect::<Result<_, _>>()?;
    let update = shared.sql.rewrite(
        "UPDATE filings SET applicant = $1, applicant_email = $2, received_on = $3, \
         accepted_on = $4, decided_on = $5 WHERE id = $6",
    );
    let day = |d: Option<Date>| d.map(|d| d.to_string());
    for filing in &filings {
        sqlx::query(&update)
            .bind(filing.applicant.clone())
            .bind(filing.applicant_email.clone())
            .bind(day(filing.received_on))
            .bind(day(filing.accepted_on))
            .bind(day(filing.decided_on))
            .bind(filing.id.clone())
            .execute(&mut *connection)
            .await?;
    }
    let changes: Vec<(&str, &[WorkRow], Vec<WorkRow>)> = filings
        .iter()
        .map(|filing| (filing.id.as_str(), &[][..], open_rows(shared, filing)))
        .collect();
    write_open_work(&mut connection, shared, &changes).await?;
    sqlx::query("INSERT INTO read_side_built (id) VALUES (1) ON CONFLICT (id) DO NOTHING")
        .execute(&mut *connection)
        .await?;
    sqlx::query("COMMIT").execute(&mut *connection).await?;
    Ok(filings.len() as u64)
}

/// A row of `active_steps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WorkRow {
    step: i64,
    department: String,
    workflow: String,
    since: String,
    due_on: Option<String>,
    yellow_from: Option<String>,
}

/// Sorts after every date: paused work goes last.
const NO_DUE_DATE: &str = "9999-12-31";

/// A filing's open work as `active_steps` rows. The engine refuses what
/// would fall due beyond the calendar, so an error cannot arise from a
/// committed transition; were it to, the work is still listed, without a
/// due date.
pub(super) fn open_rows(shared: &Shared, filing: &Filing) -> Vec<WorkRow> {
    let Some(workflow) = shared.workflow_at(&filing.workflow, filing.version) else {
        return Vec::new();
    };
    let calendar = shared.calendar();
    let work = clock::open_work(&workflow, filing, &calendar).unwrap_or_else(|_| {
        clock::open_work(&workflow, &without_dates(filing), &calendar).unwrap_or_default()
    });
    work.into_iter()
        .map(|work| WorkRow {
            step: step_number(work.step),
            department: work.department,
            workflow: filing.workflow.clone(),
            since: work.since.to_string(),
            due_on: work.due.map(|d| d.to_string()),
            yellow_from: work.yellow_from.map(|d| d.to_string()),
        })
        .collect()
}

/// A filing whose clocks cannot be computed, listed without due dates: an
/// open pause stops every clock.
fn without_dates(filing: &Filing) -> Filing {
    let mut filing = filing.clone();
    filing.pauses.push(crate::engine::state::Pause {
        kind: crate::engine::state::PauseKind::Inspection,
        step: None,
        from: filing.received_on.unwrap_or(jiff::civil::date(2000, 1, 1)),
        until: None,
        stated_days: None,
        reason: String::new(),
    });
    filing
}

/// Brings `active_steps` from each changed filing's open work at the start
/// of the batch to its open work now: rows that ended are deleted, rows that
/// began or moved are written; unchanged rows are not touched.
pub(super) async fn write_open_work(
    connection: &mut PoolConnection<Any>,
    shared: &Shared,
    changes: &[(&str, &[WorkRow], Vec<WorkRow>)],
) -> Result<(), sqlx::Error> {
    let mut ended: Vec<(&str, i64)> = Vec::new();
    let mut written: Vec<(&str, &WorkRow)> = Vec::new();
    for (filing, before, after) in changes {
        ended.extend(
            before
                .iter()
                .filter(|old| !after.iter().any(|new| new.step == old.step))
                .map(|old| (*filing, old.step)),
        );
        written.extend(
            after
                .iter()
                .filter(|new| !before.contains(new))
                .map(|new| (*filing, new)),
        );
    }
    insert_rows(
        connection,
        shared,
        "DELETE FROM active_steps WHERE (filing_id, step) IN (",
        2,
        ended.len(),
        |index, query| {
            let (filing, step) = ended[index];
            query.bind(filing.to_string()).bind(step)
        },
        ")",
    )
    .await?;
    insert_rows(
        connection,
        shared,
        "INSERT INTO active_steps (filing_id, step, department, workflow, since, due_on, yellow_from, due_key)",
        8,
        written.len(),
        |index, query| {
            let (filing, row) = written[index];
            query
                .bind(filing.to_string())
                .bind(row.step)
                .bind(row.department.clone())
                .bind(row.workflow.clone())
                .bind(row.since.clone())
                .bind(row.due_on.clone())
                .bind(row.yellow_from.clone())
                .bind(row.due_on.clone().unwrap_or_else(|| NO_DUE_DATE.to_string()))
        },
        "ON CONFLICT (filing_id, step) DO UPDATE SET department = excluded.department, \
         since = excluded.since, due_on = excluded.due_on, yellow_from = excluded.yellow_from, \
         due_key = excluded.due_key",
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn stored_dates_give_the_levels_the_clock_gives() {
        let (due, yellow) = (Some(date(2026, 3, 10)), Some(date(2026, 3, 5)));
        assert_eq!(level_on(due, yellow, date(2026, 3, 4)), Level::Green);
        assert_eq!(level_on(due, yellow, date(2026, 3, 5)), Level::Yellow);
        assert_eq!(level_on(due, yellow, date(2026, 3, 10)), Level::Yellow);
        assert_eq!(level_on(due, yellow, date(2026, 3, 11)), Level::Red);
        assert_eq!(level_on(None, None, date(2026, 3, 11)), Level::Paused);
    }
}
