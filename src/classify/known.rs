//! Classifier patterns decided by hand: the default list's and the older seed
//! list's regexes, recognized by their exact source text.
//!
//! Every one of these patterns is anchored at both ends and, but for the
//! catch-all `^(.*)$`, made of `+` and ASCII digits only, so what it answers
//! depends on a handful of facts about the normalized string that one scan
//! collects into a `Shape`: whether it starts with `+`, how long the rest is,
//! whether the rest is all ASCII digits, whether there is a line break, and the
//! first five bytes of the rest. A list made only of recognized patterns (in any
//! order) is classified from the shape; any other list runs its automaton.

use crate::number::Shape;

/// A recognized classifier pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known {
    /// `^\+1((?:800|88\d|877|866|855|844|833|822)\d{7})$`
    TollfreeUs,
    /// `^\+1((?:800|888|877|866|855)\d{7})$` (the older list)
    TollfreeUsOld,
    /// `^\+1(900\d{7})$`
    TollUs,
    /// `^(911|922|933|833|811|711|999)$`
    Emergency,
    /// `^(911)$` (the older list)
    Emergency911,
    /// `^\+?1((?:684|...|340)\d{7})$`
    Caribbean,
    /// `^(\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$`
    DidUs,
    /// `^\+?1?([2-9][0-9]{2}[2-9][0-9]{6})$` (the older list)
    DidUsOld,
    /// `^\+([2-9]\d{7,})$`
    International,
    /// `^(011\d*)$|^(00\d*)$` (the older list)
    InternationalOld,
    /// `^(.*)$`
    Unknown,
    /// `^$` (a classifier configured without a regex)
    Empty,
}

/// Eleven digits `1` + `NPA` where the NPA (the three digits after the 1)
/// is one of `npas`.
fn one_npa_in(s: &Shape, npas: &NpaSet) -> bool {
    let [one, a, b, c, _] = s.head;
    s.digits_of_len(11) && one == b'1' && npas.contains([a, b, c])
}

/// A set of three-digit codes, as a bitmap of the 1,000 values: membership
/// is one load and a shift, whatever the set's size.
struct NpaSet([u64; 16]);

impl NpaSet {
    const fn of(codes: &[&[u8; 3]]) -> NpaSet {
        let mut bits = [0u64; 16];
        let mut i = 0;
        while i < codes.len() {
            let [a, b, c] = *codes[i];
            let v = (a - b'0') as usize * 100 + (b - b'0') as usize * 10 + (c - b'0') as usize;
            bits[v / 64] |= 1 << (v % 64);
            i += 1;
        }
        NpaSet(bits)
    }

    fn contains(&self, code: [u8; 3]) -> bool {
        if !code.iter().all(u8::is_ascii_digit) {
            return false;
        }
        let [a, b, c] = code.map(|d| usize::from(d - b'0'));
        let v = a * 100 + b * 10 + c;
        self.0.get(v / 64).is_some_and(|w| (w >> (v % 64)) & 1 == 1)
    }
}

const TOLLFREE: NpaSet = NpaSet::of(&[
    b"800", b"880", b"881", b"882", b"883", b"884", b"885", b"886", b"887", b"888", b"889", b"877",
    b"866", b"855", b"844", b"833", b"822",
]);
const TOLLFREE_OLD: NpaSet = NpaSet::of(&[b"800", b"888", b"877", b"866", b"855"]);
const EMERGENCY: NpaSet = NpaSet::of(&[b"911", b"922", b"933", b"833", b"811", b"711", b"999"]);
const CARIBBEAN: NpaSet = NpaSet::of(&[
    b"684", b"264", b"268", b"242", b"246", b"441", b"284", b"345", b"767", b"809", b"829", b"849",
    b"473", b"671", b"876", b"664", b"670", b"787", b"939", b"869", b"758", b"784", b"721", b"868",
    b"649", b"340",
]);

/// The source texts, as configured, of the patterns decided by hand.
const SOURCES: &[(&str, Known)] = &[
    (super::TOLLFREE_US, Known::TollfreeUs),
    (r"^\+1((?:800|888|877|866|855)\d{7})$", Known::TollfreeUsOld),
    (super::TOLL_US, Known::TollUs),
    (super::EMERGENCY, Known::Emergency),
    (r"^(911)$", Known::Emergency911),
    (super::CARIBBEAN, Known::Caribbean),
    (super::DID_US, Known::DidUs),
    (r"^\+?1?([2-9][0-9]{2}[2-9][0-9]{6})$", Known::DidUsOld),
    (super::INTERNATIONAL, Known::International),
    (r"^(011\d*)$|^(00\d*)$", Known::InternationalOld),
    (super::UNKNOWN, Known::Unknown),
    (super::MISSING_REGEX, Known::Empty),
];

impl Known {
    /// The hand-written decision for `pattern`, if it is one of the known
    /// sources to the byte.
    pub(crate) fn recognize(pattern: &str) -> Option<Known> {
        SOURCES
            .iter()
            .find(|(source, _)| *source == pattern)
            .map(|(_, known)| *known)
    }

    /// Every recognized pattern with its source text (for the tests).
    #[cfg(test)]
    pub(crate) fn all() -> impl Iterator<Item = (&'static str, Known)> {
        SOURCES.iter().copied()
    }

    /// Whether the pattern matches the string of this shape.
    pub(crate) fn matches(self, s: &Shape) -> bool {
        let [h0, h1, h2, h3, _] = s.head;
        match self {
            Known::TollfreeUs => s.plus && one_npa_in(s, &TOLLFREE),
            Known::TollfreeUsOld => s.plus && one_npa_in(s, &TOLLFREE_OLD),
            Known::TollUs => s.plus && s.digits_of_len(11) && [h0, h1, h2, h3] == *b"1900",
            Known::Emergency => !s.plus && s.len == 3 && EMERGENCY.contains([h0, h1, h2]),
            Known::Emergency911 => !s.plus && s.len == 3 && [h0, h1, h2] == *b"911",
            Known::Caribbean => one_npa_in(s, &CARIBBEAN),
            // `(\+?1)?`: a `+` needs the 1 after it.
            Known::DidUs => (!s.plus && s.npan_from(0)) || (h0 == b'1' && s.npan_from(1)),
            // `\+?1?`: the `+` and the 1 are each optional.
            Known::DidUsOld => s.npan_from(0) || (h0 == b'1' && s.npan_from(1)),
            Known::International => s.plus && s.digits && s.len >= 8 && (b'2'..=b'9').contains(&h0),
            Known::InternationalOld => {
                !s.plus
                    && s.digits
                    && ((s.len >= 3 && [h0, h1, h2] == *b"011")
                        || (s.len >= 2 && [h0, h1] == *b"00"))
            }
            Known::Unknown => !s.newline,
            Known::Empty => !s.plus && s.len == 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::compile_rule;
    use proptest::prelude::*;

    /// Every recognized pattern with its regex, compiled once.
    fn compiled() -> &'static [(&'static str, Known, regex::Regex)] {
        static ALL: once_cell::sync::Lazy<Vec<(&'static str, Known, regex::Regex)>> =
            once_cell::sync::Lazy::new(|| {
                Known::all()
                    .map(|(source, known)| (source, known, compile_rule(source).unwrap()))
                    .collect()
            });
        &ALL
    }

    /// Strings around the patterns' edges: `+`/`1`/`011`/`00` heads, every
    /// NPA the lists name and some they do not, lengths around 10 and 11,
    /// non-digits, non-ASCII digits and line breaks.
    fn near_patterns() -> impl Strategy<Value = String> {
        let head = prop_oneof![
            Just(""),
            Just("+"),
            Just("1"),
            Just("+1"),
            Just("++1"),
            Just("011"),
            Just("00"),
            Just("0"),
            Just("+0"),
        ];
        let npa = prop_oneof![
            "800", "880", "889", "888", "822", "833", "900", "911", "999", "711", "876", "340",
            "684", "415", "212", "201", "100", "[0-9]{3}", "",
        ];
        let rest = prop_oneof!["[0-9]{0,12}", "[0-9]{7}", "[2-9][0-9]{6}", "[01][0-9]{6}"];
        let tail = prop_oneof![
            6 => Just(""),
            1 => Just("\n"),
            1 => Just("\r"),
            1 => Just("x"),
            1 => Just("٣"),
            1 => Just("+"),
        ];
        prop_oneof![
            4 => (head, npa, rest, tail).prop_map(|(h, n, r, t)| format!("{h}{n}{r}{t}")),
            1 => any::<String>(),
            1 => "[0-9+\n]{0,14}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn every_recognized_pattern_answers_as_its_regex(s in near_patterns()) {
            let shape = Shape::of(s.as_bytes());
            for (source, known, regex) in compiled() {
                prop_assert_eq!(known.matches(&shape), regex.is_match(&s), "{} on {:?}", source, s);
            }
        }
    }

    #[test]
    fn recognition_is_by_exact_source() {
        for (source, known) in Known::all() {
            assert_eq!(Known::recognize(source), Some(known));
            assert_eq!(Known::recognize(&format!("{source} ")), None);
        }
        assert_eq!(Known::recognize(r"^\+1415\d{7}$"), None);
    }

    #[test]
    fn a_shape_from_parts_is_the_shape_of_their_join() {
        for (lead, body) in [("1", "4155551234"), ("", "442071234567"), ("1", "")] {
            let joined = format!("+{lead}{body}");
            assert_eq!(
                Shape::of_parts(true, lead.as_bytes(), body.as_bytes()),
                Shape::of(joined.as_bytes())
            );
        }
    }
}
