//! `duet-refrelay`: the reference relay of the benchmarks (see
//! `duet_bench::refrelay`). Serves until killed.

use clap::Parser;

#[derive(Parser)]
#[command(about = "Minimal WebSocket relay with Duet's chat/status frames and token check, no features")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:8090")]
    bind: std::net::SocketAddr,
    /// The HS256 secret the access tokens are signed with (as Duet's --jwt-secret).
    #[arg(long, env = "DUET_JWT_SECRET")]
    jwt_secret: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let relay = duet_bench::refrelay::Relay::new(&args.jwt_secret);
    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    axum::serve(listener, duet_bench::refrelay::router(relay)).await?;
    Ok(())
}
