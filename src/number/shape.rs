//! [`Shape`]: the few facts about a normalized string that the classifier
//! patterns decided by hand depend on, collected in one scan. It lives with
//! the number because normalization builds it without building the string.

/// What the recognized patterns need to know about a normalized string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    /// It starts with `+`.
    pub(crate) plus: bool,
    /// Length in bytes of what follows the `+` (or of the whole string).
    pub(crate) len: usize,
    /// Every byte after the optional `+` is an ASCII digit.
    pub(crate) digits: bool,
    /// It holds a `\n` (which `.` does not match).
    pub(crate) newline: bool,
    /// The first five bytes after the optional `+`, zero-padded.
    pub(crate) head: [u8; 5],
}

impl Shape {
    /// The shape of `s`, in one pass over its bytes.
    pub(crate) fn of(s: &[u8]) -> Shape {
        let (plus, rest) = match s.split_first() {
            Some((b'+', rest)) => (true, rest),
            _ => (false, s),
        };
        Shape::of_parts(plus, rest, &[])
    }

    /// The shape of `+` (when `plus`) followed by `lead` then `body`, without
    /// joining them.
    pub(crate) fn of_parts(plus: bool, lead: &[u8], body: &[u8]) -> Shape {
        let mut head = [0u8; 5];
        let mut digits = true;
        let mut newline = false;
        for (i, &b) in lead.iter().chain(body).enumerate() {
            if let Some(slot) = head.get_mut(i) {
                *slot = b;
            }
            digits &= b.is_ascii_digit();
            newline |= b == b'\n';
        }
        Shape {
            plus,
            len: lead.len() + body.len(),
            digits,
            newline,
            head,
        }
    }

    /// The rest is exactly `len` ASCII digits.
    pub(crate) fn digits_of_len(&self, len: usize) -> bool {
        self.digits && self.len == len
    }

    /// The ten digits from `at` form a NANP NPA-NXX-XXXX: `[2-9]..[2-9]......`.
    pub(crate) fn npan_from(&self, at: usize) -> bool {
        let two_to_nine = |i: usize| self.head.get(i).is_some_and(|b| (b'2'..=b'9').contains(b));
        self.digits_of_len(at + 10) && two_to_nine(at) && two_to_nine(at + 3)
    }
}
