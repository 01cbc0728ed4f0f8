//! The `users`, `sessions` and `login_attempts` tables: staff accounts,
//! logins, and the record that rate-limits password guessing.
//!
//! Owns: storing hashes and tokens. Does not own: hashing passwords or
//! minting tokens (that is `web::auth`); this module never sees a password.

use super::sql::Flag;
use super::{now_ms, QueryContext, Store, StoreError};
use crate::state::Role;

/// A staff account as the web UI sees it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub role: Role,
}

/// Recent failed logins for one account or from one client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct FailedLogins {
    pub count: i64,
    /// When the last one was (milliseconds since the epoch; 0 when none).
    pub last_at: i64,
}

/// What [`Store::reserve_login_attempt`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginSlot {
    /// The attempt may be checked; its row id.
    Reserved(i64),
    /// Not before this time (milliseconds since the epoch).
    Wait { until_ms: i64 },
}

/// An account as `users list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserListing {
    pub email: String,
    pub role: Role,
    pub created_at: i64,
    #[sqlx(try_from = "Flag")]
    pub disabled: bool,
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

impl Store {
    /// Creates an account, or replaces the password and role of an existing
    /// one (and enables it if it was disabled).
    /// True when the account is new.
    pub async fn upsert_user(
        &self,
        email: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let existed: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&mut *tx)
            .await
            .during("looking up a user")?;
        sqlx::query(
            "INSERT INTO users (email, password_hash, role, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (email) DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role,
                 disabled_at = NULL",
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
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
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
            sqlx::query_as("SELECT id, email, role, password_hash FROM users WHERE email = $1 AND disabled_at IS NULL")
                .bind(email)
                .fetch_optional(&self.reader)
                .await
                .during("reading a user")?;
        Ok(row.map(|r| (r.user, r.password_hash)))
    }

    /// Reserves a login attempt for `email` from `client`, unless one must
    /// wait: `next_attempt_at` gets the failures since `since_ms` for the
    /// account and from the client and says when the next attempt may be
    /// checked. Counting and reserving are one write transaction, so of
    /// parallel attempts only as many get through as the limits allow. The
    /// attempt counts as failed until [`Store::finish_login_attempt`]. Attempts
    /// older than `since_ms` are deleted on the way.
    pub async fn reserve_login_attempt(
        &self,
        email: &str,
        client: &str,
        since_ms: i64,
        next_attempt_at: impl FnOnce(FailedLogins, FailedLogins) -> i64,
    ) -> Result<LoginSlot, StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM login_attempts WHERE at < $1")
            .bind(since_ms)
            .execute(&mut *tx)
            .await
            .during("pruning old login attempts")?;
        let mut failed = [FailedLogins::default(); 2];
        for (i, column) in ["email", "client"].iter().enumerate() {
            let sql = format!(
                "SELECT COUNT(*) AS count, COALESCE(MAX(at), 0) AS last_at FROM login_attempts
                 WHERE {column} = $1 AND success = 0 AND at >= $2"
            );
            failed[i] = sqlx::query_as(&sql)
                .bind(if i == 0 { email } else { client })
                .bind(since_ms)
                .fetch_one(&mut *tx)
                .await
                .during("counting failed logins")?;
        }
        let now = now_ms();
        let due = next_attempt_at(failed[0], failed[1]);
        if due > now {
            return Ok(LoginSlot::Wait { until_ms: due });
        }
        let id = sqlx::query_scalar(
            "INSERT INTO login_attempts (email, client, success, at) VALUES ($1, $2, 0, $3) RETURNING id",
        )
        .bind(email)
        .bind(client)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .during("recording a login attempt")?;
        tx.commit().await.during("committing a login attempt")?;
        Ok(LoginSlot::Reserved(id))
    }

    /// Records how a reserved attempt ended, and when: a wait after a
    /// failure counts from when the person saw it.
    pub async fn finish_login_attempt(
        &self,
        attempt: i64,
        success: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE login_attempts SET success = $1, at = $2 WHERE id = $3")
            .bind(i64::from(success))
            .bind(now_ms())
            .bind(attempt)
            .execute(&mut *tx)
            .await
            .during("recording a login")?;
        tx.commit().await.during("committing a login")
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
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *tx)
            .await
            .during("clearing expired sessions")?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
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
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
        )
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(&self.reader)
        .await
        .during("reading a session")
    }

    /// Every account, by email.
    pub async fn list_users(&self) -> Result<Vec<UserListing>, StoreError> {
        sqlx::query_as(
            "SELECT email, role, created_at, disabled_at IS NOT NULL AS disabled
             FROM users ORDER BY email",
        )
        .fetch_all(&self.reader)
        .await
        .during("listing users")
    }

    /// Disables an account and ends its sessions. False when there is no
    /// such enabled account.
    pub async fn disable_user(&self, email: &str) -> Result<bool, StoreError> {
        self.end_account(email, false).await
    }

    /// Deletes an account and its sessions (notes and history keep its
    /// email). False when there is no such account.
    pub async fn remove_user(&self, email: &str) -> Result<bool, StoreError> {
        self.end_account(email, true).await
    }

    /// Ends the sessions of `email`, then disables or deletes the account,
    /// with an audit row. False when there was nothing to change.
    async fn end_account(&self, email: &str, delete: bool) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE email = $1)",
        )
        .bind(email)
        .execute(&mut *tx)
        .await
        .during("ending a user's sessions")?;
        let changed = if delete {
            sqlx::query("DELETE FROM users WHERE email = $1").bind(email)
        } else {
            sqlx::query(
                "UPDATE users SET disabled_at = $1 WHERE email = $2 AND disabled_at IS NULL",
            )
            .bind(now_ms())
            .bind(email)
        }
        .execute(&mut *tx)
        .await
        .during("changing a user")?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        let action = if delete {
            "user_removed"
        } else {
            "user_disabled"
        };
        Self::audit_in(&mut tx, "cli", None, None, action, email).await?;
        tx.commit().await.during("committing a user change")?;
        Ok(true)
    }

    /// Ends a session (logout).
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await
            .during("ending a session")?;
        tx.commit().await.during("committing a logout")
    }
}
