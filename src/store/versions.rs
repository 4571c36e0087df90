//! The versions of each workflow the store knows and the filings pinned to
//! each: what the policy staff's pages show before and after a change.

use std::sync::Arc;

use sqlx::Row as _;

use super::{Store, StoreError};
use crate::dsl::Workflow;

/// How many filings of one version are in one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedCount {
    pub version: u32,
    pub status: String,
    pub count: i64,
}

impl Store {
    /// Every version of a workflow the store knows — the one in service
    /// and those filings were filed under — newest first.
    pub fn versions_of(&self, id: &str) -> Vec<Arc<Workflow>> {
        let mut versions: Vec<Arc<Workflow>> = self
            .shared
            .workflows
            .iter()
            .filter(|((workflow, _), _)| workflow == id)
            .map(|(_, workflow)| Arc::clone(workflow))
            .collect();
        versions.sort_by_key(|workflow| std::cmp::Reverse(workflow.version));
        versions
    }

    /// The version new filings of a workflow take.
    pub fn current_version(&self, id: &str) -> Option<u32> {
        self.shared.current.get(id).copied()
    }

    /// How many filings each version of a workflow holds, by status.
    ///
    /// # Errors
    /// A database failure.
    pub async fn pinned_counts(&self, workflow: &str) -> Result<Vec<PinnedCount>, StoreError> {
        let text = self.shared.sql.rewrite(
            "SELECT version, status, COUNT(*) FROM filings WHERE workflow = $1
             GROUP BY version, status ORDER BY version, status",
        );
        let rows = sqlx::query(&text)
            .bind(workflow.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let version: i64 = row.try_get(0)?;
                Ok(PinnedCount {
                    version: u32::try_from(version).unwrap_or(0),
                    status: row.try_get(1)?,
                    count: row.try_get(2)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
