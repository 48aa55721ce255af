//! The link between a card and the switch: one 32-bit word a cycle with its packet framing.

/// One link word with its framing, or an idle cycle (`valid == false`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkWord {
    pub valid: bool,
    pub sop: bool,
    pub eop: bool,
    pub data: u32,
}

impl LinkWord {
    /// `words` as one framed run: start of packet on the first, end on the last.
    pub fn framed(words: &[u32]) -> Vec<LinkWord> {
        let n = words.len();
        words
            .iter()
            .enumerate()
            .map(|(i, &data)| LinkWord {
                valid: true,
                sop: i == 0,
                eop: i + 1 == n,
                data,
            })
            .collect()
    }
}
