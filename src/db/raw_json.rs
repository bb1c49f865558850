//! JSON text passed to PostgreSQL as it is, for `json`/`jsonb` parameters.
//!
//! A webhook body has been parsed once to check and read it; turning it
//! into a `serde_json::Value` only to serialise it again for the database
//! would double the work on the ingest path. The caller guarantees the text
//! is valid JSON (PostgreSQL checks again).

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

#[derive(Debug, Clone)]
pub struct RawJson(pub bytes::Bytes);

impl ToSql for RawJson {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        if *ty == Type::JSONB {
            // jsonb's binary input format: a version byte, then the text.
            out.extend_from_slice(&[1]);
        }
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB || *ty == Type::JSON
    }

    to_sql_checked!();
}
