//! How an item list reads to donors, per language: "2,000 N95 respirators",
//! "3 cajas de guantes de examen", "检查手套 3盒", "검사용 장갑 3상자".
//!
//! Owns: each reply language's way of writing a count (thousands separator,
//! number before the item or counter after it, "quantity not stated").
//! Does not own: the names themselves, which are in the rule files
//! ([`ReplyNames`]), so operators edit them with the catalog.

use crate::rules::ReplyNames;

/// Where the count goes in a language.
#[derive(Clone, Copy, PartialEq)]
enum Order {
    /// "3 boxes of exam gloves", "2.000 khẩu trang N95".
    CountFirst,
    /// "检查手套 3盒", "검사용 장갑 3상자": the item, then the number and its counter.
    CounterAfter { default_counter: &'static str },
}

/// How one language writes an item line.
struct Style {
    thousands: char,
    order: Order,
    /// Appended to an item without a quantity.
    not_stated: &'static str,
}

fn style(lang: &str) -> Style {
    let count_first = |thousands, not_stated| Style {
        thousands,
        order: Order::CountFirst,
        not_stated,
    };
    match lang {
        "es" => count_first('.', " (cantidad no indicada)"),
        "vi" => count_first('.', " (chưa ghi số lượng)"),
        "tl" => count_first(',', " (hindi nakasaad ang dami)"),
        "zh" => Style {
            thousands: ',',
            order: Order::CounterAfter {
                default_counter: "个",
            },
            not_stated: "（未注明数量）",
        },
        "ko" => Style {
            thousands: ',',
            order: Order::CounterAfter {
                default_counter: "개",
            },
            not_stated: " (수량 미기재)",
        },
        _ => count_first(',', " (quantity not stated)"),
    }
}

/// Formats a quantity with `lang`'s thousands separator, dropping a zero fraction.
pub fn format_quantity(q: f64, lang: &str) -> String {
    if q.fract() != 0.0 {
        return format!("{q}");
    }
    let digits = format!("{}", q as i64);
    let sep = style(lang).thousands;
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 && c.is_ascii_digit() {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// One line of the item list in `lang`: "2,000 N95 respirators",
/// "3 boxes of exam gloves (3M 1860)".
pub fn item_text(
    names: &ReplyNames,
    item: &str,
    quantity: Option<f64>,
    unit: Option<&str>,
    model: Option<&str>,
    lang: &str,
) -> String {
    let style = style(lang);
    let label = names.item(item, lang);
    let unit_name = unit.and_then(|u| names.unit(u, lang));
    let mut text = match (quantity, style.order) {
        (None, _) => format!("{label}{}", style.not_stated),
        (Some(q), Order::CounterAfter { default_counter }) => {
            let counter = unit_name.as_deref().unwrap_or(default_counter);
            format!("{label} {}{counter}", format_quantity(q, lang))
        }
        (Some(q), Order::CountFirst) => match unit_name {
            Some(unit) => format!("{} {unit} {label}", format_quantity(q, lang)),
            None => format!("{} {label}", format_quantity(q, lang)),
        },
    };
    if let Some(m) = model.filter(|m| !m.is_empty()) {
        text.push_str(&format!(" ({m})"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(
        item: &str,
        q: Option<f64>,
        unit: Option<&str>,
        model: Option<&str>,
        lang: &str,
    ) -> String {
        let names = ReplyNames::embedded().unwrap();
        item_text(&names, item, q, unit, model, lang)
    }

    #[test]
    fn lines_read_naturally() {
        assert_eq!(
            line("n95_respirator", Some(2000.0), Some("each"), None, "en"),
            "2,000 N95 respirators"
        );
        assert_eq!(
            line("exam_gloves", Some(3.0), Some("box"), None, "en"),
            "3 boxes of exam gloves"
        );
        assert_eq!(
            line("exam_gloves", Some(2000.0), Some("box"), None, "es"),
            "2.000 cajas de guantes de examen"
        );
        assert_eq!(
            line("n95_respirator", Some(200.0), None, Some("3M 1860"), "zh"),
            "N95口罩 200个 (3M 1860)"
        );
        assert_eq!(
            line("face_shield", None, None, None, "en"),
            "face shields (quantity not stated)"
        );
    }

    #[test]
    fn korean_vietnamese_and_tagalog_lines() {
        assert_eq!(
            line("exam_gloves", Some(3.0), Some("box"), None, "ko"),
            "검사용 장갑 3상자"
        );
        assert_eq!(
            line("surgical_mask", Some(1500.0), None, None, "ko"),
            "의료용 마스크 1,500개"
        );
        assert_eq!(
            line("n95_respirator", Some(2000.0), None, None, "vi"),
            "2.000 khẩu trang N95"
        );
        assert_eq!(
            line("isolation_gown", Some(20.0), Some("box"), None, "tl"),
            "20 kahon ng isolation gown"
        );
        assert_eq!(
            line("thermometer", None, None, None, "vi"),
            "nhiệt kế (chưa ghi số lượng)"
        );
    }

    #[test]
    fn an_unknown_language_reads_as_english() {
        assert_eq!(
            line("exam_gloves", Some(3.0), Some("box"), None, "fa"),
            "3 boxes of exam gloves"
        );
    }

    #[test]
    fn quantities_group_thousands() {
        assert_eq!(format_quantity(1500000.0, "en"), "1,500,000");
        assert_eq!(format_quantity(999.0, "en"), "999");
        assert_eq!(format_quantity(2.5, "en"), "2.5");
    }
}
