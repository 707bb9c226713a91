//! The `server_secrets` table, where versions before the secret file kept the
//! generated signing secret; read once to move it out, then emptied.

use super::Store;

impl Store {
    /// The secret called `name`, if the table still holds it.
    pub async fn stored_secret(&self, name: &str) -> Result<Option<String>, sqlx::Error> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(value,)| value))
    }

    /// Deletes the secret called `name` (an erasure: the write-ahead log is truncated
    /// after it, so no copy stays on disk).
    pub async fn delete_secret(&self, name: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM server_secrets WHERE name = $1").bind(name).execute(&self.pool).await?;
        self.erased();
        Ok(())
    }
}
