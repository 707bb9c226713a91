//! Users: accounts, profiles, roles, token versions and bans.

use sqlx::any::AnyArguments;
use sqlx::{Arguments, FromRow};

use super::{on_unique, Constraint, Store, StoreError};
use crate::clock::Timestamp;
use crate::ids::{RoomId, UserId};

const USER_COLUMNS: &str = "id, username, email, password_hash, role, nickname, dob, gender, \
     preferred_gender, needs, interests, avatar_version, token_version, banned_until, ban_reason, \
     current_room_id, created_at, updated_at";

/// A user row as stored. Lists are comma-separated vocabulary ids; the profile module
/// turns this into typed values.
#[derive(Clone, Debug, FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub role: String,
    pub nickname: Option<String>,
    pub dob: Option<String>,
    pub gender: Option<String>,
    pub preferred_gender: Option<String>,
    pub needs: Option<String>,
    pub interests: Option<String>,
    pub avatar_version: Option<i64>,
    pub token_version: i64,
    pub banned_until: Option<i64>,
    pub ban_reason: Option<String>,
    pub current_room_id: Option<RoomId>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl UserRow {
    pub fn user_id(&self) -> UserId {
        UserId(self.id)
    }

    /// The end of the ban in force at `now`, if any.
    pub fn ban_in_force(&self, now: Timestamp) -> Option<Timestamp> {
        self.banned_until.map(Timestamp::from_millis).filter(|until| *until > now)
    }
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub now: Timestamp,
}

/// The profile columns, already validated and encoded.
#[derive(Clone, Debug, Default)]
pub struct ProfileFields {
    pub nickname: Option<String>,
    pub dob: Option<String>,
    pub gender: Option<String>,
    pub preferred_gender: Option<String>,
    pub needs: Option<String>,
    pub interests: Option<String>,
}

/// What an administrator may change on an account.
#[derive(Clone, Debug, Default)]
pub struct AdminUserUpdate {
    pub role: Option<String>,
    pub nickname: Option<String>,
    pub email: Option<Option<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserStatusFilter {
    Idle,
    Searching,
    Connected,
    Banned,
}

#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    pub status: Option<UserStatusFilter>,
    /// Part of the username, nickname or email, case-insensitive.
    pub name: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

impl Store {
    /// Creates an account; `Conflict(Username | Email)` when either is taken.
    pub async fn create_user(&self, new: NewUser<'_>) -> Result<UserRow, StoreError> {
        let sql = format!(
            "INSERT INTO users (username, username_key, email, password_hash, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {USER_COLUMNS}"
        );
        sqlx::query_as::<_, UserRow>(&sql)
            .bind(new.username)
            .bind(new.username.to_lowercase())
            .bind(new.email.map(str::to_lowercase))
            .bind(new.password_hash)
            .bind(new.role)
            .bind(new.now.as_millis())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| on_unique(e, &[Constraint::Username, Constraint::Email]))
    }

    pub async fn user(&self, id: UserId) -> Result<Option<UserRow>, sqlx::Error> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        sqlx::query_as(&sql).bind(id.0).fetch_optional(&self.pool).await
    }

    /// Looks a user up by username, ignoring case.
    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRow>, sqlx::Error> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username_key = $1");
        sqlx::query_as(&sql).bind(username.to_lowercase()).fetch_optional(&self.pool).await
    }

    /// Writes the given profile columns (None leaves a column as it is).
    pub async fn update_profile(
        &self,
        id: UserId,
        fields: &ProfileFields,
        now: Timestamp,
    ) -> Result<Option<UserRow>, sqlx::Error> {
        let sql = format!(
            "UPDATE users SET nickname = COALESCE($2, nickname), dob = COALESCE($3, dob), \
             gender = COALESCE($4, gender), preferred_gender = COALESCE($5, preferred_gender), \
             needs = COALESCE($6, needs), interests = COALESCE($7, interests), updated_at = $8, \
             nickname_key = COALESCE($9, nickname_key) \
             WHERE id = $1 RETURNING {USER_COLUMNS}"
        );
        sqlx::query_as(&sql)
            .bind(id.0)
            .bind(fields.nickname.as_deref())
            .bind(fields.dob.as_deref())
            .bind(fields.gender.as_deref())
            .bind(fields.preferred_gender.as_deref())
            .bind(fields.needs.as_deref())
            .bind(fields.interests.as_deref())
            .bind(now.as_millis())
            .bind(fields.nickname.as_deref().map(str::to_lowercase))
            .fetch_optional(&self.pool)
            .await
    }

    /// Invalidates every access token issued so far by moving the user's token version.
    pub async fn bump_token_version(&self, id: UserId, now: Timestamp) -> Result<(), sqlx::Error> {
        super::tokens::bump_version(&self.pool, id, now).await
    }

    /// Bans until `until`, revoking every access and refresh token in the same
    /// transaction so no request slips through between the ban and the revocation.
    pub async fn ban_user(
        &self,
        id: UserId,
        until: Timestamp,
        reason: &str,
        now: Timestamp,
    ) -> Result<Option<UserRow>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "UPDATE users SET banned_until = $2, ban_reason = $3, token_version = token_version + 1, \
             updated_at = $4 WHERE id = $1 RETURNING {USER_COLUMNS}"
        );
        let row: Option<UserRow> = sqlx::query_as(&sql)
            .bind(id.0)
            .bind(until.as_millis())
            .bind(reason)
            .bind(now.as_millis())
            .fetch_optional(&mut *tx)
            .await?;
        if row.is_some() {
            super::tokens::revoke_user_tokens(&mut tx, id, now, super::RevokeReason::Ban).await?;
        }
        tx.commit().await?;
        Ok(row)
    }

    pub async fn unban_user(&self, id: UserId, now: Timestamp) -> Result<Option<UserRow>, sqlx::Error> {
        let sql = format!(
            "UPDATE users SET banned_until = NULL, ban_reason = NULL, updated_at = $2 \
             WHERE id = $1 RETURNING {USER_COLUMNS}"
        );
        sqlx::query_as(&sql).bind(id.0).bind(now.as_millis()).fetch_optional(&self.pool).await
    }

    /// Applies an administrator's edit; `Conflict(Email)` when the email is taken.
    pub async fn admin_update_user(
        &self,
        id: UserId,
        update: &AdminUserUpdate,
        now: Timestamp,
    ) -> Result<Option<UserRow>, StoreError> {
        let (set_email, email) = match &update.email {
            Some(email) => (true, email.as_deref().map(str::to_lowercase)),
            None => (false, None),
        };
        let sql = format!(
            "UPDATE users SET role = COALESCE($2, role), nickname = COALESCE($3, nickname), \
             email = CASE WHEN $4 THEN $5 ELSE email END, updated_at = $6, \
             nickname_key = COALESCE($7, nickname_key) WHERE id = $1 RETURNING {USER_COLUMNS}"
        );
        sqlx::query_as(&sql)
            .bind(id.0)
            .bind(update.role.as_deref())
            .bind(update.nickname.as_deref())
            .bind(set_email)
            .bind(email)
            .bind(now.as_millis())
            .bind(update.nickname.as_deref().map(str::to_lowercase))
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| on_unique(e, &[Constraint::Email]))
    }

    /// One page of users matching `filter`, oldest first, and the total matching.
    pub async fn list_users(
        &self,
        filter: &UserFilter,
        now: Timestamp,
    ) -> Result<(Vec<UserRow>, i64), sqlx::Error> {
        let (condition, args) = filter_condition(filter, now)?;
        let n = args.len();
        let list_sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE {condition} ORDER BY id LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut list_args = args;
        add(&mut list_args, filter.limit)?;
        add(&mut list_args, filter.offset)?;
        let rows: Vec<UserRow> = sqlx::query_as_with(&list_sql, list_args).fetch_all(&self.pool).await?;

        let (condition, args) = filter_condition(filter, now)?;
        let count_sql = format!("SELECT COUNT(*) FROM users WHERE {condition}");
        let (total,): (i64,) = sqlx::query_as_with(&count_sql, args).fetch_one(&self.pool).await?;
        Ok((rows, total))
    }

    /// Accounts by role and whether a ban is in force, for the metrics gauge.
    pub async fn count_accounts(&self, now: Timestamp) -> Result<Vec<(String, bool, i64)>, sqlx::Error> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT role, CAST(CASE WHEN banned_until > $1 THEN 1 ELSE 0 END AS BIGINT) AS banned, \
             COUNT(*) FROM users GROUP BY role, CASE WHEN banned_until > $1 THEN 1 ELSE 0 END",
        )
        .bind(now.as_millis())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(role, banned, n)| (role, banned == 1, n)).collect())
    }
}

/// The WHERE clause of a user listing and its parameters. Only fixed fragments are
/// spliced into the SQL; user text always travels as a parameter.
fn filter_condition(
    filter: &UserFilter,
    now: Timestamp,
) -> Result<(String, AnyArguments<'static>), sqlx::Error> {
    let mut args = AnyArguments::default();
    let mut conditions = vec!["1 = 1".to_owned()];
    if let Some(status) = filter.status {
        add(&mut args, now.as_millis())?;
        let now = args.len();
        conditions.push(match status {
            UserStatusFilter::Idle => format!(
                "current_room_id IS NULL AND (banned_until IS NULL OR banned_until <= ${now}) \
                 AND NOT EXISTS (SELECT 1 FROM search_tickets t WHERE t.user_id = users.id)"
            ),
            UserStatusFilter::Searching => format!(
                "EXISTS (SELECT 1 FROM search_tickets t WHERE t.user_id = users.id) \
                 AND (banned_until IS NULL OR banned_until <= ${now})"
            ),
            UserStatusFilter::Connected => {
                format!("current_room_id IS NOT NULL AND (banned_until IS NULL OR banned_until <= ${now})")
            }
            UserStatusFilter::Banned => format!("banned_until > ${now}"),
        });
    }
    if let Some(name) = &filter.name {
        let escaped = name.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        add(&mut args, format!("%{escaped}%"))?;
        let p = args.len();
        conditions.push(format!(
            "(username_key LIKE ${p} ESCAPE '\\' OR nickname_key LIKE ${p} ESCAPE '\\' \
                 OR email LIKE ${p} ESCAPE '\\')"
        ));
    }
    Ok((conditions.join(" AND "), args))
}

fn add<'q, T>(args: &mut AnyArguments<'q>, value: T) -> Result<(), sqlx::Error>
where
    T: 'q + sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    args.add(value).map_err(sqlx::Error::Encode)
}

impl Store {
    /// Users by live status (`idle` not counting banned users, `searching`,
    /// `connected`) and bans in force.
    pub async fn count_user_states(&self, now: Timestamp) -> Result<(i64, i64, i64, i64), sqlx::Error> {
        sqlx::query_as(
            "SELECT \
             CAST(COALESCE(SUM(CASE WHEN u.current_room_id IS NULL AND t.user_id IS NULL \
                 AND (u.banned_until IS NULL OR u.banned_until <= $1) THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN u.current_room_id IS NULL AND t.user_id IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN u.current_room_id IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN u.banned_until > $1 THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM users u LEFT JOIN search_tickets t ON t.user_id = u.id",
        )
        .bind(now.as_millis())
        .fetch_one(&self.pool)
        .await
    }
}

impl Store {
    /// Erases an account: the user's messages and the calls of their rooms, then the user (refresh tokens, avatar
    /// and ticket go with it). Rooms and reports keep the bare id for moderation.
    pub async fn delete_user(&self, id: UserId) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM messages WHERE user_id = $1").bind(id.0).execute(&mut *tx).await?;
        // The calls of the user's rooms go with the account, even where a room's
        // messages are kept (`--keep-messages-after-end`): a call's record names its caller.
        sqlx::query(
            "DELETE FROM calls WHERE room_id IN (SELECT id FROM rooms WHERE user_a = $1 OR user_b = $1)",
        )
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        // Evidence of reports by or about the user keeps the text of their messages
        // until its retention ends, but no longer their id.
        let reports: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, evidence FROM reports \
             WHERE (reporter_id = $1 OR reported_id = $1) AND evidence_purged_at IS NULL",
        )
        .bind(id.0)
        .fetch_all(&mut *tx)
        .await?;
        for (report, evidence) in reports {
            if let Some(redacted) = without_author(&evidence, id) {
                // Not over an erasure that committed since the read.
                sqlx::query("UPDATE reports SET evidence = $2 WHERE id = $1 AND evidence_purged_at IS NULL")
                    .bind(report)
                    .bind(redacted)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        self.erased();
        Ok(deleted == 1)
    }
}

/// The evidence (a JSON array of messages) with `user`'s id replaced by null on the
/// messages they wrote; None when none of them is theirs.
fn without_author(evidence: &str, user: UserId) -> Option<String> {
    let mut messages: Vec<serde_json::Value> = serde_json::from_str(evidence).ok()?;
    let mut changed = false;
    for message in &mut messages {
        if message.get("user_id").and_then(serde_json::Value::as_i64) == Some(user.0) {
            message["user_id"] = serde_json::Value::Null;
            changed = true;
        }
    }
    changed.then(|| serde_json::to_string(&messages).expect("JSON values serialise"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_authors_id_leaves_the_evidence_and_the_text_stays() {
        let evidence = r#"[{"user_id":3,"content":"hi"},{"user_id":4,"content":"hello"}]"#;
        let redacted: serde_json::Value =
            serde_json::from_str(&without_author(evidence, UserId(3)).unwrap()).unwrap();
        assert_eq!(
            redacted,
            serde_json::json!([{"user_id":null,"content":"hi"},{"user_id":4,"content":"hello"}])
        );
        assert_eq!(without_author(evidence, UserId(9)), None, "nothing of theirs: unchanged");
    }
}
