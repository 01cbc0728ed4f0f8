//! The `users`, `sessions` and `login_attempts` tables: staff accounts,
//! logins, and the record that rate-limits password guessing.
//!
//! Owns: storing hashes and tokens. Does not own: hashing passwords or
//! minting tokens (that is `web::auth`); this module never sees a password.

use super::{now_ms, QueryContext, Store, StoreError};
use crate::state::Role;

/// A staff account as the web UI sees it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub role: Role,
}

/// A live session: who is logged in and the CSRF token of their forms.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    #[sqlx(flatten)]
    pub user: User,
    pub csrf_token: String,
}

/// An account with its password hash, for checking a login.
#[derive(sqlx::FromRow)]
struct LoginRow {
    #[sqlx(flatten)]
    user: User,
    password_hash: String,
}

/// Failed logins in the window, counted two ways.
#[derive(sqlx::FromRow)]
struct FailedLogins {
    per_account: i64,
    per_client: i64,
}

impl Store {
    /// Creates an account, or replaces the password and role of an existing one.
    /// True when the account is new.
    pub async fn upsert_user(
        &self,
        email: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let existed: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE email = ?")
            .bind(email)
            .fetch_optional(&mut *tx)
            .await
            .during("looking up a user")?;
        sqlx::query(
            "INSERT INTO users (email, password_hash, role, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (email) DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role",
        )
        .bind(email)
        .bind(password_hash)
        .bind(role)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .during("saving a user")?;
        if existed.is_some() {
            // A new password logs out every old session.
            sqlx::query("DELETE FROM sessions WHERE user_id = ?")
                .bind(existed)
                .execute(&mut *tx)
                .await
                .during("ending a user's sessions")?;
        }
        let action = if existed.is_some() {
            "user_updated"
        } else {
            "user_added"
        };
        Self::audit_in(
            &mut tx,
            "cli",
            None,
            None,
            action,
            &format!("{email} as {role}"),
        )
        .await?;
        tx.commit().await.during("committing a user")?;
        Ok(existed.is_none())
    }

    /// The account and its password hash, for checking a login.
    pub async fn user_for_login(&self, email: &str) -> Result<Option<(User, String)>, StoreError> {
        let row: Option<LoginRow> =
            sqlx::query_as("SELECT id, email, role, password_hash FROM users WHERE email = ?")
                .bind(email)
                .fetch_optional(&self.reader)
                .await
                .during("reading a user")?;
        Ok(row.map(|r| (r.user, r.password_hash)))
    }

    /// Records a login attempt.
    pub async fn record_login(
        &self,
        email: &str,
        client: &str,
        ok: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO login_attempts (email, client, success, at) VALUES (?, ?, ?, ?)")
            .bind(email)
            .bind(client)
            .bind(ok)
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .during("recording a login attempt")?;
        tx.commit().await.during("committing a login attempt")
    }

    /// Failed attempts since `since_ms` for this account and from this client.
    pub async fn failed_logins_since(
        &self,
        email: &str,
        client: &str,
        since_ms: i64,
    ) -> Result<(i64, i64), StoreError> {
        let row: FailedLogins = sqlx::query_as(
            "SELECT
               (SELECT COUNT(*) FROM login_attempts WHERE email = ?1 AND success = 0 AND at >= ?3)
                 AS per_account,
               (SELECT COUNT(*) FROM login_attempts WHERE client = ?2 AND success = 0 AND at >= ?3)
                 AS per_client",
        )
        .bind(email)
        .bind(client)
        .bind(since_ms)
        .fetch_one(&self.reader)
        .await
        .during("counting failed logins")?;
        Ok((row.per_account, row.per_client))
    }

    /// Stores a new session (the token's hash) lasting until `expires_at`.
    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf_token: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let now = now_ms();
        sqlx::query("DELETE FROM sessions WHERE expires_at < ?")
            .bind(now)
            .execute(&mut *tx)
            .await
            .during("clearing expired sessions")?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf_token)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .during("creating a session")?;
        tx.commit().await.during("committing a session")
    }

    /// The live session with this token hash, if any.
    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        sqlx::query_as(
            "SELECT u.id, u.email, u.role, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ? AND s.expires_at > ?",
        )
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(&self.reader)
        .await
        .during("reading a session")
    }

    /// Ends a session (logout).
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&mut *tx)
            .await
            .during("ending a session")?;
        tx.commit().await.during("committing a logout")
    }
}
