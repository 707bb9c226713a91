//! `/meta`: facts about the service clients need to build their forms.

use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ErrorBody;
use super::extract::AppJson;
use super::ratelimit::LimitClass;
use super::{limited, Routes};
use crate::app::AppState;
use crate::profile::vocabulary::{self, Vocabulary};

pub fn routes(state: &AppState) -> Routes {
    limited(state, LimitClass::Default, OpenApiRouter::new().routes(routes!(get_vocabulary)))
}

/// Genders, needs and interests with their ids and Vietnamese and English labels.
#[utoipa::path(get, path = "/meta/vocabulary", tag = "meta",
    responses(
        (status = 200, description = "The vocabulary", body = Vocabulary),
        (status = 429, description = "Too many requests", body = ErrorBody),
    ))]
async fn get_vocabulary() -> AppJson<Vocabulary> {
    AppJson(vocabulary::vocabulary())
}
