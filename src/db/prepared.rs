//! Statements prepared once per connection and reused.
//!
//! `query(&str)` parses, analyses and plans the statement on every call, and
//! costs an extra round trip; on the sync's hot path that was a large share
//! of PostgreSQL's CPU. These take the statement from the connection's cache
//! (`deadpool_postgres`'s, kept for the connection's life). Only for fixed
//! SQL: a statement assembled from data would grow the cache without end.

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row};

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

pub async fn query(client: &impl GenericClient, sql: &str, params: Params<'_>) -> Result<Vec<Row>, Error> {
    let statement = client.prepare_cached(sql).await?;
    client.query(&statement, params).await
}

pub async fn query_one(client: &impl GenericClient, sql: &str, params: Params<'_>) -> Result<Row, Error> {
    let statement = client.prepare_cached(sql).await?;
    client.query_one(&statement, params).await
}

pub async fn query_opt(client: &impl GenericClient, sql: &str, params: Params<'_>) -> Result<Option<Row>, Error> {
    let statement = client.prepare_cached(sql).await?;
    client.query_opt(&statement, params).await
}

pub async fn execute(client: &impl GenericClient, sql: &str, params: Params<'_>) -> Result<u64, Error> {
    let statement = client.prepare_cached(sql).await?;
    client.execute(&statement, params).await
}
