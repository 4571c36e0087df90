//! The versions of each workflow the store knows and the filings pinned to
//! each: what the policy staff's pages show before and after a change.

use std::sync::Arc;

use sqlx::{Executor as _, Row as _};

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
            .versions()
            .all
            .iter()
            .filter(|((workflow, _), _)| workflow == id)
            .map(|(_, workflow)| Arc::clone(workflow))
            .collect();
        versions.sort_by_key(|workflow| std::cmp::Reverse(workflow.version));
        versions
    }

    /// The version new filings of a workflow take.
    pub fn current_version(&self, id: &str) -> Option<u32> {
        self.shared.versions().current.get(id).copied()
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

impl Store {
    /// The ids and statuses of a workflow's filings pinned to a version,
    /// oldest first, at most `limit`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn pinned_filings(
        &self,
        workflow: &str,
        version: u32,
        limit: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let text = self.shared.sql.rewrite(
            "SELECT id, status FROM filings WHERE workflow = $1 AND version = $2
             ORDER BY created_at, id LIMIT $3",
        );
        let rows = sqlx::query(&text)
            .bind(workflow.to_string())
            .bind(i64::from(version))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

/// A person's draft of a workflow's definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftRow {
    pub workflow: String,
    pub account: String,
    /// The version in service when the draft was begun.
    pub base_version: u32,
    pub text: String,
    pub saved_at: String,
}

/// A version published in the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub workflow: String,
    pub version: u32,
    pub published_by: String,
    pub published_at: String,
    /// 变更说明.
    pub reason: String,
}

fn version_of(row: &sqlx::any::AnyRow, index: usize) -> Result<u32, sqlx::Error> {
    let version: i64 = row.try_get(index)?;
    Ok(u32::try_from(version).unwrap_or(0))
}

impl Store {
    /// Saves a person's draft, replacing their earlier one.
    ///
    /// # Errors
    /// A database failure.
    pub async fn save_draft(&self, draft: &DraftRow) -> Result<(), StoreError> {
        let text = self.shared.sql.rewrite(
            "INSERT INTO drafts (workflow, account, base_version, text, saved_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (workflow, account) DO UPDATE
             SET base_version = excluded.base_version, text = excluded.text, saved_at = excluded.saved_at",
        );
        sqlx::query(&text)
            .bind(draft.workflow.clone())
            .bind(draft.account.clone())
            .bind(i64::from(draft.base_version))
            .bind(draft.text.clone())
            .bind(draft.saved_at.clone())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes a person's draft.
    ///
    /// # Errors
    /// A database failure.
    pub async fn discard_draft(&self, workflow: &str, account: &str) -> Result<(), StoreError> {
        let text = self
            .shared
            .sql
            .rewrite("DELETE FROM drafts WHERE workflow = $1 AND account = $2");
        sqlx::query(&text)
            .bind(workflow.to_string())
            .bind(account.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every saved draft of a workflow, the newest first.
    ///
    /// # Errors
    /// A database failure.
    pub async fn drafts_of(&self, workflow: &str) -> Result<Vec<DraftRow>, StoreError> {
        let text = self.shared.sql.rewrite(
            "SELECT workflow, account, base_version, text, saved_at FROM drafts
             WHERE workflow = $1 ORDER BY saved_at DESC",
        );
        let rows = sqlx::query(&text)
            .bind(workflow.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(DraftRow {
                    workflow: row.try_get(0)?,
                    account: row.try_get(1)?,
                    base_version: version_of(row, 2)?,
                    text: row.try_get(3)?,
                    saved_at: row.try_get(4)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The versions of a workflow published in the browser, newest first.
    ///
    /// # Errors
    /// A database failure.
    pub async fn publications(&self, workflow: &str) -> Result<Vec<Publication>, StoreError> {
        let text = self.shared.sql.rewrite(
            "SELECT workflow, version, published_by, published_at, reason FROM publications
             WHERE workflow = $1 ORDER BY version DESC",
        );
        let rows = sqlx::query(&text)
            .bind(workflow.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Publication {
                    workflow: row.try_get(0)?,
                    version: version_of(row, 1)?,
                    published_by: row.try_get(2)?,
                    published_at: row.try_get(3)?,
                    reason: row.try_get(4)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The text a version was published with.
    ///
    /// # Errors
    /// A database failure.
    pub async fn publication_text(
        &self,
        workflow: &str,
        version: u32,
    ) -> Result<Option<String>, StoreError> {
        let text = self
            .shared
            .sql
            .rewrite("SELECT text FROM publications WHERE workflow = $1 AND version = $2");
        let row = sqlx::query(&text)
            .bind(workflow.to_string())
            .bind(i64::from(version))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }

    /// Puts a checked definition in service as the next version of its
    /// workflow, in one transaction: the version (for filings pinned to it
    /// later), the publication with its reason, an entry of the audit
    /// chain, and the author's draft removed. New filings take it at once;
    /// filings in progress keep theirs.
    ///
    /// # Errors
    /// [`StoreError::Superseded`] when the workflow is no longer at the
    /// version before this one (someone published first); a database
    /// failure (nothing written).
    pub async fn publish(
        &self,
        workflow: Workflow,
        text: &str,
        publication: &Publication,
    ) -> Result<(), StoreError> {
        let sql = &self.shared.sql;
        let id = workflow.id.clone();
        let definition =
            serde_json::to_string(&workflow).map_err(|e| StoreError::Config(e.to_string()))?;
        let digest = super::audit::sha256_hex(definition.as_bytes());
        let mut connection = self.pool.acquire().await?;
        connection.execute(sql.begin.as_str()).await?;
        let written = async {
            let head = sqlx::query(&sql.lock_head)
                .fetch_one(&mut *connection)
                .await?;
            // Checked under the audit chain's lock: one publication at a time.
            let current = self.current_version(&id).unwrap_or(0);
            if workflow.version != current + 1 {
                return Ok(Err(StoreError::Superseded { id: id.clone(), current }));
            }
            let (seq, prev_hash): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
            let mut entry = super::audit::Entry {
                seq: seq + 1,
                filing_id: format!("workflow:{id}"),
                revision: i64::from(workflow.version),
                actor: format!("policy <{}>", publication.published_by),
                at: publication.published_at.clone(),
                event: serde_json::json!({ "Publish": { "workflow": id, "version": workflow.version } })
                    .to_string(),
                comment: publication.reason.clone(),
                state_hash: digest.clone(),
                prev_hash,
                hash: String::new(),
            };
            entry.hash = super::audit::entry_hash(&entry.prev_hash, &entry);
            super::insert_rows(
                &mut connection,
                &self.shared,
                super::AUDIT_INSERT,
                super::AUDIT_COLUMNS,
                1,
                |_, query| super::bind_audit(query, &entry),
                "",
            )
            .await?;
            sqlx::query(&sql.update_head)
                .bind(entry.seq)
                .bind(entry.hash.clone())
                .execute(&mut *connection)
                .await?;
            sqlx::query(&sql.insert_workflow)
                .bind(id.clone())
                .bind(i64::from(workflow.version))
                .bind(digest)
                .bind(definition)
                .execute(&mut *connection)
                .await?;
            sqlx::query(&sql.rewrite(
                "INSERT INTO publications (workflow, version, published_by, published_at, reason, text)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            ))
            .bind(id.clone())
            .bind(i64::from(workflow.version))
            .bind(publication.published_by.clone())
            .bind(publication.published_at.clone())
            .bind(publication.reason.clone())
            .bind(text.to_string())
            .execute(&mut *connection)
            .await?;
            sqlx::query(&sql.rewrite("DELETE FROM drafts WHERE workflow = $1 AND account = $2"))
                .bind(id.clone())
                .bind(publication.published_by.clone())
                .execute(&mut *connection)
                .await?;
            Ok::<_, sqlx::Error>(Ok(()))
        }
        .await;
        match written {
            Ok(Ok(())) => {
                connection.execute("COMMIT").await?;
                let mut versions = self
                    .shared
                    .versions
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                versions.current.insert(id.clone(), workflow.version);
                versions
                    .all
                    .insert((id, workflow.version), Arc::new(workflow));
                Ok(())
            }
            Ok(Err(refused)) => {
                connection.execute("ROLLBACK").await?;
                Err(refused)
            }
            Err(error) => {
                let _ = connection.execute("ROLLBACK").await;
                Err(error.into())
            }
        }
    }
}

impl Store {
    /// The fingerprint of the calendar the open filings were last
    /// scheduled on, if one was recorded.
    ///
    /// # Errors
    /// A database failure.
    pub async fn calendar_fingerprint(&self) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT fingerprint FROM calendar_applied WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }

    /// Records the calendar the open filings are now scheduled on.
    ///
    /// # Errors
    /// A database failure.
    pub async fn set_calendar_fingerprint(&self, fingerprint: &str) -> Result<(), StoreError> {
        let text = self.shared.sql.rewrite(
            "INSERT INTO calendar_applied (id, fingerprint) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET fingerprint = excluded.fingerprint",
        );
        sqlx::query(&text)
            .bind(fingerprint.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
