//! Avatar images, kept in the database so that every instance of a deployment serves
//! the same pictures. Each upload stores three re-encoded variants at once.

use super::Store;
use crate::clock::Timestamp;
use crate::ids::UserId;

/// Which of the stored variants to read: the reveal levels of a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AvatarVariant {
    Full,
    Semi,
    Blurred,
}

impl AvatarVariant {
    fn column(self) -> &'static str {
        match self {
            AvatarVariant::Full => "full_image",
            AvatarVariant::Semi => "semi_image",
            AvatarVariant::Blurred => "blurred_image",
        }
    }
}

/// The three encoded variants of one upload.
pub struct AvatarImages {
    pub full: Vec<u8>,
    pub semi: Vec<u8>,
    pub blurred: Vec<u8>,
}

impl Store {
    /// Replaces the user's avatar; returns the new version (used in `?v=` cache keys).
    pub async fn set_avatar(
        &self,
        user: UserId,
        images: &AvatarImages,
        now: Timestamp,
    ) -> Result<i64, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        // The version is the upload time; a second upload in the same millisecond
        // still gets a larger number.
        let (version,): (i64,) = sqlx::query_as(
            "UPDATE users SET avatar_version = CASE WHEN avatar_version >= $2 THEN avatar_version + 1 ELSE $2 END, \
             updated_at = $2 WHERE id = $1 RETURNING avatar_version",
        )
        .bind(user.0)
        .bind(now.as_millis())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO avatars (user_id, version, full_image, semi_image, blurred_image, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (user_id) DO UPDATE SET version = excluded.version, full_image = excluded.full_image, \
             semi_image = excluded.semi_image, blurred_image = excluded.blurred_image, updated_at = excluded.updated_at",
        )
        .bind(user.0)
        .bind(version)
        .bind(images.full.as_slice())
        .bind(images.semi.as_slice())
        .bind(images.blurred.as_slice())
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(version)
    }

    /// One variant of a user's avatar with its version, if the user has one.
    pub async fn avatar(
        &self,
        user: UserId,
        variant: AvatarVariant,
    ) -> Result<Option<(Vec<u8>, i64)>, sqlx::Error> {
        let sql = format!("SELECT {}, version FROM avatars WHERE user_id = $1", variant.column());
        sqlx::query_as(&sql).bind(user.0).fetch_optional(&self.pool).await
    }
}
