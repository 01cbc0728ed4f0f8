//! Attachments: lists every attachment with its size, and reads the ones
//! that may hold an inventory (CSV, XLSX/XLS/ODS, plain text) into text, one
//! row per line with cells separated by " | " (as `html` does for tables).
//!
//! Bounded: an attachment larger than [`MAX_ATTACHMENT_BYTES`] is listed but
//! not read, all text read from one message stops at [`MAX_TEXT_BYTES`], and a
//! spreadsheet whose zip declares more than [`MAX_UNZIPPED_BYTES`] (or a
//! compression ratio beyond [`MAX_ZIP_RATIO`]) is not opened: zip bombs stay shut.

use std::io::Cursor;

use calamine::{open_workbook_auto_from_rs, Reader};
use mail_parser::{Message, MessagePart, MimeHeaders};

use super::html::CELL_SEP;
use super::{truncate_at_char, Attachment};

/// Attachments bigger than this are listed, not read.
pub const MAX_ATTACHMENT_BYTES: usize = 4 * 1024 * 1024;
/// All attachment text of one message together stays under this.
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;
/// A spreadsheet's declared uncompressed size must stay under this.
pub const MAX_UNZIPPED_BYTES: u64 = 32 * 1024 * 1024;
/// And its uncompressed/compressed ratio under this.
pub const MAX_ZIP_RATIO: u64 = 200;
/// Rows read from one table.
const MAX_ROWS: usize = 5_000;

/// What kind of inventory reader an attachment gets.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Csv,
    Spreadsheet,
    Text,
    Other,
}

/// Lists the message's attachments, reading inventory text where it can.
pub fn read_all(msg: &Message<'_>) -> Vec<Attachment> {
    let mut budget = MAX_TEXT_BYTES;
    msg.attachments()
        .map(|part| read_one(part, &mut budget))
        .collect()
}

fn read_one(part: &MessagePart<'_>, budget: &mut usize) -> Attachment {
    let content_type = part
        .content_type()
        .map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        })
        .unwrap_or_else(|| "application/octet-stream".to_string());
    let filename = part.attachment_name().map(str::to_string);
    let contents = part.contents();
    let kind = kind_of(&content_type, filename.as_deref(), part.is_message());
    let text = if contents.len() <= MAX_ATTACHMENT_BYTES && *budget > 0 {
        read_text(kind, part, contents).map(|mut t| {
            truncate_at_char(&mut t, *budget);
            *budget -= t.len();
            t
        })
    } else {
        None
    };
    Attachment {
        filename,
        content_type,
        size: contents.len(),
        text,
    }
}

fn kind_of(content_type: &str, filename: Option<&str>, nested_message: bool) -> Kind {
    let name = filename.unwrap_or_default().to_ascii_lowercase();
    if nested_message {
        Kind::Other
    } else if content_type == "text/csv" || name.ends_with(".csv") || name.ends_with(".tsv") {
        Kind::Csv
    } else if content_type.contains("spreadsheet")
        || content_type.contains("ms-excel")
        || [".xlsx", ".xls", ".xlsm", ".ods"]
            .iter()
            .any(|e| name.ends_with(e))
    {
        Kind::Spreadsheet
    } else if content_type == "text/plain" || name.ends_with(".txt") {
        Kind::Text
    } else {
        Kind::Other
    }
}

fn read_text(kind: Kind, part: &MessagePart<'_>, contents: &[u8]) -> Option<String> {
    match kind {
        Kind::Csv => Some(csv_text(&decode(part, contents))),
        Kind::Spreadsheet => spreadsheet_text(contents),
        Kind::Text => Some(decode(part, contents).replace("\r\n", "\n")),
        Kind::Other => None,
    }
}

/// Text of a part: mail-parser's decoding when it is text, else UTF-8 (lossy).
fn decode(part: &MessagePart<'_>, contents: &[u8]) -> String {
    part.text_contents()
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(contents).into_owned())
}

/// CSV (or TSV, or the semicolon CSV of spreadsheets in European locales)
/// rows as lines of cells.
pub fn csv_text(data: &str) -> String {
    let delimiter = delimiter_of(data);
    CSV_READERS.with(|readers| {
        let mut readers = readers.borrow_mut();
        let at = match readers.iter().position(|(d, _)| *d == delimiter) {
            Some(at) => at,
            None => {
                let reader = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
                readers.push((delimiter, reader));
                readers.len() - 1
            }
        };
        let reader = &mut readers[at].1;
        reader.reset();
        csv_rows(reader, data.as_bytes())
    })
}

thread_local! {
    /// One CSV parser per delimiter, per thread: building one (its DFA)
    /// cost more than reading a small attachment with it.
    static CSV_READERS: std::cell::RefCell<Vec<(u8, csv_core::Reader)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The first [`MAX_ROWS`] records of `input` as lines of cells, as the
/// `csv` crate reads them with `has_headers(false)` and `flexible(true)`.
fn csv_rows(reader: &mut csv_core::Reader, mut input: &[u8]) -> String {
    use csv_core::ReadRecordResult;
    let mut out = String::new();
    let mut fields = vec![0u8; 1024];
    let mut ends = vec![0usize; 32];
    for _ in 0..MAX_ROWS {
        let (mut outlen, mut endlen) = (0, 0);
        loop {
            let (res, nin, nout, nend) =
                reader.read_record(input, &mut fields[outlen..], &mut ends[endlen..]);
            input = &input[nin..];
            outlen += nout;
            endlen += nend;
            match res {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => fields.resize(fields.len() * 2, 0),
                ReadRecordResult::OutputEndsFull => ends.resize(ends.len() * 2, 0),
                ReadRecordResult::Record => break,
                ReadRecordResult::End => return out,
            }
        }
        let mut cells = Vec::with_capacity(endlen);
        let mut start = 0;
        for &end in &ends[..endlen] {
            // Fields of UTF-8 text split at ASCII bytes are UTF-8; the csv
            // crate stopped at a record that is not.
            let Ok(cell) = std::str::from_utf8(&fields[start..end]) else {
                return out;
            };
            cells.push(cell.to_string());
            start = end;
        }
        push_row(&mut out, cells.into_iter());
    }
    out
}

/// The separator of the first non-empty line: whichever of tab, semicolon
/// and comma it has most of outside quotes (a comma on a tie or none).
fn delimiter_of(data: &str) -> u8 {
    let first = data.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    // max_by_key keeps the last of equals: a tie goes to the comma, then the semicolon.
    let mut counts = [(b'\t', 0usize), (b';', 0), (b',', 0)];
    let mut quoted = false;
    for b in first.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            if let Some(c) = counts.iter_mut().find(|(d, _)| *d == b) {
                c.1 += 1;
            }
        }
    }
    counts
        .iter()
        .max_by_key(|(_, n)| *n)
        .map_or(b',', |(d, _)| *d)
}

fn push_row(out: &mut String, cells: impl Iterator<Item = String>) {
    let cells: Vec<String> = cells
        .map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let last = cells.iter().rposition(|c| !c.is_empty());
    if let Some(last) = last {
        out.push_str(&cells[..=last].join(CELL_SEP));
        out.push('\n');
    }
}

/// Every sheet of a workbook as lines of cells, when the archive is sane.
pub fn spreadsheet_text(contents: &[u8]) -> Option<String> {
    if !zip_is_sane(contents) {
        return None;
    }
    let mut book = open_workbook_auto_from_rs(Cursor::new(contents)).ok()?;
    let mut out = String::new();
    let sheets = book.sheet_names().len();
    for n in 0..sheets {
        let Some(Ok(range)) = book.worksheet_range_at(n) else {
            continue;
        };
        for row in range.rows().take(MAX_ROWS) {
            push_row(&mut out, row.iter().map(|c| c.to_string()));
        }
        if out.len() > MAX_TEXT_BYTES {
            break;
        }
    }
    Some(out)
}

/// A zip (XLSX, ODS) is opened only when its declared sizes are modest; an
/// old binary XLS (no zip) is size-bounded by [`MAX_ATTACHMENT_BYTES`].
fn zip_is_sane(contents: &[u8]) -> bool {
    if !contents.starts_with(b"PK") {
        return true;
    }
    let Ok(mut archive) = zip::ZipArchive::new(Cursor::new(contents)) else {
        return false;
    };
    if archive.len() > 1_000 {
        return false;
    }
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let Ok(file) = archive.by_index_raw(i) else {
            return false;
        };
        total = total.saturating_add(file.size());
        if file.size() > file.compressed_size().max(1).saturating_mul(MAX_ZIP_RATIO) {
            return false;
        }
    }
    total <= MAX_UNZIPPED_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_become_cell_lines() {
        let t = csv_text("item,quantity\n\"N95, 3M 1860\",120\n,\n");
        assert_eq!(t, "item | quantity\nN95, 3M 1860 | 120\n");
    }

    #[test]
    fn semicolon_and_tab_separated_files_are_read_by_their_separator() {
        let t = csv_text("Artikel;Menge;Einheit\n\"Handschuhe, Nitril\";1.000;Stk\n");
        assert_eq!(
            t,
            "Artikel | Menge | Einheit\nHandschuhe, Nitril | 1.000 | Stk\n"
        );
        let t = csv_text("item\tquantity\nN95, 3M\t20\n");
        assert_eq!(t, "item | quantity\nN95, 3M | 20\n");
        // One column with commas inside quotes is still a comma file.
        let t = csv_text("\"a;b\",qty\nx,1\n");
        assert_eq!(t, "a;b | qty\nx | 1\n");
    }

    /// A minimal XLSX: one sheet with inline strings and numbers.
    fn tiny_xlsx(rows: &[(&str, f64)]) -> Vec<u8> {
        use std::io::Write;
        let mut sheet = String::from(
            r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
        );
        for (i, (item, qty)) in rows.iter().enumerate() {
            let r = i + 1;
            sheet.push_str(&format!(r#"<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>{item}</t></is></c><c r="B{r}"><v>{qty}</v></c></row>"#));
        }
        sheet.push_str("</sheetData></worksheet>");
        let files = [
            ("[Content_Types].xml", r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_string()),
            ("_rels/.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_string()),
            ("xl/workbook.xml", r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Inventory" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_string()),
            ("xl/_rels/workbook.xml.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_string()),
            ("xl/worksheets/sheet1.xml", sheet),
        ];
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, body) in files {
            zip.start_file(name, opts).unwrap();
            zip.write_all(body.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn xlsx_rows_become_cell_lines() {
        let book = tiny_xlsx(&[("N95 respirators", 120.0), ("Face shields", 40.0)]);
        let text = spreadsheet_text(&book).expect("workbook opens");
        assert_eq!(text, "N95 respirators | 120\nFace shields | 40\n");
    }

    #[test]
    fn zip_bomb_is_not_opened() {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("xl/worksheets/sheet1.xml", opts).unwrap();
        zip.write_all(&vec![b'a'; 8 * 1024 * 1024]).unwrap();
        let bomb = zip.finish().unwrap().into_inner();
        assert!(bomb.len() < 100_000);
        assert!(!zip_is_sane(&bomb));
        assert!(spreadsheet_text(&bomb).is_none());
    }

    #[test]
    fn garbage_spreadsheet_is_refused_quietly() {
        assert!(spreadsheet_text(b"PK\x03\x04garbage").is_none());
        assert!(spreadsheet_text(b"not a workbook").is_none());
    }
}
