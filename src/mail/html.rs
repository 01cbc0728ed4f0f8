//! HTML to text for HTML-only messages: block elements become line breaks,
//! list items become "- " lines, and each table row becomes one line with
//! its cells separated by " | ", so the rules can read an inventory table
//! row by row. Scripts, styles and comments are dropped; entities decoded.
//!
//! A small linear scanner, not a DOM: mail HTML is often broken, and all we
//! need is readable text in document order.

/// Separator written between table cells on one line.
pub const CELL_SEP: &str = " | ";

/// Turns an HTML document or fragment into plain text.
pub fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    let mut cell_open = false;
    while let Some(lt) = rest.find('<') {
        push_text(&mut out, &rest[..lt]);
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |e| &after[e + 3..]);
            continue;
        }
        let Some(gt) = rest.find('>') else {
            rest = "";
            break;
        };
        let tag = tag_name(&rest[1..gt]);
        rest = &rest[gt + 1..];
        if tag == "style" || tag == "script" || tag == "head" || tag == "title" {
            rest = skip_element(rest, &tag);
            continue;
        }
        apply_tag(&mut out, &tag, &mut cell_open);
    }
    push_text(&mut out, rest);
    tidy(&out)
}

/// The lower-case name of a tag, with "/" kept for closing tags.
fn tag_name(inner: &str) -> String {
    let inner = inner.trim_start();
    let (closing, inner) = match inner.strip_prefix('/') {
        Some(r) => (true, r),
        None => (false, inner),
    };
    let name: String = inner
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if closing {
        format!("/{name}")
    } else {
        name
    }
}

fn skip_element<'a>(rest: &'a str, tag: &str) -> &'a str {
    let close = format!("</{tag}");
    let lower = rest.to_ascii_lowercase();
    match lower.find(&close) {
        Some(i) => rest[i..].find('>').map_or("", |g| &rest[i + g + 1..]),
        None => "",
    }
}

fn apply_tag(out: &mut String, tag: &str, cell_open: &mut bool) {
    match tag {
        "br" => out.push('\n'),
        "p" | "/p" | "div" | "/div" | "h1" | "h2" | "h3" | "h4" | "/h1" | "/h2" | "/h3" | "/h4"
        | "blockquote" | "/blockquote" | "hr" => out.push_str("\n\n"),
        "ul" | "/ul" | "ol" | "/ol" | "table" | "/table" | "/li" => line_break(out),
        "li" => {
            line_break(out);
            out.push_str("- ");
        }
        "tr" | "/tr" => {
            line_break(out);
            *cell_open = false;
        }
        "td" | "th" => {
            if *cell_open {
                out.push_str(CELL_SEP);
            }
            *cell_open = true;
        }
        _ => {}
    }
}

fn line_break(out: &mut String) {
    let trimmed = out.trim_end_matches(' ');
    if !trimmed.is_empty() && !trimmed.ends_with('\n') {
        out.push('\n');
    }
}

/// Appends text between tags with whitespace collapsed and entities decoded.
fn push_text(out: &mut String, text: &str) {
    if text.is_empty() {
        return;
    }
    let decoded = decode_entities(text);
    let mut last_space = out.ends_with([' ', '\n']) || out.is_empty();
    for c in decoded.chars() {
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
        } else {
            out.push(c);
            last_space = false;
        }
    }
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest[1..].find(';').map(|e| e + 1).filter(|e| *e <= 10);
        let decoded = end.and_then(|e| entity(&rest[1..e]));
        match (end, decoded) {
            (Some(e), Some(c)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "nbsp" => ' ',
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" | "rsquo" | "lsquo" => '\'',
        "ldquo" | "rdquo" => '"',
        "ndash" => '–',
        "mdash" => '—',
        "bull" => '•',
        "middot" => '·',
        "times" => '×',
        "hellip" => '…',
        "deg" => '°',
        "reg" => '®',
        "copy" => '©',
        "trade" => '™',
        _ => return latin_letter(name),
    })
}

/// Named entities of accented Latin letters ("Dr&auml;ger", "Jos&eacute;",
/// "a&ntilde;o"): the base letter and the accent's name.
fn latin_letter(name: &str) -> Option<char> {
    const ACCENTS: &[(&str, [char; 5], [char; 5])] = &[
        (
            "acute",
            ['á', 'é', 'í', 'ó', 'ú'],
            ['Á', 'É', 'Í', 'Ó', 'Ú'],
        ),
        (
            "grave",
            ['à', 'è', 'ì', 'ò', 'ù'],
            ['À', 'È', 'Ì', 'Ò', 'Ù'],
        ),
        ("circ", ['â', 'ê', 'î', 'ô', 'û'], ['Â', 'Ê', 'Î', 'Ô', 'Û']),
        ("uml", ['ä', 'ë', 'ï', 'ö', 'ü'], ['Ä', 'Ë', 'Ï', 'Ö', 'Ü']),
    ];
    match name {
        "ntilde" => return Some('ñ'),
        "Ntilde" => return Some('Ñ'),
        "ccedil" => return Some('ç'),
        "Ccedil" => return Some('Ç'),
        "szlig" => return Some('ß'),
        _ => {}
    }
    let mut chars = name.chars();
    let base = chars.next()?;
    let accent = chars.as_str();
    let (_, lower, upper) = ACCENTS.iter().find(|(a, _, _)| *a == accent)?;
    let at = "aeiou".find(base.to_ascii_lowercase())?;
    Some(if base.is_ascii_uppercase() {
        upper[at]
    } else {
        lower[at]
    })
}

/// Trims each line and collapses runs of blank lines to one.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        out.push_str(line);
        blank = 0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accented_letter_entities() {
        assert_eq!(
            decode_entities("Dr&auml;ger &times; Jos&eacute; &Ntilde;o&ntilde;o &Uuml;ber &zz;"),
            "Dräger × José Ñoño Über &zz;"
        );
    }

    #[test]
    fn table_rows_are_lines_with_cells() {
        let t = to_text("<table><tr><th>Item</th><th>Qty</th></tr><tr><td>Shoe covers</td><td>1,000</td></tr></table>");
        assert_eq!(t, "Item | Qty\nShoe covers | 1,000");
    }

    #[test]
    fn styles_dropped_entities_decoded() {
        let t = to_text("<html><head><style>p{x:1}</style></head><body><p>A&nbsp;&amp;&#66;</p><ul><li>one</li></ul></body>");
        assert_eq!(t, "A &B\n\n- one");
    }

    #[test]
    fn broken_html_is_fine() {
        assert_eq!(to_text("a <b"), "a");
        assert_eq!(to_text("<!-- x"), "");
        assert_eq!(to_text("&#xFFFFFFFF; &"), "&#xFFFFFFFF; &");
    }
}
