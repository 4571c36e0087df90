//! The registry as operators load it: what the city's existing systems know
//! of its institutions (their credit codes, opening days and the facts the
//! procedures read), imported as a file, every record checked before any
//! is written.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::{App, AppError};
use crate::credit_code::CreditCode;
use crate::engine::Problem;
use crate::store::institutions::RegistryRecord;

/// One institution as an import file gives it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryEntry {
    pub credit_code: String,
    pub name: String,
    /// The day it opened for business (正式运营), when known.
    #[serde(default)]
    pub opened_on: Option<jiff::civil::Date>,
    /// Facts the procedures read, by fact id.
    #[serde(default)]
    pub facts: serde_json::Map<String, serde_json::Value>,
}

impl App {
    /// Records what another system reports of institutions (`source` names
    /// it), replacing an earlier record of the same code. Nothing is
    /// written unless every entry is well formed.
    ///
    /// # Errors
    /// [`AppError::Invalid`] listing every entry's problems (its place in the
    /// file, its code): a code that is not one, a name missing, a fact no
    /// procedure reads; a store failure.
    pub async fn import_registry(
        &self,
        entries: Vec<RegistryEntry>,
        source: &str,
    ) -> Result<usize, AppError> {
        let known: BTreeSet<String> = self
            .workflow_ids()
            .iter()
            .filter_map(|id| self.workflow(id).ok())
            .flat_map(|workflow| {
                workflow
                    .facts
                    .iter()
                    .map(|f| f.id.clone())
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut problems = Vec::new();
        let mut records = Vec::new();
        for (index, entry) in entries.into_iter().enumerate() {
            let place = format!("第{}条", index + 1);
            let code = CreditCode::parse(&entry.credit_code);
            if let Err(reason) = &code {
                problems.push(Problem::about(&place, format!("{place}：{reason}")));
            }
            if entry.name.trim().is_empty() {
                problems.push(Problem::about(&place, format!("{place}：缺少机构名称")));
            }
            for fact in entry.facts.keys().filter(|fact| !known.contains(*fact)) {
                problems.push(Problem::about(
                    &place,
                    format!("{place}：没有事项读取登记信息“{fact}”"),
                ));
            }
            if let Ok(credit_code) = code {
                records.push(RegistryRecord {
                    credit_code,
                    name: entry.name.trim().to_string(),
                    opened_on: entry.opened_on,
                    facts: entry.facts,
                    source: source.to_string(),
                });
            }
        }
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        let now = self.now();
        for record in &records {
            self.store.record_registry(record, now).await?;
        }
        tracing::info!(records = records.len(), source, "registry imported");
        Ok(records.len())
    }
}
