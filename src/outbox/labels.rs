//! How items are named to donors, per language: "2,000 N95 respirators".

/// (catalog id, English, Spanish, Chinese)
const LABELS: &[(&str, &str, &str, &str)] = &[
    (
        "n95_respirator",
        "N95 respirators",
        "respiradores N95",
        "N95口罩",
    ),
    (
        "kn95_respirator",
        "KN95 / FFP2 respirators",
        "respiradores KN95 / FFP2",
        "KN95/FFP2口罩",
    ),
    (
        "elastomeric_respirator",
        "elastomeric respirators",
        "respiradores elastoméricos",
        "弹性体呼吸器",
    ),
    (
        "surgical_mask",
        "surgical masks",
        "mascarillas quirúrgicas",
        "外科口罩",
    ),
    ("cloth_mask", "cloth masks", "mascarillas de tela", "布口罩"),
    ("face_shield", "face shields", "caretas protectoras", "面罩"),
    ("goggles", "safety goggles", "gafas de protección", "护目镜"),
    (
        "isolation_gown",
        "isolation gowns",
        "batas de aislamiento",
        "隔离衣",
    ),
    ("coverall", "coveralls", "overoles protectores", "防护服"),
    (
        "exam_gloves",
        "exam gloves",
        "guantes de examen",
        "检查手套",
    ),
    ("shoe_cover", "shoe covers", "cubrezapatos", "鞋套"),
    ("head_cover", "head covers", "gorros", "帽子"),
    (
        "hand_sanitizer",
        "hand sanitizer",
        "desinfectante de manos",
        "洗手液",
    ),
    ("disinfectant", "disinfectant", "desinfectante", "消毒剂"),
    (
        "ventilator_invasive",
        "ICU ventilators",
        "ventiladores de UCI",
        "有创呼吸机",
    ),
    (
        "ventilator_noninvasive",
        "BiPAP / CPAP machines",
        "equipos BiPAP / CPAP",
        "无创呼吸机",
    ),
    (
        "iv_set",
        "IV sets and supplies",
        "equipos de venoclisis",
        "输液器",
    ),
    (
        "infusion_pump",
        "infusion pumps",
        "bombas de infusión",
        "输液泵",
    ),
    ("thermometer", "thermometers", "termómetros", "体温计"),
    (
        "pulse_oximeter",
        "pulse oximeters",
        "oxímetros de pulso",
        "血氧仪",
    ),
    (
        "test_kit",
        "test kits and swabs",
        "pruebas y hisopos",
        "检测试剂盒",
    ),
    (
        "oxygen_supply",
        "oxygen supplies",
        "suministros de oxígeno",
        "氧气设备",
    ),
    (
        "patient_monitor",
        "patient monitors",
        "monitores de pacientes",
        "病人监护仪",
    ),
    ("hospital_bed", "hospital beds", "camas de hospital", "病床"),
    ("other", "other supplies", "otros suministros", "其他物资"),
];

/// (unit, English, Spanish, Chinese measure word)
const UNITS: &[(&str, &str, &str, &str)] = &[
    ("box", "boxes of", "cajas de", "盒"),
    ("case", "cases of", "cajas grandes de", "箱"),
    ("pallet", "pallets of", "tarimas de", "托"),
    ("bottle", "bottles of", "botellas de", "瓶"),
    ("gallon", "gallons of", "galones de", "加仑"),
    ("liter", "liters of", "litros de", "升"),
    ("roll", "rolls of", "rollos de", "卷"),
    ("kit", "kits of", "kits de", "套"),
    ("pair", "pairs of", "pares de", "双"),
];

fn column(lang: &str) -> usize {
    match lang {
        "es" => 2,
        "zh" => 3,
        _ => 1,
    }
}

fn pick<'a>(row: &(&'a str, &'a str, &'a str, &'a str), col: usize) -> &'a str {
    match col {
        2 => row.2,
        3 => row.3,
        _ => row.1,
    }
}

/// The name of a catalog item in `lang` (English when unknown).
pub fn item_label(item: &str, lang: &str) -> String {
    LABELS
        .iter()
        .find(|row| row.0 == item)
        .map(|row| pick(row, column(lang)).to_string())
        .unwrap_or_else(|| item.replace('_', " "))
}

/// Formats a quantity with thousands separators, dropping a zero fraction.
pub fn format_quantity(q: f64, lang: &str) -> String {
    if q.fract() != 0.0 {
        return format!("{q}");
    }
    let digits = format!("{}", q as i64);
    let sep = if lang == "es" { '.' } else { ',' };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 && c.is_ascii_digit() {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// One line of the item list: "2,000 N95 respirators", "3 boxes of exam gloves".
pub fn item_text(
    item: &str,
    quantity: Option<f64>,
    unit: Option<&str>,
    model: Option<&str>,
    lang: &str,
) -> String {
    let col = column(lang);
    let label = item_label(item, lang);
    let mut text = match quantity {
        None => match lang {
            "es" => format!("{label} (cantidad no indicada)"),
            "zh" => format!("{label}（未注明数量）"),
            _ => format!("{label} (quantity not stated)"),
        },
        Some(q) => {
            let n = format_quantity(q, lang);
            let unit_row = unit.and_then(|u| UNITS.iter().find(|row| row.0 == u));
            match (unit_row, col) {
                (Some(row), 3) => format!("{label} {n}{}", row.3),
                (Some(row), _) => format!("{n} {} {label}", pick(row, col)),
                (None, 3) => format!("{label} {n}个"),
                (None, _) => format!("{n} {label}"),
            }
        }
    };
    if let Some(m) = model.filter(|m| !m.is_empty()) {
        text.push_str(&format!(" ({m})"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_naturally() {
        assert_eq!(
            item_text("n95_respirator", Some(2000.0), Some("each"), None, "en"),
            "2,000 N95 respirators"
        );
        assert_eq!(
            item_text("exam_gloves", Some(3.0), Some("box"), None, "en"),
            "3 boxes of exam gloves"
        );
        assert_eq!(
            item_text("exam_gloves", Some(2000.0), Some("box"), None, "es"),
            "2.000 cajas de guantes de examen"
        );
        assert_eq!(
            item_text("n95_respirator", Some(200.0), None, Some("3M 1860"), "zh"),
            "N95口罩 200个 (3M 1860)"
        );
        assert_eq!(
            item_text("face_shield", None, None, None, "en"),
            "face shields (quantity not stated)"
        );
    }

    #[test]
    fn quantities_group_thousands() {
        assert_eq!(format_quantity(1500000.0, "en"), "1,500,000");
        assert_eq!(format_quantity(999.0, "en"), "999");
        assert_eq!(format_quantity(2.5, "en"), "2.5");
    }
}
