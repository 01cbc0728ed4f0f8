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
    let ascii = ascii_digits(s);
    let s = ascii.as_str();
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

/// Writes full-width (Chinese, Japanese), Arabic-Indic and Persian digits
/// and separators as ASCII: "５０００" → "5000", "۱۰۰" → "100", "۱٬۵۰۰" → "1,500".
pub fn ascii_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '０'..='９' => digit_char(c as u32 - '０' as u32),
            '٠'..='٩' => digit_char(c as u32 - '٠' as u32),
            '۰'..='۹' => digit_char(c as u32 - '۰' as u32),
            '٬' | '，' => ',',
            '٫' | '．' => '.',
            other => other,
        })
        .collect()
}

fn digit_char(d: u32) -> char {
    char::from_digit(d, 10).unwrap_or('0')
}

/// Thousands written with a space, as in French and Russian ("2 000",
/// "100 000", also with a no-break space): the groups after the digits that
/// end at `at`, with their byte length. Each group is exactly three digits
/// standing alone, so "3 100-count boxes" and "2 500ml" stay apart.
pub fn space_groups(text: &str, at: usize) -> Vec<(u32, usize)> {
    let mut out = Vec::new();
    let mut rest = &text[at..];
    while let Some(sep) = rest
        .chars()
        .next()
        .filter(|c| matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
    {
        let after = &rest[sep.len_utf8()..];
        let group = after
            .get(..3)
            .filter(|g| g.bytes().all(|b| b.is_ascii_digit()));
        let end_ok = after[group.map_or(0, str::len)..]
            .chars()
            .next()
            .is_none_or(|c| {
                c.is_whitespace() || matches!(c, ',' | ';' | ':' | ')' | '.' | '!' | '?')
            });
        let Some(g) = group.filter(|_| end_ok) else {
            break;
        };
        let next = after[3..].chars().nth(1);
        if after[3..].starts_with(['.', ',']) && next.is_some_and(|c| c.is_ascii_digit()) {
            break;
        }
        out.push((g.parse().unwrap_or(0), sep.len_utf8() + 3));
        rest = &after[3..];
    }
    out
}

/// A word right after a Chinese or Japanese count that changes it: "多",
/// "余" ("三百多个", "more than 300") keep the value; "打" is a dozen.
/// Returns the factor and the suffix's byte length.
pub fn cjk_count_suffix(rest: &str) -> Option<(f64, usize)> {
    let c = rest.chars().next()?;
    match c {
        '多' | '余' | '餘' => Some((1.0, c.len_utf8())),
        '打' => Some((12.0, c.len_utf8())),
        _ => None,
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
        assert_eq!(parse_digits("５０００"), Some(5000.0));
        assert_eq!(parse_digits("۱۰۰"), Some(100.0));
        assert_eq!(parse_digits("٢٥"), Some(25.0));
    }

    #[test]
    fn thousands_with_spaces() {
        assert_eq!(space_groups(" 000 masques", 0), vec![(0, 4)]);
        assert_eq!(space_groups(" 000 000 шт", 0), vec![(0, 4), (0, 4)]);
        assert_eq!(space_groups("\u{a0}500.", 0), vec![(500, 5)]);
        assert!(space_groups(" 100-count boxes", 0).is_empty());
        assert!(space_groups(" 500ml", 0).is_empty());
        assert!(space_groups(" 1000 masks", 0).is_empty());
        assert!(space_groups(" 100.5", 0).is_empty());
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
