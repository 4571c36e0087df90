//! Accounts and sign-in: who may have which account, passwords (argon2),
//! sessions and API tokens (random, stored only as SHA-256 hashes).
//!
//! Applicants register themselves; staff accounts are created by an
//! administrator (the page or `onewindow user add`). What an account may do
//! as an actor of the engine is [`Account::actor`]: the web layer asks it,
//! it never decides it.

use std::collections::BTreeMap;

use argon2::password_hash::rand_core::{OsRng, RngCore as _};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::Argon2;
use jiff::civil::DateTime;
use jiff::ToSpan as _;

use super::{App, AppError};
use crate::engine::{Actor, Problem};
pub use crate::store::accounts::Role;
use crate::store::accounts::{AccountRow, Registration};
use crate::store::audit::sha256_hex;
use crate::store::outbox::{AccountMail, Job, Letter};

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 10;
/// The longest password accepted (argon2 is fed no more than this).
pub const MAX_PASSWORD: usize = 256;
/// How long a registration's mailed link opens the account.
pub const REGISTRATION_HOURS: i64 = 24;
/// How long a session lasts from sign-in.
pub const SESSION_HOURS: i64 = 12;

/// Failed sign-ins of one account from one address in the window, after
/// which that address is refused for that account (others are not).
pub const FAILURES_PER_ACCOUNT_AND_ADDRESS: i64 = 5;
/// Failed sign-ins from one address in the window, whatever the accounts,
/// after which that address is refused.
pub const FAILURES_PER_ADDRESS: i64 = 30;
/// Failed sign-ins of one account from anywhere in the window after which
/// every attempt on it is slowed — never refused, so that no one can keep
/// its owner out by failing on purpose.
pub const FAILURES_BEFORE_SLOWING: i64 = 5;
/// How much each failure past [`FAILURES_BEFORE_SLOWING`] slows an
/// attempt, up to [`MAX_SLOWING_MS`].
pub const SLOWING_STEP_MS: u64 = 100;
pub const MAX_SLOWING_MS: u64 = 2_000;
pub const SIGN_IN_WINDOW_MINUTES: i64 = 15;

/// How long an attempt on an account that failed `failures` times lately
/// waits before its password is checked.
pub fn slowing(failures: i64) -> std::time::Duration {
    let past = u64::try_from(failures - FAILURES_BEFORE_SLOWING).unwrap_or(0);
    std::time::Duration::from_millis((past * SLOWING_STEP_MS).min(MAX_SLOWING_MS))
}

/// Whether a password resists guessing as a bank would require: the
/// estimator's score of 3 of 4 or more ("safely unguessable"), with the
/// person's own name and address counted as easy guesses.
pub fn strong_enough(password: &str, name: &str, email: &str) -> bool {
    let local = email.split('@').next().unwrap_or_default();
    let score = zxcvbn::zxcvbn(password, &[name, email, local]).score();
    score >= zxcvbn::Score::Three
}

/// What a sign-in came to.
#[derive(Debug)]
pub enum SignIn {
    Welcome(Account, SessionToken),
    /// Wrong address or password (which, is not said).
    Refused,
    /// Too many failures lately: not even checked.
    TooMany,
}

/// A signed-in account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The department of a staff account.
    pub department: Option<String>,
}

impl Account {
    fn of(row: AccountRow) -> Account {
        Account {
            email: row.email,
            name: row.name,
            role: row.role,
            department: row.department,
        }
    }

    /// The engine's actor this account acts as; `None` for roles that do
    /// not act on filings (policy staff, administrators).
    pub fn actor(&self) -> Option<Actor> {
        let department = self.department.clone();
        match (self.role, department) {
            (Role::Applicant, _) => Some(Actor::Applicant),
            (Role::Window, Some(department)) => Some(Actor::Window { department }),
            (Role::Reviewer, Some(department)) => Some(Actor::Reviewer { department }),
            (Role::Head, Some(department)) => Some(Actor::Head { department }),
            _ => None,
        }
    }
}

/// A new account as an administrator or a registering applicant gives it.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub department: Option<String>,
    pub password: String,
}

/// How long a bearer token's account is remembered without asking the
/// database again.
const TOKEN_CACHE_SECONDS: u64 = 30;

/// Accounts of bearer tokens recently seen, by the token's hash.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (Account, std::time::Instant)>>,
}

impl TokenCache {
    fn get(&self, hash: &str) -> Option<Account> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|(_, at)| at.elapsed().as_secs() < TOKEN_CACHE_SECONDS)
            .map(|(account, _)| account.clone())
    }

    fn put(&self, hash: String, account: Account) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() > 10_000 {
            entries.retain(|_, (_, at)| at.elapsed().as_secs() < TOKEN_CACHE_SECONDS);
        }
        entries.insert(hash, (account, std::time::Instant::now()));
    }
}

/// A session's secret, given to the browser once (as a cookie).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionToken(pub String);

/// A random secret: 32 bytes from the operating system, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The token the forms of a browser carry: derived from its cookie, which
/// another site's page cannot read, so it cannot forge the token either.
pub fn form_token(cookie: &str) -> String {
    sha256_hex(format!("onewindow-form:{cookie}").as_bytes())
}

/// An address as accounts are keyed: trimmed, lower case.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| AppError::Config(format!("hashing a password: {error}")))
}

fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

impl App {
    /// The departments of every definition: id → name.
    pub fn departments(&self) -> BTreeMap<String, String> {
        let mut departments = BTreeMap::new();
        for id in self.workflow_ids() {
            if let Ok(workflow) = self.workflow(&id) {
                for (key, department) in &workflow.departments {
                    departments.insert(key.clone(), department.name.clone());
                }
            }
        }
        departments
    }

    /// Every problem of a new account, in Chinese, by field.
    fn account_problems(&self, account: &NewAccount) -> Vec<Problem> {
        let mut problems = Vec::new();
        let email = normalize_email(&account.email);
        let (local, domain) = email.split_once('@').unwrap_or(("", ""));
        if local.is_empty()
            || !domain.contains('.')
            || email.len() > 254
            || email.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            problems.push(Problem::about("email", "请填写有效的电子邮箱地址"));
        }
        let name = account.name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            problems.push(Problem::about(
                "name",
                "请填写姓名或单位名称（不超过64个字）",
            ));
        }
        let length = account.password.chars().count();
        if length < MIN_PASSWORD || account.password.len() > MAX_PASSWORD {
            problems.push(Problem::about(
                "password",
                format!("密码至少{MIN_PASSWORD}个字符，至多{MAX_PASSWORD}个字节"),
            ));
        } else if !strong_enough(&account.password, name, &email) {
            problems.push(Problem::about(
                "password",
                "密码太容易被猜中（常见密码、键盘或数字序列、含姓名或邮箱等），请换一个更长、更少见的密码",
            ));
        }
        match (&account.department, account.role.has_department()) {
            (Some(department), true) if !self.departments().contains_key(department) => {
                problems.push(Problem::about(
                    "department",
                    format!("没有部门“{department}”"),
                ));
            }
            (None, true) => problems.push(Problem::about(
                "department",
                format!("{}须属于一个部门", account.role.chinese()),
            )),
            (Some(_), false) => problems.push(Problem::about(
                "department",
                format!("{}不属于部门", account.role.chinese()),
            )),
            _ => {}
        }
        problems
    }

    /// Creates an account (`by`: the administrator, or `self` for an
    /// applicant registering).
    ///
    /// # Errors
    /// [`AppError::Invalid`] with every problem, including an address that
    /// already has an account; a store failure.
    pub async fn add_account(
        &self,
        account: NewAccount,
        by: &str,
        now: DateTime,
    ) -> Result<Account, AppError> {
        let problems = self.account_problems(&account);
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        let row = AccountRow {
            email: normalize_email(&account.email),
            name: account.name.trim().to_string(),
            role: account.role,
            department: account.department,
            password_hash: hash_password(&account.password)?,
            created_at: now.to_string(),
            created_by: by.to_string(),
        };
        if !self.store.insert_account(&row).await? {
            return Err(AppError::Invalid(vec![Problem::about(
                "email",
                "该电子邮箱已注册",
            )]));
        }
        tracing::info!(email = %row.email, role = %row.role, by, "account created");
        Ok(Account::of(row))
    }

    /// An applicant registers themselves. Every problem of the form is
    /// told at once, but never whether the address has an account: either
    /// way the answer is the same, the same work is done, and a mail goes
    /// to the address — a link that opens the account
    /// ([`App::confirm_registration`], for [`REGISTRATION_HOURS`]), or a
    /// note that it has one already.
    ///
    /// # Errors
    /// [`AppError::Invalid`] with every problem of the form; a store failure.
    pub async fn register(
        &self,
        email: &str,
        name: &str,
        password: &str,
        now: DateTime,
    ) -> Result<(), AppError> {
        let account = NewAccount {
            email: email.to_string(),
            name: name.to_string(),
            role: Role::Applicant,
            department: None,
            password: password.to_string(),
        };
        let problems = self.account_problems(&account);
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        let email = normalize_email(email);
        let name = name.trim().to_string();
        // Hashed whether or not it is kept, so timing tells nothing.
        let password_hash = hash_password(password)?;
        let letter = if self.store.account(&email).await?.is_some() {
            Letter::Known
        } else {
            let token = random_token();
            let expires = now
                .checked_add(REGISTRATION_HOURS.hours())
                .map_err(|error| AppError::Config(error.to_string()))?;
            self.store
                .insert_registration(&Registration {
                    token_hash: sha256_hex(token.as_bytes()),
                    email: email.clone(),
                    name: name.clone(),
                    password_hash,
                    created_at: now.to_string(),
                    expires_at: expires.to_string(),
                })
                .await?;
            Letter::Confirm { token }
        };
        let mail = Job::Account(AccountMail {
            to: email,
            name,
            letter,
        });
        self.store.enqueue("", &[mail], now).await?;
        Ok(())
    }

    /// Opens the account of a registration by its mailed link, once, and
    /// signs it in; `None` for a link that is wrong, used or expired (or
    /// whose address got an account meanwhile).
    ///
    /// # Errors
    /// A store failure.
    pub async fn confirm_registration(
        &self,
        token: &str,
        now: DateTime,
    ) -> Result<Option<(Account, SessionToken)>, AppError> {
        let taken = self
            .store
            .take_registration(&sha256_hex(token.as_bytes()), &now.to_string())
            .await?;
        let Some(registration) = taken else {
            return Ok(None);
        };
        let row = AccountRow {
            email: registration.email,
            name: registration.name,
            role: Role::Applicant,
            department: None,
            password_hash: registration.password_hash,
            created_at: now.to_string(),
            created_by: "self".to_string(),
        };
        if !self.store.insert_account(&row).await? {
            return Ok(None);
        }
        tracing::info!(email = %row.email, role = %row.role, by = "self", "account created");
        let session = self.start_session(&row.email, now).await?;
        Ok(Some((Account::of(row), session)))
    }

    /// Every account (for the administrator's page).
    ///
    /// # Errors
    /// A store failure.
    /// The names of the accounts with these addresses, for pages that say
    /// who holds or did something (a person, not an e-mail address); an
    /// address without an account is left out.
    ///
    /// # Errors
    /// A database failure.
    pub async fn names_of(
        &self,
        emails: &[&str],
    ) -> Result<std::collections::BTreeMap<String, String>, AppError> {
        let mut names = std::collections::BTreeMap::new();
        for &email in emails {
            if names.contains_key(email) {
                continue;
            }
            if let Some(row) = self.store.account(email).await? {
                names.insert(email.to_string(), row.name);
            }
        }
        Ok(names)
    }

    pub async fn accounts(&self) -> Result<Vec<Account>, AppError> {
        Ok(self
            .store
            .accounts()
            .await?
            .into_iter()
            .map(Account::of)
            .collect())
    }

    /// Whether any account exists yet (first start creates the samples).
    ///
    /// # Errors
    /// A store failure.
    pub async fn has_accounts(&self) -> Result<bool, AppError> {
        Ok(self.store.account_count().await? > 0)
    }

    /// Signs in unless this address failed too often lately — on this
    /// account ([`FAILURES_PER_ACCOUNT_AND_ADDRESS`]) or on any
    /// ([`FAILURES_PER_ADDRESS`]) — in the last [`SIGN_IN_WINDOW_MINUTES`]
    /// minutes. An account failed on from many places is slowed
    /// ([`slowing`]), never locked: its owner, from their own address,
    /// still gets in. Failures are counted in the database, so every
    /// process serving it keeps one count.
    ///
    /// # Errors
    /// A store failure.
    pub async fn sign_in_limited(
        &self,
        email: &str,
        password: &str,
        address: Option<std::net::IpAddr>,
        now: DateTime,
    ) -> Result<SignIn, AppError> {
        let account = normalize_email(email);
        let address = address.map_or_else(String::new, |a| a.to_string());
        let account_key = format!("account:{account}");
        let pair_key = format!("pair:{account} {address}");
        let address_key = format!("address:{address}");
        let since = now
            .checked_sub(SIGN_IN_WINDOW_MINUTES.minutes())
            .map_err(|error| AppError::Config(error.to_string()))?
            .to_string();
        for (key, limit) in [
            (&pair_key, FAILURES_PER_ACCOUNT_AND_ADDRESS),
            (&address_key, FAILURES_PER_ADDRESS),
        ] {
            if self.store.failures_since(key, &since).await? >= limit {
                return Ok(SignIn::TooMany);
            }
        }
        let failures = self.store.failures_since(&account_key, &since).await?;
        tokio::time::sleep(slowing(failures)).await;
        match self.sign_in(email, password, now).await? {
            Some((account, token)) => {
                self.store.clear_failures(&pair_key).await?;
                Ok(SignIn::Welcome(account, token))
            }
            None => {
                self.store
                    .record_failure(
                        &[account_key, pair_key, address_key],
                        &now.to_string(),
                        &since,
                    )
                    .await?;
                Ok(SignIn::Refused)
            }
        }
    }

    /// Signs in: a new session for the right password, `None` otherwise.
    /// An unknown address costs the same hashing as a known one.
    ///
    /// # Errors
    /// A store failure.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        now: DateTime,
    ) -> Result<Option<(Account, SessionToken)>, AppError> {
        let row = self.store.account(&normalize_email(email)).await?;
        let password = password.to_string();
        let hash = row.as_ref().map(|row| row.password_hash.clone());
        let matches = tokio::task::spawn_blocking(move || match hash {
            Some(hash) => password_matches(&password, &hash),
            None => {
                // The same work as a real check, so timing tells nothing.
                let _ = hash_password(&password);
                false
            }
        })
        .await
        .map_err(|error| AppError::Config(format!("checking a password: {error}")))?;
        let Some(row) = row.filter(|_| matches) else {
            return Ok(None);
        };
        let session = self.start_session(&row.email, now).await?;
        Ok(Some((Account::of(row), session)))
    }

    /// A new session of an account, for [`SESSION_HOURS`].
    async fn start_session(&self, email: &str, now: DateTime) -> Result<SessionToken, AppError> {
        let token = random_token();
        let expires = now
            .checked_add(SESSION_HOURS.hours())
            .map_err(|error| AppError::Config(error.to_string()))?;
        self.store
            .insert_session(
                &sha256_hex(token.as_bytes()),
                email,
                &now.to_string(),
                &expires.to_string(),
            )
            .await?;
        Ok(SessionToken(token))
    }

    /// The account of a session that has not expired.
    ///
    /// # Errors
    /// A store failure.
    pub async fn session(&self, token: &str, now: DateTime) -> Result<Option<Account>, AppError> {
        Ok(self
            .store
            .session_account(&sha256_hex(token.as_bytes()), &now.to_string())
            .await?
            .map(Account::of))
    }

    /// Ends a session.
    ///
    /// # Errors
    /// A store failure.
    pub async fn sign_out(&self, token: &str) -> Result<(), AppError> {
        Ok(self
            .store
            .delete_session(&sha256_hex(token.as_bytes()))
            .await?)
    }

    /// A new bearer token for the JSON API, shown once.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown account; a store failure.
    pub async fn issue_api_token(
        &self,
        email: &str,
        label: &str,
        now: DateTime,
    ) -> Result<String, AppError> {
        let email = normalize_email(email);
        if self.store.account(&email).await?.is_none() {
            return Err(AppError::NotFound(format!("account `{email}`")));
        }
        let token = random_token();
        self.store
            .insert_api_token(
                &sha256_hex(token.as_bytes()),
                &email,
                label,
                &now.to_string(),
            )
            .await?;
        Ok(token)
    }

    /// The account a bearer token belongs to.
    ///
    /// # Errors
    /// A store failure.
    pub async fn token_account(&self, token: &str) -> Result<Option<Account>, AppError> {
        let hash = sha256_hex(token.as_bytes());
        if let Some(account) = self.tokens.get(&hash) {
            return Ok(Some(account));
        }
        let account = self.store.token_account(&hash).await?.map(Account::of);
        if let Some(account) = &account {
            self.tokens.put(hash, account.clone());
        }
        Ok(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_a_bank_would_refuse_is_refused() {
        let strong = |password: &str| strong_enough(password, "李审查", "li@health.example.cn");
        for common in [
            "password123456",
            "1234567890",
            "qwertyuiopas",
            "li@health.example.cn1",
        ] {
            assert!(!strong(common), "{common}");
        }
        for good in [
            "a-long-password-1",
            "correct horse battery staple",
            "53f19a9dba583e12",
        ] {
            assert!(strong(good), "{good}");
        }
    }

    #[test]
    fn an_account_failed_on_is_slowed_step_by_step_up_to_a_bound() {
        assert_eq!(slowing(0), std::time::Duration::ZERO);
        assert_eq!(slowing(FAILURES_BEFORE_SLOWING), std::time::Duration::ZERO);
        assert_eq!(
            slowing(FAILURES_BEFORE_SLOWING + 3),
            std::time::Duration::from_millis(3 * SLOWING_STEP_MS)
        );
        assert_eq!(
            slowing(10_000),
            std::time::Duration::from_millis(MAX_SLOWING_MS)
        );
    }
}
