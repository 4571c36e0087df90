//! Ratings (好差评) as stored: one per filing, an answer to it once.

use sqlx::Row as _;

use super::{Store, StoreError};

/// A rating as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingRow {
    pub filing: String,
    pub stars: u8,
    pub comment: String,
    pub rated_at: String,
    pub rated_by: String,
    pub answer: Option<String>,
    pub answered_by: Option<String>,
    pub answered_at: Option<String>,
    /// The department whose service it rates; `None` for ratings from
    /// before a rating named one (they rate every department of the filing).
    pub department: Option<String>,
}

const COLUMNS: &str =
    "filing_id, stars, comment, rated_at, rated_by, answer, answered_by, answered_at, department";

fn rating_of(row: &sqlx::any::AnyRow) -> Result<RatingRow, StoreError> {
    let stars: i64 = row.try_get(1)?;
    Ok(RatingRow {
        filing: row.try_get(0)?,
        stars: u8::try_from(stars).unwrap_or(0),
        comment: row.try_get(2)?,
        rated_at: row.try_get(3)?,
        rated_by: row.try_get(4)?,
        answer: row.try_get(5)?,
        answered_by: row.try_get(6)?,
        answered_at: row.try_get(7)?,
        department: row.try_get(8)?,
    })
}

impl Store {
    /// Records a rating; `false` when the filing was rated already.
    ///
    /// # Errors
    /// A database failure.
    pub async fn insert_rating(&self, rating: &RatingRow) -> Result<bool, StoreError> {
        let text = self.shared.sql.rewrite(
            "INSERT INTO ratings (filing_id, stars, comment, rated_at, rated_by, department)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (filing_id) DO NOTHING",
        );
        let done = sqlx::query(&text)
            .bind(rating.filing.clone())
            .bind(i64::from(rating.stars))
            .bind(rating.comment.clone())
            .bind(rating.rated_at.clone())
            .bind(rating.rated_by.clone())
            .bind(rating.department.clone())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A filing's rating, if it has one.
    ///
    /// # Errors
    /// A database failure.
    pub async fn rating(&self, filing: &str) -> Result<Option<RatingRow>, StoreError> {
        let text = self.shared.sql.rewrite(&format!(
            "SELECT {COLUMNS} FROM ratings WHERE filing_id = $1"
        ));
        let row = sqlx::query(&text)
            .bind(filing.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rating_of).transpose()
    }

    /// Every rating, newest first.
    ///
    /// # Errors
    /// A database failure.
    pub async fn ratings(&self) -> Result<Vec<RatingRow>, StoreError> {
        let text = format!("SELECT {COLUMNS} FROM ratings ORDER BY rated_at DESC");
        let rows = sqlx::query(&text).fetch_all(&self.pool).await?;
        rows.iter().map(rating_of).collect()
    }

    /// Answers a rating; `false` when it was answered already.
    ///
    /// # Errors
    /// A database failure.
    pub async fn answer_rating(
        &self,
        filing: &str,
        answer: &str,
        by: &str,
        at: &str,
    ) -> Result<bool, StoreError> {
        let text = self.shared.sql.rewrite(
            "UPDATE ratings SET answer = $1, answered_by = $2, answered_at = $3
             WHERE filing_id = $4 AND answer IS NULL",
        );
        let done = sqlx::query(&text)
            .bind(answer.to_string())
            .bind(by.to_string())
            .bind(at.to_string())
            .bind(filing.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The filings still open (at the window or in review).
    ///
    /// # Errors
    /// A database failure.
    pub async fn open_filings(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM filings WHERE status IN ('submitted', 'awaiting_correction', 'in_review') ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
    }

    /// The filings that are over (decided, not accepted or withdrawn).
    ///
    /// # Errors
    /// A database failure.
    pub async fn closed_filings(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM filings WHERE status IN ('decided', 'not_accepted', 'withdrawn') ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
    }
}
