//! Refresh tokens: stored as SHA-256 hashes, grouped in families (one per login).
//! Rotation revokes the presented token and issues the next in its family; presenting
//! a token that was already rotated away is reuse and revokes the whole family.
//!
//! Lock order: a transaction that changes both a user's row and its refresh tokens
//! changes the user's row first (ban, logout, reuse), so two of them never wait on
//! each other on PostgreSQL (a logout and a ban of one user once deadlocked).

use sqlx::{Any, FromRow, Transaction};

use super::Store;
use crate::clock::Timestamp;
use crate::ids::UserId;

/// Why a refresh token stopped being valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeReason {
    /// Exchanged for its successor: presenting it again is reuse.
    Rotated,
    /// Its family was revoked after reuse was detected.
    Reuse,
    Logout,
    Ban,
}

impl RevokeReason {
    fn as_str(self) -> &'static str {
        match self {
            RevokeReason::Rotated => "rotated",
            RevokeReason::Reuse => "reuse",
            RevokeReason::Logout => "logout",
            RevokeReason::Ban => "ban",
        }
    }

    fn parse(text: &str) -> RevokeReason {
        match text {
            "rotated" => RevokeReason::Rotated,
            "reuse" => RevokeReason::Reuse,
            "ban" => RevokeReason::Ban,
            _ => RevokeReason::Logout,
        }
    }
}

/// A refresh token to store.
pub struct RefreshRecord<'a> {
    pub user_id: UserId,
    pub family: &'a str,
    pub token_hash: &'a str,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What presenting a refresh token led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The token was valid; it is now revoked and `new` stands in its family.
    Rotated {
        user_id: UserId,
        family: String,
    },
    /// The token had already been rotated away: its family is now revoked.
    Reused {
        user_id: UserId,
    },
    /// The token was revoked for another reason (logout, ban, earlier reuse).
    Revoked {
        user_id: UserId,
        reason: RevokeReason,
    },
    Expired,
    Unknown,
}

#[derive(FromRow)]
struct TokenRow {
    id: i64,
    user_id: i64,
    family: String,
    expires_at: i64,
    revoked_at: Option<i64>,
    revoked_reason: Option<String>,
}

impl Store {
    pub async fn insert_refresh_token(&self, record: &RefreshRecord<'_>) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        insert(&mut tx, record).await?;
        tx.commit().await
    }

    /// Exchanges the token hashed as `old_hash` for `next` (same family), atomically.
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        next_hash: &str,
        now: Timestamp,
        next_expires_at: Timestamp,
    ) -> Result<Rotation, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT id, user_id, family, expires_at, revoked_at, revoked_reason \
             FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(old_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Rotation::Unknown);
        };
        let user_id = UserId(row.user_id);
        if row.revoked_at.is_some() {
            let reason = RevokeReason::parse(row.revoked_reason.as_deref().unwrap_or_default());
            if reason != RevokeReason::Rotated {
                return Ok(Rotation::Revoked { user_id, reason });
            }
            revoke_reused_family(&mut tx, &row.family, user_id, now).await?;
            tx.commit().await?;
            return Ok(Rotation::Reused { user_id });
        }
        if row.expires_at <= now.as_millis() {
            return Ok(Rotation::Expired);
        }
        // Two refreshes with the same token can race: the conditional update lets
        // exactly one of them win; the loser sees no row changed and treats its
        // request as the reuse it is.
        let won = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2, revoked_reason = 'rotated' \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(row.id)
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !won {
            revoke_reused_family(&mut tx, &row.family, user_id, now).await?;
            tx.commit().await?;
            return Ok(Rotation::Reused { user_id });
        }
        let record = RefreshRecord {
            user_id,
            family: &row.family,
            token_hash: next_hash,
            issued_at: now,
            expires_at: next_expires_at,
        };
        insert(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(Rotation::Rotated { user_id, family: row.family })
    }

    /// The owner of the family a token belongs to, when `hash` is a token of `user_id`.
    pub async fn refresh_token_family(
        &self,
        hash: &str,
        user_id: UserId,
    ) -> Result<Option<String>, sqlx::Error> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT family FROM refresh_tokens WHERE token_hash = $1 AND user_id = $2")
                .bind(hash)
                .bind(user_id.0)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(family,)| family))
    }

    /// Logout: revokes one family (or all of the user's when `family` is None) and
    /// every access token issued until now, in one transaction.
    pub async fn logout(
        &self,
        user_id: UserId,
        family: Option<&str>,
        now: Timestamp,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        // The user's row first, then its tokens: the lock order every transaction here keeps.
        bump_version(&mut *tx, user_id, now).await?;
        match family {
            Some(family) => revoke_family(&mut tx, family, now, RevokeReason::Logout).await?,
            None => revoke_user_tokens(&mut tx, user_id, now, RevokeReason::Logout).await?,
        }
        tx.commit().await
    }

    /// Deletes refresh tokens that expired before `before`; returns how many.
    pub async fn purge_expired_refresh_tokens(&self, before: Timestamp) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query("DELETE FROM refresh_tokens WHERE expires_at < $1")
            .bind(before.as_millis())
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}

async fn insert(tx: &mut Transaction<'_, Any>, record: &RefreshRecord<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (user_id, family, token_hash, issued_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(record.user_id.0)
    .bind(record.family)
    .bind(record.token_hash)
    .bind(record.issued_at.as_millis())
    .bind(record.expires_at.as_millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A reuse: the family is revoked, and so is every access token of the user (the
/// token version moves on), the ones minted from the family by whoever stole it too.
async fn revoke_reused_family(
    tx: &mut Transaction<'_, Any>,
    family: &str,
    user_id: UserId,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    bump_version(&mut **tx, user_id, now).await?;
    revoke_family(tx, family, now, RevokeReason::Reuse).await
}

/// Moves the user's token version on: every access token issued so far stops working.
pub(super) async fn bump_version<'e, E>(
    executor: E,
    user_id: UserId,
    now: Timestamp,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    sqlx::query("UPDATE users SET token_version = token_version + 1, updated_at = $2 WHERE id = $1")
        .bind(user_id.0)
        .bind(now.as_millis())
        .execute(executor)
        .await?;
    Ok(())
}

async fn revoke_family(
    tx: &mut Transaction<'_, Any>,
    family: &str,
    now: Timestamp,
    reason: RevokeReason,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $2, revoked_reason = $3 \
         WHERE family = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .bind(now.as_millis())
    .bind(reason.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn revoke_user_tokens(
    tx: &mut Transaction<'_, Any>,
    user_id: UserId,
    now: Timestamp,
    reason: RevokeReason,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $2, revoked_reason = $3 \
         WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user_id.0)
    .bind(now.as_millis())
    .bind(reason.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
