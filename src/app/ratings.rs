//! 好差评: after a filing closes its applicant rates the service (five
//! levels and a comment), once. A poor rating (差评, two stars or fewer)
//! goes to the heads of the departments that took part, one of whom
//! answers it. Per procedure and department the public sees the ratings
//! and the share of parts finished within the promised time.

use std::collections::BTreeMap;

use jiff::civil::{Date, DateTime};
use serde::Serialize;

use super::accounts::{Account, Role};
use super::{App, AppError};
use crate::engine::Problem;
use crate::store::ratings::RatingRow;

/// The longest comment or answer accepted.
pub const MAX_COMMENT: usize = 500;
/// Ratings at or below this are poor (差评) and go to the heads.
pub const POOR: u8 = 2;

/// The five levels, as the applicant chooses among them.
pub const LEVELS: [(u8, &str); 5] = [
    (5, "非常满意"),
    (4, "满意"),
    (3, "基本满意"),
    (2, "不满意"),
    (1, "非常不满意"),
];

/// A rating as pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RatingView {
    pub filing: String,
    /// The department rated (its id); `None`: every one of the filing.
    pub department: Option<String>,
    pub stars: u8,
    /// 非常满意 … 非常不满意.
    pub level: String,
    pub comment: String,
    pub rated_on: String,
    pub answer: Option<String>,
    pub answered_on: Option<String>,
}

impl RatingView {
    pub(super) fn of(row: RatingRow) -> RatingView {
        RatingView {
            level: LEVELS
                .iter()
                .find(|(stars, _)| *stars == row.stars)
                .map_or("", |(_, level)| level)
                .to_string(),
            filing: row.filing,
            department: row.department,
            stars: row.stars,
            comment: row.comment,
            rated_on: row.rated_at.chars().take(10).collect(),
            answer: row.answer,
            answered_on: row.answered_at.map(|a| a.chars().take(10).collect()),
        }
    }
}

fn already_rated() -> AppError {
    AppError::Invalid(vec![Problem::about("stars", "此申请已评价过")])
}

/// What an applicant says of a filing's service.
#[derive(Debug, Clone, Copy)]
pub struct Rating<'a> {
    /// One to five.
    pub stars: u8,
    pub comment: &'a str,
    /// The department rated (its id); may be left out when one took part.
    pub department: Option<&'a str>,
}

/// What the public sees of a procedure's service by one department.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceFigures {
    pub workflow_title: String,
    pub department: String,
    /// Parts this department finished.
    pub decided: usize,
    /// Of those, finished on or before the promised date.
    pub on_time: usize,
    pub on_time_share: Option<f64>,
    pub ratings: usize,
    pub average: Option<f64>,
    pub poor: usize,
}

impl App {
    /// The applicant rates their closed filing, once: the service of the
    /// department it names, which must be one that took part (named
    /// whenever more than one did).
    ///
    /// # Errors
    /// [`AppError::Invalid`] for a filing still open, already rated, a
    /// level out of range, a comment too long, or a department missing or
    /// not of the filing; not found when not theirs.
    pub async fn rate(
        &self,
        account: &Account,
        id: &str,
        rating: Rating<'_>,
        now: DateTime,
    ) -> Result<RatingView, AppError> {
        let Rating {
            stars,
            comment,
            department,
        } = rating;
        let view = self.filing_for(account, id, now.date()).await?;
        if self.store.rating(id).await?.is_some() {
            return Err(already_rated());
        }
        let mut problems = Vec::new();
        let parts: Vec<&str> = view.parts.iter().map(|p| p.department.as_str()).collect();
        let department = match (department.filter(|d| !d.is_empty()), parts.as_slice()) {
            (Some(named), _) if parts.contains(&named) => Some(named.to_string()),
            (Some(_), _) => {
                problems.push(Problem::about("department", "请选择办理本申请的部门"));
                None
            }
            (None, [only]) => Some((*only).to_string()),
            (None, []) => None,
            (None, _) => {
                problems.push(Problem::about("department", "请选择评价的部门"));
                None
            }
        };
        // The applicant who filed it rates it (a party's signatory sees it).
        let filing = self.visible(account, id).await?;
        if account.role != Role::Applicant
            || filing.applicant_email.as_deref() != Some(account.email.as_str())
        {
            problems.push(Problem::about("stars", "只有申请人可以评价"));
        }
        if !view.status.is_over() {
            problems.push(Problem::about("stars", "办结后才能评价"));
        }
        if !(1..=5).contains(&stars) {
            problems.push(Problem::about("stars", "请选择一至五星"));
        }
        let comment = comment.trim();
        if comment.chars().count() > MAX_COMMENT {
            problems.push(Problem::about(
                "comment",
                format!("评价内容不超过{MAX_COMMENT}个字"),
            ));
        }
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        let row = RatingRow {
            filing: id.to_string(),
            stars,
            comment: comment.to_string(),
            rated_at: now.to_string(),
            rated_by: account.email.clone(),
            answer: None,
            answered_by: None,
            answered_at: None,
            department,
        };
        // Two at once: the database takes one.
        if !self.store.insert_rating(&row).await? {
            return Err(already_rated());
        }
        Ok(RatingView::of(row))
    }

    /// The poor ratings of filings the head's department took part in,
    /// unanswered first.
    ///
    /// # Errors
    /// A store failure.
    pub async fn poor_ratings(&self, head: &Account) -> Result<Vec<RatingView>, AppError> {
        if head.role != Role::Head {
            return Ok(Vec::new());
        }
        let mut poor = Vec::new();
        for row in self.store.ratings().await? {
            let rated = row
                .department
                .as_ref()
                .is_none_or(|d| head.department.as_ref() == Some(d));
            if row.stars <= POOR && rated && self.visible(head, &row.filing).await.is_ok() {
                poor.push(RatingView::of(row));
            }
        }
        poor.sort_by_key(|r| r.answer.is_some());
        Ok(poor)
    }

    /// A head answers a poor rating of a filing their department took part in.
    ///
    /// # Errors
    /// [`AppError::Invalid`] for an empty or long answer, or one answered
    /// already; not found when not their department's.
    pub async fn answer_rating(
        &self,
        head: &Account,
        id: &str,
        answer: &str,
        now: DateTime,
    ) -> Result<(), AppError> {
        self.visible(head, id).await?;
        // Only the rated department's head answers (any, for a rating
        // from before ratings named one).
        let rated = self.store.rating(id).await?.and_then(|r| r.department);
        if rated.is_some_and(|d| head.department.as_ref() != Some(&d)) {
            return Err(AppError::NotFound(format!(
                "a rating of `{id}` for this department"
            )));
        }
        let answer = answer.trim();
        if head.role != Role::Head || answer.is_empty() || answer.chars().count() > MAX_COMMENT {
            return Err(AppError::Invalid(vec![Problem::about(
                "answer",
                format!("请由部门负责人填写答复（不超过{MAX_COMMENT}个字）"),
            )]));
        }
        let by = format!(
            "{} <{}>",
            head.department.as_deref().unwrap_or_default(),
            head.email
        );
        if !self
            .store
            .answer_rating(id, answer, &by, &now.to_string())
            .await?
        {
            return Err(AppError::Invalid(vec![Problem::about(
                "answer",
                "该评价已答复，或尚无评价",
            )]));
        }
        Ok(())
    }

    /// Per procedure and department: parts finished and on time, ratings.
    ///
    /// # Errors
    /// A store failure.
    pub async fn service_figures(&self, today: Date) -> Result<Vec<ServiceFigures>, AppError> {
        let ratings: BTreeMap<String, (u8, Option<String>)> = self
            .store
            .ratings()
            .await?
            .into_iter()
            .map(|r| (r.filing, (r.stars, r.department)))
            .collect();
        let mut figures: BTreeMap<(String, String), (usize, usize, Vec<u8>)> = BTreeMap::new();
        for id in self.store.closed_filings().await? {
            let view = self.filing(&id, today).await?;
            for part in view.parts.iter().filter(|p| p.decided_on.is_some()) {
                let key = (view.workflow_title.clone(), part.department_name.clone());
                let entry = figures.entry(key).or_default();
                entry.0 += 1;
                if part
                    .decided_on
                    .zip(view.promised_due)
                    .is_some_and(|(decided, due)| decided <= due)
                {
                    entry.1 += 1;
                }
                // Counted against the department rated (every one, for a
                // rating from before ratings named one).
                if let Some((stars, rated)) = ratings.get(&id) {
                    if rated.as_ref().is_none_or(|d| *d == part.department) {
                        entry.2.push(*stars);
                    }
                }
            }
        }
        Ok(figures
            .into_iter()
            .map(
                |((workflow_title, department), (decided, on_time, stars))| {
                    let sum: u32 = stars.iter().map(|s| u32::from(*s)).sum();
                    ServiceFigures {
                        workflow_title,
                        department,
                        decided,
                        on_time,
                        on_time_share: (decided > 0).then(|| on_time as f64 / decided as f64),
                        ratings: stars.len(),
                        average: (!stars.is_empty()).then(|| f64::from(sum) / stars.len() as f64),
                        poor: stars.iter().filter(|s| **s <= POOR).count(),
                    }
                },
            )
            .collect())
    }
}
