//! Secrets the server makes for itself, stored once and shared by every instance.

use super::Store;
use crate::clock::Timestamp;

impl Store {
    /// The secret called `name`, storing `candidate` first if there is none. Instances
    /// starting together agree: the first insert wins and everyone reads it back.
    pub async fn get_or_create_secret(
        &self,
        name: &str,
        candidate: &str,
        now: Timestamp,
    ) -> Result<String, sqlx::Error> {
        sqlx::query(
            "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .bind(now.as_millis())
        .execute(&self.pool)
        .await?;
        let (value,): (String,) = sqlx::query_as("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(value)
    }
}
