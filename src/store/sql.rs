//! What lets one set of SQL run on SQLite and PostgreSQL through sqlx's
//! `Any` driver: which [`Engine`] a store speaks, a [`QueryBuilder`] whose
//! placeholders are `$1, $2…` (both engines read those; sqlx's own builder
//! writes `?` for `Any`, which PostgreSQL refuses), [`Flag`] for the 0/1
//! columns, and `Type<Any>` for the enums stored as text.
//!
//! Where the SQL itself must differ (JSON, full-text search, text
//! collation), the two variants sit side by side in the store function,
//! chosen by `match store.engine()`.

use std::borrow::Cow;
use std::fmt::Display;

use chrono::NaiveDateTime;
use sqlx::any::{AnyArguments, AnyTypeInfo, AnyValueRef};
use sqlx::encode::IsNull;
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{Any, Arguments, Decode, Encode, Type};
use sqlx_core::any::AnyValueKind;

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine a `database.url` names, if supported.
    pub fn of_url(url: &str) -> Option<Engine> {
        if url.starts_with("sqlite:") {
            Some(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Engine::Postgres)
        } else {
            None
        }
    }

    /// `url` fit to show in a log or an error: a password in it, as
    /// `user:PASSWORD@host` or a `password=` parameter, becomes `***`.
    pub fn shown_url(url: &str) -> String {
        let Ok(mut parsed) = url::Url::parse(url) else {
            return url.to_string();
        };
        if parsed.password().is_some() {
            // Only URLs that cannot have a base refuse a password.
            let _ = parsed.set_password(Some("***"));
        }
        if parsed.query_pairs().any(|(k, _)| k == "password") {
            let pairs: Vec<(String, String)> = parsed
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k == "password" {
                        "***".into()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            parsed.query_pairs_mut().clear().extend_pairs(pairs);
        }
        parsed.to_string()
    }

    /// `expr` read as JSON, the text at `path` (`$.a.b` style, no arrays)
    /// taken out of it.
    pub fn json_text(self, expr: &str, path: &str) -> String {
        match self {
            Engine::Sqlite => format!("json_extract({expr}, '{path}')"),
            Engine::Postgres => {
                let keys: Vec<&str> = path.trim_start_matches("$.").split('.').collect();
                format!("(({expr})::jsonb #>> '{{{}}}')", keys.join(","))
            }
        }
    }
}

/// Builds a query of SQL text and bound values, numbering placeholders
/// `$1, $2…` as values are pushed. Values may borrow for `'a`; large bytes
/// go in as [`OwnedBlob`], which neither `Any` nor the driver copies.
pub struct QueryBuilder<'a> {
    engine: Engine,
    sql: String,
    args: AnyArguments<'a>,
    count: usize,
}

impl<'a> QueryBuilder<'a> {
    pub fn new(engine: Engine, init: impl Into<String>) -> QueryBuilder<'a> {
        QueryBuilder {
            engine,
            sql: init.into(),
            args: AnyArguments::default(),
            count: 0,
        }
    }

    /// Appends SQL text (no values in it).
    pub fn push(&mut self, sql: impl Display) -> &mut Self {
        use std::fmt::Write;
        write!(self.sql, "{sql}").expect("writing to a String");
        self
    }

    /// Appends a placeholder and binds `value` to it.
    pub fn push_bind<T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'a, Any> + Type<Any> + Send + 'a,
    {
        self.args.add(value).expect("binding a value");
        self.count += 1;
        let n = self.count;
        self.push(format_args!("${n}"))
    }

    /// The engine the query is for.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The SQL text so far.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn build(&mut self) -> Query<'_, Any, AnyArguments<'_>> {
        let args: AnyArguments<'_> = std::mem::take(&mut self.args);
        sqlx::query_with(&self.sql, args)
    }

    pub fn build_query_as<T>(&mut self) -> QueryAs<'_, Any, T, AnyArguments<'_>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        let args: AnyArguments<'_> = std::mem::take(&mut self.args);
        sqlx::query_as_with(&self.sql, args)
    }

    pub fn build_query_scalar<T>(&mut self) -> QueryScalar<'_, Any, T, AnyArguments<'_>>
    where
        (T,): for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        let args: AnyArguments<'_> = std::mem::take(&mut self.args);
        sqlx::query_scalar_with(&self.sql, args)
    }
}

/// A 0/1 column (or a boolean expression) read as `bool`: SQLite returns
/// integers, PostgreSQL booleans for `EXISTS` and comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0
    }
}

impl Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <i64 as Type<Any>>::type_info()
    }

    fn compatible(_: &AnyTypeInfo) -> bool {
        true
    }
}

impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        if let Ok(b) = <bool as Decode<Any>>::decode(value.clone()) {
            return Ok(Flag(b));
        }
        Ok(Flag(<i64 as Decode<Any>>::decode(value)? != 0))
    }
}

/// An optional `f64` to bind: `Option<f64>` itself is unsafe on
/// PostgreSQL through `Any`. sqlx 0.8.6 maps a NULL of kind `Double` to a
/// `float4` NULL (and `Real` to `float8`: the two are swapped in
/// `AnyArguments::convert_to`), so a statement first prepared with a NULL
/// there keeps a `float4` parameter in the connection's statement cache,
/// and a later 8-byte value in it fails: "incorrect binary data format in
/// bind parameter". This binds a NULL of the kind that comes out as
/// `float8` (`f32`'s).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptF64(pub Option<f64>);

impl Type<Any> for OptF64 {
    fn type_info() -> AnyTypeInfo {
        <f64 as Type<Any>>::type_info()
    }
}

impl<'q> Encode<'q, Any> for OptF64 {
    fn encode_by_ref(
        &self,
        buf: &mut <Any as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<IsNull, sqlx::error::BoxDynError> {
        match self.0 {
            Some(v) => <f64 as Encode<Any>>::encode_by_ref(&v, buf),
            // A NULL of `f32`'s kind (`Real`): see above. SQLite binds
            // any NULL alike.
            None => <Option<f32> as Encode<Any>>::encode_by_ref(&None, buf),
        }
    }
}

/// Bytes bound by value. sqlx's `Any` encodes a `Vec<u8>` by cloning it,
/// and a borrowed `&[u8]` is copied by the SQLite driver before it goes to
/// its worker thread; moved in here, the bytes reach SQLite's own bind
/// without a copy of ours. For raw messages, which can be tens of MiB
/// (BENCHMARKS.md, Memory).
#[derive(Debug)]
pub struct OwnedBlob(pub Vec<u8>);

impl Type<Any> for OwnedBlob {
    fn type_info() -> AnyTypeInfo {
        <Vec<u8> as Type<Any>>::type_info()
    }
}

impl<'q> Encode<'q, Any> for OwnedBlob {
    fn encode(
        self,
        buf: &mut <Any as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<IsNull, sqlx::error::BoxDynError> {
        buf.0.push(AnyValueKind::Blob(Cow::Owned(self.0)));
        Ok(IsNull::No)
    }

    fn encode_by_ref(
        &self,
        buf: &mut <Any as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<IsNull, sqlx::error::BoxDynError> {
        <Vec<u8> as Encode<Any>>::encode_by_ref(&self.0, buf)
    }
}

/// A local date and time stored as text, `YYYY-MM-DD HH:MM:SS[.f]` (as
/// sqlx's SQLite driver wrote it before the `Any` driver, which has no
/// date types): it sorts as it compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTimeText(pub NaiveDateTime);

impl From<DateTimeText> for NaiveDateTime {
    fn from(t: DateTimeText) -> NaiveDateTime {
        t.0
    }
}

impl Type<Any> for DateTimeText {
    fn type_info() -> AnyTypeInfo {
        <str as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        <str as Type<Any>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Any> for DateTimeText {
    fn encode_by_ref(
        &self,
        buf: &mut <Any as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<IsNull, sqlx::error::BoxDynError> {
        <String as Encode<Any>>::encode(self.0.format("%F %T%.f").to_string(), buf)
    }
}

impl<'r> Decode<'r, Any> for DateTimeText {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <&str as Decode<Any>>::decode(value)?;
        let parsed = NaiveDateTime::parse_from_str(text, "%F %T%.f")
            .or_else(|_| NaiveDateTime::parse_from_str(text, "%FT%T%.f"))?;
        Ok(DateTimeText(parsed))
    }
}

/// `Type<Any>` and `Decode<Any>` for an enum stored as its text (its
/// `Encode` is the derive's, generic over the database). The text is read
/// back with serde (the names are the same snake_case), or with `FromStr`
/// when the macro is given `from_str`.
#[macro_export]
macro_rules! any_text_type {
    ($ty:ty) => {
        $crate::any_text_type!(@type $ty);
        impl<'r> sqlx::Decode<'r, sqlx::Any> for $ty {
            fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                use serde::de::IntoDeserializer;
                let text = <&str as sqlx::Decode<sqlx::Any>>::decode(value)?;
                let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
                    text.into_deserializer();
                Ok(<$ty as serde::Deserialize>::deserialize(de)?)
            }
        }
    };
    ($ty:ty, from_str) => {
        $crate::any_text_type!(@type $ty);
        impl<'r> sqlx::Decode<'r, sqlx::Any> for $ty {
            fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<sqlx::Any>>::decode(value)?;
                Ok(text.parse::<$ty>()?)
            }
        }
    };
    (@type $ty:ty) => {
        impl sqlx::Type<sqlx::Any> for $ty {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <str as sqlx::Type<sqlx::Any>>::type_info()
            }

            fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
                <str as sqlx::Type<sqlx::Any>>::compatible(ty)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::Engine;

    #[test]
    fn a_shown_url_hides_its_password_and_keeps_the_rest() {
        assert_eq!(
            Engine::shown_url(
                "postgres://desk:s3cret@db.example:5432/supplyline?sslmode=verify-full"
            ),
            "postgres://desk:***@db.example:5432/supplyline?sslmode=verify-full"
        );
        assert_eq!(
            Engine::shown_url("postgres://desk@db/supplyline?password=s3cret&sslmode=require"),
            "postgres://desk@db/supplyline?password=***&sslmode=require"
        );
        assert_eq!(
            Engine::shown_url("sqlite://supplyline.db"),
            "sqlite://supplyline.db"
        );
        assert_eq!(Engine::shown_url("not a url"), "not a url");
    }
}
