//! How soon an offer should be answered (`[web] answer_within`, e.g.
//! `"24h"`): the queue marks open offers older than this.

use std::time::Duration;

/// The answer target: a whole number of minutes, hours or days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerWithin(Duration);

impl Default for AnswerWithin {
    /// 24 hours.
    fn default() -> Self {
        AnswerWithin(Duration::from_secs(24 * 3600))
    }
}

/// Why an `answer_within` value was refused; each names the key.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadAnswerWithin {
    #[error("web.answer_within: expected a duration such as \"24h\", \"90m\" or \"2d\", found an empty text")]
    Empty,
    #[error(
        "web.answer_within: expected a whole number before the unit, as in \"24h\", found {0:?}"
    )]
    NotANumber(String),
    #[error("web.answer_within: expected a unit m (minutes), h (hours) or d (days) after the number, as in \"24h\", found {0:?}")]
    UnknownUnit(String),
    #[error("web.answer_within: expected more than zero, found {0:?}")]
    Zero(String),
    #[error("web.answer_within: expected at most 365 days, found {0:?}")]
    TooLong(String),
}

impl std::str::FromStr for AnswerWithin {
    type Err = BadAnswerWithin;

    fn from_str(text: &str) -> Result<AnswerWithin, BadAnswerWithin> {
        let t = text.trim();
        if t.is_empty() {
            return Err(BadAnswerWithin::Empty);
        }
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let n: u64 = number
            .parse()
            .map_err(|_| BadAnswerWithin::NotANumber(text.to_string()))?;
        let unit_secs = match unit.trim() {
            "m" | "min" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(BadAnswerWithin::UnknownUnit(text.to_string())),
        };
        if n == 0 {
            return Err(BadAnswerWithin::Zero(text.to_string()));
        }
        let secs = n.saturating_mul(unit_secs);
        if secs > 365 * 86_400 {
            return Err(BadAnswerWithin::TooLong(text.to_string()));
        }
        Ok(AnswerWithin(Duration::from_secs(secs)))
    }
}

impl<'de> serde::Deserialize<'de> for AnswerWithin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = AnswerWithin;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("web.answer_within: a duration text such as \"24h\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AnswerWithin, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Text)
    }
}

impl AnswerWithin {
    pub fn millis(self) -> i64 {
        self.0.as_millis() as i64
    }

    /// As a person reads it: `24 h`, `90 min`, `2 d`.
    pub fn label(self) -> String {
        let minutes = self.0.as_secs() / 60;
        match minutes {
            m if m % 1440 == 0 && m >= 2880 => format!("{} d", m / 1440),
            m if m % 60 == 0 => format!("{} h", m / 60),
            m => format!("{m} min"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_bad_ones_are_named() {
        let p = |t: &str| t.parse::<AnswerWithin>();
        assert_eq!(p("24h").unwrap().millis(), 24 * 3_600_000);
        assert_eq!(p("90m").unwrap().label(), "90 min");
        assert_eq!(p("2d").unwrap().label(), "2 d");
        assert_eq!(p("24h").unwrap().label(), "24 h");
        assert_eq!(p(""), Err(BadAnswerWithin::Empty));
        assert_eq!(p("h"), Err(BadAnswerWithin::NotANumber("h".into())));
        assert_eq!(p("24"), Err(BadAnswerWithin::UnknownUnit("24".into())));
        assert_eq!(p("3w"), Err(BadAnswerWithin::UnknownUnit("3w".into())));
        assert_eq!(p("0h"), Err(BadAnswerWithin::Zero("0h".into())));
        assert_eq!(p("400d"), Err(BadAnswerWithin::TooLong("400d".into())));
    }

    #[test]
    fn the_config_names_file_line_and_key() {
        let load = |text: &str| {
            crate::config::Config::from_str_with_env(
                text,
                std::path::Path::new("test.toml"),
                std::iter::empty(),
            )
        };
        let c = load("[web]\nanswer_within = \"36h\"\n").unwrap();
        assert_eq!(c.web.unwrap().answer_within.label(), "36 h");
        assert_eq!(
            load("[web]\n").unwrap().web.unwrap().answer_within,
            AnswerWithin::default()
        );
        for bad in ["\"soon\"", "\"24 hours\"", "24"] {
            let err = load(&format!(
                "[web]\nlisten = \"127.0.0.1:1\"\nanswer_within = {bad}\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(err.contains("test.toml:3"), "{err}");
            assert!(err.contains("web.answer_within"), "{err}");
        }
    }
}
