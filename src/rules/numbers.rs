//! Reading numbers as written: digits with either thousands convention
//! ("2,000", "2.000", "1.5"), Chinese numerals ("两千", "一万"), and the
//! arithmetic that joins number words ("two thousand", "doscientos",
//! "a couple hundred"). The words themselves live in `rules/numbers.toml`.

/// Parses a run of ASCII digits with `,` and `.` separators.
///
/// A separator followed by groups of exactly three digits is a thousands
/// separator ("2,000", Spanish "2.000"); otherwise the last one is the
/// decimal point ("1.5", "2,5"). Both present: the last is decimal.
pub fn parse_digits(s: &str) -> Option<f64> {
    let commas = s.matches(',').count();
    let dots = s.matches('.').count();
    let plain = |t: &str| t.replace([',', '.'], "").parse::<f64>().ok();
    if commas == 0 && dots == 0 {
        return s.parse().ok();
    }
    if commas > 0 && dots > 0 {
        let last = s.rfind([',', '.'])?;
        let (int, frac) = s.split_at(last);
        let int = plain(int)?;
        let frac: f64 = format!("0.{}", &frac[1..]).parse().ok()?;
        return Some(int + frac);
    }
    let sep = if commas > 0 { ',' } else { '.' };
    let groups: Vec<&str> = s.split(sep).collect();
    let thousands = groups[0] != "0"
        && !groups[0].is_empty()
        && groups[0].len() <= 3
        && groups[1..].iter().all(|g| g.len() == 3);
    if thousands {
        plain(s)
    } else if groups.len() == 2 {
        format!("{}.{}", groups[0], groups[1]).parse().ok()
    } else {
        None
    }
}

/// The value of one Chinese numeral character, or its power of ten.
fn cjk_digit(c: char) -> Option<f64> {
    Some(match c {
        '零' | '〇' => 0.0,
        '一' => 1.0,
        '二' | '两' | '兩' => 2.0,
        '三' => 3.0,
        '四' => 4.0,
        '五' => 5.0,
        '六' => 6.0,
        '七' => 7.0,
        '八' => 8.0,
        '九' => 9.0,
        _ => return None,
    })
}

/// Multiplier of a CJK power character (十 百 千 万 亿), if it is one.
pub fn cjk_power(c: char) -> Option<f64> {
    Some(match c {
        '十' => 10.0,
        '百' => 100.0,
        '千' => 1_000.0,
        '万' | '萬' => 10_000.0,
        '亿' | '億' => 100_000_000.0,
        _ => return None,
    })
}

/// Parses Chinese numerals: "两千" = 2000, "一万" = 10000, "三十五" = 35.
pub fn parse_cjk(s: &str) -> Option<f64> {
    let (mut total, mut section, mut digit) = (0.0f64, 0.0f64, 0.0f64);
    let mut any_digit = false;
    for c in s.chars() {
        if let Some(d) = cjk_digit(c) {
            digit = d;
            any_digit = true;
            continue;
        }
        let p = cjk_power(c)?;
        if p >= 10_000.0 {
            let part = section + digit;
            total = (total + if part == 0.0 { 1.0 } else { part }) * p;
            section = 0.0;
        } else {
            section += if digit == 0.0 { 1.0 } else { digit } * p;
        }
        digit = 0.0;
    }
    let value = total + section + digit;
    (any_digit || s.starts_with('十')).then_some(value)
}

/// Joins a run of number words: values add, multipliers multiply what is
/// before them ("two hundred fifty thousand" = 250000; "dozen" = 12).
#[derive(Debug, Default)]
pub struct WordNumber {
    total: f64,
    current: f64,
    any: bool,
}

impl WordNumber {
    pub fn add(&mut self, value: f64) {
        self.current += value;
        self.any = true;
    }

    pub fn multiply(&mut self, by: f64) {
        let base = if self.current == 0.0 {
            1.0
        } else {
            self.current
        };
        if by >= 1_000.0 {
            self.total += base * by;
            self.current = 0.0;
        } else {
            self.current = base * by;
        }
        self.any = true;
    }

    pub fn value(&self) -> Option<f64> {
        self.any.then_some(self.total + self.current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_both_conventions() {
        assert_eq!(parse_digits("2,000"), Some(2000.0));
        assert_eq!(parse_digits("2.000"), Some(2000.0));
        assert_eq!(parse_digits("500,000"), Some(500000.0));
        assert_eq!(parse_digits("1.5"), Some(1.5));
        assert_eq!(parse_digits("1,234.5"), Some(1234.5));
        assert_eq!(parse_digits("1.234,5"), Some(1234.5));
        assert_eq!(parse_digits("0.45"), Some(0.45));
        assert_eq!(parse_digits("12"), Some(12.0));
    }

    #[test]
    fn chinese_numerals() {
        assert_eq!(parse_cjk("两千"), Some(2000.0));
        assert_eq!(parse_cjk("一万"), Some(10000.0));
        assert_eq!(parse_cjk("三十五"), Some(35.0));
        assert_eq!(parse_cjk("十"), Some(10.0));
        assert_eq!(parse_cjk("五百"), Some(500.0));
        assert_eq!(parse_cjk("一万五千"), Some(15000.0));
    }

    #[test]
    fn word_arithmetic() {
        let mut n = WordNumber::default();
        n.add(2.0);
        n.multiply(100.0);
        n.add(50.0);
        n.multiply(1000.0);
        assert_eq!(n.value(), Some(250000.0));
        let mut d = WordNumber::default();
        d.multiply(12.0);
        assert_eq!(d.value(), Some(12.0));
    }
}
