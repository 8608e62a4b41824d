//! An application that brings its database schema up to date before it serves anything, with
//! its migrations compiled into the binary: nothing to deploy beside it, and a migration that
//! does not parse fails the build rather than the start-up.
//!
//! Run it with `DATABASE_URL=postgres://... cargo run -p embedded_example`. It migrates (a
//! second start finds nothing to do), then does its own work: records one order and prints
//! how many there are.

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain: strata's errors keep the server's message as their source.
            let mut message = e.to_string();
            let mut source = e.source();
            while let Some(cause) = source {
                message.push_str(&format!("\n  caused by: {cause}"));
                source = cause.source();
            }
            eprintln!("embedded-example: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| "set DATABASE_URL to the database to migrate (postgres://user@host/db)")?;
    let db = strata::Database::from_url(&url)?;

    let migrator = strata::Migrator::new(strata::embed!("migrations"));
    let migrated = migrator.migrate(&db).await?;
    for set in &migrated.sets {
        for step in &set.steps {
            println!(
                "migrated: {} {} ({} ms)",
                step.action,
                step.migration,
                step.duration.as_millis()
            );
        }
    }
    if migrated.applied() == 0 {
        println!("migrated: schema up to date");
    }

    // The application's own work, on its own connection, against the schema just migrated.
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let account: i64 = client
        .query_one(
            "INSERT INTO accounts (email) VALUES ($1) ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email RETURNING id",
            &[&"first@example.com"],
        )
        .await?
        .get(0);
    client
        .execute(
            "INSERT INTO orders (account_id, total_cents) VALUES ($1, $2)",
            &[&account, &1250_i64],
        )
        .await?;
    let orders: i64 = client
        .query_one("SELECT count(*) FROM orders", &[])
        .await?
        .get(0);
    println!("orders: {orders}");
    Ok(())
}
