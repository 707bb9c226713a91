//! Profiles: completeness, every validation rule, aliases, partial updates, the
//! vocabulary and the status endpoint.

use chrono::{Datelike, Months};
use duet::clock::Clock;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{complete_profile, error_of, spawn_app};

#[tokio::test]
async fn a_new_profile_is_incomplete_until_every_field_is_set() {
    let app = spawn_app().await;
    let session = app.signup("mai").await;
    let body: Value = app.profile(&session.access).await.json().await.unwrap();
    assert_eq!(body["profile_complete"], false);
    assert_eq!(body["missing"], json!(["dob", "gender", "preferred_gender", "needs", "interests"]));

    let response = app.update_profile(&session.access, complete_profile()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["profile_complete"], true);
    assert_eq!(body["missing"], json!([]));
    assert_eq!(body["nickname"], "Linh");
    assert!(body["age"].as_i64().unwrap() >= 18);
    // Stored, not just echoed.
    let again: Value = app.profile(&session.access).await.json().await.unwrap();
    assert_eq!(again["interests"], json!(["coffee", "travel"]));
}

#[tokio::test]
async fn vietnamese_aliases_are_accepted_and_stored_as_ids() {
    let app = spawn_app().await;
    let session = app.signup("ngoc").await;
    let response =
        app.update_profile(&session.access, json!({ "gender": "Nữ", "preferred_gender": ["Tất cả"] })).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["gender"], "female");
    assert_eq!(body["preferred_gender"], json!(["any"]));
    let body: Value = app
        .update_profile(&session.access, json!({ "preferred_gender": ["Nam", "Khác"] }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["preferred_gender"], json!(["male", "other"]));
}

#[tokio::test]
async fn a_partial_update_keeps_the_other_fields() {
    let app = spawn_app().await;
    let session = app.signup_complete("hung").await;
    let body: Value =
        app.update_profile(&session.access, json!({ "nickname": "Hùng 🌙" })).await.json().await.unwrap();
    assert_eq!(body["nickname"], "Hùng 🌙");
    assert_eq!(body["needs"], json!(["friends"]));
    assert_eq!(body["profile_complete"], true);
}

#[tokio::test]
async fn each_invalid_field_is_a_400_naming_it() {
    let app = spawn_app().await;
    let session = app.signup("dung").await;
    let today = app.clock.now().date();
    let turns_18_tomorrow = today.checked_sub_months(Months::new(18 * 12)).unwrap().succ_opt().unwrap();
    let cases = [
        (json!({ "nickname": "   " }), "nickname"),
        (json!({ "nickname": "x".repeat(33) }), "nickname"),
        (json!({ "nickname": "bad\u{0007}bell" }), "nickname"),
        (json!({ "dob": "17/05/1998" }), "dob"),
        (json!({ "dob": turns_18_tomorrow.format("%Y-%m-%d").to_string() }), "dob"),
        (json!({ "dob": format!("{}-01-01", today.year() + 1) }), "dob"),
        (json!({ "gender": "robot" }), "gender"),
        (json!({ "preferred_gender": [] }), "preferred_gender"),
        (json!({ "preferred_gender": ["any", "male"] }), "preferred_gender"),
        (json!({ "preferred_gender": ["martian"] }), "preferred_gender"),
        (json!({ "needs": [] }), "needs"),
        (json!({ "needs": ["world_domination"] }), "needs"),
        (json!({ "interests": [] }), "interests"),
        (json!({ "interests": ["gym", "dance", "photo", "coffee", "travel", "games"] }), "interests"),
        (json!({ "interests": ["knitting"] }), "interests"),
    ];
    for (update, field) in cases {
        let body =
            error_of(app.update_profile(&session.access, update.clone()).await, StatusCode::BAD_REQUEST)
                .await;
        assert_eq!(body["code"], "validation_error", "{update}");
        assert_eq!(body["errors"][0]["field"], field, "{update}");
        assert_eq!(body["errors"].as_array().unwrap().len(), 1, "{update}");
    }
    // Unknown ids are named in the message.
    let body = error_of(
        app.update_profile(&session.access, json!({ "interests": ["knitting"] })).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("knitting"));
    // Nothing invalid was stored.
    let body: Value = app.profile(&session.access).await.json().await.unwrap();
    assert_eq!(body["missing"], json!(["dob", "gender", "preferred_gender", "needs", "interests"]));
    assert!(body["nickname"].is_null());
}

#[tokio::test]
async fn exactly_the_minimum_age_today_is_accepted() {
    let app = spawn_app().await;
    let session = app.signup("vyvy").await;
    let today = app.clock.now().date();
    let turns_18_today = today.checked_sub_months(Months::new(18 * 12)).unwrap();
    let response = app
        .update_profile(&session.access, json!({ "dob": turns_18_today.format("%Y-%m-%d").to_string() }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["age"], 18);
}

#[tokio::test]
async fn several_bad_fields_are_listed_together() {
    let app = spawn_app().await;
    let session = app.signup("khoa").await;
    let body = error_of(
        app.update_profile(&session.access, json!({ "gender": "x", "needs": [], "interests": ["y"] })).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let fields: Vec<&str> =
        body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["gender", "needs", "interests"]);
}

#[tokio::test]
async fn clients_cannot_write_status_role_or_unknown_fields() {
    let app = spawn_app().await;
    let session = app.signup("bao").await;
    for update in
        [json!({ "status": "connected" }), json!({ "role": "admin" }), json!({ "current_room_id": 1 })]
    {
        let body =
            error_of(app.update_profile(&session.access, update.clone()).await, StatusCode::BAD_REQUEST)
                .await;
        assert_eq!(body["code"], "bad_request", "{update}");
    }
    let body = error_of(
        app.update_profile(&session.access, json!({ "needs": "friends" })).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(body["code"], "bad_request");
    let body: Value = app.profile(&session.access).await.json().await.unwrap();
    assert_eq!(body["role"], "user");
}

#[tokio::test]
async fn the_vocabulary_has_ids_and_both_languages() {
    let app = spawn_app().await;
    let body: Value = app.get("/meta/vocabulary", None).await.json().await.unwrap();
    assert_eq!(body["needs"].as_array().unwrap().len(), 7);
    assert_eq!(body["interests"].as_array().unwrap().len(), 15);
    assert_eq!(body["genders"][1], json!({ "id": "female", "vi": "Nữ", "en": "Female" }));
    assert_eq!(body["preferred_genders"][3]["id"], "any");
    assert!(body["needs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["id"] == "long_term" && n["vi"] == "Bạn đời lâu dài"));
}

#[tokio::test]
async fn status_starts_idle() {
    let app = spawn_app().await;
    let session = app.signup("long").await;
    let body: Value = app.get("/user/status", Some(&session.access)).await.json().await.unwrap();
    assert_eq!(body, json!({ "status": "idle", "online": false, "current_room_id": null }));
    error_of(app.get("/user/status", None).await, StatusCode::UNAUTHORIZED).await;
}
