//! Accounts, sessions and API tokens: rows only. Hashing, checking and the
//! rules of who may have which account live in the application layer
//! (`app::accounts`); here secrets arrive already hashed.

use std::fmt;

use sqlx::Row as _;

use super::{Store, StoreError};

/// What an account may do. Staff roles belong to a department.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Files and follows their own applications.
    Applicant,
    /// A clerk of the one window: intake.
    Window,
    /// Reviews a department's steps.
    Reviewer,
    /// A department's head: extensions, overdue work, poor ratings.
    Head,
    /// Writes and publishes the procedures' definitions.
    Policy,
    /// Creates staff accounts.
    Admin,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Applicant,
        Role::Window,
        Role::Reviewer,
        Role::Head,
        Role::Policy,
        Role::Admin,
    ];

    /// The name stored and typed on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Role::Applicant => "applicant",
            Role::Window => "window",
            Role::Reviewer => "reviewer",
            Role::Head => "head",
            Role::Policy => "policy",
            Role::Admin => "admin",
        }
    }

    /// The name people read.
    pub fn chinese(self) -> &'static str {
        match self {
            Role::Applicant => "申请人",
            Role::Window => "窗口受理人员",
            Role::Reviewer => "审查人员",
            Role::Head => "部门负责人",
            Role::Policy => "政策人员",
            Role::Admin => "系统管理员",
        }
    }

    /// Whether accounts of this role belong to a department.
    pub fn has_department(self) -> bool {
        matches!(self, Role::Window | Role::Reviewer | Role::Head)
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.name() == text)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub department: Option<String>,
    pub password_hash: String,
    pub created_at: String,
    pub created_by: String,
}

/// A registration waiting for its address to be confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub token_hash: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub created_at: String,
    pub expires_at: String,
}

const REGISTRATION_COLUMNS: &str = "token_hash, email, name, password_hash, created_at, expires_at";

const ACCOUNT_COLUMNS: &str =
    "email, name, role, department, password_hash, created_at, created_by";

fn account_of(row: &sqlx::any::AnyRow) -> Result<AccountRow, StoreError> {
    let role: String = row.try_get(2)?;
    Ok(AccountRow {
        email: row.try_get(0)?,
        name: row.try_get(1)?,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Database(format!("unknown role `{role}` stored")))?,
        department: row.try_get(3)?,
        password_hash: row.try_get(4)?,
        created_at: row.try_get(5)?,
        created_by: row.try_get(6)?,
    })
}

impl Store {
    /// Adds an account; `false` when the address already has one.
    ///
    /// # Errors
    /// A database failure.
    pub async fn insert_account(&self, account: &AccountRow) -> Result<bool, StoreError> {
        let text = self.shared.sql.rewrite(&format!(
            "INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (email) DO NOTHING"
        ));
        let done = sqlx::query(&text)
            .bind(account.email.clone())
            .bind(account.name.clone())
            .bind(account.role.name().to_string())
            .bind(account.department.clone())
            .bind(account.password_hash.clone())
            .bind(account.created_at.clone())
            .bind(account.created_by.clone())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The account of an address (already in lower case).
    ///
    /// # Errors
    /// A database failure.
    pub async fn account(&self, email: &str) -> Result<Option<AccountRow>, StoreError> {
        let text = self.shared.sql.rewrite(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email = $1"
        ));
        let row = sqlx::query(&text)
            .bind(email.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_of).transpose()
    }

    /// Every account, staff first by role and department, then by address.
    ///
    /// # Errors
    /// A database failure.
    pub async fn accounts(&self) -> Result<Vec<AccountRow>, StoreError> {
        let text =
            format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY role, department, email");
        let rows = sqlx::query(&text).fetch_all(&self.pool).await?;
        rows.iter().map(account_of).collect()
    }

    /// How many accounts there are.
    ///
    /// # Errors
    /// A database failure.
    pub async fn account_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) FROM accounts")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }

    /// Keeps a registration until its address is confirmed (by its
    /// link's hash), dropping the expired ones.
    ///
    /// # Errors
    /// A database failure.
    pub async fn insert_registration(&self, registration: &Registration) -> Result<(), StoreError> {
        let purge = self
            .shared
            .sql
            .rewrite("DELETE FROM registrations WHERE expires_at <= $1");
        sqlx::query(&purge)
            .bind(registration.created_at.clone())
            .execute(&self.pool)
            .await?;
        let text = self.shared.sql.rewrite(&format!(
            "INSERT INTO registrations ({REGISTRATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ));
        sqlx::query(&text)
            .bind(registration.token_hash.clone())
            .bind(registration.email.clone())
            .bind(registration.name.clone())
            .bind(registration.password_hash.clone())
            .bind(registration.created_at.clone())
            .bind(registration.expires_at.clone())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Takes the registration of a link's hash, once, unless expired.
    ///
    /// # Errors
    /// A database failure.
    pub async fn take_registration(
        &self,
        token_hash: &str,
        now: &str,
    ) -> Result<Option<Registration>, StoreError> {
        let text = self.shared.sql.rewrite(&format!(
            "DELETE FROM registrations WHERE token_hash = $1 AND expires_at > $2
             RETURNING {REGISTRATION_COLUMNS}"
        ));
        let row = sqlx::query(&text)
            .bind(token_hash.to_string())
            .bind(now.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(Registration {
                token_hash: row.try_get(0)?,
                email: row.try_get(1)?,
                name: row.try_get(2)?,
                password_hash: row.try_get(3)?,
                created_at: row.try_get(4)?,
                expires_at: row.try_get(5)?,
            })
        })
        .transpose()
    }

    /// Starts a session under a hashed token, ending the account's
    /// expired ones.
    ///
    /// # Errors
    /// A database failure.
    pub async fn insert_session(
        &self,
        token_hash: &str,
        account: &str,
        now: &str,
        expires_at: &str,
    ) -> Result<(), StoreError> {
        let purge = self
            .shared
            .sql
            .rewrite("DELETE FROM sessions WHERE account = $1 AND expires_at <= $2");
        sqlx::query(&purge)
            .bind(account.to_string())
            .bind(now.to_string())
            .execute(&self.pool)
            .await?;
        let text = self.shared.sql.rewrite(
            "INSERT INTO sessions (token_hash, account, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        );
        sqlx::query(&text)
            .bind(token_hash.to_string())
            .bind(account.to_string())
            .bind(now.to_string())
            .bind(expires_at.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The account a session that has not expired at `now` belongs to.
    ///
    /// # Errors
    /// A database failure.
    pub async fn session_account(
        &self,
        token_hash: &str,
        now: &str,
    ) -> Result<Option<AccountRow>, StoreError> {
        let text = self.shared.sql.rewrite(&format!(
            "SELECT {} FROM sessions s JOIN accounts a ON a.email = s.account
             WHERE s.token_hash = $1 AND s.expires_at > $2",
            qualified("a")
        ));
        let row = sqlx::query(&text)
            .bind(token_hash.to_string())
            .bind(now.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_of).transpose()
    }

    /// Ends a session.
    ///
    /// # Errors
    /// A database failure.
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let text = self
            .shared
            .sql
            .rewrite("DELETE FROM sessions WHERE token_hash = $1");
        sqlx::query(&text)
            .bind(token_hash.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records an API token (hashed) for an account.
    ///
    /// # Errors
    /// A database failure.
    pub async fn insert_api_token(
        &self,
        token_hash: &str,
        account: &str,
        label: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        let text = self.shared.sql.rewrite(
            "INSERT INTO api_tokens (token_hash, account, label, created_at) VALUES ($1, $2, $3, $4)",
        );
        sqlx::query(&text)
            .bind(token_hash.to_string())
            .bind(account.to_string())
            .bind(label.to_string())
            .bind(now.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The account an API token belongs to.
    ///
    /// # Errors
    /// A database failure.
    pub async fn token_account(&self, token_hash: &str) -> Result<Option<AccountRow>, StoreError> {
        let text = self.shared.sql.rewrite(&format!(
            "SELECT {} FROM api_tokens t JOIN accounts a ON a.email = t.account
             WHERE t.token_hash = $1",
            qualified("a")
        ));
        let row = sqlx::query(&text)
            .bind(token_hash.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_of).transpose()
    }
}

impl Store {
    /// A filing's query code, made now (`code`) if it has none yet; the
    /// code that holds either way.
    ///
    /// # Errors
    /// A database failure.
    pub async fn query_code(
        &self,
        filing: &str,
        code: &str,
        now: &str,
    ) -> Result<String, StoreError> {
        let insert = self.shared.sql.rewrite(
            "INSERT INTO query_codes (filing_id, code, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (filing_id) DO NOTHING",
        );
        sqlx::query(&insert)
            .bind(filing.to_string())
            .bind(code.to_string())
            .bind(now.to_string())
            .execute(&self.pool)
            .await?;
        let select = self
            .shared
            .sql
            .rewrite("SELECT code FROM query_codes WHERE filing_id = $1");
        Ok(sqlx::query(&select)
            .bind(filing.to_string())
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }

    /// The query code of a filing, if one was made.
    ///
    /// # Errors
    /// A database failure.
    pub async fn existing_query_code(&self, filing: &str) -> Result<Option<String>, StoreError> {
        let select = self
            .shared
            .sql
            .rewrite("SELECT code FROM query_codes WHERE filing_id = $1");
        let row = sqlx::query(&select)
            .bind(filing.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }
}

/// The account columns with a table alias.
fn qualified(alias: &str) -> String {
    ACCOUNT_COLUMNS
        .split(", ")
        .map(|column| format!("{alias}.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// How many failed sign-ins were recorded for `key` since `since`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn failures_since(&self, key: &str, since: &str) -> Result<i64, StoreError> {
        let text = self
            .shared
            .sql
            .rewrite("SELECT COUNT(*) FROM sign_in_failures WHERE key = $1 AND at > $2");
        let row = sqlx::query(&text)
            .bind(key.to_string())
            .bind(since.to_string())
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Records a failed sign-in under each key; forgets those older than
    /// `forget_before`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn record_failure(
        &self,
        keys: &[String],
        at: &str,
        forget_before: &str,
    ) -> Result<(), StoreError> {
        let purge = self
            .shared
            .sql
            .rewrite("DELETE FROM sign_in_failures WHERE at <= $1");
        sqlx::query(&purge)
            .bind(forget_before.to_string())
            .execute(&self.pool)
            .await?;
        let insert = self
            .shared
            .sql
            .rewrite("INSERT INTO sign_in_failures (key, at) VALUES ($1, $2)");
        for key in keys {
            sqlx::query(&insert)
                .bind(key.clone())
                .bind(at.to_string())
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Forgets the failed sign-ins of `key` (a successful sign-in).
    ///
    /// # Errors
    /// A database failure.
    pub async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
        let text = self
            .shared
            .sql
            .rewrite("DELETE FROM sign_in_failures WHERE key = $1");
        sqlx::query(&text)
            .bind(key.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
