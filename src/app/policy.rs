//! What the policy staff read: each workflow's versions with the filings
//! pinned to each, and what changed between two versions with the filings
//! still in progress on the older one.

use serde::Serialize;

use super::{App, AppError};
use crate::dsl::diff::{self, Change};
use crate::engine::state::Status;
use crate::store::versions::PinnedCount;

/// A workflow's versions, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct VersionsView {
    pub id: String,
    pub title: String,
    pub versions: Vec<VersionRow>,
}

/// One version and the filings filed under it.
#[derive(Debug, Clone, Serialize)]
pub struct VersionRow {
    pub version: u32,
    /// New filings take this one.
    pub current: bool,
    pub legal_limit: u32,
    pub promised_limit: u32,
    /// How many filings are in each status (in words), in the engine's order.
    pub filings: Vec<(String, i64)>,
    /// Filings not yet closed: those a change does not reach.
    pub in_progress: i64,
}

/// Two versions compared.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub id: String,
    pub title: String,
    pub from: u32,
    pub to: u32,
    pub changes: Vec<Change>,
    /// The filings in progress on the older version, by status in words:
    /// they finish under it, whatever the newer one says.
    pub in_progress: Vec<(String, i64)>,
    pub in_progress_total: i64,
}

impl App {
    /// Every version of a workflow with the filings pinned to each.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown workflow; a store failure.
    pub async fn workflow_versions(&self, id: &str) -> Result<VersionsView, AppError> {
        let current = self.workflow(id)?;
        let counts = self.store.pinned_counts(id).await?;
        let versions = self
            .store
            .versions_of(id)
            .iter()
            .map(|workflow| {
                let pinned: Vec<&PinnedCount> = counts
                    .iter()
                    .filter(|c| c.version == workflow.version)
                    .collect();
                VersionRow {
                    version: workflow.version,
                    current: workflow.version == current.version,
                    legal_limit: workflow.legal_limit,
                    promised_limit: workflow.promised_limit,
                    filings: by_status(&pinned, |_| true),
                    in_progress: by_status(&pinned, |s| !s.is_closed())
                        .iter()
                        .map(|(_, n)| n)
                        .sum(),
                }
            })
            .collect();
        Ok(VersionsView {
            id: current.id.clone(),
            title: current.title.clone(),
            versions,
        })
    }

    /// What changed from version `from` to version `to` of a workflow.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown workflow or version; a store
    /// failure.
    pub async fn compare_versions(
        &self,
        id: &str,
        from: u32,
        to: u32,
    ) -> Result<Comparison, AppError> {
        let version = |v: u32| {
            self.store
                .workflow_version(id, v)
                .ok_or_else(|| AppError::NotFound(format!("workflow `{id}` version {v}")))
        };
        let (old, new) = (version(from)?, version(to)?);
        let counts = self.store.pinned_counts(id).await?;
        let pinned: Vec<&PinnedCount> = counts.iter().filter(|c| c.version == from).collect();
        let in_progress = by_status(&pinned, |s| !s.is_closed());
        Ok(Comparison {
            id: new.id.clone(),
            title: new.title.clone(),
            from,
            to,
            changes: diff::diff(&old, &new),
            in_progress_total: in_progress.iter().map(|(_, n)| n).sum(),
            in_progress,
        })
    }
}

/// The counts of the statuses `keep` selects, in words, in the engine's
/// order of statuses; none for a status without filings.
fn by_status(pinned: &[&PinnedCount], keep: impl Fn(Status) -> bool) -> Vec<(String, i64)> {
    Status::ALL
        .into_iter()
        .filter(|status| keep(*status))
        .filter_map(|status| {
            let count: i64 = pinned
                .iter()
                .filter(|c| c.status == status.name())
                .map(|c| c.count)
                .sum();
            (count > 0).then(|| (status.chinese().to_string(), count))
        })
        .collect()
}
