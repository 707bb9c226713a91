//! Avatars: upload limits, re-encoding, and who may see which variant.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{error_of, png, spawn_app, spawn_app_with};

#[tokio::test]
async fn an_upload_is_reencoded_and_served_to_its_owner() {
    let app = spawn_app().await;
    let owner = app.signup("anh").await;
    let source = png(800, 600);
    let response = app.upload_avatar(&owner.access, source.clone(), "me.png").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let url = body["avatar_url"].as_str().expect("an avatar url").to_owned();
    assert!(url.starts_with(&format!("/user/avatar/{}?v=", owner.id)));

    let response = app.get(&url, Some(&owner.access)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let served = response.bytes().await.unwrap();
    assert_ne!(served.as_ref(), source.as_slice(), "never the uploaded bytes");
    let decoded = image::load_from_memory(&served).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (512, 384));

    let response = app
        .client
        .get(app.url(&url))
        .bearer_auth(&owner.access)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);

    // A new upload changes the URL.
    let body: Value = app.upload_avatar(&owner.access, png(64, 64), "new.png").await.json().await.unwrap();
    assert_ne!(body["avatar_url"].as_str().unwrap(), url);
}

#[tokio::test]
async fn strangers_get_404_and_moderators_see_it() {
    let app = spawn_app().await;
    let owner = app.signup("binh").await;
    let stranger = app.signup("chi").await;
    let admin = app.admin("mod").await;
    assert_eq!(app.upload_avatar(&owner.access, png(32, 32), "a.png").await.status(), StatusCode::OK);
    let path = format!("/user/avatar/{}", owner.id);
    assert_eq!(
        error_of(app.get(&path, Some(&stranger.access)).await, StatusCode::NOT_FOUND).await["code"],
        "not_found"
    );
    assert_eq!(app.get(&path, Some(&admin.access)).await.status(), StatusCode::OK);
    error_of(app.get(&path, None).await, StatusCode::UNAUTHORIZED).await;
    // Someone without an avatar, and someone who does not exist, look the same.
    error_of(
        app.get(&format!("/user/avatar/{}", stranger.id), Some(&stranger.access)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    error_of(app.get("/user/avatar/999999", Some(&admin.access)).await, StatusCode::NOT_FOUND).await;
    error_of(app.get("/user/avatar/abc", Some(&admin.access)).await, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn junk_and_missing_files_are_400() {
    let app = spawn_app().await;
    let user = app.signup("dao").await;
    let body = error_of(
        app.upload_avatar(&user.access, b"GIF89a but not really".to_vec(), "x.gif").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(body["code"], "invalid_image");
    let body = error_of(
        app.upload_avatar(&user.access, b"%PDF-1.4 hello".to_vec(), "x.pdf").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(body["code"], "invalid_image");
    let form = reqwest::multipart::Form::new().text("other", "value");
    let response = app
        .client
        .post(app.url("/user/avatar"))
        .bearer_auth(&user.access)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response, StatusCode::BAD_REQUEST).await["errors"][0]["field"], "file");
    let profile: Value = app.profile(&user.access).await.json().await.unwrap();
    assert!(profile["avatar_url"].is_null(), "nothing was stored");
}

#[tokio::test]
async fn oversize_uploads_are_413() {
    let app = spawn_app_with(&["--max-avatar-bytes=64KiB"]).await;
    let user = app.signup("emm").await;
    let mut big = png(16, 16);
    big.resize(64 * 1024 + 1, 0);
    let body =
        error_of(app.upload_avatar(&user.access, big, "big.png").await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(body["code"], "payload_too_large");
    // Far over the limit: refused by the body limit before the handler finishes.
    let huge = vec![0u8; 2 * 1024 * 1024];
    error_of(app.upload_avatar(&user.access, huge, "huge.png").await, StatusCode::PAYLOAD_TOO_LARGE).await;
    // Under the limit is fine.
    assert_eq!(app.upload_avatar(&user.access, png(16, 16), "ok.png").await.status(), StatusCode::OK);
}
