//! The registry of institutions as the store keeps it, by unified social
//! credit code: institutions this product registered (their code from the
//! filing that registered them, their opening day once recorded), and
//! records of what other systems report (an institution that came before
//! this product, a licence's 诊疗科目, insurance assessments).
//!
//! What the records mean — months of operation, the earliest day an
//! institution becomes eligible — is decided in [`crate::registry`].

use jiff::civil::{Date, DateTime};
use sqlx::Row as _;

use super::{Store, StoreError};
use crate::credit_code::CreditCode;
use crate::registry;

/// What another system reports of an institution.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryRecord {
    pub credit_code: CreditCode,
    pub name: String,
    pub opened_on: Option<Date>,
    /// Eligibility facts by fact id, as JSON values.
    pub facts: serde_json::Map<String, serde_json::Value>,
    /// Who reported it (a system, a department).
    pub source: String,
}

/// What the registry knows of an institution.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub name: String,
    /// The day it opened for business, once recorded.
    pub opened_on: Option<Date>,
    /// The facts other systems reported.
    pub facts: serde_json::Map<String, serde_json::Value>,
}

impl Known {
    /// The facts on `today`: those reported, and months of operation
    /// counted from the opening day when it is known.
    pub fn facts_on(&self, today: Date) -> serde_json::Map<String, serde_json::Value> {
        let mut facts = self.facts.clone();
        if let Some(opened) = self.opened_on {
            facts.insert(
                registry::MONTHS_OPERATING.into(),
                registry::months_operating(opened, today).into(),
            );
        }
        facts
    }
}

impl Store {
    /// Records, or replaces, what another system reports of an institution.
    ///
    /// # Errors
    /// A database failure.
    pub async fn record_registry(
        &self,
        record: &RegistryRecord,
        at: DateTime,
    ) -> Result<(), StoreError> {
        let text = self.shared.sql.rewrite(
            "INSERT INTO registry_records (credit_code, name, opened_on, facts, source, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (credit_code) DO UPDATE SET name = excluded.name,
               opened_on = excluded.opened_on, facts = excluded.facts,
               source = excluded.source, recorded_at = excluded.recorded_at",
        );
        sqlx::query(&text)
            .bind(record.credit_code.to_string())
            .bind(record.name.clone())
            .bind(record.opened_on.map(|day| day.to_string()))
            .bind(serde_json::Value::Object(record.facts.clone()).to_string())
            .bind(record.source.clone())
            .bind(at.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// What the registry knows of the institution with this code: `None`
    /// when it knows nothing. An institution registered here gives its name
    /// and opening day; a record gives its facts, and the opening day when
    /// none was recorded here.
    ///
    /// # Errors
    /// A database failure.
    pub async fn registry(&self, code: &CreditCode) -> Result<Option<Known>, StoreError> {
        let registered = self.shared.sql.rewrite(
            "SELECT name, opened_on FROM institutions WHERE credit_code = $1
             ORDER BY approved_on DESC, id DESC LIMIT 1",
        );
        let registered = sqlx::query(&registered)
            .bind(code.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let recorded = self
            .shared
            .sql
            .rewrite("SELECT name, opened_on, facts FROM registry_records WHERE credit_code = $1");
        let recorded = sqlx::query(&recorded)
            .bind(code.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let day = |text: Option<String>| text.and_then(|text| text.parse::<Date>().ok());
        let mut known = match &registered {
            Some(row) => Known {
                name: row.try_get(0)?,
                opened_on: day(row.try_get(1)?),
                facts: serde_json::Map::new(),
            },
            None if recorded.is_none() => return Ok(None),
            None => Known {
                name: String::new(),
                opened_on: None,
                facts: serde_json::Map::new(),
            },
        };
        if let Some(row) = recorded {
            if known.name.is_empty() {
                known.name = row.try_get(0)?;
            }
            known.opened_on = known.opened_on.or(day(row.try_get(1)?));
            let facts: String = row.try_get(2)?;
            if let Ok(serde_json::Value::Object(facts)) = serde_json::from_str(&facts) {
                known.facts = facts;
            }
        }
        Ok(Some(known))
    }
}
