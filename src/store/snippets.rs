//! The `reply_snippets` table: texts staff insert into a free-form reply,
//! one per name and language, created, edited and deleted by admins, each
//! change with its audit row. Mirrors the snippets page of `web::inquiries`.

use super::{now_ms, QueryContext, Store, StoreError};

/// One reply snippet.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Snippet {
    pub id: i64,
    pub name: String,
    pub language: String,
    pub body: String,
    pub updated_by: String,
    pub updated_at: i64,
}

/// A snippet as an admin typed it.
#[derive(Debug, Clone)]
pub struct SnippetEdit {
    pub name: String,
    pub language: String,
    pub body: String,
}

impl Store {
    /// Every snippet, by language then name; only `language`'s when given.
    pub async fn snippets(&self, language: Option<&str>) -> Result<Vec<Snippet>, StoreError> {
        sqlx::query_as(
            "SELECT id, name, language, body, updated_by, updated_at FROM reply_snippets
             WHERE $1 IS NULL OR language = $1 ORDER BY language, name, id",
        )
        .bind(language)
        .fetch_all(&self.reader)
        .await
        .during("reading reply snippets")
    }

    /// Saves a snippet: a new one when `id` is `None`, else that one
    /// changed. Its id; `NotFound` when `id` names none.
    pub async fn save_snippet(
        &self,
        id: Option<i64>,
        actor: &str,
        s: &SnippetEdit,
    ) -> Result<i64, StoreError> {
        let mut tx = self.write().await?;
        let saved: Option<i64> = match id {
            None => sqlx::query_scalar(
                "INSERT INTO reply_snippets (name, language, body, updated_by, updated_at)
                 SELECT $1, $2, $3, $4, $5 WHERE $6 IS NULL RETURNING id",
            ),
            Some(_) => sqlx::query_scalar(
                "UPDATE reply_snippets SET name = $1, language = $2, body = $3, updated_by = $4,
                        updated_at = $5 WHERE id = $6 RETURNING id",
            ),
        }
        .bind(&s.name)
        .bind(&s.language)
        .bind(&s.body)
        .bind(actor)
        .bind(now_ms())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .during("saving a reply snippet")?;
        let saved = saved.ok_or(StoreError::NotFound("snippet"))?;
        let detail = format!("{} ({})", s.name, s.language);
        Self::audit_in(&mut tx, actor, None, None, "snippet_saved", &detail).await?;
        tx.commit().await.during("committing a reply snippet")?;
        Ok(saved)
    }

    /// Deletes a snippet; `NotFound` when there is none with `id`.
    pub async fn delete_snippet(&self, id: i64, actor: &str) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let gone: Option<String> = sqlx::query_scalar(
            "DELETE FROM reply_snippets WHERE id = $1 RETURNING name || ' (' || language || ')'",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .during("deleting a reply snippet")?;
        let gone = gone.ok_or(StoreError::NotFound("snippet"))?;
        Self::audit_in(&mut tx, actor, None, None, "snippet_deleted", &gone).await?;
        tx.commit().await.during("committing a reply snippet")
    }
}
