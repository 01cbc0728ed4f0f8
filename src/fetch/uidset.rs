//! IMAP sequence sets: `1:5,7,9:12`, so a batch's command line stays short.

/// The sorted, deduplicated `uids` as an IMAP set with ranges.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// The sorted, deduplicated `uids` as IMAP sets with ranges, each at most
/// `max_len` bytes long (a single element longer than that stands alone):
/// a run of consecutive UIDs, however long, is one short set.
pub fn uid_sets(uids: &[u32], max_len: usize) -> Vec<String> {
    let mut sets: Vec<String> = Vec::new();
    let mut current = String::new();
    for element in uid_set(uids).split(',').filter(|e| !e.is_empty()) {
        if !current.is_empty() && current.len() + 1 + element.len() > max_len {
            sets.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(',');
        }
        current.push_str(element);
    }
    if !current.is_empty() {
        sets.push(current);
    }
    sets
}

#[cfg(test)]
mod tests {
    use super::{uid_set, uid_sets};

    #[test]
    fn sets_are_split_by_length_not_by_count() {
        let run: Vec<u32> = (1..=10_000).collect();
        assert_eq!(uid_sets(&run, 20), vec!["1:10000"]);
        let odd: Vec<u32> = (1..=20).filter(|u| u % 2 == 1).collect();
        let sets = uid_sets(&odd, 8);
        assert_eq!(sets, vec!["1,3,5,7", "9,11,13", "15,17,19"]);
        assert!(uid_sets(&[], 8).is_empty());
    }

    #[test]
    fn ranges_are_compressed() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[9, 1, 1]), "1,9");
        assert_eq!(uid_set(&[]), "");
    }
}
