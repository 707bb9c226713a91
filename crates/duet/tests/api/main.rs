//! Integration tests: each starts the real server on port 0 and talks HTTP to it.
//! They run on a fresh SQLite file per test, or on a fresh PostgreSQL database per
//! test when `DUET_TEST_DATABASE_URL` is set (see `helpers`).

mod admin;
mod auth;
mod avatar;
mod calls;
mod chat;
mod chat_socket;
mod closing;
mod config;
mod console;
mod demo;
mod docs;
mod faultproxy;
mod faults;
mod helpers;
mod layers;
mod logs;
mod ops;
mod privacy;
mod profile;
mod remote;
mod restart;
mod rooms;
mod schema;
mod sockets;
mod web;
mod ws;
